"""Run comparison: per-field differences and the paired document bootstrap."""

from __future__ import annotations

import json

import numpy as np
import pytest

from extractor.core.records import FinalAccounts
from extractor.evaluate.compare import (
    BootstrapConfig,
    bootstrap_interval,
    compare,
    comparison_json,
    format_comparison,
)
from extractor.evaluate.score import ScoreReport, score_dirs

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
