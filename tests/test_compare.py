"""Run comparison: per-field differences and the paired document bootstrap."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest

from extractor.cli import main
from extractor.core.records import FinalAccounts
from extractor.evaluate.compare import (
    BootstrapConfig,
    bootstrap_interval,
    compare,
    comparison_json,
    format_comparison,
)
from extractor.evaluate.compare_html import write_comparison_html
from extractor.evaluate.score import ScoreReport, score_dirs
from tests.conftest import GOLD, SAMPLES

FIELDS = ("income_grand_total", "income_current_year", "expense_grand_total",
          "expense_current_year")


def _gold(doc: str) -> FinalAccounts:
    return FinalAccounts.model_validate(
        {"doc_id": doc, "summary": {f: 100.0 + i for i, f in enumerate(FIELDS)}})


def _pred(doc: str, wrong: int) -> FinalAccounts:
    """A prediction with the first ``wrong`` summary fields off by 1."""
    values = {f: 100.0 + i + (1.0 if i < wrong else 0.0) for i, f in enumerate(FIELDS)}
    return FinalAccounts.model_validate({"doc_id": doc, "summary": values})


def _reports(n_docs: int, wrong_a: int, wrong_b: int) -> tuple[ScoreReport, ScoreReport]:
    docs = [f"doc{i}" for i in range(n_docs)]
    gold = {d: _gold(d) for d in docs}
    a = score_dirs(gold, {d: _pred(d, wrong_a) for d in docs})
    b = score_dirs(gold, {d: _pred(d, wrong_b) for d in docs})
    return a, b


def test_clear_improvement_over_enough_documents_is_significant() -> None:
    a, b = _reports(8, wrong_a=2, wrong_b=0)
    cmp = compare(a, b)
    # A: per doc 2 TP, 2 FP, 2 FN -> F1 = 4/8 = 0.5; B: perfect.
    assert cmp.overall.f1_a == pytest.approx(0.5)
    assert cmp.overall.f1_b == pytest.approx(1.0)
    assert cmp.overall.delta == pytest.approx(0.5)
    assert cmp.overall.low == pytest.approx(0.5) and cmp.overall.high == pytest.approx(0.5)
    assert cmp.overall.verdict == "B better"
    assert cmp.resamples == 10_000
    summary = {f.field: f for f in cmp.fields}["summary.income_grand_total"]
    assert (summary.a.tp, summary.a.fp, summary.a.fn) == (0, 8, 8)
    assert (summary.b.tp, summary.b.fp, summary.b.fn) == (8, 0, 0)
    assert summary.delta_f1 == pytest.approx(1.0)


def test_identical_runs_are_not_significant() -> None:
    a, _ = _reports(6, wrong_a=1, wrong_b=1)
    cmp = compare(a, a)
    assert cmp.overall.delta == 0.0
    assert cmp.overall.verdict == "n.s."
    assert "not significant" in cmp.overall.explanation


def test_mixed_documents_give_an_interval_that_includes_zero() -> None:
    docs = [f"doc{i}" for i in range(6)]
    gold = {d: _gold(d) for d in docs}
    # A is better on half the documents, B on the other half.
    a = score_dirs(gold, {d: _pred(d, 3 if i % 2 else 0) for i, d in enumerate(docs)})
    b = score_dirs(gold, {d: _pred(d, 0 if i % 2 else 3) for i, d in enumerate(docs)})
    iv = compare(a, b).overall
    assert iv.delta == pytest.approx(0.0)
    assert iv.low is not None and iv.high is not None
    assert iv.low < 0 < iv.high
    assert iv.verdict == "n.s."


def test_fewer_than_five_documents_is_too_small_to_tell() -> None:
    a, b = _reports(4, wrong_a=2, wrong_b=0)
    cmp = compare(a, b)
    assert cmp.overall.delta == pytest.approx(0.5)
    assert cmp.overall.verdict == "too few docs"
    assert "too small to tell" in cmp.overall.explanation
    assert "too small to tell" in format_comparison(cmp)


def test_only_common_documents_are_compared() -> None:
    a, b = _reports(5, wrong_a=0, wrong_b=0)
    gold_extra = {"extra": _gold("extra")}
    a_more = score_dirs({**{d: _gold(d) for d in a.documents}, **gold_extra},
                        {**{d: _pred(d, 0) for d in a.documents}, "extra": _pred("extra", 4)})
    cmp = compare(a_more, b)
    assert cmp.only_in_a == ["extra"] and cmp.only_in_b == []
    assert cmp.overall.f1_a == 1.0       # the bad extra document is not counted
    assert "only in A (not compared): extra" in format_comparison(cmp)


def test_bootstrap_is_seeded_and_recomputes_micro_f1() -> None:
    a = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 2]])
    b = np.array([[1, 0, 0], [1, 0, 0], [1, 0, 1]])
    cfg = BootstrapConfig(resamples=2000, seed=7, min_docs=3)
    first = bootstrap_interval(a, b, cfg)
    assert first.f1_a == pytest.approx(4 / 7)      # tp 2, fp 1, fn 2
    assert first.f1_b == pytest.approx(6 / 7)      # tp 3, fp 0, fn 1
    assert first.delta == pytest.approx(2 / 7)
    assert bootstrap_interval(a, b, cfg) == first
    assert first.low is not None and first.high is not None and first.delta is not None
    assert first.low <= first.delta <= first.high
    other = bootstrap_interval(a, b, BootstrapConfig(resamples=2000, seed=8, min_docs=3))
    assert other.share_b_better != first.share_b_better or other.low != first.low


def test_per_section_intervals_and_json_output() -> None:
    a, b = _reports(5, wrong_a=1, wrong_b=0)
    cmp = compare(a, b, labels=("rules", "model"))
    assert cmp.by_section["summary"].delta == pytest.approx(cmp.overall.delta)
    assert cmp.by_section["meta"].delta is None        # no slots with values there
    data = json.loads(comparison_json(cmp))
    assert data["label_b"] == "model"
    assert data["overall"]["verdict"] == "model better"
    text = format_comparison(cmp)
    assert "summary.income_grand_total" in text
    assert "field(s) with identical counts not shown" in text


def test_a_comes_before_b_as_given_and_the_header_columns_are_apart() -> None:
    a, b = _reports(6, wrong_a=2, wrong_b=0)
    text = format_comparison(compare(a, b, labels=("run 3", "run 2")))
    lines = text.splitlines()
    assert lines[0].startswith("A = run 3, B = run 2:")
    assert "F1(run 2) − F1(run 3)" in lines[1]
    header = next(ln for ln in lines if ln.startswith("section"))
    assert header.index("F1 run 3") < header.index("F1 run 2")
    # Every header column is separated from the next by at least two spaces.
    assert re.fullmatch(r"section\s{2,}F1 run 3\s{2,}F1 run 2\s{2,}ΔF1\s{2,}95% interval\s{2,}"
                        r"verdict", header), header
    overall = next(ln for ln in lines if ln.startswith("overall"))
    cells = overall.split()
    assert cells[1:4] == ["0.500", "1.000", "+0.500"]        # A's F1, then B's, then B − A
    field_header = next(ln for ln in lines if ln.startswith("field"))
    assert field_header.index("TP/FP/FN run 3") < field_header.index("TP/FP/FN run 2")


def test_every_field_gets_its_own_paired_interval() -> None:
    a, b = _reports(8, wrong_a=2, wrong_b=0)
    cmp = compare(a, b, BootstrapConfig(resamples=2000))
    by_field = {f.field: f for f in cmp.fields}
    changed = by_field["summary.income_grand_total"].interval
    assert changed is not None and changed.low == pytest.approx(1.0)   # 0 → 1 in every doc
    same = by_field["summary.expense_current_year"].interval
    assert same is not None and (same.low, same.high, same.verdict) == (0.0, 0.0, "n.s.")
    assert "[+1.000, +1.000]" in format_comparison(cmp)


def test_compare_html_embeds_the_interval_plot(tmp_path: Path) -> None:
    a, b = _reports(6, wrong_a=1, wrong_b=0)
    text = write_comparison_html(compare(a, b, labels=("run 3", "run 2")),
                                 tmp_path / "c.html").read_text("utf-8")
    png = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert png and base64.b64decode(png.group(1)).startswith(b"\x89PNG")
    assert not re.search(r'(src|href)="(?!data:)', text)
    assert "A = run 3, B = run 2" in text
    assert text.index("F1 run 3") < text.index("F1 run 2")


def test_cli_compare_prints_the_runs_in_the_order_given(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    sample = SAMPLES / "002_ede6ec7d9a9ccbff.txt"
    assert main(["--db", db, "run", str(sample)]) == 0
    assert main(["--db", db, "run", str(sample), "--no-reconcile"]) == 0   # a second run
    capsys.readouterr()
    html_file = tmp_path / "cmp.html"
    assert main(["--db", db, "eval", "compare", "2", "1", "--gold", str(GOLD),
                 "--html", str(html_file)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("A = run 2, B = run 1: 1 common document(s).")
    assert "Evidence precision: run 2 1.000" in out
    assert "too small to tell" in out
    assert html_file.read_text("utf-8").count("data:image/png;base64,") == 1
