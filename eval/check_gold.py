"""Re-run the arithmetic each gold file implies, to catch labelling slips.

Usage: ``python eval/check_gold.py [DIR]`` (default: ``eval/gold`` next to this script).
Prints every check with its figures and PASS/FAIL (SKIP when a figure is null) and exits
1 on any failure, 2 when a file does not match the contract.

Tolerance is rounding, not leniency: an identity ``total = Σ parts`` over printed figures
can miss by at most the sum of each figure's half-unit of rounding. A figure with at most
two decimals is taken as printed to 0.01 万元 (half-unit 0.005); one with more decimals
was converted from 元 at full precision (printed to the fen, 0.01 元 = 1e-6 万元), so its
half-unit is 5e-7 and identities among such figures close almost exactly. So an identity
over n figures printed to 0.01 (the total plus n−1 parts) has tolerance n × 0.005. A zero
counts as exact (stated zeros and blank cells are 0, not a rounded small amount), so
``total = x + 0 + 0`` is held to the precision of ``total`` and ``x`` alone.

Every class is checked against the items filed under it (``item.class`` equal to the class
name after ``normalize_name``) whenever the record lists items at all, so a class with no
linked items must be 0: that catches an item whose class name was mistyped.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:  # run as a script: use the checkout this file belongs to
    sys.path.insert(0, _ROOT)

from extractor.core.errors import ContractError  # noqa: E402
from extractor.core.records import FinalAccounts, normalize_name  # noqa: E402
from extractor.evaluate.schema import load_record  # noqa: E402

EPS = 1e-9
DEFAULT_DIR = Path(__file__).resolve().parent / "gold"


def decimals(value: float) -> int:
    """Decimals of the shortest representation (885.9 -> 1, 5592.396372 -> 6)."""
    text = repr(float(value))
    if "e" in text or "E" in text:
        return 10
    return len(text.split(".")[1].rstrip("0")) if "." in text else 0


def half_unit(value: float) -> float:
    """Largest rounding error of one printed figure in 万元 (see the module docstring)."""
    if value == 0:
        return 0.0
    d = decimals(value)
    if d <= 2:
        return 0.005
    return min(5e-7, 0.5 * 10.0 ** -d)


@dataclass
class Check:
    """``total`` should equal the sum of ``parts``; a null figure means SKIP."""

    doc_id: str
    name: str
    total: tuple[str, float | None]
    parts: list[tuple[str, float | None]]

    @property
    def skipped(self) -> bool:
        return self.total[1] is None or any(v is None for _, v in self.parts)

    @property
    def diff(self) -> float:
        return float(self.total[1] or 0) - sum(float(v or 0) for _, v in self.parts)

    @property
    def tolerance(self) -> float:
        figures = [self.total[1], *(v for _, v in self.parts)]
        return sum(half_unit(v) for v in figures if v is not None) + EPS

    @property
    def passed(self) -> bool:
        return not self.skipped and abs(self.diff) <= self.tolerance

    def line(self) -> str:
        def fig(v: float | None) -> str:
            return "null" if v is None else f"{v:g}" if decimals(v) <= 2 else f"{v:.6f}"

        verdict = "SKIP" if self.skipped else "PASS" if self.passed else "FAIL"
        parts = " + ".join(f"{fig(v)} ({label})" for label, v in self.parts) or "0 (no parts)"
        text = f"{verdict} {self.doc_id} {self.name}: {fig(self.total[1])} ({self.total[0]}) " \
               f"= {parts}"
        if not self.skipped:
            text += f"  diff {self.diff:+.6f} tol {self.tolerance:.6f}"
        return text


def checks_for(rec: FinalAccounts) -> list[Check]:
    """Every identity the contract implies for one record."""
    d, s, gb = rec.doc_id, rec.summary, rec.general_budget
    inc, exp, tp, pr = rec.income_sources, rec.expense_uses, rec.three_public, rec.procurement
    checks = [
        Check(d, "income grand total", ("income_grand_total", s.income_grand_total), [
            ("income_current_year", s.income_current_year),
            ("income_nonfiscal_surplus_used", s.income_nonfiscal_surplus_used),
            ("income_carryover_begin", s.income_carryover_begin)]),
        Check(d, "expense grand total", ("expense_grand_total", s.expense_grand_total), [
            ("expense_current_year", s.expense_current_year),
            ("expense_surplus_distribution", s.expense_surplus_distribution),
            ("expense_carryover_end", s.expense_carryover_end)]),
        Check(d, "current-year income = Σ income_sources",
                   ("income_current_year", s.income_current_year),
                   [(k, v) for k, v in inc.model_dump().items()]),
        Check(d, "current-year expense = Σ expense_uses",
                   ("expense_current_year", s.expense_current_year),
                   [(k, v) for k, v in exp.model_dump().items()]),
    ]
    if gb.classes:
        checks.append(Check(d, "general_budget actual_total = Σ classes",
                                 ("actual_total", gb.actual_total),
                                 [(c.name, c.actual) for c in gb.classes]))
    if gb.items:
        checks.append(Check(d, "general_budget actual_total = Σ items",
                                 ("actual_total", gb.actual_total),
                                 [(i.item or "?", i.actual) for i in gb.items]))
        checks.append(Check(d, "general_budget budget_at_start = Σ item budgets",
                                 ("budget_at_start", gb.budget_at_start),
                                 [(i.item or "?", i.budget_at_start) for i in gb.items]))
    for cls in gb.classes:
        members = [i for i in gb.items if normalize_name(i.class_) == normalize_name(cls.name)]
        if gb.items:
            checks.append(Check(d, f"class {cls.name} = Σ its items",
                                     (cls.name, cls.actual),
                                     [(i.item or "?", i.actual) for i in members]))
    be = rec.basic_expense
    checks += [
        Check(d, "basic_expense total = personnel + public", ("total", be.total),
                   [("personnel", be.personnel), ("public", be.public)]),
        Check(d, "three_public budget total", ("budget_total", tp.budget_total), [
            ("overseas_budget", tp.overseas_budget), ("vehicle_budget", tp.vehicle_budget),
            ("reception_budget", tp.reception_budget)]),
        Check(d, "three_public actual total", ("actual_total", tp.actual_total), [
            ("overseas_actual", tp.overseas_actual), ("vehicle_actual", tp.vehicle_actual),
            ("reception_actual", tp.reception_actual)]),
        Check(d, "vehicle = purchase + operation", ("vehicle_actual", tp.vehicle_actual), [
            ("vehicle_purchase_actual", tp.vehicle_purchase_actual),
            ("vehicle_operation_actual", tp.vehicle_operation_actual)]),
        Check(d, "procurement total = goods + works + services", ("total", pr.total), [
            ("goods", pr.goods), ("works", pr.works), ("services", pr.services)]),
    ]
    return checks


def check_dir(folder: Path) -> list[Check]:
    checks: list[Check] = []
    for file in sorted(folder.glob("*.json")):
        checks += checks_for(load_record(file))
    return checks


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    folder = Path(args[0]) if args else DEFAULT_DIR
    if not folder.is_dir():
        print(f"error: {folder} is not a directory", file=sys.stderr)
        return 2
    try:
        checks = check_dir(folder)
    except ContractError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for check in checks:
        print(check.line())
    failed = [c for c in checks if not c.skipped and not c.passed]
    skipped = sum(c.skipped for c in checks)
    print(f"{len(checks)} checks: {len(checks) - len(failed) - skipped} passed, "
          f"{len(failed)} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
