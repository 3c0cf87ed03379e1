"""What reconciliation returns: checks with their figures, repairs with their evidence,
and the facts with a status each. Plain pydantic models, so the store can keep them as
JSON and ``extractor checks`` can show them without re-running anything."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from extractor.core.records import AUX_PREFIX, CheckStatus, Fact, primary_facts
from extractor.reconcile.evaluation import figure_kind


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


CHECKED_KINDS = {"amount", "count", "score", "percent"}
"""Figures the checks handle (years and names are left alone)."""


@dataclass(frozen=True)
class ReconcileOptions:
    repair: bool = True
    verify_limit: float = 0.1
    """A passing check verifies a figure only if it pins it to within this (万元/percent):
    a 20-figure sum or a share of a large total cannot vouch for the last digits."""
    max_rounds: int = 20


class FigureRef(BaseModel):
    """A figure as a check saw it."""

    slot: str
    field: str
    key: dict[str, str | None] | None = None
    value: float | str
    """The figure (万元, count, percent); a name for the text checks of ``meta.department``."""
    decimals: int | None = None
    role: str = "finding"
    """``finding`` (the slot's value), ``mention`` (another copy in the document) or
    ``alternate`` (another extractor's reading)."""
    extractor: str | None = None
    quote: str | None = None
    page: int | None = None
    chunk: int | None = None
    raw: str | None = None
    """The figure as printed (a clean statement prints digits; a blank cell prints none)."""
    priority: int = 0


class CheckResult(BaseModel):
    rule: str
    name: str
    kind: str
    passed: bool
    figures: list[FigureRef]
    expected: float
    actual: float
    difference: float
    tolerance: float
    blamed: list[str] = Field(default_factory=list)
    """Slots a failing check flags (those no passing check exonerates)."""
    summary: str
    independent: bool = True
    """False when two of its figures are one printed number read twice: it confirms nothing."""


class Repair(BaseModel):
    slot: str
    field: str
    key: dict[str, str | None] | None = None
    before: float
    after: float
    rule: str
    """Ids of the failing checks the repair resolved, comma-separated."""
    evidence: dict[str, Any]
    """``source`` (mention/alternate/digit/swap/split/extra_digit/decimal_point/unit/letter),
    ``detail``, and the quote/page of the copy the value came from when there is one."""


class ReconcileResult(BaseModel):
    facts: list[Fact]
    checks: list[CheckResult]
    repairs: list[Repair]

    def counts(self) -> dict[str, int]:
        """Findings per status, as an exported file will carry them (no mentions, no aux)."""
        out = {s.value: 0 for s in CheckStatus}
        for fact in primary_facts(self.facts):
            if (is_number(fact.value) and not fact.field.startswith(AUX_PREFIX)
                    and figure_kind(fact.field) in CHECKED_KINDS):
                out[fact.status.value] += 1
        return out

    @property
    def failing(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]


def fmt_number(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return f"{value:.6f}".rstrip("0").rstrip(".") if math.isfinite(value) else str(value)


def format_checks(result: ReconcileResult, *, failing_only: bool = False) -> str:
    """Plain-text report: every check with its figures, then the repairs."""
    lines: list[str] = []
    for c in result.checks:
        if failing_only and c.passed:
            continue
        lines.append(f"{'PASS' if c.passed else 'FAIL'}  {c.rule}  {c.name}")
        lines.append(f"      {c.summary}")
        for f in c.figures:
            mark = "  ← flagged" if f.slot in c.blamed else ""
            lines.append(f"        {f.slot} = {fmt_number(f.value)}{mark}")
    for r in result.repairs:
        lines.append(f"REPAIRED  {r.slot}: {fmt_number(r.before)} → {fmt_number(r.after)}  "
                     f"({r.evidence['source']}: {r.evidence['detail']}; {r.rule})")
    counts = result.counts()
    lines.append("status: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return "\n".join(lines)
