"""The HTML report: self-contained, every wrong value beside gold and its evidence quote."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from extractor.core.records import CheckStatus, FinalAccounts
from extractor.evaluate.report import section_chart_png, write_html
from extractor.evaluate.score import ScoreReport, score_dirs


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
    pred = FinalAccounts.model_validate({
        "doc_id": "doc1",
        "summary": {"income_grand_total": 885.9, "income_current_year": 858.9},
        "procurement": {"total": 47.93},
        "performance_projects": [
            {"name": "档案整理经费", "score": 100, "budget": 7, "executed": 70},
            {"name": "法律顾问经费", "score": 100, "budget": 19.6, "executed": 19.6},
        ],
        "check_status": {"summary.income_current_year": CheckStatus.VERIFIED},
    })
    return score_dirs({"doc1": gold}, {"doc1": pred})


def test_html_is_self_contained_and_lists_every_wrong_value(tmp_path: Path) -> None:
    report = _report()
    evidence = {
        ("doc1", "summary.income_current_year"): "本年收入合计858.9万元 <表1>",
        ("doc1", "performance_projects[0].executed"): "执行数70万元",
        ("doc1", "procurement.total"): "政府采购支出总额47.93万元",
    }
    settings = {"extractor": "model", "model": {"name": "qwen", "temperature": 0.0}}
    path = write_html(report, tmp_path / "out" / "report.html", settings, evidence)
    text = path.read_text("utf-8")

    assert text.startswith("<!DOCTYPE html>")
    assert not re.search(r'(src|href)="(?!data:)', text), "no external files"
    png = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert png and base64.b64decode(png.group(1)).startswith(b"\x89PNG")

    wrong = text[text.index("<h2>Wrong values (2)"):text.index("<h2>Missing values")]
    assert "summary.income_current_year" in wrong and "885.9" in wrong and "858.9" in wrong
    assert "本年收入合计858.9万元 &lt;表1&gt;" in wrong          # quote shown, escaped
    assert "verified" in wrong
    # The matched project sits at index 1 in gold and 0 in the prediction: the evidence
    # is looked up by the prediction's path, the row shows the gold path.
    assert "performance_projects[1].executed" in wrong and "执行数70万元" in wrong

    missing = text[text.index("<h2>Missing values (1)"):text.index("<h2>Spurious values")]
    assert "assets.vehicles" in missing
    spurious = text[text.index("<h2>Spurious values (1)"):text.index("<h2>Run settings")]
    assert "procurement.total" in spurious and "政府采购支出总额47.93万元" in spurious

    assert "model.temperature" in text and "qwen" in text
    assert "silent_error_rate = 1/1" in text


def test_field_table_splits_errors_by_kind(tmp_path: Path) -> None:
    text = write_html(_report(), tmp_path / "r.html").read_text("utf-8")
    table = text[text.index("<h2>Per field"):text.index("<h2>Wrong values")]
    row = re.search(r"<td>summary.income_current_year</td>(.*?)</tr>", table)
    assert row is not None
    cells = re.findall(r"<td class=n>([^<]*)</td>", row.group(1))
    assert cells[:5] == ["0", "0", "1", "0", "0"]     # correct, missing, wrong, spurious, abst
    assert "not recorded" in text                      # no run settings given


def test_chart_renders_with_undefined_sections() -> None:
    empty = score_dirs({"a": FinalAccounts(doc_id="a")}, {"a": FinalAccounts(doc_id="a")})
    assert section_chart_png(empty).startswith(b"\x89PNG")
