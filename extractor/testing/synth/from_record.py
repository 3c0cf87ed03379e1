"""Books for an existing gold record, so any gold file can be rendered as a report.

A record holds the contract's figures only; a report prints more (income and expense per
fund, the economic breakdown, the fiscal carry-over). This module fills those in so the
tables add up where the record allows, and pins every figure the record states as an
override, so the report prints exactly the record's values, its rounding differences
included. Values the record leaves ``null`` are printed blank in tables (the contract
reads a blank cell as 0), so render records with nulls only where no table states them.
"""

from __future__ import annotations

from extractor.core.records import FinalAccounts
from extractor.testing.synth.catalog import load_catalog
from extractor.testing.synth.generate import _BASIC_ITEMS
from extractor.testing.synth.ledger import NONFISCAL_KINDS, Ledger, Line, Project, ThreePublicBooks, to_cents


def _c(value: float | None) -> int:
    return to_cents(value) or 0


def _split_basic(lines: list[Line], basic_total: int) -> None:
    """Give each line a basic part (basic-type items first) adding up to ``basic_total``."""
    remaining = basic_total
    for line in sorted(lines, key=lambda x: x.item not in _BASIC_ITEMS):
        actual = line.gb_basic
        take = max(0, min(actual, remaining))
        line.gb_basic, line.gb_project = take, actual - take
        remaining -= take


def _economic(total: int, codes: list[str]) -> dict[str, int]:
    if not total:
        return {}
    parts = [total * w // 10 for w in (6, 3)]
    return dict(zip(codes, [*parts, total - sum(parts)], strict=True))


def ledger_from_record(record: FinalAccounts) -> Ledger:
    """A ledger that prints ``record``'s figures (see the module docstring)."""
    gb = record.general_budget
    lines = [
        Line(
            i.class_ or "",
            i.section or "",
            i.item or "",
            i.code,
            gb_basic=_c(i.actual),
            gb_budget=to_cents(i.budget_at_start),
        )
        for i in gb.items
    ]
    _split_basic(lines, _c(record.basic_expense.total))
    for line in lines:
        line.gb_income = line.gb_actual
    if lines:
        first = lines[0]
        appropriation = _c(record.income_sources.general_budget_appropriation)
        first.gb_income = max(0, first.gb_income + appropriation - sum(x.gb_income for x in lines))
        for kind in NONFISCAL_KINDS:
            amount = _c(getattr(record.income_sources, kind))
            if amount:
                first.income[kind] = amount
        first.nf_basic = max(0, _c(record.expense_uses.basic) - sum(x.gb_basic for x in lines))
        first.nf_project = max(
            0,
            _c(record.expense_uses.project) - sum(x.gb_project for x in lines) - _c(record.gov_fund_expense),
        )
        first.nf_operating = _c(record.expense_uses.operating)
    gf_out, gf_in = _c(record.gov_fund_expense), _c(record.income_sources.gov_fund_appropriation)
    if gf_out or gf_in:
        section = load_catalog().sections["21208"]
        lines.append(
            Line(
                "城乡社区支出",
                section.name,
                section.items["2120899"],
                "2120899",
                gf_income=gf_in,
                gf_project=gf_out,
            )
        )
    meta = record.meta
    ledger = Ledger(
        doc_id=record.doc_id,
        department=meta.department or "某部门",
        year=meta.fiscal_year or 2024,
        lines=lines,
    )
    ledger.fiscal_carry_begin = max(0, sum(x.gb_actual - x.gb_income for x in lines))
    ledger.state_budget_total = gb.budget_at_start is not None
    data = record.model_dump(by_alias=True)
    for path in ledger._derived():
        head, _, leaf = path.rpartition(".")
        value = (data[head] if head else data)[leaf]
        ledger.overrides[path] = to_cents(value)
    for cls in gb.classes:
        ledger.overrides[f"class:{cls.name}"] = to_cents(cls.actual)
    ledger.personnel = _economic(_c(record.basic_expense.personnel), ["30101", "30102", "30113"])
    ledger.public = _economic(_c(record.basic_expense.public), ["30201", "30211", "30299"])
    t = record.three_public
    purchase = _c(t.vehicle_purchase_actual)
    vehicle_budget = _c(t.vehicle_budget)
    ledger.three = ThreePublicBooks(
        overseas_budget=_c(t.overseas_budget),
        overseas_actual=_c(t.overseas_actual),
        purchase_budget=min(purchase, vehicle_budget),
        purchase_actual=purchase,
        operation_budget=vehicle_budget - min(purchase, vehicle_budget),
        operation_actual=_c(t.vehicle_operation_actual),
        reception_budget=_c(t.reception_budget),
        reception_actual=_c(t.reception_actual),
        overseas_groups=t.overseas_groups,
        overseas_persons=t.overseas_persons,
        vehicles_purchased=t.vehicles_purchased,
        vehicles_held=t.vehicles_held,
        reception_batches=t.reception_batches,
        reception_persons=t.reception_persons,
    )
    ledger.operating_costs = to_cents(record.operating_costs)
    p = record.procurement
    ledger.procurement = {
        "total": to_cents(p.total),
        "goods": to_cents(p.goods),
        "works": to_cents(p.works),
        "services": to_cents(p.services),
        "sme_awarded": to_cents(p.sme_awarded),
    }
    ledger.vehicles = record.assets.vehicles
    ledger.equipment_over_1m = record.assets.equipment_over_1m
    ledger.projects = [
        Project(pp.name, pp.score or 0.0, _c(pp.budget), _c(pp.executed))
        for pp in record.performance_projects
    ]
    return ledger


def needs_yuan(record: FinalAccounts) -> bool:
    """Whether a figure of ``record`` has more precision than 0.01 万元 (print the tables in 元)."""

    def amounts(value: object) -> list[float]:
        if isinstance(value, dict):
            return [a for v in value.values() for a in amounts(v)]
        if isinstance(value, list):
            return [a for v in value for a in amounts(v)]
        return [value] if isinstance(value, float) else []

    return any(round(a * 1_000_000) % 10_000 for a in amounts(record.model_dump()))
