"""The books behind one synthetic report: every figure the report prints, in cents.

A contract record (``final_accounts/v1``) holds only what the extractor is scored on. A
report prints much more — income and expense per functional item and fund, the
economic breakdown of basic expense, fiscal carry-overs, the 三公 sub-budgets. The
:class:`Ledger` holds all of it as integers (cents of 元), so sums are exact in any unit,
and :meth:`Ledger.record` derives the gold record from it. ``None`` means "not printed":
the renderer leaves the statement out and the gold holds ``null``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from extractor.core.records import FinalAccounts

CENTS_PER_WANYUAN = 1_000_000
NONFISCAL_KINDS = (
    "superior_subsidy",
    "business_income",
    "operating_income",
    "affiliate_remittance",
    "other_income",
)


def to_wan(cents: int | None) -> float | None:
    """Cents → 万元 at full precision (the contract's unit)."""
    return None if cents is None else round(cents / CENTS_PER_WANYUAN, 8)


def to_cents(wan: float | None) -> int | None:
    return None if wan is None else round(wan * CENTS_PER_WANYUAN)


@dataclass
class Line:
    """One 项 of the functional classification with every fund's income and expense."""

    class_name: str
    section: str
    item: str
    code: str | None
    gb_basic: int = 0
    gb_project: int = 0
    gb_budget: int | None = None
    gb_income: int = 0
    gf_income: int = 0
    gf_basic: int = 0
    gf_project: int = 0
    income: dict[str, int] = field(default_factory=dict)
    """Non-fiscal income on this line by kind (:data:`NONFISCAL_KINDS`)."""
    nf_basic: int = 0
    nf_project: int = 0
    nf_operating: int = 0

    @property
    def gb_actual(self) -> int:
        return self.gb_basic + self.gb_project

    @property
    def gf_actual(self) -> int:
        return self.gf_basic + self.gf_project

    @property
    def fiscal_income(self) -> int:
        return self.gb_income + self.gf_income

    @property
    def total_income(self) -> int:
        return self.fiscal_income + sum(self.income.values())

    @property
    def basic(self) -> int:
        return self.gb_basic + self.gf_basic + self.nf_basic

    @property
    def project(self) -> int:
        return self.gb_project + self.gf_project + self.nf_project

    @property
    def total_expense(self) -> int:
        return self.basic + self.project + self.nf_operating


@dataclass
class ThreePublicBooks:
    """三公 budgets and actuals in cents, with the vehicle sub-budgets the table prints."""

    overseas_budget: int = 0
    overseas_actual: int = 0
    purchase_budget: int = 0
    purchase_actual: int = 0
    operation_budget: int = 0
    operation_actual: int = 0
    reception_budget: int = 0
    reception_actual: int = 0
    overseas_groups: int | None = None
    overseas_persons: int | None = None
    vehicles_purchased: int | None = None
    vehicles_held: int | None = None
    reception_batches: int | None = None
    reception_persons: int | None = None

    @property
    def vehicle_budget(self) -> int:
        return self.purchase_budget + self.operation_budget

    @property
    def vehicle_actual(self) -> int:
        return self.purchase_actual + self.operation_actual

    @property
    def budget_total(self) -> int:
        return self.overseas_budget + self.vehicle_budget + self.reception_budget

    @property
    def actual_total(self) -> int:
        return self.overseas_actual + self.vehicle_actual + self.reception_actual


@dataclass
class Project:
    name: str
    score: float
    budget: int
    executed: int


@dataclass
class Ledger:
    """Everything one report prints. Totals are derived from the lines unless the ledger was
    built from a record whose printed totals must be kept as they are (``overrides``)."""

    doc_id: str
    department: str
    year: int
    lines: list[Line]
    income_nonfiscal_surplus_used: int = 0
    carryover_begin: int = 0
    surplus_distribution: int = 0
    fiscal_carry_begin: int = 0
    """年初财政拨款结转和结余 (all of it general-budget money)."""
    remit_to_superior: int = 0
    affiliate_subsidy: int = 0
    personnel: dict[str, int] = field(default_factory=dict)
    """Economic code (``30101``) → amount, personnel part of basic expense."""
    public: dict[str, int] = field(default_factory=dict)
    three: ThreePublicBooks = field(default_factory=ThreePublicBooks)
    operating_costs: int | None = None
    procurement: dict[str, int | None] = field(default_factory=dict)
    """total, goods, works, services, sme_awarded (``None`` = not stated)."""
    vehicles: int | None = None
    equipment_over_1m: int | None = None
    projects: list[Project] = field(default_factory=list)
    state_budget_total: bool = True
    """Whether the narrative states the general budget's 年初预算 in total."""
    overrides: dict[str, int | None] = field(default_factory=dict)
    """Printed totals that differ from the lines' sums (a record's rounding), by record path."""

    # ------------------------------------------------------------------ derived totals

    def get(self, path: str) -> int | None:
        """A total by record path, honouring :attr:`overrides`."""
        if path in self.overrides:
            return self.overrides[path]
        return self._derived()[path]

    def _derived(self) -> dict[str, int | None]:
        lines = self.lines
        gb_actual = sum(x.gb_actual for x in lines)
        income = {k: sum(x.income.get(k, 0) for x in lines) for k in NONFISCAL_KINDS}
        current_income = sum(x.total_income for x in lines)
        current_expense = (
            sum(x.total_expense for x in lines) + self.remit_to_superior + self.affiliate_subsidy
        )
        grand = current_income + self.income_nonfiscal_surplus_used + self.carryover_begin
        budgets = [x.gb_budget for x in lines if x.gb_actual or x.gb_budget]
        gb_budget = sum(b for b in budgets if b is not None) if None not in budgets else None
        return {
            "summary.income_grand_total": grand,
            "summary.income_current_year": current_income,
            "summary.income_nonfiscal_surplus_used": self.income_nonfiscal_surplus_used,
            "summary.income_carryover_begin": self.carryover_begin,
            "summary.expense_grand_total": grand,
            "summary.expense_current_year": current_expense,
            "summary.expense_surplus_distribution": self.surplus_distribution,
            "summary.expense_carryover_end": (grand - current_expense - self.surplus_distribution),
            "income_sources.general_budget_appropriation": sum(x.gb_income for x in lines),
            "income_sources.gov_fund_appropriation": sum(x.gf_income for x in lines),
            "income_sources.state_capital_appropriation": 0,
            **{f"income_sources.{k}": v for k, v in income.items()},
            "expense_uses.basic": sum(x.basic for x in lines),
            "expense_uses.project": sum(x.project for x in lines),
            "expense_uses.remit_to_superior": self.remit_to_superior,
            "expense_uses.operating": sum(x.nf_operating for x in lines),
            "expense_uses.affiliate_subsidy": self.affiliate_subsidy,
            "general_budget.actual_total": gb_actual,
            "general_budget.budget_at_start": gb_budget if self.state_budget_total else None,
            "basic_expense.total": sum(x.gb_basic for x in lines),
            "basic_expense.personnel": sum(self.personnel.values()),
            "basic_expense.public": sum(self.public.values()),
            "project_expense_total": sum(x.gb_project for x in lines),
            "gov_fund_expense": sum(x.gf_actual for x in lines),
            "state_capital_expense": 0,
        }

    def gb_lines(self) -> list[Line]:
        """Lines of the general-budget table (general-budget money spent or budgeted)."""
        return [x for x in self.lines if x.gb_actual or x.gb_budget]

    def class_totals(self, attr: str, lines: list[Line] | None = None) -> dict[str, int]:
        """Class name → sum of ``attr`` over its lines, in first-seen order."""
        out: dict[str, int] = {}
        for line in self.lines if lines is None else lines:
            out[line.class_name] = out.get(line.class_name, 0) + int(getattr(line, attr))
        return out

    def gb_class_actual(self) -> dict[str, int]:
        derived = self.class_totals("gb_actual", self.gb_lines())
        return {name: self.overrides.get(f"class:{name}", value) or 0 for name, value in derived.items()}

    @property
    def fiscal_carry_end(self) -> int:
        gb = self.get("income_sources.general_budget_appropriation") or 0
        spent = self.get("general_budget.actual_total") or 0
        return self.fiscal_carry_begin + gb - spent

    # ------------------------------------------------------------------ gold

    def record(self) -> FinalAccounts:
        """The gold record: what a careful reader takes from this report, in 万元."""
        data: dict[str, object] = {
            "doc_id": self.doc_id,
            "meta": {"department": self.department, "fiscal_year": self.year},
        }
        for path in self._derived():
            head, _, leaf = path.rpartition(".")
            target = data.setdefault(head, {}) if head else data
            assert isinstance(target, dict)
            target[leaf] = to_wan(self.get(path))
        gb = data["general_budget"]
        assert isinstance(gb, dict)
        gb["classes"] = [{"name": n, "actual": to_wan(v)} for n, v in self.gb_class_actual().items()]
        gb["items"] = [
            {
                "class": x.class_name,
                "section": x.section,
                "item": x.item,
                "code": x.code,
                "budget_at_start": to_wan(x.gb_budget),
                "actual": to_wan(x.gb_actual),
            }
            for x in self.gb_lines()
        ]
        t = self.three
        data["three_public"] = {
            "budget_total": to_wan(t.budget_total),
            "actual_total": to_wan(t.actual_total),
            "overseas_budget": to_wan(t.overseas_budget),
            "overseas_actual": to_wan(t.overseas_actual),
            "vehicle_budget": to_wan(t.vehicle_budget),
            "vehicle_actual": to_wan(t.vehicle_actual),
            "vehicle_purchase_actual": to_wan(t.purchase_actual),
            "vehicle_operation_actual": to_wan(t.operation_actual),
            "reception_budget": to_wan(t.reception_budget),
            "reception_actual": to_wan(t.reception_actual),
            "overseas_groups": t.overseas_groups,
            "overseas_persons": t.overseas_persons,
            "vehicles_purchased": t.vehicles_purchased,
            "vehicles_held": t.vehicles_held,
            "reception_batches": t.reception_batches,
            "reception_persons": t.reception_persons,
        }
        data["operating_costs"] = to_wan(self.operating_costs)
        data["procurement"] = {
            k: to_wan(self.procurement.get(k)) for k in ("total", "goods", "works", "services", "sme_awarded")
        }
        data["assets"] = {"vehicles": self.vehicles, "equipment_over_1m": self.equipment_over_1m}
        data["performance_projects"] = [
            {"name": p.name, "score": p.score, "budget": to_wan(p.budget), "executed": to_wan(p.executed)}
            for p in self.projects
        ]
        return FinalAccounts.model_validate(data)
