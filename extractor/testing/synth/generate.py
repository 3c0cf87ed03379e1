"""Seeded books for a synthetic department: every figure consistent with every other.

:func:`random_ledger` draws a department, its functional items and every fund's income
and expense, then the 三公, procurement, assets and performance figures, at rates of
zeros and unstated values seen in real reports. Amounts are integers of cents in a
granularity (1 cent for reports printed in 元, 0.01 万元 for reports printed in 万元) so
the printed figures are the exact figures. Figures that only the narrative states
(item budgets, 三公, procurement, projects) are always whole 0.01 万元, since narratives
print 万元 with two decimals.
"""

from __future__ import annotations

import math
import random

from extractor.testing.synth.catalog import Agency, Catalog, load_catalog
from extractor.testing.synth.ledger import NONFISCAL_KINDS, Ledger, Line, Project, ThreePublicBooks

WAN = 10_000  # cents in 0.01 万元: the narrative's granularity

_BASIC_ITEMS = (
    "行政运行", "事业运行", "行政单位离退休", "事业单位离退休", "机关事业单位基本养老保险缴费支出",
    "机关事业单位职业年金缴费支出", "其他行政事业单位养老支出", "行政单位医疗", "事业单位医疗",
    "公务员医疗补助", "其他行政事业单位医疗支出", "住房公积金", "提租补贴", "购房补贴",
)


class Draw:
    """Random draws in cents at a granularity (all generator randomness goes through here)."""

    def __init__(self, seed: int, grain: int) -> None:
        self.rng = random.Random(seed)
        self.grain = grain

    def wan(self, lo: float, hi: float, grain: int | None = None) -> int:
        """A log-uniform amount between ``lo`` and ``hi`` 万元, in cents, on the grain."""
        g = grain or self.grain
        value = math.exp(self.rng.uniform(math.log(lo), math.log(hi))) * 1_000_000
        return max(g, round(value / g) * g)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def part(self, total: int, lo: float, hi: float, grain: int | None = None) -> int:
        """A share of ``total`` between fractions ``lo`` and ``hi``, on the grain, ≤ total."""
        g = grain or self.grain
        return min(total, round(total * self.rng.uniform(lo, hi) / g) * g)

    def split(self, total: int, n: int) -> list[int]:
        """``total`` in ``n`` positive-ish parts on the grain that add up exactly."""
        n = max(1, min(n, total // self.grain))  # never more parts than grains: no negative part
        weights = [self.rng.uniform(0.2, 1.0) for _ in range(n)]
        parts = [round(total * w / sum(weights) / self.grain) * self.grain for w in weights]
        parts[0] += total - sum(parts)
        return parts


def _pick_lines(d: Draw, catalog: Catalog, agency: Agency) -> list[tuple[str, str]]:
    """(section code, item code) pairs: the agency's own work first, then the common ones."""
    picks: list[tuple[str, str]] = []
    for sec in agency.sections:
        codes = list(catalog.sections[sec].items)
        first = [c for c in codes if catalog.sections[sec].items[c] == "行政运行"]
        rest = [c for c in codes if c not in first]
        d.rng.shuffle(rest)
        chosen = first + rest[: d.rng.randint(1, min(3, len(rest)) or 1)]
        picks += [(sec, c) for c in sorted(set(chosen))]
    for sec in catalog.common_sections:
        if d.chance(0.85):
            codes = list(catalog.sections[sec].items)
            chosen = d.rng.sample(codes, d.rng.randint(1, min(4, len(codes))))
            picks += [(sec, c) for c in sorted(chosen)]
    return sorted(set(picks), key=lambda p: p[1])


def _line_amounts(d: Draw, line: Line, scale: float) -> None:
    name = line.item
    if name == "行政运行":
        actual = d.wan(0.2 * scale, 0.5 * scale)
    elif line.code and line.code[:5] in {"20805", "21011", "22102"}:
        actual = d.wan(0.005 * scale, 0.08 * scale)
    else:
        actual = d.wan(0.01 * scale, 0.3 * scale)
    if name in _BASIC_ITEMS:
        line.gb_project = d.part(actual, 0.0, 0.05) if d.chance(0.25) else 0
    else:
        line.gb_project = actual - (d.part(actual, 0.0, 0.3) if d.chance(0.2) else 0)
    line.gb_basic = actual - line.gb_project
    line.gb_income = actual
    if d.chance(0.25):
        line.gb_budget = round(actual / WAN) * WAN
    else:
        line.gb_budget = round(actual * d.rng.uniform(0.9, 1.25) / WAN) * WAN


def _nonfiscal(d: Draw, ledger: Ledger) -> None:
    """Income outside the budget (事业收入, 其他收入 …) and its spending on a few lines."""
    rates = {
        "superior_subsidy": 0.08,
        "business_income": 0.2,
        "operating_income": 0.05,
        "affiliate_remittance": 0.04,
        "other_income": 0.35,
    }
    scale = sum(x.gb_actual for x in ledger.lines) / 1_000_000
    for kind in NONFISCAL_KINDS:
        if not d.chance(rates[kind]):
            continue
        line = d.rng.choice(ledger.lines[: max(1, len(ledger.lines) // 2)])
        amount = d.wan(0.001 * scale, 0.15 * scale)
        line.income[kind] = line.income.get(kind, 0) + amount
        spent = d.part(amount, 0.6, 1.0)
        if kind == "operating_income":
            line.nf_operating += spent
        elif d.chance(0.5):
            line.nf_basic += spent
        else:
            line.nf_project += spent


def _three_public(d: Draw) -> ThreePublicBooks:
    t = ThreePublicBooks()
    if d.chance(0.2):
        t.overseas_budget = d.wan(2, 40, WAN)
        t.overseas_actual = d.part(t.overseas_budget, 0.3, 1.0, WAN) if d.chance(0.8) else 0
    if t.overseas_actual:
        t.overseas_groups = d.rng.randint(1, 4)
        t.overseas_persons = t.overseas_groups * d.rng.randint(1, 5)
    elif d.chance(0.5):
        t.overseas_groups, t.overseas_persons = 0, 0
    held = d.rng.randint(1, 25) if d.chance(0.65) else 0
    t.vehicles_held = held
    if held:
        t.operation_budget = d.wan(0.8 * held, 3.0 * held, WAN)
        t.operation_actual = d.part(t.operation_budget, 0.55, 1.0, WAN)
        if d.chance(0.15):
            t.purchase_budget = d.wan(12, 40, WAN)
            t.purchase_actual = d.part(t.purchase_budget, 0.8, 1.0, WAN)
    t.vehicles_purchased = d.rng.randint(1, 2) if t.purchase_actual else (0 if d.chance(0.6) else None)
    if d.chance(0.7):
        t.reception_budget = d.wan(0.5, 20, WAN)
        t.reception_actual = d.part(t.reception_budget, 0.0, 1.0, WAN) if d.chance(0.85) else 0
    if t.reception_actual:
        t.reception_batches = d.rng.randint(1, max(2, t.reception_actual // 200_000))  # ≈ 0.2 万元 a visit
        t.reception_persons = t.reception_batches * d.rng.randint(2, 9)
    elif d.chance(0.5):
        t.reception_batches, t.reception_persons = 0, 0
    return t


def _economic(d: Draw, catalog: Catalog, basic: int) -> tuple[dict[str, int], dict[str, int]]:
    """Basic expense split into personnel and public, each over a few economic items."""
    personnel = d.part(basic, 0.72, 0.93) if basic else 0
    out: list[dict[str, int]] = []
    for part, total in (("personnel", personnel), ("public", basic - personnel)):
        groups = catalog.economic[part]
        codes = [code for _, (_, items) in sorted(groups.items()) for code in items]
        chosen = sorted(d.rng.sample(codes, min(len(codes), d.rng.randint(4, 9))))
        parts = d.split(total, len(chosen)) if total else []
        out.append(dict(zip(chosen, parts, strict=False)))
    return out[0], out[1]


def random_ledger(seed: int, *, grain: int, doc_id: str) -> Ledger:
    """A department's books, all figures consistent, drawn from ``seed``."""
    catalog = load_catalog()
    d = Draw(seed, grain)
    agency = d.rng.choice(catalog.agencies)
    department = d.rng.choice(catalog.regions) + agency.name
    scale = math.exp(d.rng.uniform(math.log(200), math.log(20_000)))  # 万元
    lines: list[Line] = []
    for sec, code in _pick_lines(d, catalog, agency):
        section = catalog.sections[sec]
        line = Line(catalog.class_name(sec[:3]), section.name, section.items[code], code)
        _line_amounts(d, line, scale)
        lines.append(line)
    if agency.gov_fund_sections and d.chance(0.6):
        sec = d.rng.choice(agency.gov_fund_sections)
        section = catalog.sections[sec]
        for code in sorted(d.rng.sample(list(section.items), 1 + d.chance(0.4))):
            line = Line(catalog.class_name(sec[:3]), section.name, section.items[code], code)
            line.gf_project = d.wan(0.01 * scale, 0.4 * scale)
            line.gf_income = line.gf_project + (d.part(line.gf_project, 0.0, 0.2) if d.chance(0.3) else 0)
            lines.append(line)
        lines.sort(key=lambda x: x.code or "")
    ledger = Ledger(doc_id=doc_id, department=department, year=d.rng.randint(2019, 2025), lines=lines)
    if d.chance(0.3):  # appropriation received differs from what was spent: fiscal carry-over moves
        target = d.rng.choice(lines)
        target.gb_income = max(0, target.gb_income + d.part(target.gb_income, -0.08, 0.1))
    spent_more = sum(x.gb_actual - x.gb_income for x in lines)
    ledger.fiscal_carry_begin = max(0, spent_more) + (d.wan(1, 0.05 * scale) if d.chance(0.4) else 0)
    _nonfiscal(d, ledger)
    if d.chance(0.08):
        ledger.income_nonfiscal_surplus_used = d.wan(1, 0.02 * scale)
    nonfiscal_gap = max(
        0,
        sum(x.nf_basic + x.nf_project + x.nf_operating - sum(x.income.values()) for x in lines)
        - ledger.income_nonfiscal_surplus_used,
    )
    ledger.carryover_begin = (
        ledger.fiscal_carry_begin + nonfiscal_gap + (d.wan(1, 0.03 * scale) if d.chance(0.25) else 0)
    )
    ledger.state_budget_total = d.chance(0.9)
    ledger.personnel, ledger.public = _economic(d, catalog, sum(x.gb_basic for x in lines))
    ledger.three = _three_public(d)
    public = sum(ledger.public.values())
    ledger.operating_costs = (
        (round(public / WAN) * WAN if d.chance(0.8) else d.part(public, 0.6, 1.0, WAN))
        if d.chance(0.9)
        else None
    )
    _procurement_assets_projects(d, catalog, ledger, scale)
    return ledger


def _procurement_assets_projects(d: Draw, catalog: Catalog, ledger: Ledger, scale: float) -> None:
    if d.chance(0.85):
        goods = d.wan(0.5, 0.05 * scale + 1, WAN) if d.chance(0.8) else 0
        works = d.wan(5, 0.1 * scale + 6, WAN) if d.chance(0.15) else 0
        services = d.wan(1, 0.2 * scale + 2, WAN) if d.chance(0.85) else 0
        total = goods + works + services
        sme = d.part(total, 0.4, 1.0, WAN) if d.chance(0.85) else None
        ledger.procurement = {
            "total": total,
            "goods": goods,
            "works": works,
            "services": services,
            "sme_awarded": sme,
        }
    else:
        ledger.procurement = {
            "total": 0,
            "goods": 0,
            "works": 0,
            "services": 0,
            "sme_awarded": 0 if d.chance(0.5) else None,
        }
    held = ledger.three.vehicles_held or 0
    ledger.vehicles = held + (d.rng.randint(1, 3) if d.chance(0.1) else 0)
    ledger.equipment_over_1m = d.rng.choice([0, 0, 0, 1, 2, 3]) if d.chance(0.9) else None
    names = d.rng.sample(catalog.projects, d.rng.choice([0, 0, 1, 2, 3, 4, 5]))
    for name in names:
        budget = d.wan(3, 0.05 * scale + 5, WAN)
        executed = d.part(budget, 0.75, 1.0, WAN)
        score = round(d.rng.uniform(82, 100), d.rng.choice([0, 1, 2]))
        ledger.projects.append(Project(name, float(score), budget, executed))
