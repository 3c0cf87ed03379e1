"""Errors explained: the run's failing checks and repairs land on the prediction's paths."""

from __future__ import annotations

from typing import Any

from extractor.core.records import CheckStatus, Fact, FinalAccounts, assemble, facts_from_record
from extractor.evaluate.explain import run_context
from extractor.evaluate.score import score_dirs
from extractor.reconcile import reconcile
from tests.conftest import GOLD

DOC = "002_ede6ec7d9a9ccbff"


def _gold() -> FinalAccounts:
    return FinalAccounts.model_validate_json((GOLD / f"{DOC}.json").read_text("utf-8"))


def _set(facts: list[Fact], field: str, value: float) -> list[Fact]:
    return [f.model_copy(update={"value": value}) if f.field == field else f for f in facts]


def _stored(rows: list[Any]) -> list[dict[str, Any]]:
    """Check and repair results as the store keeps them (what ``eval score --run`` reads)."""
    out = []
    for row in rows:
        data = row.model_dump(mode="json")
        if hasattr(row, "passed"):
            data = {"rule": row.rule, "name": row.name, "passed": row.passed, "detail": data}
        out.append(data)
    return out


def test_failing_checks_and_repairs_are_shown_on_the_values_they_touched() -> None:
    gold = _gold()
    facts = facts_from_record(gold)
    facts = _set(facts, "summary.expense_current_year", 835.90)       # repairable digit slip
    facts = _set(facts, "operating_costs", 170.0)                      # breaks a cross-check
    facts = _set(facts, "income_sources.other_income", 6.2)
    result = reconcile(facts)
    ctx = run_context(result.facts, _stored(result.checks), _stored(result.repairs))
    pred = assemble(DOC, result.facts)
    report = score_dirs({DOC: gold}, {DOC: pred}, context={DOC: ctx})

    (repair,) = [r for r in ctx.repairs if r.path == "summary.expense_current_year"]
    assert (repair.before, repair.after) == (835.9, 885.9)
    repaired = next(s for s in report.slots if s.field == "summary.expense_current_year")
    assert repaired.outcome == "correct" and repaired.status == CheckStatus.REPAIRED

    wrong = {s.pred_path: s for s in report.errors()}
    assert set(wrong) >= {"operating_costs", "income_sources.other_income"}
    op = wrong["operating_costs"]
    assert op.status == CheckStatus.FLAGGED
    checks = report.context[DOC].checks_on("operating_costs")
    assert checks and all(c.summary for c in checks)
    assert any("operating_costs" in c.paths for c in checks)
    split = report.errors_by_field["operating_costs"]
    assert (split.wrong, split.silent.flagged_wrong, split.silent.wrong_unflagged) == (1, 1, 0)
