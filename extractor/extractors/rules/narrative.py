"""The narrative half of the rules extractor: the standard wording of 情况说明 sections.

Each :class:`Statement` names a label ("本年一般公共预算财政拨款收入", "因公出国（境）费")
and the slots its figures fill; the figures after the label get their role from the words
just before them (预算 → budget, 决算/支出 → actual, 占 → share, 完成…的 → rate, 增加/上年
→ a change, ignored). Lists (classes, 项 items, performance projects), counts and stated
zeros have their own formulas below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from extractor.extractors.rules.patterns import (
    NARRATIVE,
    NARRATIVE_LOOSE,
    STATED_NONE,
    FactSink,
    FactSpec,
    Token,
    View,
    paragraph_end,
    statement_end,
    tokens,
    zero_quantity,
)
from extractor.numbers import parse_amount, parse_decimal

P_OPEN, P_CLOSE = "[（(]", "[)）]"
CJK = "\u4e00-\u9fa5"
_OUTER_GOV = r"(?<!公共预算)(?<!基金预算)(?<!经营预算)(?<!经费)"


@dataclass(frozen=True)
class Statement:
    """A label and the slots its figures fill; ``ctx`` must match the heading path."""

    label: str
    actual: tuple[str, ...] = ()
    budget: str | None = None
    executed: str | None = None
    priority: int = NARRATIVE
    ctx: str | None = None
    not_ctx: str | None = None


_INCOME_CTX = r"收入决算|收入情况|收入支出决算总体|收支决算总体"
_EXPENSE_CTX = r"支出决算情况|支出情况|收入支出决算总体|收支决算总体"
_THREE = r"三公"
_PROC = r"采购"

STATEMENTS: tuple[Statement, ...] = (
    # summary
    Statement(r"(?<!拨款)(?<!拨款资金)收入[、和及与]?支出(?:决算)?总计",
              ("summary.income_grand_total", "summary.expense_grand_total"), not_ctx=r"财政拨款收"),
    Statement(r"(?<!拨款)收入(?:决算)?总计", ("summary.income_grand_total",), not_ctx=r"财政拨款收"),
    Statement(r"(?<!拨款)(?<!收入、)(?<!收入和)(?<!收入及)(?<!收入与)(?<!收入)支出(?:决算)?总计",
              ("summary.expense_grand_total",), not_ctx=r"财政拨款收"),
    Statement(r"(?<!拨款)(?<!占)(?:本年度?)?收入(?:决算)?合计", ("summary.income_current_year",)),
    Statement(r"(?<!拨款)(?<!占)(?:本年度?)?支出(?:决算)?合计", ("summary.expense_current_year",)),
    Statement(rf"使用非财政拨款结余(?:{P_OPEN}含专用结余{P_CLOSE}|[和及]专用结余)?",
              ("summary.income_nonfiscal_surplus_used",)),
    Statement(r"(?<!财政拨款)年初结转[和及]结余", ("summary.income_carryover_begin",)),
    Statement(r"结余分配", ("summary.expense_surplus_distribution",)),
    Statement(r"(?<!财政拨款)年末结转[和及]结余(?:资金)?", ("summary.expense_carryover_end",)),
    # income sources
    Statement(r"(?:本年度?)?一般公共预算财政拨款收入", ("income_sources.general_budget_appropriation",),
              ctx=_INCOME_CTX),
    Statement(rf"{_OUTER_GOV}(?<!本年)财政拨款收入", ("income_sources.general_budget_appropriation",),
              priority=NARRATIVE_LOOSE, ctx=r"收入决算|收入情况", not_ctx=r"财政拨款"),
    Statement(r"(?:本年度?)?政府性基金预算财政拨款收入", ("income_sources.gov_fund_appropriation",),
              ctx=_INCOME_CTX),
    Statement(r"(?:本年度?)?国有资本经营预算财政拨款收入", ("income_sources.state_capital_appropriation",),
              ctx=_INCOME_CTX),
    Statement(r"(?:本年度?)?上级补助收入", ("income_sources.superior_subsidy",), ctx=_INCOME_CTX),
    Statement(r"(?:本年度?)?事业收入", ("income_sources.business_income",), ctx=_INCOME_CTX),
    Statement(r"(?<!非独立核算)(?:本年度?)?经营收入", ("income_sources.operating_income",), ctx=_INCOME_CTX),
    Statement(r"(?:本年度?)?附属单位上缴收入", ("income_sources.affiliate_remittance",), ctx=_INCOME_CTX),
    Statement(r"(?:本年度?)?其他收入", ("income_sources.other_income",), ctx=_INCOME_CTX),
    # expense uses (all funds)
    Statement(r"(?<!拨款)(?:本年度?)?基本支出", ("expense_uses.basic",), ctx=_EXPENSE_CTX,
              not_ctx=r"财政拨款|三公|采购"),
    Statement(r"(?<!拨款)(?<!预算)(?:本年度?)?项目支出", ("expense_uses.project",), ctx=_EXPENSE_CTX,
              not_ctx=r"财政拨款|三公|采购"),
    Statement(r"(?:本年度?)?上缴上级支出", ("expense_uses.remit_to_superior",), ctx=_EXPENSE_CTX,
              not_ctx=r"财政拨款"),
    Statement(r"(?<!非独立核算)(?:本年度?)?经营支出", ("expense_uses.operating",), ctx=_EXPENSE_CTX,
              not_ctx=r"财政拨款"),
    Statement(r"(?:本年度?)?对附属单位补助支出", ("expense_uses.affiliate_subsidy",), ctx=_EXPENSE_CTX,
              not_ctx=r"财政拨款"),
    # general budget appropriation spending
    Statement(r"一般公共预算财政拨款支出(?:决算)?", ("general_budget.actual_total",),
              budget="general_budget.budget_at_start"),
    Statement(rf"{_OUTER_GOV}财政拨款(?:决算)?支出(?:决算)?", ("general_budget.actual_total",),
              budget="general_budget.budget_at_start", priority=NARRATIVE_LOOSE,
              ctx=r"一般公共预算财政拨款支出"),
    Statement(r"一般公共预算财政拨款基本支出(?:决算)?", ("basic_expense.total",)),
    Statement(rf"{_OUTER_GOV}财政拨款基本支出(?:决算)?", ("basic_expense.total",),
              priority=NARRATIVE_LOOSE, ctx=r"基本支出"),
    Statement(r"人员经费(?:合计)?", ("basic_expense.personnel",), ctx=r"基本支出"),
    Statement(r"(?<!日常)公用经费(?:合计)?", ("basic_expense.public",), ctx=r"基本支出"),
    Statement(r"一般公共预算财政拨款项目支出(?:决算)?", ("project_expense_total",)),
    Statement(rf"{_OUTER_GOV}财政拨款项目支出(?:决算)?", ("project_expense_total",),
              priority=NARRATIVE_LOOSE, ctx=r"项目支出"),
    # 三公
    Statement(r"[“\"”]?三公[”\"“]?经费(?:财政拨款)?(?:支出)?", ("three_public.actual_total",),
              budget="three_public.budget_total", ctx=_THREE),
    Statement(rf"因公出国{P_OPEN}?境{P_CLOSE}?费(?:用)?(?:支出)?", ("three_public.overseas_actual",),
              budget="three_public.overseas_budget", ctx=_THREE),
    Statement(r"公务用车购置及运行(?:维护)?费(?:支出)?", ("three_public.vehicle_actual",),
              budget="three_public.vehicle_budget", ctx=_THREE),
    Statement(r"公务用车购置(?!及)(?:费)?(?:支出)?", ("three_public.vehicle_purchase_actual",), ctx=_THREE),
    Statement(r"(?<!及)公务用车运行(?:维护)?费(?:支出)?", ("three_public.vehicle_operation_actual",),
              ctx=_THREE),
    Statement(r"公务接待费(?:支出)?", ("three_public.reception_actual",),
              budget="three_public.reception_budget", ctx=_THREE),
    # other sections
    Statement(r"政府性基金预算(?:财政拨款)?支出(?:决算)?", ("gov_fund_expense",)),
    Statement(r"国有资本经营预算(?:财政拨款)?支出(?:决算)?", ("state_capital_expense",)),
    Statement(r"(?:机关|机构)运行经费(?:支出)?(?:决算)?", ("operating_costs",)),
    Statement(rf"(?<!占)政府采购(?:支出)?(?:总额|总金额|金额)(?:{P_OPEN}[^）)]{{0,12}}{P_CLOSE})?",
              ("procurement.total",), ctx=_PROC),
    Statement(r"(?:政府采购)?货物(?:采购)?(?:支出|金额)", ("procurement.goods",), ctx=_PROC),
    Statement(r"(?:政府采购)?工程(?:采购)?(?:支出|金额)", ("procurement.works",), ctx=_PROC),
    Statement(r"(?:政府采购)?服务(?:采购)?(?:支出|金额)", ("procurement.services",), ctx=_PROC),
    Statement(r"(?<!物采购)(?<!程采购)(?<!务采购)授予中小企业(?:的)?合同金额", ("procurement.sme_awarded",),
              ctx=_PROC),
)

_COMPILED = [(re.compile(s.label), s) for s in STATEMENTS]


def _ctx_ok(sink: FactSink, offset: int, stmt: Statement) -> bool:
    heading = sink.heading(offset)
    if stmt.ctx and heading and not re.search(stmt.ctx, heading):
        return False
    return not (stmt.not_ctx and re.search(stmt.not_ctx, heading))


def _emit(sink: FactSink, view: View, label_start: int, tok: Token, *, fld: str, slots: _Slots) -> None:
    span = view.norm_span(label_start, tok.end)
    sink.quantity(fld, tok.quantity, span, slots.priority, key=slots.key)


def _assign(sink: FactSink, view: View, start: int, toks: list[Token], slots: _Slots) -> None:
    """First figure of each role goes to its slot; a share or rate belongs to the amount just
    before it, so it is kept only when that amount was the label's own actual. In a label's
    sentence, an amount the wording does not tie to the label means the sentence has moved
    on to something else: reading stops there (a 项 or project paragraph reads on)."""
    seen: set[str] = set()
    last_amount = ""
    for tok in toks:
        role = tok.role
        if slots.one_sentence and tok.quantity.kind == "amount" and role in {"change", "other"}:
            break
        if tok.quantity.kind == "amount":
            previous, last_amount = last_amount, (role if role not in seen else "")
        else:
            previous = last_amount
        if role in seen or role in {"change", "other"}:
            continue
        if role == "actual" and slots.actual:
            for name in slots.actual:
                _emit(sink, view, start, tok, fld=name, slots=slots)
        elif role == "budget" and slots.budget:
            _emit(sink, view, start, tok, fld=slots.budget, slots=slots)
        elif role == "executed" and slots.executed:
            _emit(sink, view, start, tok, fld=slots.executed, slots=slots)
        elif role == "share" and previous == "actual" and slots.actual:
            _emit(sink, view, start, tok, fld=f"aux.pct.{slots.actual[0]}", slots=slots)
        elif role == "rate" and previous in {"actual", "executed", "budget"} and slots.rate_of \
                and seen & {"actual", "executed"}:
            _emit(sink, view, start, tok, fld=f"aux.rate.{slots.rate_of}", slots=slots)
        else:
            continue
        seen.add(role)


@dataclass
class _Slots:
    actual: tuple[str, ...] = ()
    budget: str | None = None
    executed: str | None = None
    priority: int = NARRATIVE
    key: dict[str, str | None] | None = None
    one_sentence: bool = True
    """The figures sit in one sentence after the label (not a multi-sentence paragraph)."""

    @property
    def rate_of(self) -> str | None:
        if self.executed:
            return self.executed
        return self.actual[0] if self.actual and self.budget else None


def read_statements(sink: FactSink, view: View) -> None:
    """Every label of :data:`STATEMENTS` with the figures of its sentence."""
    for rx, stmt in _COMPILED:
        for m in rx.finditer(view.text):
            if not _ctx_ok(sink, view.index[m.start()], stmt):
                continue
            end = statement_end(view, m.end())
            toks = list(tokens(view, m.end(), end))
            _assign(sink, view, m.start(), toks,
                    _Slots(stmt.actual, stmt.budget, stmt.executed, stmt.priority))


# --------------------------------------------------------------------------- classes and items

CLASS_STEMS = (
    "一般公共服务", "外交", "国防", "公共安全", "教育", "科学技术", "文化旅游体育与传媒",
    "文化体育与传媒", "社会保障和就业", "社会保险基金", "卫生健康", "医疗卫生与计划生育",
    "节能环保", "城乡社区", "农林水", "交通运输", "资源勘探工业信息等", "资源勘探信息等",
    "商业服务业等", "金融", "援助其他地区", "自然资源海洋气象等", "国土海洋气象等", "住房保障",
    "粮油物资储备", "国有资本经营预算", "灾害防治及应急管理", "预备费", "其他", "转移性",
    "债务还本", "债务付息", "债务发行费用", "抗疫特别国债安排的",
)
"""Functional classes (类) of the government expenditure classification, without 支出."""

_STEMS = "|".join(sorted(CLASS_STEMS, key=len, reverse=True))
_CLASS_RE = re.compile(
    rf"(?<![{CJK}])(?P<name>(?:{_STEMS})(?:支出|(?={P_OPEN}类|类决算|年初预算|决算))"
    rf"|[{CJK}]{{2,16}}?(?={P_OPEN}类{P_CLOSE}))(?P<marker>{P_OPEN}类{P_CLOSE}|类(?=决算))?")
_NAME = rf"[{CJK}](?:[{CJK}A-Za-z0-9、—\-]|{P_OPEN}(?![类款项]{P_CLOSE})[{CJK}]{{1,3}}{P_CLOSE})*?"
_ITEM_RE = re.compile(
    rf"(?:(?P<cls>{_NAME}){P_OPEN}类{P_CLOSE})?(?P<sec>{_NAME}){P_OPEN}款{P_CLOSE}"
    rf"(?P<item>{_NAME}){P_OPEN}项{P_CLOSE}")
_GB_CTX = r"一般公共预算财政拨款支出|财政拨款支出决算"
CLASS_BUDGET = "aux.amount.general_budget.classes.budget_at_start"
"""A class's 年初预算 (no contract field; key as for the class)."""


_KUAN = re.compile(rf"{P_OPEN}款{P_CLOSE}")
_STATEMENT_START = re.compile(r"[\n。；;：:]")


def item_matches(text: str) -> list[re.Match[str]]:
    """Every "款（款）项（项）" statement, searched only around its （款） marker (fast)."""
    found: dict[int, re.Match[str]] = {}
    last_end = 0
    for kuan in _KUAN.finditer(text):
        if kuan.start() < last_end:
            continue
        floor = max(last_end, kuan.start() - 160)
        starts = [m.end() for m in _STATEMENT_START.finditer(text, floor, kuan.start())]
        m = _ITEM_RE.search(text, starts[-1] if starts else floor, min(len(text), kuan.end() + 120))
        if m and m.start() <= kuan.start() < m.end():
            found[m.start()] = m
            last_end = m.end()
    return [found[k] for k in sorted(found)]


def read_classes_and_items(sink: FactSink, view: View) -> None:
    """Classes ("X（类）决算数为 A 万元", "X年初预算 B 万元，支出决算 A 万元") and their 项."""
    text = view.text
    markers: list[tuple[int, str]] = []
    items = item_matches(text)
    item_spans = [(m.start(), m.end()) for m in items]
    for m in _CLASS_RE.finditer(text):
        offset = view.index[m.start()]
        heading = sink.heading(offset)
        if heading and not re.search(_GB_CTX, heading):
            continue
        if any(s <= m.start() < e for s, e in item_spans):
            continue
        name = m["name"]
        markers.append((m.start(), name))
        end = statement_end(view, m.end())
        toks = list(tokens(view, m.end(), end))
        key: dict[str, str | None] = {"name": name}
        _assign(sink, view, m.start(), toks, _Slots(("general_budget.classes.actual",), key=key,
                                                    budget=CLASS_BUDGET))
    _read_items(sink, view, markers, items)


def _read_items(sink: FactSink, view: View, markers: list[tuple[int, str]],
                matches: list[re.Match[str]]) -> None:
    text = view.text
    for i, m in enumerate(matches):
        heading = sink.heading(view.index[m.start()])
        if heading and not re.search(_GB_CTX, heading):
            continue
        cls = m["cls"] or next((n for pos, n in reversed(markers) if pos < m.start()), None)
        end = min(paragraph_end(view, m.end(), 800),
                  matches[i + 1].start() if i + 1 < len(matches) else len(text))
        key: dict[str, str | None] = {"class": cls, "section": m["sec"], "item": m["item"], "code": None}
        toks = list(tokens(view, m.end(), end))
        _assign(sink, view, m.start(), toks,
                _Slots(("general_budget.items.actual",), budget="general_budget.items.budget_at_start",
                       key=key, one_sentence=False))


# --------------------------------------------------------------------------- performance projects

PERF_RE = re.compile(
    r"(?m)(?:^|(?<=[。；]))[-•]?(?:\d{1,2}[.．、])?(?P<name>[^\n：:。；]{2,60}?)(?:项目)?(?:绩效)?"
    r"自评综述[:：]?")
_SCORE_RE = re.compile(r"自评(?:得分|分数|综合得分)(?:为)?(?P<score>\d+(?:\.\d+)?)分")


PERF_SCORED_RE = re.compile(
    r"(?m)(?:^|(?<=[。；]))[-•]?(?:\d{1,2}[.．、]\s*)?(?!本|该|其|各|上述)"
    r"(?P<name>[^\n：:。；，,]{2,40}?)(?=项目(?:绩效)?自评得分)")
""""1、X项目自评得分 S 分，全年预算数 B 万元，执行数 E 万元" (no 自评综述 heading)."""

PERF_LISTED_RE = re.compile(
    r"(?m)(?:^|(?<=[。；]))[-•]?\d{1,2}[.．、]\s*(?!本|该|其|各|上述)"
    r"(?P<name>[^\n：:。；，,]{2,40}?)[:：](?=\s*(?:项目)?(?:绩效)?自评(?:得分|分数|综合得分))")
""""1.X：自评得分 S 分，年初预算 B 万元，全年执行 E 万元" (a numbered list of projects; the
name is all that stands before the colon, a trailing 项目 included: it is printed so)."""


def read_performance(sink: FactSink, view: View) -> None:
    """"X项目自评综述：…项目自评得分 S 分。全年预算数为 B 万元，执行数为 E 万元", the
    shorter "X项目自评得分 S 分，全年预算数 B 万元，执行数 E 万元", and a numbered list
    "1.X：自评得分 S 分，年初预算 B 万元，全年执行 E 万元"."""
    text = view.text
    matches = list(PERF_RE.finditer(text))
    spans = [(m.start(), m.end()) for m in matches]
    for rx in (PERF_SCORED_RE, PERF_LISTED_RE):
        more = [m for m in rx.finditer(text)
                if not any(a <= m.start() < b or m.start() <= a < m.end() for a, b in spans)]
        matches += more
        spans += [(m.start(), m.end()) for m in more]
    matches.sort(key=lambda m: m.start())
    for i, m in enumerate(matches):
        name = m["name"].strip("“”\"'‘’ ")
        if "整体" in name or len(name) < 2:
            continue
        end = min(paragraph_end(view, m.end(), 1500),
                  matches[i + 1].start() if i + 1 < len(matches) else len(text))
        key: dict[str, str | None] = {"name": name}
        score = _SCORE_RE.search(text, m.end(), end)
        if score:
            value, decimals = parse_decimal(score["score"])
            sink.add(FactSpec("performance_projects.score", float(value), NARRATIVE, key=key,
                              raw=score["score"], decimals=decimals),
                     view.norm_span(score.start(), score.end()))
        toks = list(tokens(view, m.end(), end))
        if score:  # the score sentence is not the wording of the figures around it
            toks = [*tokens(view, m.end(), score.start()), *tokens(view, score.end(), end)]
        _assign(sink, view, m.start(), toks,
                _Slots(budget="performance_projects.budget", executed="performance_projects.executed",
                       key=key, one_sentence=False))


# --------------------------------------------------------------------------- counts and zeros

_COUNT_PATTERNS: tuple[tuple[str, str], ...] = (
    ("three_public.overseas_groups",
     rf"(?:出国{P_OPEN}?境{P_CLOSE}?)?团组(?:数)?(?:共|为)?(?P<n>\d+)(?:个|批)"),
    ("three_public.overseas_persons",
     rf"团组(?:数)?(?:共|为)?\d+(?:个|批)[，,、]?(?:累计|共计|共)?(?:出国{P_OPEN}?境{P_CLOSE}?)?(?P<n>\d+)人(?:次)?"),
    ("three_public.vehicles_purchased", r"购置(?:公务)?(?:用)?车(?:辆)?(?:共)?(?P<n>\d+)辆"),
    ("three_public.vehicles_held", r"保有量(?:为|共|共计|是)?(?P<n>\d+)辆"),
    ("assets.vehicles", r"(?:共有|拥有|现有)?(?<!购置)(?<!更新)车辆(?:数)?(?:合计|共)?(?P<n>\d+)辆"),
    ("assets.equipment_over_1m",
     rf"单价(?:在)?100万元(?:{P_OPEN}含{P_CLOSE})?(?:及)?以上(?:的)?(?:通用|专用)?(?:设备|资产)"
     rf"(?:{P_OPEN}不含车辆{P_CLOSE})?(?:共|有|共有)?(?P<n>\d+)(?:台|套|件)"),
)
_RECEPTION = (
    ("total", r"公务接待费(?:支出)?[^；;。]{0,24}?接待(?P<b>\d+)批次[，,、](?:共)?(?P<p>\d+)人次"),
    # "…国内公务接待支出8.30万元。共接待5批次、40人次（含外宾接待0批次、0人次）": a clause of
    # its own that starts with 共接待 counts every reception, the foreign ones included
    ("total", r"(?:^|(?<=[。；;，,：:]))(?:全年)?(?:共|合计|累计)接待(?P<b>\d+)批次[，,、]?(?:共)?"
              r"(?P<p>\d+)人次"),
    # "…列明公务接待2批次、26人次，其中：接待外宾0批次": 公务接待 unqualified is all of it
    ("total", r"(?<!国内)(?<!境外)(?<!国外)公务接待(?P<b>\d+)批次[，,、](?:共)?(?P<p>\d+)人次"),
    ("domestic",
     r"国内(?:公务)?接待(?:费|支出)?(?:[^；;。]{0,24}?接待)?(?P<b>\d+)批次[，,、](?:共)?(?P<p>\d+)人次"),
    ("foreign", rf"国{P_OPEN}境{P_CLOSE}外(?:公务)?接待(?:费|支出)?[^；;。]{{0,24}}?接待"
                rf"(?:国{P_OPEN}境{P_CLOSE}外)?(?P<b>\d+)批次[，,、](?:共)?(?P<p>\d+)人次"),
)


_FOREIGN = re.compile(rf"(?:国{P_OPEN}境{P_CLOSE}外|外宾|外事)接待")


def read_counts(sink: FactSink, view: View) -> None:
    """Counts of 团组/人次/辆/批次 and of 单价100万元以上设备."""
    text = view.text
    for fld, pattern in _COUNT_PATTERNS:
        for m in re.finditer(pattern, text):
            if fld.startswith("three_public.") and not re.search(_THREE, sink.heading(view.index[m.start()])):
                continue
            sink.count(fld, m["n"], view.norm_span(m.start(), m.end()), NARRATIVE)
    found: dict[str, re.Match[str]] = {}
    for kind, pattern in _RECEPTION:
        for m in re.finditer(pattern, text):
            if re.search(_THREE, sink.heading(view.index[m.start()])):
                found.setdefault(kind, m)
    if "total" in found:
        m = found["total"]
        span = view.norm_span(m.start(), m.end())
        sink.count("three_public.reception_batches", m["b"], span, NARRATIVE)
        sink.count("three_public.reception_persons", m["p"], span, NARRATIVE)
    if "domestic" in found and "foreign" not in found and "total" not in found and not _FOREIGN.search(text):
        d = found["domestic"]  # no reception abroad stated at all: the domestic counts are all
        span = view.norm_span(d.start(), d.end())
        note = "domestic reception only (no foreign reception stated)"
        sink.count("three_public.reception_batches", d["b"], span, NARRATIVE - 2, note=note)
        sink.count("three_public.reception_persons", d["p"], span, NARRATIVE - 2, note=note)
    if "domestic" in found and "foreign" in found:
        d, f = found["domestic"], found["foreign"]
        span = view.norm_span(min(d.start(), f.start()), max(d.end(), f.end()))
        note = "domestic plus foreign reception"
        sink.count("three_public.reception_batches", str(int(d["b"]) + int(f["b"])), span,
                   NARRATIVE - 1, note=note)
        sink.count("three_public.reception_persons", str(int(d["p"]) + int(f["p"])), span,
                   NARRATIVE - 1, note=note)


_NONE_RE = re.compile(
    r"(?:无|没有|未发生)(?P<topic>政府性基金|国有资本经营)预算(?:财政拨款)?(?:安排的)?(?P<what>收入[和及、与]?支出|收、?支|收支|支出|收入)")
_NONE_SECTION_RE = re.compile(r"本年度?(?:未发生|无|没有)此项(?:支出|收支|收入|内容)?")


_SME_RE = re.compile(r"由中小企业供应商中标或成交的[，,]?(?:采购)?金额(?:为)?(?P<v>\d+(?:\.\d+)?万元)")


def read_sme_awarded(sink: FactSink, view: View) -> None:
    """"由中小企业供应商中标或成交的，采购金额 A 万元" (another template's wording of 授予中小企业
    合同金额). Read only where the report states it once: stated for reserved and for other
    projects apart, the parts are not the total the contract asks for."""
    found = list(_SME_RE.finditer(view.text))
    if len(found) != 1 or re.sub(r"\s+", "", view.text).count("由中小企业供应商中标或成交") != 1:
        return
    m = found[0]
    sink.quantity("procurement.sme_awarded", parse_amount(m["v"]), view.norm_span(m.start(), m.end()),
                  NARRATIVE_LOOSE)


def read_stated_zeros(sink: FactSink, view: View) -> None:
    """"本年度无政府性基金预算财政拨款收入和支出" / a section that says "无此项支出"."""
    text = view.text
    for m in _NONE_RE.finditer(text):
        span = view.norm_span(m.start(), m.end())
        prefix = "gov_fund" if m["topic"] == "政府性基金" else "state_capital"
        if "支" in m["what"]:
            sink.quantity(f"{prefix}_expense", zero_quantity(m.group(0)), span, STATED_NONE)
        if "收" in m["what"]:
            income = ("income_sources.gov_fund_appropriation" if prefix == "gov_fund"
                      else "income_sources.state_capital_appropriation")
            sink.quantity(income, zero_quantity(m.group(0)), span, STATED_NONE)
    for m in _NONE_SECTION_RE.finditer(text):
        heading = sink.heading(view.index[m.start()]).split(" / ")[-1]
        if "说明" not in heading:
            continue
        span = view.norm_span(m.start(), m.end())
        if "政府性基金" in heading:
            sink.quantity("gov_fund_expense", zero_quantity(m.group(0)), span, STATED_NONE)
        elif "国有资本经营" in heading:
            sink.quantity("state_capital_expense", zero_quantity(m.group(0)), span, STATED_NONE)
