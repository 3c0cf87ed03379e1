"""The reconciliation rule catalog: its validated data model and its instantiation.

A report states most figures twice and their sums many times; each rule of a catalog is
one such redundancy, named with the report's own wording so that a failing check can be
read against the printed tables. The rules are data (``extractor/doctypes/<type>/rules.yaml``,
validated by :class:`Catalog`); turning them into concrete checks over one document's facts
(:func:`instantiate`) is the only code here, so adding a rule never means touching the
reconciler, and another document type brings its own catalog.

References (the strings in ``lhs``/``rhs``):

- ``summary.income_grand_total``: a scalar slot.
- ``general_budget.classes[*].actual``: every item of the list (a sum's parts).
- ``general_budget.classes[.].actual``: the rule is checked once per item of that list;
  other ``[.]`` references (aux figures of the same list) mean the same item.
- ``general_budget.items[class=name].actual``: the items whose ``class`` key equals the
  current item's ``name`` key (each class = Σ its items).

Auxiliary facts (field prefix ``aux.``, never assembled or exported) carry figures the
contract has no field for. Convention: ``aux.<kind>.<slot field>`` with the same ``key``
as the slot's list item, ``value`` as printed and ``decimals`` as printed:

- ``aux.pct.<field>``: the stated share of the figure in its total, in percent
  (``aux.pct.income_sources.general_budget_appropriation`` = 100 in 002; the total each
  share refers to is fixed by the ``share.*`` rules below).
- ``aux.rate.<actual field>``: a stated completion rate, actual / budget in percent
  (``aux.rate.general_budget.actual_total`` = 86.81 in 004;
  ``aux.rate.general_budget.items.actual`` per item; ``aux.rate.three_public.actual_total``;
  ``aux.rate.performance_projects.executed``).
- ``aux.amount.<name>``: an amount with no contract field, in 万元
  (``aux.amount.three_public.vehicle_purchase_budget``,
  ``aux.amount.three_public.vehicle_operation_budget``, and per class
  ``aux.amount.general_budget.classes.budget_at_start``, keyed like the class; per project
  ``aux.amount.performance_projects.execution_score`` (预算执行情况得分) and
  ``aux.amount.performance_projects.indicator_score`` (指标完成情况得分), in points, keyed
  like the project).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic import Field as PField

from extractor.core.errors import ConfigError
from extractor.core.records import AUX_PREFIX, LIST_KEYS

SlotId = tuple[str, tuple[str, ...]]
"""``(field, normalized item key)`` exactly as :meth:`Fact.slot_id` returns it."""


class RuleKind(StrEnum):
    """How a rule's figures relate; decides the tolerance and what a pass proves."""

    SUM = "sum"
    """lhs = Σ rhs (an empty rhs means lhs = 0)."""
    RATIO = "ratio"
    """lhs (percent) = 100 × rhs[0] / rhs[1]."""
    LE = "le"
    """lhs ≤ rhs[0] (or ≤ ``bound``): a sanity bound, never proves a value."""
    ZERO_IFF = "zero_iff"
    """lhs = 0 exactly when every rhs = 0 (no spending ⇔ no trips)."""
    SAME = "same"
    """One figure stated twice (narrative vs table, or two extractors); built per slot."""


@dataclass(frozen=True)
class Condition:
    """A precondition: every listed slot is stated and equals 0."""

    id: str
    name_zh: str
    zero_slots: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    id: str
    name_zh: str
    kind: RuleKind
    lhs: str
    rhs: tuple[str, ...] = ()
    when: tuple[str, ...] = ()
    """Condition ids that must all hold for the rule to apply."""
    bound: float | None = None
    """Constant right-hand side of a :attr:`RuleKind.LE` rule."""


SAME_RULE = Rule("same_figure", "同一数字多处一致（正文与表格、元与万元、两次提取）", RuleKind.SAME, "", ())
"""Built per slot by the reconciler from mentions and alternates, not from references."""


class _ConditionData(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    name_zh: str
    zero_slots: list[str] = PField(min_length=1)


class _RuleData(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    name_zh: str
    kind: RuleKind
    lhs: str = PField(min_length=1)
    rhs: list[str] = PField(default_factory=list)
    when: list[str] = PField(default_factory=list)
    bound: float | None = None

    @model_validator(mode="after")
    def _shape(self) -> _RuleData:
        if self.kind is RuleKind.SAME:
            raise ValueError("'same' checks are built from the facts, not listed")
        if self.kind is RuleKind.RATIO and len(self.rhs) != 2:
            raise ValueError("a ratio rule needs rhs = [part, total]")
        if self.kind is RuleKind.LE and len(self.rhs) != 1 and self.bound is None:
            raise ValueError("an 'le' rule needs one rhs reference or a bound")
        for ref in (self.lhs, *self.rhs):
            if not _REF_SHAPE.match(ref):
                raise ValueError(f"malformed reference {ref!r}")
        return self


class _CatalogData(BaseModel):
    model_config = ConfigDict(extra="forbid")
    conditions: list[_ConditionData] = PField(default_factory=list)
    rules: list[_RuleData] = PField(min_length=1)

    @model_validator(mode="after")
    def _ids(self) -> _CatalogData:
        ids = [r.id for r in self.rules]
        if len(ids) != len(set(ids)):
            raise ValueError(f"duplicate rule ids: {sorted({i for i in ids if ids.count(i) > 1})}")
        known = {c.id for c in self.conditions}
        for rule in self.rules:
            if set(rule.when) - known:
                raise ValueError(f"rule {rule.id}: unknown condition(s) {sorted(set(rule.when) - known)}")
        return self


_REF_SHAPE = re.compile(r"^[a-z_][a-z_.]*(\[(\*|\.|[a-z_]+=[a-z_]+)\]\.[a-z_]+)?$")


@dataclass(frozen=True)
class Catalog:
    """A document type's rules and preconditions: what reconciliation checks.

    Passed into :func:`~extractor.reconcile.engine.reconcile` rather than read from a
    module global, so another document type brings its own catalog file.
    """

    rules: tuple[Rule, ...]
    conditions: dict[str, Condition]

    @property
    def by_id(self) -> dict[str, Rule]:
        return {r.id: r for r in (*self.rules, SAME_RULE)}

    @classmethod
    def from_data(cls, data: object, source: str = "catalog") -> Catalog:
        """Validate catalog data (the YAML's content); one clear error naming ``source``."""
        try:
            parsed = _CatalogData.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(f"{source}: invalid rule catalog: {exc.errors()[0]['msg']} "
                              f"at {'.'.join(str(p) for p in exc.errors()[0]['loc'])}") from exc
        conditions = {c.id: Condition(c.id, c.name_zh, tuple(c.zero_slots)) for c in parsed.conditions}
        rules = tuple(Rule(r.id, r.name_zh, r.kind, r.lhs, tuple(r.rhs), tuple(r.when), r.bound)
                      for r in parsed.rules)
        return cls(rules, conditions)

    @classmethod
    def load(cls, path: Path) -> Catalog:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot read rule catalog: {exc}") from exc
        return cls.from_data(data, str(path))


# --------------------------------------------------------------------------- instantiation

_REF = re.compile(r"^(?P<list>[a-z_.]+?)\[(?P<sel>\*|\.|[a-z_]+=[a-z_]+)\]\.(?P<leaf>[a-z_]+)$")


@dataclass(frozen=True)
class CheckSpec:
    """One rule applied to concrete slots of one document (still without values)."""

    rule: Rule
    lhs: SlotId | None
    rhs: tuple[SlotId, ...]
    anchor: tuple[str, ...] = ()
    """The list item the check is about (for per-item rules), for display."""
    condition_slots: tuple[SlotId, ...] = field(default=())

    @property
    def participants(self) -> tuple[SlotId, ...]:
        return ((self.lhs,) if self.lhs is not None else ()) + self.rhs


class SlotIndex:
    """Which slots a document has: scalar fields and, per list, its items in order."""

    def __init__(self, slots: Iterable[SlotId]) -> None:
        self.slots: set[SlotId] = set()
        self.items: dict[str, list[tuple[str, ...]]] = {lp: [] for lp in LIST_KEYS}
        for fld, key in slots:
            self.slots.add((fld, key))
            lp = _list_of(fld)
            if lp is not None and key and key not in self.items[lp]:
                self.items[lp].append(key)

    def has(self, slot: SlotId) -> bool:
        return slot in self.slots


def _list_of(fld: str) -> str | None:
    base = fld.split(".", 2)[-1] if fld.startswith(AUX_PREFIX) else fld
    head = base.rsplit(".", 1)[0]
    return head if head in LIST_KEYS else None


def _prefix_and_ref(ref: str) -> tuple[str, str]:
    """``aux.rate.general_budget.items[.].actual`` → (``aux.rate.``, the list reference)."""
    if ref.startswith(AUX_PREFIX):
        kind, rest = ref[len(AUX_PREFIX):].split(".", 1)
        return f"{AUX_PREFIX}{kind}.", rest
    return "", ref


def _resolve(ref: str, index: SlotIndex, anchor: tuple[str, ...] | None,
             anchor_list: str | None) -> list[SlotId] | None:
    """The slots a reference names, or ``None`` when any of them is missing."""
    prefix, base = _prefix_and_ref(ref)
    match = _REF.match(base)
    if match is None:
        slot: SlotId = (ref, ())
        return [slot] if index.has(slot) else None
    lp, sel, leaf = match["list"], match["sel"], match["leaf"]
    fld = f"{prefix}{lp}.{leaf}"
    if sel == ".":
        if anchor is None or lp != anchor_list:
            return None
        slot = (fld, anchor)
        return [slot] if index.has(slot) else None
    keys = index.items[lp]
    if sel != "*":
        if anchor is None or anchor_list is None:
            return None
        mine, theirs = sel.split("=")
        want = anchor[LIST_KEYS[anchor_list].index(theirs)]
        keys = [k for k in keys if k[LIST_KEYS[lp].index(mine)] == want]
    found = [(fld, k) for k in keys]
    if not found or not all(index.has(s) for s in found):
        return None  # a part is missing: the sum cannot be checked
    return found


def _anchor_list(rule: Rule) -> str | None:
    for ref in (rule.lhs, *rule.rhs):
        match = _REF.match(_prefix_and_ref(ref)[1])
        if match is not None and match["sel"] == ".":
            return match["list"]
    return None


def instantiate(catalog: Catalog, index: SlotIndex) -> list[CheckSpec]:
    """Every check the document's slots allow; a rule with a missing figure is skipped."""
    specs: list[CheckSpec] = []
    for rule in catalog.rules:
        cond_slots = tuple((s, ()) for c in rule.when for s in catalog.conditions[c].zero_slots)
        if not all(index.has(s) for s in cond_slots):
            continue
        anchor_list = _anchor_list(rule)
        anchors: list[tuple[str, ...] | None] = (
            list(index.items[anchor_list]) if anchor_list else [None])
        for anchor in anchors:
            lhs = _resolve(rule.lhs, index, anchor, anchor_list)
            parts = [_resolve(r, index, anchor, anchor_list) for r in rule.rhs]
            if lhs is None or any(p is None for p in parts):
                continue
            rhs = tuple(s for p in parts for s in (p or []))
            specs.append(CheckSpec(rule, lhs[0], rhs, anchor or (), cond_slots))
    return specs


ZERO_BELOW = 0.005
"""A precondition's "stated as 0" allows less than half a printed cent of 万元 (50 元)."""


def condition_holds(spec: CheckSpec, value: Callable[[SlotId], float | None]) -> bool:
    """All of the spec's precondition slots are stated as 0."""
    return all((v := value(s)) is not None and abs(v) < ZERO_BELOW for s in spec.condition_slots)
