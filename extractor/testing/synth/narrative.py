"""The narrative parts of a report (概况, 情况说明), figures stated in sentences.

Templates are data (``narrative.yaml``); this module picks a variant per sentence and
fills it from the ledger. Narratives print 万元 with two decimals (half up) whatever the
tables' unit, as real reports do; a figure the ledger does not state (``None``) drops its
sentence, never prints as a zero.
"""

from __future__ import annotations

import random
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path

import yaml

from extractor.testing.synth.ledger import Ledger

TEMPLATES_PATH = Path(__file__).with_name("narrative.yaml")
Block = tuple[str, str]
"""(kind, text): kind is ``part`` (第X部分), ``heading``, ``subheading`` or ``para``."""


@lru_cache(maxsize=1)
def templates() -> dict[str, list[str]]:
    data = yaml.safe_load(TEMPLATES_PATH.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(isinstance(v, list) and v for v in data.values()):
        raise ValueError(f"{TEMPLATES_PATH}: every key must list at least one template")
    return {str(k): [str(t) for t in v] for k, v in data.items()}


def wan(cents: int | None) -> str:
    """Cents → ``1234.57`` 万元, rounded half up as printed narratives do."""
    value = Decimal(cents or 0) / Decimal(1_000_000)
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def pct(part: int | None, whole: int | None) -> str:
    if not whole:
        return "0.00"
    value = Decimal(part or 0) * 100 / Decimal(whole)
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


class Writer:
    def __init__(self, ledger: Ledger, rng: random.Random) -> None:
        self.ledger = ledger
        self.rng = rng
        self.common = {"dept": ledger.department, "year": ledger.year, "prev": ledger.year - 1}
        self.variants: dict[str, str] = {}

    def say(self, key: str, **values: object) -> str:
        """The key's template, one variant per key for the whole report (a report does not
        switch between ``1、`` and ``1.`` numbering)."""
        if key not in self.variants:
            self.variants[key] = self.rng.choice(templates()[key])
        return self.variants[key].format(**self.common, **values)

    def pick(self, key: str) -> str:
        """A fresh choice from a list of phrases (reasons, uses) each time."""
        return self.rng.choice(templates()[key])

    def change(self) -> dict[str, object]:
        """A year-on-year change (figures outside the contract, as every report has)."""
        up = self.rng.random() < 0.5
        return {
            "updown": "增加" if up else "减少",
            "growth": "增长" if up else "下降",
            "delta": f"{self.rng.uniform(1, 400):.2f}",
            "pct": f"{self.rng.uniform(0.1, 30):.2f}",
            "reason": self.rng.choice(templates()["reasons"]),
        }

    def shares(self, items: list[tuple[str, int]], whole: int) -> str:
        parts = [self.say("share", name=n, amount=wan(v), pct=pct(v, whole)) for n, v in items if v]
        return "；".join(parts) + "。"


def overview(ledger: Ledger, rng: random.Random) -> list[Block]:
    w = Writer(ledger, rng)
    area = "市" if "区" not in ledger.department else "区"
    n_sub = rng.randint(0, 3)
    return [
        ("heading", "一、主要职能"),
        ("para", w.say("overview_duty", area=area, kind=rng.choice(["政府工作部门", "行政机关"]))),
        ("heading", "二、部门决算单位构成"),
        ("para", w.say("overview_units", n=n_sub + 1, n_sub=n_sub)),
    ]


def explanation(ledger: Ledger, rng: random.Random, *, state_basic: bool) -> list[Block]:
    """第三部分 情况说明: one heading and its paragraphs per section of the template."""
    w = Writer(ledger, rng)
    g = ledger.get
    out: list[Block] = []
    grand = g("summary.income_grand_total")
    out += [
        ("heading", "一、收入支出决算总体情况说明"),
        ("para", w.say("total", grand=wan(grand), **w.change())),
    ]
    income = g("summary.income_current_year") or 0
    fiscal_in = sum(
        g(f"income_sources.{k}") or 0 for k in ("general_budget_appropriation", "gov_fund_appropriation")
    )
    names = [
        ("财政拨款收入", fiscal_in),
        ("上级补助收入", g("income_sources.superior_subsidy") or 0),
        ("事业收入", g("income_sources.business_income") or 0),
        ("经营收入", g("income_sources.operating_income") or 0),
        ("附属单位上缴收入", g("income_sources.affiliate_remittance") or 0),
        ("其他收入", g("income_sources.other_income") or 0),
    ]
    out += [
        ("heading", "二、收入决算情况说明"),
        ("para", w.say("income_intro", total=wan(income)) + w.shares(names, income)),
    ]
    spend = g("summary.expense_current_year") or 0
    uses = [
        ("基本支出", g("expense_uses.basic") or 0),
        ("项目支出", g("expense_uses.project") or 0),
        ("上缴上级支出", g("expense_uses.remit_to_superior") or 0),
        ("经营支出", g("expense_uses.operating") or 0),
        ("对附属单位补助支出", g("expense_uses.affiliate_subsidy") or 0),
    ]
    out += [
        ("heading", "三、支出决算情况说明"),
        ("para", w.say("expense_intro", total=wan(spend)) + w.shares(uses, spend)),
    ]
    fiscal_total = fiscal_in + ledger.fiscal_carry_begin
    out += [
        ("heading", "四、财政拨款收入支出决算总体情况说明"),
        ("para", w.say("fiscal_total", total=wan(fiscal_total), **w.change())),
    ]
    out += _general_budget(w, ledger, spend)
    basic = w.say(
        "basic",
        total=wan(g("basic_expense.total")),
        personnel=wan(g("basic_expense.personnel")),
        public=wan(g("basic_expense.public")),
    )
    if not state_basic:
        basic = basic.split("其中")[0] + "。"
    out += [("heading", "六、一般公共预算财政拨款基本支出决算情况说明"), ("para", basic)]
    out += _three_public(w, ledger)
    gf_in, gf_out = g("income_sources.gov_fund_appropriation"), g("gov_fund_expense")
    out += [
        ("heading", "八、政府性基金预算财政拨款收入支出决算情况说明"),
        (
            "para",
            w.say("gov_fund", income=wan(gf_in), expense=wan(gf_out))
            if gf_in or gf_out
            else w.say("gov_fund_none"),
        ),
    ]
    out += [
        ("heading", "九、国有资本经营预算财政拨款收入支出决算情况说明"),
        ("para", w.say("state_capital_none")),
    ]
    out += _performance(w, ledger)
    out += _other(w, ledger)
    return out


def _general_budget(w: Writer, ledger: Ledger, spend: int) -> list[Block]:
    actual = ledger.get("general_budget.actual_total") or 0
    out: list[Block] = [
        ("heading", "五、一般公共预算财政拨款支出决算情况说明"),
        ("subheading", "（一）一般公共预算财政拨款支出决算总体情况"),
        ("para", w.say("gb_total", actual=wan(actual), share=pct(actual, spend), **w.change())),
        ("subheading", "（二）一般公共预算财政拨款支出决算结构情况"),
    ]
    classes = ledger.gb_class_actual()
    parts = [
        w.say(
            "gb_class",
            name=n.removesuffix("支出") if w.rng.random() < 0.5 else n,
            amount=wan(v),
            pct=pct(v, actual),
        )
        for n, v in classes.items()
    ]
    out.append(("para", w.say("gb_structure_intro", actual=wan(actual)) + "；".join(parts) + "。"))
    out.append(("subheading", "（三）一般公共预算财政拨款支出决算具体情况"))
    budget = ledger.get("general_budget.budget_at_start")
    if budget is not None:
        out.append(
            ("para", w.say("gb_budget", budget=wan(budget), actual=wan(actual), pct=pct(actual, budget)))
        )
    for n, line in enumerate(ledger.gb_lines(), 1):
        common = {
            "n": n,
            "cls": line.class_name,
            "section": line.section,
            "item": line.item,
            "actual": wan(line.gb_actual),
        }
        if line.gb_budget is None:
            out.append(("para", w.say("gb_item_plain", use=w.rng.choice(templates()["uses"]), **common)))
            continue
        diff = line.gb_actual - line.gb_budget
        why = (
            "决算数与预算数持平。"
            if abs(diff) < 10_000
            else f"决算数{'大于' if diff > 0 else '小于'}预算数的主要原因是{w.pick('reasons')}。"
        )
        out.append(
            (
                "para",
                w.say(
                    "gb_item",
                    budget=wan(line.gb_budget),
                    pct=pct(line.gb_actual, line.gb_budget),
                    why=why,
                    **common,
                ),
            )
        )
    return out


def _three_public(w: Writer, ledger: Ledger) -> list[Block]:
    t = ledger.three
    out: list[Block] = [("heading", "七、财政拨款“三公”经费支出决算情况说明")]
    if t.actual_total == 0 and t.budget_total == 0 and w.rng.random() < 0.6:
        text = w.say("three_none")
        if t.overseas_groups is not None and t.overseas_persons is not None:
            text += w.say("overseas_counts", groups=t.overseas_groups, persons=t.overseas_persons)
        if t.vehicles_purchased is not None:
            text += w.say("vehicles_bought", n=t.vehicles_purchased)
        if t.vehicles_held is not None:
            text += w.say("vehicles_held", n=t.vehicles_held)
        if t.reception_batches is not None and t.reception_persons is not None:
            text += w.say("reception_counts", batches=t.reception_batches, persons=t.reception_persons)
        out.append(("para", text))
        return out
    out.append(
        (
            "para",
            w.say(
                "three_total",
                budget=wan(t.budget_total),
                actual=wan(t.actual_total),
                pct=pct(t.actual_total, t.budget_total),
                oa=wan(t.overseas_actual),
                opct=pct(t.overseas_actual, t.overseas_budget),
                va=wan(t.vehicle_actual),
                vpct=pct(t.vehicle_actual, t.vehicle_budget),
                ra=wan(t.reception_actual),
                rpct=pct(t.reception_actual, t.reception_budget),
            ),
        )
    )
    text = w.say("overseas", amount=wan(t.overseas_actual))
    if t.overseas_groups is not None and t.overseas_persons is not None:
        text += w.say("overseas_counts", groups=t.overseas_groups, persons=t.overseas_persons)
    out.append(("para", text))
    text = w.say(
        "vehicle",
        amount=wan(t.vehicle_actual),
        purchase=wan(t.purchase_actual),
        operation=wan(t.operation_actual),
    )
    if t.vehicles_purchased is not None:
        text += w.say("vehicles_bought", n=t.vehicles_purchased)
    if t.vehicles_held is not None:
        text += w.say("vehicles_held", n=t.vehicles_held)
    out.append(("para", text))
    text = w.say("reception", amount=wan(t.reception_actual))
    if t.reception_batches is not None and t.reception_persons is not None:
        text += w.say("reception_counts", batches=t.reception_batches, persons=t.reception_persons)
    out.append(("para", text))
    return out


def _performance(w: Writer, ledger: Ledger) -> list[Block]:
    out: list[Block] = [("heading", "十、预算绩效管理情况")]
    if not ledger.projects:
        return [*out, ("para", w.say("performance_none"))]
    total = sum(p.budget for p in ledger.projects)
    out.append(("para", w.say("performance_intro", n=len(ledger.projects), total=wan(total))))
    for n, p in enumerate(ledger.projects, 1):
        out.append(
            (
                "para",
                w.say(
                    "project",
                    n=n,
                    name=p.name,
                    score=f"{p.score:g}",
                    budget=wan(p.budget),
                    executed=wan(p.executed),
                    pct=pct(p.executed, p.budget),
                ),
            )
        )
    return out


def _other(w: Writer, ledger: Ledger) -> list[Block]:
    out: list[Block] = [("heading", "十一、其他重要事项的情况说明")]
    if ledger.operating_costs is not None:
        out += [
            ("subheading", "（一）机关运行经费支出情况"),
            ("para", w.say("operating_costs", amount=wan(ledger.operating_costs), **w.change())),
        ]
    p = ledger.procurement
    if p.get("total") is not None:
        text = w.say(
            "procurement",
            total=wan(p["total"]),
            goods=wan(p.get("goods")),
            works=wan(p.get("works")),
            services=wan(p.get("services")),
        )
        if p.get("sme_awarded") is not None:
            text += w.say("sme", amount=wan(p["sme_awarded"]), pct=pct(p["sme_awarded"], p["total"]))
        out += [("subheading", "（二）政府采购支出情况"), ("para", text)]
    text = ""
    if ledger.vehicles is not None:
        v = ledger.vehicles
        duty = w.rng.randint(0, v)
        emergency = w.rng.randint(0, v - duty)
        text = w.say("assets", vehicles=v, duty=duty, emergency=emergency, other=v - duty - emergency)
    if ledger.equipment_over_1m is not None:
        text += w.say("equipment", n=ledger.equipment_over_1m)
    if text:
        out += [("subheading", "（三）国有资产占有使用情况"), ("para", text)]
    return out


GLOSSARY = (
    "一、财政拨款收入：指单位本年度从本级财政部门取得的财政拨款，包括一般公共预算财政拨款、政府性基金预算财政拨款和国有资本经营预算财政拨款。",
    "二、年初结转和结余：指以前年度尚未完成、结转到本年按有关规定继续使用的资金。",
    "三、基本支出：指单位为保障机构正常运转、完成日常工作任务而发生的各项支出。",
    "四、项目支出：指单位为完成特定的行政工作任务或事业发展目标，在基本支出之外发生的各项支出。",
    "五、“三公”经费：指单位使用本级财政拨款安排的因公出国（境）费、公务用车购置及运行维护费和公务接待费。",
    "六、机关运行经费：指行政单位和参照公务员法管理的事业单位使用一般公共预算财政拨款安排的基本支出中的日常公用经费支出。",
)
