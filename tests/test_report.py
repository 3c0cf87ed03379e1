"""The HTML report: self-contained; every wrong value beside gold with units, the
extractor's verdict and a link to its evidence; evidence precision; the run in the title."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from extractor.cli import main
from extractor.core.records import CheckStatus, Evidence, FinalAccounts
from extractor.evaluate.evidence import DocumentText
from extractor.evaluate.explain import run_context
from extractor.evaluate.report import section_chart_png, write_html
from extractor.evaluate.results import ScoreReport
from extractor.evaluate.score import score_dirs
from tests.conftest import GOLD, SAMPLES

TEXT = ("收入总计885.90万元。本年收入合计858.9万元。"
        "档案整理经费执行数70万元。政府采购支出总额479300元。")


def _at(quote: str) -> Evidence:
    start = TEXT.index(quote)
    return Evidence(quote=quote, page=1, start=start, end=start + len(quote))


def _report() -> ScoreReport:
    gold = FinalAccounts.model_validate({
        "doc_id": "doc1",
        "summary": {"income_grand_total": 885.9, "income_current_year": 885.9},
        "assets": {"vehicles": 8},
        "performance_projects": [
            {"name": "法律顾问经费", "score": 100, "budget": 19.6, "executed": 19.6},
            {"name": "档案整理经费", "score": 100, "budget": 7, "executed": 7},
        ],
    })
    wrong_place = _at("收入总计885.90万元")
    pred = FinalAccounts.model_validate({
        "doc_id": "doc1",
        "summary": {"income_grand_total": 885.9, "income_current_year": 858.9},
        "procurement": {"total": 47.93},
        "performance_projects": [
            {"name": "档案整理经费", "score": 100, "budget": 7, "executed": 70},
            {"name": "法律顾问经费", "score": 100, "budget": 19.6, "executed": 19.6},
        ],
        "check_status": {"summary.income_current_year": CheckStatus.VERIFIED,
                         "performance_projects[0].executed": CheckStatus.FLAGGED},
        "evidence": {
            "summary.income_grand_total": wrong_place.model_copy(
                update={"start": wrong_place.start + 2}),            # right value, wrong place
            "summary.income_current_year": _at("本年收入合计858.9万元"),
            "performance_projects[0].executed": _at("档案整理经费执行数70万元"),
            "procurement.total": _at("政府采购支出总额479300元"),
        },
    })
    facts_ctx = run_context([], [{"passed": False, "name": "项目执行不超预算", "rule": "P1",
                                  "detail": {"summary": "executed 70 > budget 7",
                                             "figures": []}}], [])
    facts_ctx.failed_checks[0].paths = ["performance_projects[0].executed"]
    facts_ctx.findings = [{"kind": "disagreement", "fields": ["summary.income_current_year"],
                           "statements": [{"quote": "本年收入合计858.9万元", "page": 1,
                                           "value": 858.9}],
                           "message": "本年收入合计 stated as 858.9 and 885.90"}]
    return score_dirs({"doc1": gold}, {"doc1": pred},
                      documents={"doc1": DocumentText("doc1", TEXT, [0])},
                      context={"doc1": facts_ctx})


def _section(text: str, start: str, end: str) -> str:
    return text[text.index(start):text.index(end)]


def test_html_is_self_contained_and_explains_every_wrong_value(tmp_path: Path) -> None:
    settings = {"extractor": "model", "model": {"name": "qwen", "temperature": 0.0}}
    path = write_html(_report(), tmp_path / "out" / "report.html", settings,
                      title="run 7 · model qwen")
    text = path.read_text("utf-8")

    assert text.startswith("<!DOCTYPE html>")
    assert "<title>Evaluation report — run 7 · model qwen</title>" in text
    assert not re.search(r'(src|href)="(?!data:|#)', text), "no external files"
    png = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert png and base64.b64decode(png.group(1)).startswith(b"\x89PNG")

    wrong = _section(text, "<h2>Wrong values (2)", "<h2>Missing values")
    assert "summary.income_current_year" in wrong and "858.9" in wrong
    assert '885.9 <span class="muted">万元</span>' in wrong          # gold with its unit
    assert "verified" in wrong
    # The matched project sits at index 1 in gold and 0 in the prediction: the row shows
    # the gold path, the evidence and verdict are those of the prediction's path.
    assert "performance_projects[1].executed" in wrong
    assert "flagged" in wrong and "项目执行不超预算" in wrong and "executed 70 &gt; budget 7" in wrong
    # Each wrong value links to its evidence, and the link target exists.
    for anchor in re.findall(r'href="#([^"]+)"', wrong):
        assert f'id="{anchor}"' in text
    assert len(re.findall(r'href="#', wrong)) == 2

    spurious = _section(text, "<h2>Spurious values (1)", "<h2>Right values citing")
    assert "procurement.total" in spurious and "政府采购支出总额479300元" in spurious
    assert "<td>元</td>" in spurious                                   # unit printed in the quote
    missing = _section(text, "<h2>Missing values (1)", "<h2>Spurious values")
    assert "assets.vehicles" in missing

    misplaced = _section(text, "<h2>Right values citing the wrong place (1)", "<h2>Evidence of")
    assert "summary.income_grand_total" in misplaced
    evidence = _section(text, "<h2>Evidence of", "<h2>Run settings")
    assert "not the quote" in evidence

    assert "Evidence precision <b>0.750</b>: 3 of 4" in text
    findings = _section(text, "<h2>Document findings", "<h2>Wrong values")
    assert "本年收入合计 stated as 858.9 and 885.90" in findings
    assert "model.temperature" in text and "qwen" in text


def test_field_table_splits_errors_by_kind_and_flag(tmp_path: Path) -> None:
    text = write_html(_report(), tmp_path / "r.html").read_text("utf-8")
    table = _section(text, "<h2>Errors per field", "<h2>Errors per document")
    cells = {}
    for field in ("summary.income_current_year", "performance_projects.executed"):
        row = re.search(rf"<td>{re.escape(field)}</td>(.*?)</tr>", table)
        assert row is not None
        cells[field] = re.findall(r"<td class=n>([^<]*)</td>", row.group(1))
    # correct, missing, wrong, spurious, flagged, silent, no status
    assert cells["summary.income_current_year"][:7] == ["0", "0", "1", "0", "0", "1", "0"]
    assert cells["performance_projects.executed"][:7] == ["1", "0", "1", "0", "1", "0", "0"]
    assert "not recorded" in text                      # no run settings given
    section_table = _section(text, "<h2>Per section", "<h2>Per document")
    row = re.search(r"<td>summary</td>(.*?)</tr>", section_table)
    assert row is not None and "<td class=n>1/2</td><td class=n>0.500</td>" in row.group(1)


def test_chart_renders_with_undefined_sections() -> None:
    empty = score_dirs({"a": FinalAccounts(doc_id="a")}, {"a": FinalAccounts(doc_id="a")})
    assert section_chart_png(empty).startswith(b"\x89PNG")


def test_a_stored_run_has_its_id_and_settings_in_the_title(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    sample = SAMPLES / "002_ede6ec7d9a9ccbff.txt"
    assert main(["--db", db, "run", str(sample)]) == 0
    out = tmp_path / "run.html"
    assert main(["--db", db, "eval", "score", "--run", "1", "--gold", str(GOLD),
                 "--html", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "evid P" in printed and "evidence precision 1.000" in printed
    text = out.read_text("utf-8")
    title = re.search(r"<title>(.*?)</title>", text)
    assert title is not None
    assert title.group(1).startswith("Evaluation report — run 1 · rules · chunk budget 1200")
    assert "Evidence precision <b>1.000</b>" in text


def test_a_wrong_item_name_links_to_the_evidence_of_its_items_figure(tmp_path: Path) -> None:
    text = "档案整理经费执行数7万元"
    gold = FinalAccounts.model_validate({"doc_id": "d", "performance_projects": [
        {"name": "档案整理经费项目", "executed": 7}]})
    pred = FinalAccounts.model_validate({
        "doc_id": "d", "performance_projects": [{"name": "档案整理经费", "executed": 7}],
        "evidence": {"performance_projects[0].executed": Evidence(
            quote=text, page=1, start=0, end=len(text))}})
    report = score_dirs({"d": gold}, {"d": pred}, documents={"d": DocumentText("d", text, [0])})
    html = write_html(report, tmp_path / "n.html").read_text("utf-8")
    wrong = _section(html, "<h2>Wrong values (1)", "<h2>Missing values")
    assert "performance_projects[0].name" in wrong and "(the item's executed)" in wrong
    (anchor,) = re.findall(r'href="#([^"]+)"', wrong)
    assert f'id="{anchor}"' in html


def test_a_stored_run_shows_the_failing_check_beside_the_value_it_touched(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """公用经费 163.34 misprinted as 173.34 in both places it is stated: the value is wrong,
    and the check basic = personnel + public fails on it; the report shows that check."""
    sample = (SAMPLES / "002_ede6ec7d9a9ccbff.txt").read_text("utf-8")
    assert sample.count("163.34") >= 2
    damaged = tmp_path / "002_ede6ec7d9a9ccbff.txt"
    damaged.write_text(sample.replace("163.34", "173.34"), "utf-8")
    db = f"sqlite:///{tmp_path / 'd.db'}"
    assert main(["--db", db, "run", str(damaged)]) == 0
    out = tmp_path / "d.html"
    assert main(["--db", db, "eval", "score", "--run", "1", "--gold", str(GOLD),
                 "--html", str(out)]) == 0
    capsys.readouterr()
    text = out.read_text("utf-8")
    wrong = _section(text, "<h2>Wrong values", "<h2>Missing values")
    row = re.search(r"<tr><td>002_ede6ec7d9a9ccbff</td><td>basic_expense.public</td>(.*?)</tr>",
                    wrong)
    assert row is not None
    assert "173.34" in row.group(1) and "failed check" in row.group(1)
    assert "795.75" in row.group(1)            # the check's own account of the mismatch
