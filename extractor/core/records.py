"""Typed records: the ``final_accounts/v1`` contract and the internal, evidence-carrying facts.

The contract models mirror ``gold-format.md`` exactly; they are what gold and
prediction files contain and what outside evaluators see. Internally an extraction
is a flat list of :class:`Fact` (one value, its evidence, its check status), which is
what the store, the reconciler and the model extractor handle; :func:`assemble`
turns facts into the contract shape and :func:`facts_from_record` goes back, so the
two round-trip.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

FORMAT: Final = "final_accounts/v1"

Amount = Annotated[float | None, Field(default=None, description="万元")]
Count = Annotated[int | None, Field(default=None)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Meta(_Section):
    department: str | None = None
    fiscal_year: int | None = None


class Summary(_Section):
    income_grand_total: Amount = None
    income_current_year: Amount = None
    income_nonfiscal_surplus_used: Amount = None
    income_carryover_begin: Amount = None
    expense_grand_total: Amount = None
    expense_current_year: Amount = None
    expense_surplus_distribution: Amount = None
    expense_carryover_end: Amount = None


class IncomeSources(_Section):
    general_budget_appropriation: Amount = None
    gov_fund_appropriation: Amount = None
    state_capital_appropriation: Amount = None
    superior_subsidy: Amount = None
    business_income: Amount = None
    operating_income: Amount = None
    affiliate_remittance: Amount = None
    other_income: Amount = None


class ExpenseUses(_Section):
    basic: Amount = None
    project: Amount = None
    remit_to_superior: Amount = None
    operating: Amount = None
    affiliate_subsidy: Amount = None


class BudgetClass(_Section):
    name: str
    actual: Amount = None


class BudgetItem(_Section):
    class_: str | None = Field(default=None, alias="class")
    section: str | None = None
    item: str | None = None
    code: str | None = None
    budget_at_start: Amount = None
    actual: Amount = None


class GeneralBudget(_Section):
    actual_total: Amount = None
    budget_at_start: Amount = None
    classes: list[BudgetClass] = Field(default_factory=list)
    items: list[BudgetItem] = Field(default_factory=list)


class BasicExpense(_Section):
    total: Amount = None
    personnel: Amount = None
    public: Amount = None


class ThreePublic(_Section):
    budget_total: Amount = None
    actual_total: Amount = None
    overseas_budget: Amount = None
    overseas_actual: Amount = None
    vehicle_budget: Amount = None
    vehicle_actual: Amount = None
    vehicle_purchase_actual: Amount = None
    vehicle_operation_actual: Amount = None
    reception_budget: Amount = None
    reception_actual: Amount = None
    overseas_groups: Count = None
    overseas_persons: Count = None
    vehicles_purchased: Count = None
    vehicles_held: Count = None
    reception_batches: Count = None
    reception_persons: Count = None


class Procurement(_Section):
    total: Amount = None
    goods: Amount = None
    works: Amount = None
    services: Amount = None
    sme_awarded: Amount = None


class Assets(_Section):
    vehicles: Count = None
    equipment_over_1m: Count = None


class PerformanceProject(_Section):
    name: str
    score: float | None = None
    budget: Amount = None
    executed: Amount = None


class CheckStatus(StrEnum):
    """What the numeric cross-checks concluded about one value."""

    VERIFIED = "verified"
    REPAIRED = "repaired"
    FLAGGED = "flagged"
    UNCHECKED = "unchecked"


class FindingStatement(BaseModel):
    """One printed statement a document finding rests on."""

    model_config = ConfigDict(extra="forbid")
    quote: str | None = None
    page: int | None = None
    value: float | int | str | None = None


class DocumentFinding(BaseModel):
    """Something wrong with the report itself (its own statements disagree, a total is not
    its parts, a mandatory table is missing…), as opposed to a doubt about our reading."""

    model_config = ConfigDict(extra="forbid")
    kind: str
    """``figure_printed_differently``, ``total_not_sum``, ``year_inconsistent``,
    ``department_inconsistent``, ``mandatory_table_missing`` or ``wording_contradicts_figures``."""
    fields: list[str] = Field(default_factory=list)
    statements: list[FindingStatement] = Field(default_factory=list)
    message: str


class FinalAccounts(_Section):
    """One document's figures in the contract shape (gold file or prediction file).

    ``check_status``, ``evidence`` and ``document_findings`` are optional extensions for
    predictions: slot path (see :func:`slot_path`) -> status, slot path -> where the value
    was read (quote, page, offsets into the stored normalized text, cell bbox; the scorer
    checks it against the stored document), and findings about the report itself. Gold
    files leave them out.
    """

    format: Literal["final_accounts/v1"] = FORMAT
    doc_id: str
    meta: Meta = Field(default_factory=Meta)
    summary: Summary = Field(default_factory=Summary)
    income_sources: IncomeSources = Field(default_factory=IncomeSources)
    expense_uses: ExpenseUses = Field(default_factory=ExpenseUses)
    general_budget: GeneralBudget = Field(default_factory=GeneralBudget)
    basic_expense: BasicExpense = Field(default_factory=BasicExpense)
    project_expense_total: Amount = None
    three_public: ThreePublic = Field(default_factory=ThreePublic)
    gov_fund_expense: Amount = None
    state_capital_expense: Amount = None
    operating_costs: Amount = None
    procurement: Procurement = Field(default_factory=Procurement)
    assets: Assets = Field(default_factory=Assets)
    performance_projects: list[PerformanceProject] = Field(default_factory=list)
    check_status: dict[str, CheckStatus] | None = None
    evidence: dict[str, Evidence] | None = None
    document_findings: list[DocumentFinding] | None = None

    def to_json_dict(self) -> dict[str, Any]:
        """The contract JSON (aliases such as ``class``; optional extensions only when present)."""
        absent = {name for name in ("check_status", "evidence", "document_findings")
                  if getattr(self, name) is None}
        return self.model_dump(mode="json", by_alias=True, exclude_none=False, exclude=absent)


# --------------------------------------------------------------------------- slots

SlotKind = Literal["amount", "count", "year", "name", "score"]

LIST_KEYS: dict[str, tuple[str, ...]] = {
    "general_budget.classes": ("name",),
    "general_budget.items": ("class", "section", "item", "code"),
    "performance_projects": ("name",),
}
"""List sections and the fields that identify an item (not scored as slots themselves)."""

_COUNT_FIELDS = {
    "overseas_groups", "overseas_persons", "vehicles_purchased", "vehicles_held",
    "reception_batches", "reception_persons", "vehicles", "equipment_over_1m",
}


def field_kind(path: str) -> SlotKind:
    """Scoring kind of a slot path such as ``three_public.vehicles_held``."""
    leaf = path.rsplit(".", 1)[-1]
    if leaf == "fiscal_year":
        return "year"
    if leaf == "department":
        return "name"
    if leaf in _COUNT_FIELDS:
        return "count"
    if leaf == "score":
        return "score"
    return "amount"


def section_of(path: str) -> str:
    """The contract section a slot belongs to (top-level scalars are their own section)."""
    head = path.split(".", 1)[0]
    if path.startswith("general_budget."):
        return "general_budget"
    return head


@dataclass(frozen=True)
class Slot:
    """One scalar of a record: ``field`` is the path without list index
    (``general_budget.items.actual``); ``index`` is the list position or ``None``."""

    field: str
    index: int | None
    value: Any

    @property
    def path(self) -> str:
        return slot_path(self.field, self.index)


def slot_path(field: str, index: int | None) -> str:
    """``general_budget.items.actual`` + 3 -> ``general_budget.items[3].actual``."""
    if index is None:
        return field
    head, leaf = field.rsplit(".", 1)
    return f"{head}[{index}].{leaf}"


def iter_scalar_slots(record: FinalAccounts) -> Iterator[Slot]:
    """Every non-list scalar slot, including ``meta``."""
    data = record.model_dump(by_alias=True)
    for section, value in data.items():
        if section in {"format", "doc_id", "check_status", "evidence", "document_findings",
                       "performance_projects"}:
            continue
        if isinstance(value, dict):
            for name, inner in value.items():
                if isinstance(inner, list):
                    continue
                yield Slot(f"{section}.{name}", None, inner)
        else:
            yield Slot(section, None, value)


def list_items(record: FinalAccounts, list_path: str) -> list[dict[str, Any]]:
    """The items of a list section as plain dicts (``class`` spelled as in the contract)."""
    if list_path == "performance_projects":
        return [p.model_dump(by_alias=True) for p in record.performance_projects]
    attr = list_path.split(".", 1)[1]
    return [i.model_dump(by_alias=True) for i in getattr(record.general_budget, attr)]


def value_fields(list_path: str) -> tuple[str, ...]:
    """The scored (non-key) fields of a list item."""
    models: dict[str, type[BaseModel]] = {"general_budget.classes": BudgetClass,
                                          "general_budget.items": BudgetItem,
                                          "performance_projects": PerformanceProject}
    model = models[list_path]
    keys = set(LIST_KEYS[list_path])
    return tuple(f.alias or n for n, f in model.model_fields.items() if (f.alias or n) not in keys)


_MARKERS = ("（类）", "（款）", "（项）", "(类)", "(款)", "(项)")
_QUOTES = "\"'“”‘’「」『』《》"


def normalize_name(name: str | None, *, drop_project_suffix: bool = False) -> str:
    """Name equality per the contract: NFKC, no whitespace/quotes/markers, no trailing 支出."""
    if name is None:
        return ""
    text = unicodedata.normalize("NFKC", name)
    for marker in _MARKERS:
        text = text.replace(unicodedata.normalize("NFKC", marker), "")
    text = "".join(ch for ch in text if not ch.isspace() and ch not in _QUOTES)
    if text.endswith("支出"):
        text = text[: -len("支出")]
    if drop_project_suffix and text.endswith("项目"):
        text = text[: -len("项目")]
    return text


# --------------------------------------------------------------------------- facts


class Evidence(BaseModel):
    """Where a value was read: the quote as it stands in the normalized text, and offsets.

    ``start``/``end`` index the document's normalized text; the store maps them back to
    the raw page text through the offset map, so every value can be shown in its source.
    """

    quote: str
    chunk_index: int | None = None
    page: int | None = None
    start: int | None = None
    end: int | None = None
    bbox: tuple[float, float, float, float] | None = None
    """Page box of the printed value (PDF points, origin top-left): a table cell's box, or
    the box of the quoted words; ``None`` for plain-text inputs."""
    row_label: str | None = None
    """For a value read from a table cell: the row label to its left."""
    column_header: str | None = None
    """For a value read from a table cell: its column header path, joined by ``/``."""


FinalAccounts.model_rebuild()


class Fact(BaseModel):
    """One extracted value with its provenance.

    ``field`` is a slot field (``summary.income_grand_total`` or, for list members,
    ``general_budget.items.actual``); ``key`` identifies the list item (contract key
    fields, ``class`` spelled as in the contract). Several facts may share a slot when a
    figure is stated more than once; the one with the highest ``priority`` is the
    finding, the others are mentions the reconciler can use as repair candidates.
    """

    model_config = ConfigDict(frozen=False)

    field: str
    key: dict[str, str | None] | None = None
    value: float | int | str | None
    raw: str | None = None
    decimals: int | None = None
    evidence: Evidence | None = None
    extractor: str = "rules"
    priority: int = 0
    status: CheckStatus = CheckStatus.UNCHECKED
    note: str | None = None

    @property
    def list_path(self) -> str | None:
        field = self.field
        if field.startswith(AUX_PREFIX):  # aux.<kind>.<slot field>: keyed like its slot
            field = field.split(".", 2)[-1]
        head = field.rsplit(".", 1)[0]
        return head if head in LIST_KEYS else None

    def item_key(self) -> tuple[str, ...]:
        """Normalized identity of the list item this fact belongs to (empty for scalars)."""
        lp = self.list_path
        if lp is None or self.key is None:
            return ()
        return tuple(normalize_name(self.key.get(k)) if k != "code" else (self.key.get(k) or "")
                     for k in LIST_KEYS[lp])

    def slot_id(self) -> tuple[str, tuple[str, ...]]:
        return (self.field, self.item_key())


AUX_PREFIX = "aux."
"""Facts outside the contract (stated shares, completion rates) that only the checks use."""


def primary_facts(facts: list[Fact]) -> list[Fact]:
    """One fact per slot: the highest priority, first seen on ties."""
    best: dict[tuple[str, tuple[str, ...]], Fact] = {}
    for fact in facts:
        sid = fact.slot_id()
        if sid not in best or fact.priority > best[sid].priority:
            best[sid] = fact
    return list(best.values())


def slot_facts(facts: list[Fact]) -> dict[str, Fact]:
    """Slot path (``general_budget.items[3].actual``) → the primary fact behind it.

    List items are numbered in order of first appearance, which is the order
    :func:`assemble` writes them in, so paths here and in an exported file agree.
    """
    order: dict[str, list[tuple[str, ...]]] = {lp: [] for lp in LIST_KEYS}
    out: dict[str, Fact] = {}
    for fact in primary_facts(facts):
        if fact.field.startswith(AUX_PREFIX):
            continue
        lp = fact.list_path
        if lp is None:
            out[fact.field] = fact
            continue
        ident = fact.item_key()
        if ident not in order[lp]:
            order[lp].append(ident)
        out[slot_path(fact.field, order[lp].index(ident))] = fact
    return out


def assemble(doc_id: str, facts: list[Fact], *, with_status: bool = True,
             with_evidence: bool = False) -> FinalAccounts:
    """Build the contract record from facts (primary fact per slot), keeping item order.

    ``with_evidence`` adds the optional ``evidence`` extension (slot path -> where the
    value was read) so an exported file can be checked against its document later."""
    data: dict[str, Any] = {"format": FORMAT, "doc_id": doc_id}
    items: dict[str, list[dict[str, Any]]] = {lp: [] for lp in LIST_KEYS}
    for path, fact in slot_facts(facts).items():
        lp = fact.list_path
        if lp is None:
            head, _, leaf = fact.field.rpartition(".")
            target = data.setdefault(head, {}) if head else data
            target[leaf] = fact.value
            continue
        index = int(path[path.rindex("[") + 1: path.rindex("]")])
        if index == len(items[lp]):
            items[lp].append({k: (fact.key or {}).get(k) for k in LIST_KEYS[lp]})
        items[lp][index][fact.field.rsplit(".", 1)[1]] = fact.value
    gb = data.setdefault("general_budget", {})
    gb["classes"] = items["general_budget.classes"]
    gb["items"] = items["general_budget.items"]
    data["performance_projects"] = items["performance_projects"]
    if with_status:
        data["check_status"] = {path: fact.status for path, fact in slot_facts(facts).items()}
    if with_evidence:
        data["evidence"] = {path: fact.evidence for path, fact in slot_facts(facts).items()
                            if fact.evidence is not None}
    return FinalAccounts.model_validate(data)


def facts_from_record(record: FinalAccounts, extractor: str = "import") -> list[Fact]:
    """The inverse of :func:`assemble` (evidence only where the file carries the extension)."""
    statuses = record.check_status or {}
    cited = record.evidence or {}
    facts = [Fact(field=s.field, value=s.value, extractor=extractor,
                  status=statuses.get(s.path, CheckStatus.UNCHECKED), evidence=cited.get(s.path))
             for s in iter_scalar_slots(record) if s.value is not None]
    for lp, key_fields in LIST_KEYS.items():
        for index, item in enumerate(list_items(record, lp)):
            key = {k: item.get(k) for k in key_fields}
            for leaf in value_fields(lp):
                if item.get(leaf) is None:
                    continue
                path = f"{lp}.{leaf}"
                where = slot_path(path, index)
                facts.append(Fact(field=path, key=key, value=item[leaf], extractor=extractor,
                                  status=statuses.get(where, CheckStatus.UNCHECKED),
                                  evidence=cited.get(where)))
    return facts
