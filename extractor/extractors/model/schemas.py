"""What the model is asked to return, one response model per contract section.

Every value comes back as a :class:`Cited`: the figure *as printed* (``"885.90万元"``,
``"55923963.72"``, ``"8辆"``), the unit in force when the figure carries none (a table's
``金额单位：元``) and the verbatim quote it was read from. Converting units is left to
:mod:`extractor.numbers`, because dividing ``55923963.72`` by 10000 is exactly the kind
of arithmetic a language model gets wrong while copying digits is not; and the quote lets
the extractor prove every value against the chunk before it becomes a finding.

Reply field names are short and unambiguous for the model; :class:`SectionSpec` maps them
back to contract slot paths, so this module is the single place that ties a section's
schema to the contract.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Unit = Literal["元", "万元", "亿元"]


class Cited(BaseModel):
    """One value and where it was read."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    value: str = Field(description="the figure exactly as printed, with its unit when one is printed "
                                   "right after it (e.g. '885.90万元', '55923963.72', '8辆', '92.8')")
    unit: Unit | None = Field(default=None, description="unit in force when the figure itself has none "
                                                        "(a table's 金额单位); null otherwise")
    quote: str = Field(description="verbatim span of the text that contains the figure, copied "
                                   "character for character (about 5-40 characters)")


class _Reply(BaseModel):
    """Base of the response models: their JSON schema is built once per set of options.

    The schema goes into every request (and instructor asks pydantic for it several times
    per call); regenerating it each time cost more CPU than the rest of a call's handling,
    which showed as lost concurrency. Callers get a deep copy, so none can alter the cache.
    """

    model_config = ConfigDict(extra="ignore")

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        key = (cls, args, tuple(sorted(kwargs.items())))
        if key not in _SCHEMAS:
            _SCHEMAS[key] = super().model_json_schema(*args, **kwargs)
        return copy.deepcopy(_SCHEMAS[key])


_SCHEMAS: dict[tuple[Any, ...], dict[str, Any]] = {}


MaybeCited = Cited | None


class SummaryReply(_Reply):
    department: MaybeCited = None
    fiscal_year: MaybeCited = None
    income_grand_total: MaybeCited = None
    income_current_year: MaybeCited = None
    income_nonfiscal_surplus_used: MaybeCited = None
    income_carryover_begin: MaybeCited = None
    expense_grand_total: MaybeCited = None
    expense_current_year: MaybeCited = None
    expense_surplus_distribution: MaybeCited = None
    expense_carryover_end: MaybeCited = None


class IncomeSourcesReply(_Reply):
    general_budget_appropriation: MaybeCited = None
    gov_fund_appropriation: MaybeCited = None
    state_capital_appropriation: MaybeCited = None
    superior_subsidy: MaybeCited = None
    business_income: MaybeCited = None
    operating_income: MaybeCited = None
    affiliate_remittance: MaybeCited = None
    other_income: MaybeCited = None


class ExpenseUsesReply(_Reply):
    basic: MaybeCited = None
    project: MaybeCited = None
    remit_to_superior: MaybeCited = None
    operating: MaybeCited = None
    affiliate_subsidy: MaybeCited = None


class ClassRow(_Reply):
    name: str = Field(description="功能分类 class (类) name as printed, without （类）")
    actual: MaybeCited = None


class ItemRow(_Reply):
    class_name: str | None = Field(default=None, description="class (类) the item belongs to")
    section: str | None = Field(default=None, description="款 name as printed, without （款）")
    item: str | None = Field(default=None, description="项 name as printed, without （项）")
    code: str | None = Field(default=None, description="7-digit 功能分类科目编码 when printed")
    budget_at_start: MaybeCited = None
    actual: MaybeCited = None


class GeneralBudgetReply(_Reply):
    actual_total: MaybeCited = None
    budget_at_start: MaybeCited = None
    classes: list[ClassRow] = Field(default_factory=list)
    items: list[ItemRow] = Field(default_factory=list)


class BasicExpenseReply(_Reply):
    basic_total: MaybeCited = None
    personnel: MaybeCited = None
    public: MaybeCited = None
    project_total: MaybeCited = None


class ThreePublicReply(_Reply):
    budget_total: MaybeCited = None
    actual_total: MaybeCited = None
    overseas_budget: MaybeCited = None
    overseas_actual: MaybeCited = None
    vehicle_budget: MaybeCited = None
    vehicle_actual: MaybeCited = None
    vehicle_purchase_actual: MaybeCited = None
    vehicle_operation_actual: MaybeCited = None
    reception_budget: MaybeCited = None
    reception_actual: MaybeCited = None
    overseas_groups: MaybeCited = None
    overseas_persons: MaybeCited = None
    vehicles_purchased: MaybeCited = None
    vehicles_held: MaybeCited = None
    reception_batches: MaybeCited = None
    reception_persons: MaybeCited = None


class OtherReply(_Reply):
    gov_fund_expense: MaybeCited = None
    state_capital_expense: MaybeCited = None
    operating_costs: MaybeCited = None
    procurement_total: MaybeCited = None
    procurement_goods: MaybeCited = None
    procurement_works: MaybeCited = None
    procurement_services: MaybeCited = None
    procurement_sme_awarded: MaybeCited = None
    vehicles: MaybeCited = None
    equipment_over_1m: MaybeCited = None


class ProjectRow(_Reply):
    name: str = Field(description="project name as printed")
    score: MaybeCited = None
    budget: MaybeCited = None
    executed: MaybeCited = None


class PerformanceReply(_Reply):
    projects: list[ProjectRow] = Field(default_factory=list)


@dataclass(frozen=True)
class ListSpec:
    """A list in a reply: which contract list it fills and how its rows map onto it."""

    path: str
    keys: dict[str, str]
    """Contract key field -> row attribute (``class`` -> ``class_name``)."""
    values: dict[str, str]
    """Contract value field -> row attribute."""


@dataclass(frozen=True)
class SectionSpec:
    reply: type[BaseModel]
    scalars: dict[str, str]
    """Reply attribute -> contract slot path."""
    lists: dict[str, ListSpec] = field(default_factory=dict)
    """Reply attribute -> the contract list its rows fill."""

    @property
    def paths(self) -> list[str]:
        """Every contract field path the section fills (list members as ``list.field``)."""
        out = list(self.scalars.values())
        for spec in self.lists.values():
            out += [f"{spec.path}.{leaf}" for leaf in spec.values]
        return out


def _same(prefix: str, reply: type[BaseModel]) -> dict[str, str]:
    return {name: f"{prefix}.{name}" for name, info in reply.model_fields.items()
            if info.annotation == MaybeCited}


SECTIONS: dict[str, SectionSpec] = {
    "summary": SectionSpec(SummaryReply, {
        "department": "meta.department", "fiscal_year": "meta.fiscal_year",
        **{k: v for k, v in _same("summary", SummaryReply).items()
           if k not in {"department", "fiscal_year"}}}),
    "income_sources": SectionSpec(IncomeSourcesReply, _same("income_sources", IncomeSourcesReply)),
    "expense_uses": SectionSpec(ExpenseUsesReply, _same("expense_uses", ExpenseUsesReply)),
    "general_budget": SectionSpec(
        GeneralBudgetReply,
        {"actual_total": "general_budget.actual_total",
         "budget_at_start": "general_budget.budget_at_start"},
        {"classes": ListSpec("general_budget.classes", {"name": "name"}, {"actual": "actual"}),
         "items": ListSpec("general_budget.items",
                           {"class": "class_name", "section": "section", "item": "item",
                            "code": "code"},
                           {"budget_at_start": "budget_at_start", "actual": "actual"})}),
    "basic_expense": SectionSpec(BasicExpenseReply, {
        "basic_total": "basic_expense.total", "personnel": "basic_expense.personnel",
        "public": "basic_expense.public", "project_total": "project_expense_total"}),
    "three_public": SectionSpec(ThreePublicReply, _same("three_public", ThreePublicReply)),
    "other": SectionSpec(OtherReply, {
        "gov_fund_expense": "gov_fund_expense", "state_capital_expense": "state_capital_expense",
        "operating_costs": "operating_costs", "procurement_total": "procurement.total",
        "procurement_goods": "procurement.goods", "procurement_works": "procurement.works",
        "procurement_services": "procurement.services",
        "procurement_sme_awarded": "procurement.sme_awarded",
        "vehicles": "assets.vehicles", "equipment_over_1m": "assets.equipment_over_1m"}),
    "performance_projects": SectionSpec(
        PerformanceReply, {},
        {"projects": ListSpec("performance_projects", {"name": "name"},
                              {"score": "score", "budget": "budget", "executed": "executed"})}),
}
"""Section id (the prompt file's ``section``) -> its response model and field map."""


@functools.cache
def schema_hash(reply: type[BaseModel]) -> str:
    """SHA-256 of the response model's JSON schema: a changed schema never hits the cache."""
    blob = json.dumps(reply.model_json_schema(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class CitedSlot:
    """One cited value of a reply, addressed in contract terms."""

    path: str
    key: dict[str, str | None] | None
    cited: Cited


@dataclass(frozen=True)
class ReplyRow:
    """A list row: its contract key and the values cited for it."""

    list_path: str
    key: dict[str, str | None]
    values: list[CitedSlot]


def scalar_slots(section: str, reply: BaseModel) -> Iterator[CitedSlot]:
    spec = SECTIONS[section]
    for attr, path in spec.scalars.items():
        cited = getattr(reply, attr)
        if isinstance(cited, Cited):
            yield CitedSlot(path, None, cited)


def reply_rows(section: str, reply: BaseModel) -> Iterator[ReplyRow]:
    spec = SECTIONS[section]
    for attr, lspec in spec.lists.items():
        for row in getattr(reply, attr):
            key = {k: _text_or_none(getattr(row, a)) for k, a in lspec.keys.items()}
            values = [CitedSlot(f"{lspec.path}.{leaf}", key, getattr(row, a))
                      for leaf, a in lspec.values.items() if isinstance(getattr(row, a), Cited)]
            yield ReplyRow(lspec.path, key, values)


def _text_or_none(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
