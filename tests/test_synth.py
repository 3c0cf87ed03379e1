"""Synthetic reports: deterministic, consistent gold, truth files that match the drawn PDF."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import jsonschema
import pymupdf
import pytest

from extractor.core.records import FinalAccounts
from extractor.evaluate.schema import load_record
from extractor.testing.synth import FAMILIES, Rendered, generate, render_record
from extractor.testing.synth.__main__ import main as synth_main
from extractor.testing.synth.catalog import load_catalog
from extractor.testing.synth.document import scan_pdf

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "eval" / "final_accounts.schema.json").read_text(encoding="utf-8"))
EPS = 1e-6


@pytest.fixture(scope="module")
def docs() -> dict[str, Rendered]:
    """One born-digital report per layout family (seeds chosen once, not tuned)."""
    return {family: generate(11 + i, family=family) for i, family in enumerate(FAMILIES)}


def test_same_seed_same_bytes_and_gold(docs: dict[str, Rendered]) -> None:
    again = generate(13, family="compact")
    first = docs["compact"]
    assert again.pdf == first.pdf
    assert again.gold.to_json_dict() == first.gold.to_json_dict()
    assert again.cells == first.cells
    from extractor.testing.synth.generate import random_ledger

    assert random_ledger(14, grain=1, doc_id="x").record() != random_ledger(13, grain=1, doc_id="x").record()


def test_families_differ_in_layout(docs: dict[str, Rendered]) -> None:
    cols = {f: {t["key"]: t["n_cols"] for t in d.cells["tables"]} for f, d in docs.items()}
    assert len({c["gb"] for c in cols.values()}) > 1  # code columns: one, three, or merged with the name
    assert {d.cells["family"] for d in docs.values()} == set(FAMILIES)


def _close(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(a - b) < EPS


def _numbers(value: Any) -> list[float]:
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return [value] if isinstance(value, int | float) and not isinstance(value, bool) else []


def assert_consistent(gold: FinalAccounts) -> None:
    """The sums a final-accounts report must satisfy, on the gold record."""
    assert min(_numbers(gold.model_dump())) >= 0  # no negative amount, count or score
    s, inc, use = gold.summary, gold.income_sources, gold.expense_uses
    assert _close(s.income_grand_total, (s.income_current_year or 0) + (s.income_nonfiscal_surplus_used or 0)
                  + (s.income_carryover_begin or 0))
    assert _close(s.expense_grand_total, (s.expense_current_year or 0) + (s.expense_surplus_distribution or 0)
                  + (s.expense_carryover_end or 0))
    assert _close(s.income_grand_total, s.expense_grand_total)
    assert _close(s.income_current_year, sum(v or 0 for v in inc.model_dump().values()))
    assert _close(s.expense_current_year, sum(v or 0 for v in use.model_dump().values()))
    gb = gold.general_budget
    assert gb.classes and gb.items
    assert _close(gb.actual_total, sum(c.actual or 0 for c in gb.classes))
    assert _close(gb.actual_total, sum(i.actual or 0 for i in gb.items))
    by_class: dict[str, float] = defaultdict(float)
    catalog = load_catalog()
    for item in gb.items:
        by_class[item.class_ or ""] += item.actual or 0
        assert item.code is not None and len(item.code) == 7 and item.code.isdigit()
        assert catalog.class_name(item.code[:3]) == item.class_
        assert catalog.sections[item.code[:5]].name == item.section
    for cls in gb.classes:
        assert _close(cls.actual, by_class[cls.name])
    if gb.budget_at_start is not None:
        assert _close(gb.budget_at_start, sum(i.budget_at_start or 0 for i in gb.items))
    b = gold.basic_expense
    assert _close(b.total, (b.personnel or 0) + (b.public or 0))
    assert _close(gb.actual_total, (b.total or 0) + (gold.project_expense_total or 0))
    t = gold.three_public
    budgets = (t.overseas_budget, t.vehicle_budget, t.reception_budget)
    actuals = (t.overseas_actual, t.vehicle_actual, t.reception_actual)
    assert _close(t.budget_total, sum(v or 0 for v in budgets))
    assert _close(t.actual_total, sum(v or 0 for v in actuals))
    assert _close(t.vehicle_actual, (t.vehicle_purchase_actual or 0) + (t.vehicle_operation_actual or 0))
    p = gold.procurement
    assert _close(p.total, (p.goods or 0) + (p.works or 0) + (p.services or 0))
    assert p.sme_awarded is None or p.sme_awarded <= (p.total or 0) + EPS
    for project in gold.performance_projects:
        assert (project.executed or 0) <= (project.budget or 0) + EPS


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
def test_generated_gold_validates_and_adds_up(seed: int) -> None:
    from extractor.testing.synth.generate import random_ledger
    from extractor.testing.synth.style import choose_style

    style = choose_style(random.Random(seed))
    gold = random_ledger(seed, grain=style.grain, doc_id=f"t{seed}").record()
    data = gold.to_json_dict()
    jsonschema.validate(data, SCHEMA)
    assert FinalAccounts.model_validate(data) == gold
    assert_consistent(gold)


def _cell_text(page: Any, bbox: list[float]) -> str:
    return "".join(page.get_text("text", clip=pymupdf.Rect(bbox)).split())


def test_text_layer_holds_every_truth_cell_in_its_box(docs: dict[str, Rendered]) -> None:
    for family, doc in docs.items():
        pdf = pymupdf.open(stream=doc.pdf, filetype="pdf")
        checked = 0
        for table in doc.cells["tables"]:
            for cell in table["cells"]:
                if cell["text"]:
                    got = _cell_text(pdf[cell["page"] - 1], cell["bbox"])
                    assert got == "".join(cell["text"].split()), (family, table["title"], cell)
                    checked += 1
        assert checked > 200


def test_truth_grid_is_complete(docs: dict[str, Rendered]) -> None:
    """Every grid position of every table is covered by exactly one (non-repeated) cell."""
    for doc in docs.values():
        for table in doc.cells["tables"]:
            covered: dict[tuple[int, int], int] = defaultdict(int)
            for cell in table["cells"]:
                if cell.get("repeat"):
                    continue
                for r in range(cell["row"], cell["row"] + cell.get("row_span", 1)):
                    for c in range(cell["col"], cell["col"] + cell.get("col_span", 1)):
                        covered[r, c] += 1
            expected = {(r, c) for r in range(table["n_rows"]) for c in range(table["n_cols"])}
            assert set(covered) == expected, table["title"]
            assert set(covered.values()) == {1}, table["title"]
            assert table["pages"] == sorted({c["page"] for c in table["cells"]})


def _amount(text: str, unit: str) -> float:
    value = float(text.replace(",", ""))
    return value / 10_000 if unit == "元" else value


def test_gold_is_in_wanyuan_whatever_the_printed_unit(docs: dict[str, Rendered]) -> None:
    units = set()
    for doc in docs.values():
        gb = next(t for t in doc.cells["tables"] if t["key"] == "gb")
        units.add(gb["unit"])
        body = [c for c in gb["cells"] if not c.get("is_header")]
        total_row = next(c["row"] for c in body if c["text"] == "合计")
        first_amount = min(c["col"] for c in body if c["row"] == total_row and c["text"][:1].isdigit())
        printed = next(c["text"] for c in body if c["row"] == total_row and c["col"] == first_amount)
        assert _close(_amount(printed, gb["unit"]), doc.gold.general_budget.actual_total)
    assert units == {"元", "万元"}  # the fixture's seeds print one report in 元, the others in 万元
    # thousands separators are printed in some layouts and parsed back here
    assert any("," in c["text"] for d in docs.values() for t in d.cells["tables"] for c in t["cells"])


def test_scan_pages_have_no_text_layer(docs: dict[str, Rendered]) -> None:
    src = pymupdf.open(stream=docs["shanghai"].pdf, filetype="pdf")
    tiny = pymupdf.open()
    tiny.insert_pdf(src, from_page=5, to_page=5)
    scanned, angles = scan_pdf(tiny.tobytes(), random.Random(0))
    page = pymupdf.open(stream=scanned, filetype="pdf")[0]
    assert page.get_text().strip() == ""
    images = page.get_images(full=True)
    assert len(images) == 1
    width_px = images[0][2]
    assert abs(width_px / (page.rect.width / 72) - 200) < 2  # rendered at 200 dpi
    assert len(angles) == 1 and abs(angles[0]) <= 1.5


def test_existing_gold_file_renders_with_its_figures() -> None:
    record = load_record(ROOT / "eval" / "gold_extra" / "putuo_czj_2024_final.json")
    rendered = render_record(record, seed=3, family="shanghai")
    assert rendered.gold == record
    gb = next(t for t in rendered.cells["tables"] if t["key"] == "gb")
    printed = {c["text"].replace(",", "") for c in gb["cells"]}
    for item in record.general_budget.items:
        assert f"{item.actual:.2f}" in printed, item.item
    # the record's totals are printed as they are, rounding differences included: its items
    # add up to 2940.06 and their project parts to 603.15, the record says 2940.05 and 603.14
    total_row = next(c["row"] for c in gb["cells"] if c["text"] == "合计" and not c.get("is_header"))
    totals = [c["text"] for c in gb["cells"] if c["row"] == total_row and c["text"] not in {"", "合计"}]
    assert [t.replace(",", "") for t in totals] == ["2940.05", "2336.91", "603.14"]
    pdf = pymupdf.open(stream=rendered.pdf, filetype="pdf")
    text = "".join(p.get_text() for p in pdf)
    assert "上海市普陀区财政局" in text and "2024年度" in text


def test_cli_writes_pdf_gold_and_cells(tmp_path: Path) -> None:
    assert synth_main(["--out", str(tmp_path), "--n", "2", "--seed", "40", "--family", "national"]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"synth_{seed:05d}_national{suffix}" for seed in (40, 41)
                     for suffix in (".cells.json", ".json", ".pdf")]
    gold = load_record(tmp_path / "synth_00040_national.json")
    assert gold.doc_id == "synth_00040_national"
    cells = json.loads((tmp_path / "synth_00040_national.cells.json").read_text(encoding="utf-8"))
    assert cells["format"] == "synth-cells/v1" and cells["tables"]


def test_scanned_boxes_hold_the_cells_ink(docs: dict[str, Rendered]) -> None:
    """Cell boxes mapped onto a skewed scan (``scanned_bbox``) frame the same ink as the
    cells of the unskewed page: same amount of dark pixels, no rule or neighbour inside."""
    import numpy as np

    from extractor.testing.synth.document import scanned_bbox

    doc = docs["national"]
    table = next(t for t in doc.cells["tables"] if t["key"] == "income")
    page_no = table["pages"][0]
    src = pymupdf.open(stream=doc.pdf, filetype="pdf")
    one = pymupdf.open()
    one.insert_pdf(src, from_page=page_no - 1, to_page=page_no - 1)
    rng = random.Random(5)
    scanned, angles = scan_pdf(one.tobytes(), rng)
    while abs(angles[0]) < 0.8:  # a clearly skewed page, so a wrong mapping shows
        scanned, angles = scan_pdf(one.tobytes(), rng)

    def gray(pdf_page: Any) -> Any:
        pix = pdf_page.get_pixmap(dpi=144, colorspace=pymupdf.csGRAY)
        return np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width)

    page = pymupdf.open(stream=scanned, filetype="pdf")[0]
    skewed, flat = gray(page), gray(one[0])
    meta = {"width": page.rect.width, "height": page.rect.height, "skew_deg": angles[0]}

    def ink(img: Any, box: tuple[float, float, float, float]) -> int:
        x0, y0, x1, y1 = (round(v * 2) for v in (box[0] + 2.5, box[1] + 2.5, box[2] - 2.5, box[3] - 2.5))
        return int((img[y0:y1, x0:x1] < 110).sum())

    cells = [c for c in table["cells"] if c["page"] == page_no and c["text"] and not c.get("repeat")]
    close = 0
    for cell in cells:
        want = ink(flat, tuple(cell["bbox"]))
        got = ink(skewed, scanned_bbox(cell["bbox"], meta))
        close += abs(got - want) <= 0.35 * want
    assert close >= 0.9 * len(cells), (close, len(cells))
