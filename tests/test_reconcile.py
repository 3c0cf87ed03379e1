"""Numeric reconciliation on the gold set: every rule holds there, breaks on a damaged copy
with the damaged figure named, tolerates honest rounding, and repairs only what it proves."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from extractor.core.records import CheckStatus, Evidence, Fact, FinalAccounts, assemble, facts_from_record
from extractor.reconcile import (
    CheckResult,
    ReconcileOptions,
    ReconcileResult,
    default_catalog,
    format_checks,
    reconcile,
    reconcile_record,
    slot_label,
)
from extractor.reconcile.catalog import RuleKind

GOLD_DIR = Path(__file__).resolve().parents[1] / "eval" / "gold"
GOLD_FILES = sorted(GOLD_DIR.glob("*.json"))
NO_REPAIR = ReconcileOptions(repair=False)
CLASS_BUDGET = "aux.amount.general_budget.classes.budget_at_start"


@cache
def gold(stem: str) -> FinalAccounts:
    return FinalAccounts.model_validate_json((GOLD_DIR / f"{stem}.json").read_text(encoding="utf-8"))


def gold_facts(stem: str) -> list[Fact]:
    return facts_from_record(gold(stem))


EXECUTION = "aux.amount.performance_projects.execution_score"
INDICATORS = "aux.amount.performance_projects.indicator_score"
SCORE_PARTS = {  # as 004's annexes print them: "预算执行情况得分 X 分、…指标完成情况得分 Y 分"
    "004_4a020ba0f11f1338": {
        "餐厅购买服务及伙食补贴": ("5.31", "90"), "12345政务热线运营项目": ("0", "85"),
        "政务大厅保安人员费用": ("9.87", "90"), "忻州市公共资源交易平台服务费": ("8.9", "90"),
        "数字政府信息化费用": ("6.85", "90"), "“互联网+政务服务”平台技术服务费": ("8.63", "90"),
        "企业注册登记电子档案库年度维护运行费": ("9.62", "89.9"),
        "忻州市公共资源交易系统检测认证费": ("10", "90"),
    },
}


def printed_fact(field: str, name: str, text: str) -> Fact:
    decimals = len(text.split(".", 1)[1]) if "." in text else 0
    return Fact(field=field, key={"name": name}, value=float(text), raw=text, decimals=decimals)


def score_parts(stem: str) -> list[Fact]:
    return [printed_fact(fld, name, text) for name, parts in SCORE_PARTS.get(stem, {}).items()
            for fld, text in zip((EXECUTION, INDICATORS), parts, strict=True)]


def enriched(stem: str) -> list[Fact]:
    """Gold facts plus the auxiliary figures a report prints: class budgets (where every
    item has one), the vehicle budget's parts, every share and completion rate, and the
    two parts of each project's score."""
    facts = gold_facts(stem) + score_parts(stem)
    record = gold(stem)
    for cls in record.general_budget.classes:
        budgets = [i.budget_at_start for i in record.general_budget.items if i.class_ == cls.name]
        if budgets and all(b is not None for b in budgets):
            total = round(sum(b for b in budgets if b is not None), 6)
            facts.append(Fact(field=CLASS_BUDGET, key={"name": cls.name}, value=total, decimals=2))
    tp = record.three_public
    if tp.vehicle_budget is not None:
        facts.append(Fact(field="aux.amount.three_public.vehicle_purchase_budget", value=0, decimals=2))
        facts.append(Fact(field="aux.amount.three_public.vehicle_operation_budget", value=tp.vehicle_budget,
                          decimals=2))
    return facts + printed_shares(record, facts)


# What a report prints as 占比 (part of its whole) and 完成率 (actual against budget), written
# out here from the national template rather than taken from the rule catalog, so a rule
# with the wrong whole (or part and whole swapped) fails on gold instead of agreeing with
# shares computed by the same mistake.
SCALAR_SHARES: tuple[tuple[str, str, str], ...] = (
    *((f"aux.pct.income_sources.{f}", f"income_sources.{f}", "summary.income_current_year") for f in (
        "general_budget_appropriation", "gov_fund_appropriation", "state_capital_appropriation",
        "superior_subsidy", "business_income", "operating_income", "affiliate_remittance",
        "other_income")),
    *((f"aux.pct.expense_uses.{f}", f"expense_uses.{f}", "summary.expense_current_year") for f in (
        "basic", "project", "remit_to_superior", "operating", "affiliate_subsidy")),
    ("aux.pct.general_budget.actual_total", "general_budget.actual_total", "summary.expense_current_year"),
    *((f"aux.pct.three_public.{f}_actual", f"three_public.{f}_actual", "three_public.actual_total")
      for f in ("overseas", "vehicle", "reception")),
    ("aux.pct.basic_expense.personnel", "basic_expense.personnel", "basic_expense.total"),
    ("aux.pct.basic_expense.public", "basic_expense.public", "basic_expense.total"),
    *((f"aux.pct.procurement.{f}", f"procurement.{f}", "procurement.total")
      for f in ("goods", "works", "services", "sme_awarded")),
    ("aux.rate.general_budget.actual_total", "general_budget.actual_total", "general_budget.budget_at_start"),
    *((f"aux.rate.three_public.{f}", f"three_public.{f}", f"three_public.{f.replace('actual', 'budget')}")
      for f in ("actual_total", "overseas_actual", "vehicle_actual", "reception_actual")),
)


def _percent(part: float | None, whole: float | None) -> float | None:
    if part is None or whole is None or whole == 0:
        return None
    exact = Decimal(repr(part)) * 100 / Decimal(repr(whole))
    return float(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def printed_shares(record: FinalAccounts, facts: list[Fact]) -> list[Fact]:
    """The shares and rates a report prints, computed by hand from the gold figures."""
    values = {f.field: f.value for f in facts if f.key is None}
    out = [Fact(field=aux, value=share, decimals=2)
           for aux, part, whole in SCALAR_SHARES
           if (share := _percent(values.get(part), values.get(whole))) is not None]
    gb = record.general_budget
    class_budgets = {(f.key or {}).get("name"): f.value for f in facts if f.field == CLASS_BUDGET}
    for cls in gb.classes:
        key = {"name": cls.name}
        for aux, whole in (("aux.pct.general_budget.classes.actual", gb.actual_total),
                           ("aux.rate.general_budget.classes.actual", class_budgets.get(cls.name))):
            if (share := _percent(cls.actual, whole)) is not None:
                out.append(Fact(field=aux, key=key, value=share, decimals=2))
    for item in gb.items:
        key = {"class": item.class_, "section": item.section, "item": item.item, "code": item.code}
        for aux, whole in (("aux.pct.general_budget.items.actual", gb.actual_total),
                           ("aux.rate.general_budget.items.actual", item.budget_at_start)):
            if (share := _percent(item.actual, whole)) is not None:
                out.append(Fact(field=aux, key=key, value=share, decimals=2))
    for project in record.performance_projects:
        if (share := _percent(project.executed, project.budget)) is not None:
            out.append(Fact(field="aux.rate.performance_projects.executed", key={"name": project.name},
                            value=share, decimals=2))
    return out


def find(facts: list[Fact], field: str, **key: str) -> int:
    """Index of the fact for ``field`` whose key holds ``key`` (by substring)."""
    for i, f in enumerate(facts):
        if f.field == field and all(v in ((f.key or {}).get(k) or "") for k, v in key.items()):
            return i
    raise LookupError(field)


def damaged(facts: list[Fact], index: int, value: float) -> list[Fact]:
    out = [f.model_copy() for f in facts]
    out[index] = out[index].model_copy(update={"value": value})
    return out


def status_of(result: ReconcileResult, index: int) -> CheckStatus:
    return result.facts[index].status


# --------------------------------------------------------------------------- the rules hold


@pytest.mark.parametrize("path", GOLD_FILES, ids=lambda p: p.stem[:3])
def test_every_check_passes_on_gold(path: Path) -> None:
    result = reconcile(enriched(path.stem))
    assert result.checks, "no rule applied"
    assert [c.summary for c in result.failing] == []
    assert result.repairs == []
    assert result.counts()["flagged"] == 0
    assert result.counts()["verified"] > 40


SYNTHETIC = {  # the gold reports had no budget for trips abroad or receptions
    "rate.three_public.overseas_actual": ("three_public.overseas_budget", "three_public.overseas_actual"),
    "rate.three_public.reception_actual": ("three_public.reception_budget", "three_public.reception_actual"),
}


def synthetic(rule_id: str) -> list[Fact]:
    budget, actual = SYNTHETIC[rule_id]
    return [Fact(field=budget, value=5.0, decimals=2), Fact(field=actual, value=2.0, decimals=2),
            Fact(field=f"aux.rate.{actual}", value=40.0, decimals=2)]


def test_every_rule_applies_to_some_gold_file() -> None:
    applied = {c.rule for p in GOLD_FILES for c in reconcile(enriched(p.stem)).checks}
    assert {r.id for r in default_catalog().rules} - applied == set(SYNTHETIC)
    for rule_id in SYNTHETIC:
        (check,) = reconcile(synthetic(rule_id)).checks
        assert check.rule == rule_id and check.passed


def _first_check(rule_id: str) -> tuple[list[Fact], CheckResult]:
    docs = [enriched(p.stem) for p in GOLD_FILES] + ([synthetic(rule_id)] if rule_id in SYNTHETIC else [])
    for facts in docs:
        for check in reconcile(facts, options=NO_REPAIR).checks:
            if check.rule == rule_id:
                return facts, check
    raise LookupError(rule_id)


def _damage_for(check: CheckResult) -> float:
    """A value for the check's first figure that breaks the rule and is no OCR slip."""
    first = check.figures[0]
    kind = RuleKind(check.kind)
    if kind is RuleKind.SUM:
        return round(first.value + 111.11, 6)
    if kind is RuleKind.RATIO:
        return first.value + 7.5
    if kind is RuleKind.LE:
        return round(check.expected) + 50
    return 0 if first.value else 5


@pytest.mark.parametrize("rule", [r.id for r in default_catalog().rules])
def test_damaged_copy_fails_with_the_figure_named(rule: str) -> None:
    facts, check = _first_check(rule)
    target = check.figures[0]
    index = next(i for i, f in enumerate(facts) if slot_label(f.slot_id()) == target.slot)
    bad = _damage_for(check)
    broken = damaged(facts, index, bad)

    result = reconcile(broken, options=NO_REPAIR)
    failing = [c for c in result.failing if c.rule == rule]
    assert failing, f"{rule} still passes with {target.slot} = {bad}"
    named = {(f.slot, f.value) for c in failing for f in c.figures}
    assert (target.slot, bad) in named
    assert any(target.slot in c.blamed for c in failing) or status_of(result, index) is CheckStatus.FLAGGED
    assert status_of(result, index) is CheckStatus.FLAGGED

    repaired = reconcile(broken)  # with repair on, the damage is never passed silently
    assert status_of(repaired, index) in {CheckStatus.FLAGGED, CheckStatus.REPAIRED}
    if status_of(repaired, index) is CheckStatus.REPAIRED:
        assert repaired.facts[index].value == pytest.approx(target.value)


def test_failing_check_reports_expected_actual_and_tolerance() -> None:
    facts = gold_facts("002_ede6ec7d9a9ccbff")
    i = find(facts, "basic_expense.personnel")
    result = reconcile(damaged(facts, i, 532.14), options=NO_REPAIR)
    check = next(c for c in result.failing if c.rule == "basic.parts")
    assert check.actual == pytest.approx(795.75)
    assert check.expected == pytest.approx(532.14 + 163.34)
    assert check.tolerance == pytest.approx(0.015)
    assert "532.14" in check.summary and "795.75" in check.summary
    assert "basic_expense.personnel" in check.blamed
    text = format_checks(result, failing_only=True)
    assert "FAIL  basic.parts" in text and "basic_expense.personnel = 532.14  ← flagged" in text


# --------------------------------------------------------------------------- rounding


def _basic(total: float, personnel: float, public: float, decimals: int | None = 2) -> list[Fact]:
    return [Fact(field="basic_expense.total", value=total, decimals=decimals),
            Fact(field="basic_expense.personnel", value=personnel, decimals=decimals),
            Fact(field="basic_expense.public", value=public, decimals=decimals)]


def _verdict(facts: list[Fact], rule: str) -> bool:
    return next(c.passed for c in reconcile(facts, options=NO_REPAIR).checks if c.rule == rule)


def test_rounding_tolerance_follows_printed_precision() -> None:
    assert _verdict(_basic(818.73, 396.62, 422.12), "basic.parts")  # 003: off by 0.01 of 0.015
    assert not _verdict(_basic(818.72, 396.62, 422.12), "basic.parts")  # 0.02: more than rounding
    assert _verdict(_basic(818.7, 396.6, 422.1, decimals=1), "basic.parts")
    assert _verdict(_basic(818.8, 396.62, 422.12, decimals=None), "basic.parts") is False
    # figures from a 元 table are exact to 0.000001 万元: a 0.0001 gap is damage
    assert _verdict(_basic(1706.632546, 1398.814389, 307.818157, decimals=6), "basic.parts")
    assert not _verdict(_basic(1706.632646, 1398.814389, 307.818157, decimals=6), "basic.parts")


def test_two_copies_printed_alike_must_be_equal() -> None:
    base = [Fact(field="operating_costs", value=163.34, decimals=2),
            Fact(field="operating_costs", value=163.35, decimals=2, priority=-1, extractor="mention")]
    result = reconcile(base, options=NO_REPAIR)
    assert [c.rule for c in result.failing] == ["same_figure"]
    coarse = [base[0], base[1].model_copy(update={"value": 163.3, "decimals": 1})]
    assert reconcile(coarse).failing == []  # a narrative rounding to 0.1 agrees


def _round(value: Decimal, places: int = 2) -> float:
    return float(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=14))
def test_honest_rounding_never_fails_a_sum(cents_yuan: list[int]) -> None:
    """Items in 元 (to the cent), printed in 万元 to 0.01; their total printed the same way."""
    exact = [Decimal(c) / Decimal(10**6) for c in cents_yuan]  # 万元
    facts = [Fact(field="general_budget.actual_total", value=_round(sum(exact, Decimal(0))), decimals=2),
             Fact(field="general_budget.classes.actual", key={"name": "一般公共服务支出"},
                  value=_round(sum(exact, Decimal(0))), decimals=2)]
    for n, value in enumerate(exact):
        key = {"class": "一般公共服务支出", "section": "s", "item": f"item{n}", "code": None}
        facts.append(Fact(field="general_budget.items.actual", key=key, value=_round(value), decimals=2))
    result = reconcile(facts)
    assert result.failing == []
    assert result.repairs == []
    assert {c.rule for c in result.checks} == {"gb.classes", "gb.items", "gb.class_items"}


# --------------------------------------------------------------------------- repair


def test_repair_from_another_mention_of_the_figure() -> None:
    facts = gold_facts("002_ede6ec7d9a9ccbff")
    i = find(facts, "basic_expense.personnel")
    mention = facts[i].model_copy(update={
        "priority": -1, "extractor": "rules", "raw": "632.41万元",
        "evidence": Evidence(quote="人员经费632.41万元", page=3)})
    result = reconcile([*damaged(facts, i, 532.14), mention])  # two slips: no OCR candidate
    assert status_of(result, i) is CheckStatus.REPAIRED
    assert result.facts[i].value == 632.41
    (rep,) = result.repairs
    assert (rep.slot, rep.before, rep.after) == ("basic_expense.personnel", 532.14, 632.41)
    assert rep.evidence["source"] == "mention" and rep.evidence["quote"] == "人员经费632.41万元"
    assert "basic.parts" in rep.rule
    assert "repaired 532.14 → 632.41" in (result.facts[i].note or "")
    assert result.facts[-1].status is CheckStatus.VERIFIED  # the mention now agrees


def test_repair_from_an_ocr_confusion() -> None:
    facts = gold_facts("002_ede6ec7d9a9ccbff")
    i = find(facts, "basic_expense.total")
    result = reconcile(damaged(facts, i, 793.75))  # 5 read as 3
    assert status_of(result, i) is CheckStatus.REPAIRED
    (rep,) = result.repairs
    assert (rep.before, rep.after, rep.evidence["source"]) == (793.75, 795.75, "digit")
    assert {"basic.parts", "gb.basic_project", "cross.basic"} <= set(rep.rule.split(", "))
    assert result.failing == []
    others = [f.status for n, f in enumerate(result.facts) if n != i and f.field.startswith("basic_expense")]
    assert others == [CheckStatus.VERIFIED, CheckStatus.VERIFIED]


def test_repair_reads_the_digits_as_printed_in_yuan() -> None:
    facts = gold_facts("004_4a020ba0f11f1338")
    i = find(facts, "basic_expense.total")
    bad = facts[i].model_copy(update={"value": 1706.682546, "raw": "17,066,825.46元", "decimals": 2})
    facts[i] = bad
    result = reconcile(facts)
    assert result.facts[i].value == pytest.approx(1706.632546, abs=1e-9)
    assert result.repairs[0].evidence["detail"].startswith("8→3")


def test_repair_of_a_unit_slip() -> None:
    facts = gold_facts("003_17aaca51ade6ba7f")
    i = find(facts, "basic_expense.total")
    result = reconcile(damaged(facts, i, 8187300.0))  # a 万元 figure taken for 元
    assert result.facts[i].value == pytest.approx(818.73)
    assert result.repairs[0].evidence["source"] == "unit"


def test_a_table_read_in_the_wrong_unit_is_flagged_though_its_sums_close() -> None:
    """Every figure of the 基本支出 table taken for 元 (÷10000): its sums still close, but the
    narrative's 万元 figure is the same one in another unit, so the table is not vouched for."""
    facts = _basic(0.016791, 0.01277, 0.004021, decimals=6)
    mention = Fact(field="basic_expense.total", value=167.91, decimals=2, priority=-1,
                   extractor="rules", raw="167.91万元")
    result = reconcile([*facts, mention], options=NO_REPAIR)
    assert next(c for c in result.checks if c.rule == "basic.parts").passed
    assert result.facts[0].status is CheckStatus.FLAGGED
    agreeing = reconcile([*_basic(167.91, 127.7, 40.21), mention], options=NO_REPAIR)
    assert agreeing.facts[0].status is CheckStatus.VERIFIED


def test_two_equally_good_repairs_are_flagged_not_guessed() -> None:
    """行政运行 681.01: 631.01 fixes both sums, and so does 81.55 → 31.55 next to it."""
    facts = gold_facts("002_ede6ec7d9a9ccbff")
    i = find(facts, "general_budget.items.actual", item="行政运行")
    j = find(facts, "general_budget.items.actual", item="一般行政管理事务")
    result = reconcile(damaged(facts, i, 681.01))
    assert result.repairs == []
    assert status_of(result, i) is CheckStatus.FLAGGED
    assert status_of(result, j) is CheckStatus.FLAGGED
    other_class = find(facts, "general_budget.classes.actual", name="社会保障")
    assert status_of(result, other_class) is CheckStatus.VERIFIED


def test_a_lone_equation_with_an_unproven_neighbour_does_not_repair() -> None:
    """Σ 政府采购 has no other check: 8 read for 0 in 工程 could as well be damage elsewhere."""
    facts = gold_facts("003_17aaca51ade6ba7f")
    i = find(facts, "procurement.total")
    result = reconcile(damaged(facts, i, 1078.84))
    assert result.repairs == []
    assert status_of(result, i) is CheckStatus.FLAGGED


def test_another_extractor_confirms_and_supplies_candidates() -> None:
    facts = gold_facts("003_17aaca51ade6ba7f")
    i = find(facts, "procurement.total")
    alternates = gold_facts("003_17aaca51ade6ba7f")
    result = reconcile(damaged(facts, i, 1078.84), alternates=alternates)
    assert result.facts[i].value == 1072.84
    assert result.repairs[0].evidence["source"] == "alternate"
    vehicles = find(facts, "assets.vehicles")  # in no rule: verified only by the second reading
    assert status_of(reconcile(facts), vehicles) is CheckStatus.UNCHECKED
    assert status_of(result, vehicles) is CheckStatus.VERIFIED


def test_disagreeing_second_reading_of_an_unchecked_value_is_flagged() -> None:
    facts = gold_facts("003_17aaca51ade6ba7f")
    vehicles = find(facts, "assets.vehicles")
    other = [f.model_copy(update={"value": 7}) if f.field == "assets.vehicles" else f for f in facts]
    result = reconcile(facts, alternates=other)
    assert status_of(result, vehicles) is CheckStatus.FLAGGED
    assert result.repairs == []


def test_a_wrong_stated_share_blames_the_share_not_the_figures() -> None:
    facts = gold_facts("002_ede6ec7d9a9ccbff")
    share = Fact(field="aux.pct.general_budget.classes.actual", key={"name": "一般公共服务"}, value=71.73,
                 decimals=2)  # 721.17 / 885.90 = 81.41%
    result = reconcile([*facts, share])
    (check,) = result.failing
    assert check.rule == "share.general_budget.classes.actual"
    assert check.blamed == ["aux.pct.general_budget.classes[一般公共服务].actual"]
    assert result.facts[-1].status is CheckStatus.FLAGGED
    assert result.counts()["flagged"] == 0  # no contract value is under suspicion


def test_cross_section_identities_need_general_budget_only_funds() -> None:
    def doc(other_income: float) -> list[Fact]:
        others = ("gov_fund_appropriation", "state_capital_appropriation", "superior_subsidy",
                  "business_income", "operating_income", "affiliate_remittance")
        sources = dict.fromkeys(others, 0.0)
        sources |= {"general_budget_appropriation": 300.0, "other_income": other_income}
        return [Fact(field="summary.income_current_year", value=300.0 + other_income),
                Fact(field="summary.income_nonfiscal_surplus_used", value=0),
                *(Fact(field=f"income_sources.{k}", value=v) for k, v in sources.items()),
                Fact(field="operating_costs", value=170.0), Fact(field="basic_expense.public", value=163.34)]

    only_budget = reconcile(doc(0.0))
    assert [c.rule for c in only_budget.failing] == ["cross.operating_costs"]
    assert only_budget.facts[-2].status is CheckStatus.FLAGGED
    other_funds = reconcile(doc(6.2))
    assert other_funds.failing == []
    assert "cross.operating_costs" not in {c.rule for c in other_funds.checks}
    assert other_funds.facts[-2].status is CheckStatus.UNCHECKED


def test_a_precondition_resting_on_a_flagged_figure_is_still_checked() -> None:
    facts = gold_facts("002_ede6ec7d9a9ccbff")
    facts = damaged(facts, find(facts, "operating_costs"), 170.0)
    facts = damaged(facts, find(facts, "income_sources.other_income"), 6.2)  # breaks Σ sources too
    result = reconcile(facts)
    check = next(c for c in result.checks if c.rule == "cross.operating_costs")
    assert not check.passed and "precondition assumed" in check.summary
    assert status_of(result, find(facts, "operating_costs")) is CheckStatus.FLAGGED


def test_statuses_export_and_results_serialise(tmp_path: Path) -> None:
    facts = gold_facts("002_ede6ec7d9a9ccbff")
    facts.append(Fact(field="aux.rate.general_budget.actual_total", value=67.32, decimals=2))
    i = find(facts, "summary.expense_current_year")
    before = [f.model_copy() for f in facts]
    result = reconcile(damaged(facts, i, 835.90))
    assert facts == before  # pure: the input is not touched
    record = assemble("002_ede6ec7d9a9ccbff", result.facts)
    assert record.check_status is not None
    assert record.check_status["summary.expense_current_year"] is CheckStatus.REPAIRED
    assert record.check_status["assets.vehicles"] is CheckStatus.UNCHECKED
    assert record.check_status["summary.income_grand_total"] is CheckStatus.VERIFIED
    assert not any(p.startswith("aux.") for p in record.check_status)
    assert record.summary.expense_current_year == 885.90
    path = tmp_path / "result.json"
    path.write_text(result.model_dump_json(), encoding="utf-8")
    again = ReconcileResult.model_validate_json(path.read_text(encoding="utf-8"))
    assert again == result
    assert json.loads(result.repairs[0].model_dump_json())["before"] == 835.9


def test_reconcile_record_on_a_contract_file() -> None:
    result = reconcile_record(gold("004_4a020ba0f11f1338"))
    assert result.failing == [] and result.counts()["verified"] > 50
    status = assemble("004", result.facts).check_status or {}
    assert status["general_budget.items[0].actual"] is CheckStatus.VERIFIED


def test_two_damaged_parts_sharing_a_gap_are_both_flagged() -> None:
    """A share check that pins a part less tightly than the failing sum can measure it
    must not clear that part: here 1723.60 (printed 1723.66) and 0.60 (printed 0.00)
    share the sum's gap, and the passing 100% share only pins the first to ±0.18."""
    def fact(field: str, value: float) -> Fact:
        return Fact(field=field, value=value, decimals=2)

    facts = [fact("summary.income_current_year", 1723.66),
             fact("income_sources.general_budget_appropriation", 1723.60),
             fact("income_sources.state_capital_appropriation", 0.60),
             *(fact(f"income_sources.{n}", 0.0) for n in (
                 "gov_fund_appropriation", "superior_subsidy", "business_income",
                 "operating_income", "affiliate_remittance", "other_income")),
             fact("aux.pct.income_sources.general_budget_appropriation", 100.00)]
    status = {f.field: f.status for f in reconcile(facts).facts}
    assert status["income_sources.general_budget_appropriation"] == CheckStatus.FLAGGED
    assert status["income_sources.state_capital_appropriation"] == CheckStatus.FLAGGED


# --------------------------------------------------------------------------- project scores

SCORE_RULE = "performance.score_parts"
PLATFORM = "忻州市公共资源交易平台服务费"


def test_a_score_stated_once_is_pinned_by_its_parts() -> None:
    """Gold 98.9 = 8.9 + 90 (004 附件4); "98.9" read as "89.9" passes ≤ 100 but not the sum."""
    facts = enriched("004_4a020ba0f11f1338")
    i = find(facts, "performance_projects.score", name=PLATFORM)
    check = next(c for c in reconcile(facts).checks if c.rule == SCORE_RULE and PLATFORM in c.figures[0].slot)
    assert check.passed and check.name == "项目自评得分 = 预算执行情况得分 + 指标完成情况得分"
    assert [f.value for f in check.figures] == [98.9, 8.9, 90.0]

    broken = damaged(facts, i, 89.9)
    result = reconcile(broken, options=NO_REPAIR)
    (failing,) = [c for c in result.failing if c.rule == SCORE_RULE]
    assert failing.figures[0].slot == f"performance_projects[{PLATFORM}].score"
    assert failing.figures[0].slot in failing.blamed
    assert status_of(result, i) is CheckStatus.FLAGGED
    bound = [c for c in result.checks
             if c.rule == "performance.score_le_100" and PLATFORM in c.figures[0].slot]
    assert [c.passed for c in bound] == [True]  # the bound alone would have let it through

    repaired = reconcile(broken)  # one equation whose parts nothing else proves: flag, never guess
    assert repaired.repairs == [] and status_of(repaired, i) is CheckStatus.FLAGGED


def test_a_damaged_score_is_repaired_from_its_annex_restatement() -> None:
    facts = enriched("004_4a020ba0f11f1338")
    i = find(facts, "performance_projects.score", name=PLATFORM)
    annex = facts[i].model_copy(update={"priority": -1, "raw": "98.9", "decimals": 1,
                                        "evidence": Evidence(quote="总得分 98.9 分")})
    result = reconcile([*damaged(facts, i, 89.9), annex])
    assert result.facts[i].value == 98.9 and status_of(result, i) is CheckStatus.REPAIRED
    (rep,) = result.repairs
    assert SCORE_RULE in rep.rule and rep.evidence["quote"] == "总得分 98.9 分"


def test_the_score_rule_needs_both_parts() -> None:
    facts = [f for f in enriched("004_4a020ba0f11f1338")
             if not (f.field == INDICATORS and (f.key or {}).get("name") == PLATFORM)]
    checks = [c for c in reconcile(facts).checks if c.rule == SCORE_RULE]
    assert len(checks) == 7 and not any(PLATFORM in c.figures[0].slot for c in checks)
