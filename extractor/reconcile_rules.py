"""The reconciliation rule catalog: every arithmetic identity of a final-accounts report, as data.

A report states most figures twice and their sums many times; each rule below is one
such redundancy, named with the report's own wording so that a failing check can be
read against the printed tables. Rules are declarative (:class:`Rule`); turning them
into concrete checks over one document's facts (:func:`instantiate`) is the only code
here, so adding a rule never means touching the reconciler.

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


_ZH = {
    "general_budget_appropriation": "一般公共预算财政拨款收入",
    "gov_fund_appropriation": "政府性基金预算财政拨款收入",
    "state_capital_appropriation": "国有资本经营预算财政拨款收入",
    "superior_subsidy": "上级补助收入", "business_income": "事业收入", "operating_income": "经营收入",
    "affiliate_remittance": "附属单位上缴收入", "other_income": "其他收入",
    "basic": "基本支出", "project": "项目支出", "remit_to_superior": "上缴上级支出",
    "operating": "经营支出", "affiliate_subsidy": "对附属单位补助支出",
    "goods": "货物采购", "works": "工程采购", "services": "服务采购", "sme_awarded": "授予中小企业合同金额",
}
_OTHER_INCOME = ("gov_fund_appropriation", "state_capital_appropriation", "superior_subsidy",
                 "business_income", "operating_income", "affiliate_remittance", "other_income")
INCOME_SOURCES = ("general_budget_appropriation", *_OTHER_INCOME)
EXPENSE_USES = ("basic", "project", "remit_to_superior", "operating", "affiliate_subsidy")

CONDITIONS: dict[str, Condition] = {c.id: c for c in (
    Condition("only_general_budget", "收入全部为一般公共预算财政拨款",
              (*(f"income_sources.{f}" for f in _OTHER_INCOME), "summary.income_nonfiscal_surplus_used")),
    Condition("no_carryover", "无年初结转和结余", ("summary.income_carryover_begin",)),
)}
"""Cross-section identities hold only for some reports; these say which."""


def _sum(rid: str, name: str, lhs: str, *rhs: str, when: tuple[str, ...] = ()) -> Rule:
    return Rule(rid, name, RuleKind.SUM, lhs, tuple(rhs), when)


def _share(part: str, total: str, name: str) -> Rule:
    return Rule(f"share.{part.replace('[.]', '')}", f"{name}占比 = {name} / 合计（百分比）",
                RuleKind.RATIO, f"aux.pct.{part}", (part, total))


def _rate(actual: str, budget: str, name: str) -> Rule:
    return Rule(f"rate.{actual.replace('[.]', '')}", f"{name}完成率 = 决算数 / 预算数",
                RuleKind.RATIO, f"aux.rate.{actual}", (actual, budget))


_TP = "three_public"
_GB = "general_budget"

RULES: tuple[Rule, ...] = (
    # --- summary tables (收入支出决算总表)
    _sum("summary.income_total", "收入总计 = 本年收入合计 + 使用非财政拨款结余 + 年初结转和结余",
         "summary.income_grand_total", "summary.income_current_year",
         "summary.income_nonfiscal_surplus_used", "summary.income_carryover_begin"),
    _sum("summary.expense_total", "支出总计 = 本年支出合计 + 结余分配 + 年末结转和结余",
         "summary.expense_grand_total", "summary.expense_current_year",
         "summary.expense_surplus_distribution", "summary.expense_carryover_end"),
    _sum("summary.balance", "收入总计 = 支出总计（收入支出决算总表平衡）",
         "summary.income_grand_total", "summary.expense_grand_total"),
    _sum("income.sources", "本年收入合计 = Σ 各项收入", "summary.income_current_year",
         *(f"income_sources.{f}" for f in INCOME_SOURCES)),
    _sum("expense.uses", "本年支出合计 = 基本支出 + 项目支出 + 上缴上级 + 经营支出 + 对附属单位补助",
         "summary.expense_current_year", *(f"expense_uses.{f}" for f in EXPENSE_USES)),
    # --- 一般公共预算财政拨款支出
    _sum("gb.classes", "一般公共预算财政拨款支出 = Σ 各类（类）决算数",
         f"{_GB}.actual_total", f"{_GB}.classes[*].actual"),
    _sum("gb.items", "一般公共预算财政拨款支出 = Σ 各项（项）决算数",
         f"{_GB}.actual_total", f"{_GB}.items[*].actual"),
    _sum("gb.items_budget", "一般公共预算财政拨款支出年初预算 = Σ 各项年初预算数",
         f"{_GB}.budget_at_start", f"{_GB}.items[*].budget_at_start"),
    _sum("gb.class_items", "各类决算数 = Σ 该类各项决算数",
         f"{_GB}.classes[.].actual", f"{_GB}.items[class=name].actual"),
    _sum("gb.class_budgets", "一般公共预算财政拨款支出年初预算 = Σ 各类年初预算数",
         f"{_GB}.budget_at_start", f"aux.amount.{_GB}.classes[*].budget_at_start"),
    _sum("gb.class_items_budget", "各类年初预算数 = Σ 该类各项年初预算数",
         f"aux.amount.{_GB}.classes[.].budget_at_start", f"{_GB}.items[class=name].budget_at_start"),
    _sum("gb.basic_project", "一般公共预算财政拨款支出 = 基本支出 + 项目支出",
         f"{_GB}.actual_total", "basic_expense.total", "project_expense_total"),
    _sum("basic.parts", "一般公共预算财政拨款基本支出 = 人员经费 + 公用经费",
         "basic_expense.total", "basic_expense.personnel", "basic_expense.public"),
    # --- 三公经费
    _sum("three_public.budget", "“三公”经费预算 = 因公出国（境）费 + 公务用车购置及运行维护费 + 公务接待费",
         f"{_TP}.budget_total", f"{_TP}.overseas_budget", f"{_TP}.vehicle_budget", f"{_TP}.reception_budget"),
    _sum("three_public.actual", "“三公”经费决算 = 因公出国（境）费 + 公务用车购置及运行维护费 + 公务接待费",
         f"{_TP}.actual_total", f"{_TP}.overseas_actual", f"{_TP}.vehicle_actual", f"{_TP}.reception_actual"),
    _sum("three_public.vehicle_actual", "公务用车购置及运行维护费决算 = 购置费 + 运行维护费",
         f"{_TP}.vehicle_actual", f"{_TP}.vehicle_purchase_actual", f"{_TP}.vehicle_operation_actual"),
    _sum("three_public.vehicle_budget", "公务用车购置及运行维护费预算 = 购置费预算 + 运行维护费预算",
         f"{_TP}.vehicle_budget", f"aux.amount.{_TP}.vehicle_purchase_budget",
         f"aux.amount.{_TP}.vehicle_operation_budget"),
    Rule("three_public.overseas_zero", "因公出国（境）费为0 ⇔ 出国团组为0", RuleKind.ZERO_IFF,
         f"{_TP}.overseas_actual", (f"{_TP}.overseas_groups", f"{_TP}.overseas_persons")),
    Rule("three_public.purchase_zero", "公务用车购置费为0 ⇔ 购置车辆为0", RuleKind.ZERO_IFF,
         f"{_TP}.vehicle_purchase_actual", (f"{_TP}.vehicles_purchased",)),
    Rule("three_public.reception_zero", "公务接待费为0 ⇔ 接待批次为0", RuleKind.ZERO_IFF,
         f"{_TP}.reception_actual", (f"{_TP}.reception_batches", f"{_TP}.reception_persons")),
    Rule("three_public.groups_le_persons", "出国团组数 ≤ 出国人次", RuleKind.LE,
         f"{_TP}.overseas_groups", (f"{_TP}.overseas_persons",)),
    Rule("three_public.batches_le_persons", "接待批次 ≤ 接待人次", RuleKind.LE,
         f"{_TP}.reception_batches", (f"{_TP}.reception_persons",)),
    Rule("three_public.held_le_vehicles", "公务用车保有量 ≤ 车辆总数", RuleKind.LE,
         f"{_TP}.vehicles_held", ("assets.vehicles",)),
    # --- 政府采购
    _sum("procurement.parts", "政府采购支出总额 = 货物 + 工程 + 服务",
         "procurement.total", "procurement.goods", "procurement.works", "procurement.services"),
    Rule("procurement.sme_le_total", "授予中小企业合同金额 ≤ 政府采购支出总额", RuleKind.LE,
         "procurement.sme_awarded", ("procurement.total",)),
    # --- cross-section identities (only where the report's funds make them hold)
    _sum("cross.gb_current_expense", "一般公共预算财政拨款支出 = 本年支出合计（仅一般公共预算财政拨款）",
         f"{_GB}.actual_total", "summary.expense_current_year", when=("only_general_budget",)),
    _sum("cross.basic", "支出决算表基本支出 = 一般公共预算财政拨款基本支出（仅一般公共预算财政拨款）",
         "expense_uses.basic", "basic_expense.total", when=("only_general_budget",)),
    _sum("cross.project", "支出决算表项目支出 = 一般公共预算财政拨款项目支出（仅一般公共预算财政拨款）",
         "expense_uses.project", "project_expense_total", when=("only_general_budget",)),
    _sum("cross.operating_costs", "机关运行经费 = 公用经费（仅一般公共预算财政拨款）",
         "operating_costs", "basic_expense.public", when=("only_general_budget",)),
    _sum("cross.no_gov_fund", "政府性基金预算财政拨款支出 = 0（无该项收入及结转）",
         "gov_fund_expense", when=("only_general_budget", "no_carryover")),
    _sum("cross.no_state_capital", "国有资本经营预算财政拨款支出 = 0（无该项收入及结转）",
         "state_capital_expense", when=("only_general_budget", "no_carryover")),
    # --- stated shares (aux.pct.*) and completion rates (aux.rate.*)
    *(_share(f"income_sources.{f}", "summary.income_current_year", _ZH[f]) for f in INCOME_SOURCES),
    *(_share(f"expense_uses.{f}", "summary.expense_current_year", _ZH[f]) for f in EXPENSE_USES),
    _share(f"{_GB}.classes[.].actual", f"{_GB}.actual_total", "各类支出"),
    _share(f"{_GB}.items[.].actual", f"{_GB}.actual_total", "各项支出"),
    _share(f"{_GB}.actual_total", "summary.expense_current_year", "一般公共预算财政拨款支出"),
    *(_share(f"{_TP}.{f}_actual", f"{_TP}.actual_total", name)
      for f, name in (("overseas", "因公出国（境）费"), ("vehicle", "公务用车购置及运行维护费"),
                      ("reception", "公务接待费"))),
    _share("basic_expense.personnel", "basic_expense.total", "人员经费"),
    _share("basic_expense.public", "basic_expense.total", "公用经费"),
    *(_share(f"procurement.{f}", "procurement.total", _ZH[f])
      for f in ("goods", "works", "services", "sme_awarded")),
    _rate(f"{_GB}.actual_total", f"{_GB}.budget_at_start", "一般公共预算财政拨款支出"),
    _rate(f"{_GB}.classes[.].actual", f"aux.amount.{_GB}.classes[.].budget_at_start", "各类支出"),
    _rate(f"{_GB}.items[.].actual", f"{_GB}.items[.].budget_at_start", "各项支出"),
    _rate(f"{_TP}.actual_total", f"{_TP}.budget_total", "“三公”经费"),
    _rate(f"{_TP}.overseas_actual", f"{_TP}.overseas_budget", "因公出国（境）费"),
    _rate(f"{_TP}.vehicle_actual", f"{_TP}.vehicle_budget", "公务用车购置及运行维护费"),
    _rate(f"{_TP}.reception_actual", f"{_TP}.reception_budget", "公务接待费"),
    _rate("performance_projects[.].executed", "performance_projects[.].budget", "绩效项目预算执行"),
    Rule("performance.score_le_100", "项目自评得分 ≤ 100", RuleKind.LE,
         "performance_projects[.].score", bound=100.0),
    _sum("performance.score_parts", "项目自评得分 = 预算执行情况得分 + 指标完成情况得分",
         "performance_projects[.].score", "aux.amount.performance_projects[.].execution_score",
         "aux.amount.performance_projects[.].indicator_score"),
)

SAME_RULE = Rule("same_figure", "同一数字多处一致（正文与表格、元与万元、两次提取）", RuleKind.SAME, "", ())
"""Built per slot by the reconciler from mentions and alternates, not from references."""

RULES_BY_ID: dict[str, Rule] = {r.id: r for r in (*RULES, SAME_RULE)}


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


def instantiate(rules: Iterable[Rule], index: SlotIndex) -> list[CheckSpec]:
    """Every check the document's slots allow; a rule with a missing figure is skipped."""
    specs: list[CheckSpec] = []
    for rule in rules:
        cond_slots = tuple((s, ()) for c in rule.when for s in CONDITIONS[c].zero_slots)
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
