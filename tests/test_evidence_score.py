"""Evidence scored: the cited place must hold the value (text offsets, page, PDF cell box)."""

from __future__ import annotations

import json
from pathlib import Path

import pymupdf
import pytest

from extractor.cli import main
from extractor.core.records import Evidence, FinalAccounts
from extractor.evaluate.evidence import DocumentText, EvidenceChecker, reads_as
from extractor.evaluate.score import score_dirs
from tests.conftest import GOLD, SAMPLES

DOC = "002_ede6ec7d9a9ccbff"


@pytest.mark.parametrize(("field", "value", "quote", "unit"), [
    ("summary.income_grand_total", 5592.396372, "收入总计55923963.72元", "元"),
    ("summary.income_grand_total", 885.9, "收入总计 885.90 万元", "万元"),
    ("summary.income_grand_total", 885.9, "8,859,000.00", None),     # bare cell of a 元 table
    ("summary.income_grand_total", 0, "本年度无此项支出", None),
    ("gov_fund_expense", 0, "无政府性基金预算财政拨款支出", None),
    ("three_public.vehicles_held", 8, "2024年公务用车保有量8辆", "辆"),
    ("meta.fiscal_year", 2024, "2024年度部门决算", "年"),
    ("performance_projects.score", 92.8, "项目自评得分92.8分", "分"),
])
def test_a_quote_reads_as_its_value(field: str, value: float, quote: str,
                                    unit: str | None) -> None:
    assert reads_as(field, value, quote) == (True, unit)


@pytest.mark.parametrize(("field", "value", "quote"), [
    ("summary.income_grand_total", 885.9, "收入总计 858.90 万元"),
    ("summary.income_grand_total", 2024, "2024年收入"),             # a year is no amount
    ("three_public.vehicles_held", 2024, "2024年公务用车保有量8辆"),
    ("summary.income_grand_total", 0, "使用非财政拨款结余"),          # a label, no figure
    ("general_budget.items.item", "行政运行", "一般行政管理事务 12.00"),
])
def test_a_quote_that_does_not_state_the_value(field: str, value: float | str,
                                               quote: str) -> None:
    assert reads_as(field, value, quote)[0] is False


def _run_and_export(tmp_path: Path, db: str) -> Path:
    out = tmp_path / "pred"
    assert main(["--db", db, "run", str(SAMPLES / f"{DOC}.txt"), "--export", str(out)]) == 0
    return out


def _score_json(db: str, pred: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    assert main(["--db", db, "eval", "score", "--gold", str(GOLD), "--pred", str(pred),
                 "--json"]) == 0
    data: dict[str, object] = json.loads(capsys.readouterr().out)
    return data


def test_breaking_one_values_offsets_lowers_evidence_precision_by_exactly_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'ev.db'}"
    pred = _run_and_export(tmp_path, db)
    file = pred / f"{DOC}.json"
    data = json.loads(file.read_text("utf-8"))
    assert data["evidence"], "the export carries the evidence extension"
    before = _score_json(db, pred, capsys)["evidence"]
    assert isinstance(before, dict)
    assert before["ok"] > 50 and before["wrong"] == 0 and before["unverifiable"] == 0

    cited = data["evidence"]["summary.income_grand_total"]
    cited["start"] += 3
    cited["end"] += 3
    file.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    after = _score_json(db, pred, capsys)
    ev = after["evidence"]
    assert isinstance(ev, dict)
    assert (ev["ok"], ev["wrong"]) == (before["ok"] - 1, 1)
    assert ev["precision"] == pytest.approx((before["ok"] - 1) / before["ok"])
    by_section = after["evidence_by_section"]
    assert isinstance(by_section, dict) and by_section["summary"]["wrong"] == 1
    slots = after["slots"]
    assert isinstance(slots, list)
    (bad,) = [s for s in slots if s["evidence"] and s["evidence"]["verdict"] == "wrong"]
    assert bad["pred_path"] == "summary.income_grand_total"
    assert bad["outcome"] == "correct"           # a right value with wrong evidence
    assert "not the quote" in bad["evidence"]["reason"]

    # Without the stored document the evidence cannot be judged: counted, not guessed.
    capsys.readouterr()
    other = f"sqlite:///{tmp_path / 'empty.db'}"
    assert main(["--db", other, "eval", "score", "--gold", str(GOLD), "--pred", str(pred),
                 "--json"]) == 0
    none = json.loads(capsys.readouterr().out)["evidence"]
    assert (none["ok"], none["wrong"], none["unverifiable"]) == (0, 0, before["ok"])


def test_a_page_cited_without_offsets_must_hold_the_quote() -> None:
    doc = DocumentText("d", "第一页 收入总计885.90万元\n第二页 支出总计885.90万元", [0, 16])
    checker = EvidenceChecker({"d": doc})
    field, value = "summary.income_grand_total", 885.9
    assert checker.check("d", field, value, Evidence(quote="收入总计885.90万元", page=1)).verdict == "ok"
    wrong_page = checker.check("d", field, value, Evidence(quote="收入总计885.90万元", page=2))
    assert (wrong_page.verdict, wrong_page.reason) == ("wrong", "quote not on page 2")
    start = doc.text.index("支出")
    shifted = checker.check("d", field, value, Evidence(
        quote="支出总计885.90万元", page=1, start=start, end=start + 12))
    assert shifted.verdict == "wrong" and "page 2" in (shifted.reason or "")


def _pdf(path: Path) -> tuple[float, float, float, float]:
    """A one-page PDF with two figures in a row; returns the box of the first."""
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((100, 100), "885.90", fontsize=10)
    page.insert_text((200, 100), "158.42", fontsize=10)
    doc.save(path)
    doc.close()
    return (95.0, 88.0, 140.0, 104.0)


def test_a_cell_box_must_contain_the_printed_figure(tmp_path: Path) -> None:
    path = tmp_path / "doc.pdf"
    box = _pdf(path)
    text = "885.90\t158.42"
    doc = DocumentText("d", text, [0], str(path), "application/pdf")
    gold = FinalAccounts.model_validate({"doc_id": "d", "summary": {
        "income_grand_total": 885.9, "expense_grand_total": 158.42}})
    pred = gold.model_copy(update={"evidence": {
        "summary.income_grand_total": Evidence(quote="885.90", page=1, start=0, end=6, bbox=box),
        "summary.expense_grand_total": Evidence(quote="158.42", page=1, start=7, end=13,
                                                bbox=box),      # the neighbour's box
    }})
    report = score_dirs({"d": gold}, {"d": pred}, documents={"d": doc})
    verdicts = {s.pred_path: s.evidence for s in report.slots if s.evidence}
    assert verdicts["summary.income_grand_total"].box == "ok"
    bad = verdicts["summary.expense_grand_total"]
    assert (bad.verdict, bad.box) == ("wrong", "wrong")
    assert "885.90" in (bad.reason or "")
    assert (report.evidence.ok, report.evidence.wrong, report.evidence.boxes_checked) == (1, 1, 2)

    blank = (300.0, 88.0, 340.0, 104.0)         # nothing printed there: a blank cell
    zero = FinalAccounts.model_validate({"doc_id": "d", "summary": {"income_carryover_begin": 0}})
    cites_blank = zero.model_copy(update={"evidence": {"summary.income_carryover_begin": Evidence(
        quote="885.90", page=1, start=0, end=6, bbox=blank)}})
    (check,) = [s.evidence for s in score_dirs({"d": zero}, {"d": cites_blank},
                                               documents={"d": doc}).slots if s.evidence]
    assert (check.verdict, check.box) == ("ok", "ok")
    nonzero = FinalAccounts.model_validate({"doc_id": "d", "summary": {"income_carryover_begin": 5}})
    (check,) = [s.evidence for s in score_dirs({"d": nonzero}, {"d": cites_blank.model_copy(
        update={"summary": nonzero.summary})}, documents={"d": doc}).slots if s.evidence]
    assert check.verdict == "wrong"

    path.unlink()          # the original file is gone: boxes skipped and counted
    gone = score_dirs({"d": gold}, {"d": pred}, documents={"d": doc})
    assert (gone.evidence.ok, gone.evidence.wrong, gone.evidence.boxes_skipped) == (2, 0, 2)
