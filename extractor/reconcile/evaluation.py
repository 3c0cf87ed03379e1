"""Evaluating one check with rounding-aware tolerance.

Tolerance comes from the precision each figure was printed with: a figure printed to
``d`` decimals is off from the true amount by at most half a unit of its last digit, so
a sum of ``n`` such figures and its printed total may differ by the sum of those halves
and no more. When every figure has the same precision the difference lies on that
precision's grid and can reach the bound only if every figure sits exactly on a half
unit, so the bound itself is excluded: two copies of one figure printed alike must be
equal, and ``a = b + c`` may be off by 0.01 but not by 0.02. Honest rounding therefore
never fails a check, while a damaged digit nearly always does.

A check also says how tightly it pins each figure (:attr:`Evaluation.slopes`): a sum
moves one-for-one with each part, a percentage barely moves with a large total. The
reconciler uses that to decide what a passing check proves and whom a failing one blames.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from extractor.core.records import AUX_PREFIX, field_kind
from extractor.reconcile.catalog import ZERO_BELOW, CheckSpec, RuleKind, SlotId, condition_holds

EPS = 1e-9


@dataclass(frozen=True)
class Figure:
    """A value in the book: the finding of a slot, or a second copy of it (a witness)."""

    value: float
    decimals: int | None
    kind: str
    """``amount``, ``count``, ``score`` or ``percent``."""


def figure_kind(fld: str) -> str:
    """``percent`` for stated shares and rates, else the contract kind of the slot."""
    if fld.startswith(AUX_PREFIX):
        kind = fld[len(AUX_PREFIX):].split(".", 1)[0]
        return "percent" if kind in {"pct", "rate"} else "amount"
    return field_kind(fld)


def infer_decimals(value: float, kind: str) -> int:
    """Printed decimals when the extractor did not record them: those the value needs,
    at least 2 for amounts (the contract's default precision)."""
    if kind == "count":
        return 0
    places = value_places(value)
    return max(places, 2) if kind == "amount" else places


def value_places(value: float) -> int:
    """Decimals the value itself needs (up to 8; float noise beyond is ignored)."""
    text = f"{abs(value):.8f}".rstrip("0")
    return len(text.split(".", 1)[1]) if "." in text else 0


def decimals_of(fig: Figure) -> int:
    return fig.decimals if fig.decimals is not None else infer_decimals(fig.value, fig.kind)


def half_unit(fig: Figure) -> float:
    """Largest rounding error of the printed figure: none for counts, and none for a zero
    printed without decimals ("0万元" says there was nothing, not "under 5000 元")."""
    if fig.kind == "count" or _bare_zero(fig):
        return 0.0
    return 0.5 * 10.0 ** -decimals_of(fig)


def _bare_zero(fig: Figure) -> bool:
    return fig.value == 0 and fig.decimals == 0


@dataclass
class Evaluation:
    applicable: bool
    passed: bool = True
    expected: float = 0.0
    actual: float = 0.0
    tolerance: float = 0.0
    slopes: dict[SlotId, float] = field(default_factory=dict)
    """|∂(difference)/∂figure|; 0 where the check cannot pin the figure (bounds)."""
    needs: dict[SlotId, float] = field(default_factory=dict)
    """Smallest change of each figure that would make a failing check pass."""

    @property
    def difference(self) -> float:
        return self.actual - self.expected

    def resolution(self, slot: SlotId) -> float:
        """How far the figure could move with this passing check still passing."""
        slope = self.slopes.get(slot, 0.0)
        if slope <= 0:
            return math.inf
        return (self.tolerance + abs(self.difference)) / slope


Lookup = Callable[[SlotId], Figure | None]

NOT_APPLICABLE = Evaluation(applicable=False)


def evaluate(spec: CheckSpec, look: Lookup, *, assume_condition: bool = False) -> Evaluation:
    """The check's verdict for the current values (not applicable when a figure is missing
    or, unless ``assume_condition``, a precondition fails)."""
    if spec.condition_slots and not assume_condition and not condition_holds(spec, lambda s: _value(look, s)):
        return NOT_APPLICABLE
    figs = {s: look(s) for s in spec.participants}
    if any(f is None for f in figs.values()):
        return NOT_APPLICABLE
    known = {s: f for s, f in figs.items() if f is not None}
    kind = spec.rule.kind
    if kind in (RuleKind.SUM, RuleKind.SAME):
        return _linear(spec, known)
    if kind is RuleKind.RATIO:
        return _ratio(spec, known)
    if kind is RuleKind.LE:
        return _bound(spec, known)
    return _zero_iff(spec, known)


def _value(look: Lookup, slot: SlotId) -> float | None:
    fig = look(slot)
    return None if fig is None else fig.value


def _linear(spec: CheckSpec, figs: dict[SlotId, Figure]) -> Evaluation:
    assert spec.lhs is not None
    actual = figs[spec.lhs].value
    expected = math.fsum(figs[s].value for s in spec.rhs)
    tol = math.fsum(half_unit(f) for f in figs.values())
    noise = 1e-11 * max(1.0, math.fsum(abs(f.value) for f in figs.values()))  # float error only
    diff = abs(actual - expected)
    rounded = [f for f in figs.values() if not _bare_zero(f)]  # exact zeros sit on every grid
    places = {decimals_of(f) for f in rounded}
    on_grid = len(places) == 1 and all(f.kind != "count" for f in rounded)
    passed = diff < tol - noise if on_grid and tol > 0 else diff <= tol + noise
    ev = Evaluation(True, passed, expected, actual, tol, dict.fromkeys(figs, 1.0))
    if not passed:
        ev.needs = {s: max(diff - tol, 0.0) for s in figs}
    return ev


def _ratio(spec: CheckSpec, figs: dict[SlotId, Figure]) -> Evaluation:
    assert spec.lhs is not None
    stated, part, total = figs[spec.lhs], figs[spec.rhs[0]], figs[spec.rhs[1]]
    if total.value == 0:
        return NOT_APPLICABLE  # "完成年初预算的100%" over a zero budget says nothing
    expected = 100.0 * part.value / total.value
    # a full unit of the percentage: reports round or truncate shares
    tol = (10.0 ** -decimals_of(stated) + 100.0 * (half_unit(part) / abs(total.value)
           + abs(part.value) * half_unit(total) / total.value ** 2) + EPS)
    slopes = {spec.lhs: 1.0, spec.rhs[0]: 100.0 / abs(total.value),
              spec.rhs[1]: 100.0 * abs(part.value) / total.value ** 2}
    diff = abs(stated.value - expected)
    ev = Evaluation(True, diff <= tol, expected, stated.value, tol, slopes)
    if not ev.passed:
        ev.needs = {s: (diff - tol) / sl if sl > 0 else math.inf for s, sl in slopes.items()}
    return ev


def _bound(spec: CheckSpec, figs: dict[SlotId, Figure]) -> Evaluation:
    assert spec.lhs is not None
    low = figs[spec.lhs]
    high = figs[spec.rhs[0]].value if spec.rhs else (spec.rule.bound or 0.0)
    tol = half_unit(low) + (half_unit(figs[spec.rhs[0]]) if spec.rhs else 0.0)
    over = low.value - high
    ev = Evaluation(True, over <= tol + EPS, high, low.value, tol, dict.fromkeys(figs, 0.0))
    if not ev.passed:
        ev.needs = dict.fromkeys(figs, over - tol)
    return ev


def _zero_iff(spec: CheckSpec, figs: dict[SlotId, Figure]) -> Evaluation:
    assert spec.lhs is not None
    lead_zero = abs(figs[spec.lhs].value) < ZERO_BELOW
    passed = all((abs(figs[s].value) < ZERO_BELOW) == lead_zero for s in spec.rhs)
    nonzero = sum(1 for f in figs.values() if abs(f.value) >= ZERO_BELOW)
    ev = Evaluation(True, passed, 0.0, float(nonzero), 0.0, dict.fromkeys(figs, 0.0))
    if not passed:
        ev.needs = {s: abs(f.value) for s, f in figs.items()}
    return ev
