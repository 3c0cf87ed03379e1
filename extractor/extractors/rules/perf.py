"""Performance self-evaluation (绩效自评): the project tables and the annexes that state each
project's score again, and its parts.

A 项目支出绩效自评表 prints the project's budget and spending, the 得分 of its budget
execution (预算执行率, 10 points in the standard template), a 分值/得分 row per performance
indicator (90 points) and the 总分; the annex report (项目支出绩效自评分析报告) repeats them in
words: "预算执行情况得分 8.9 分、…指标完成情况得分 90 分，最终评分结果：…总得分 98.9 分". So a
score the narrative states once is usually printed again, and as the sum of two parts: every
restatement becomes a mention of the score and the parts become ``aux.`` facts, which the
rule 项目自评得分 = 预算执行情况得分 + 指标完成情况得分 checks.

A restatement never adds a project and never outranks another reading: it is read below
the narrative's priority (the finding only where nothing else states the figure), and only
for a project the report names elsewhere (a table or a 自评综述), so a misread name or a
garbled table costs at most a flag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from extractor.core.records import AUX_PREFIX, Fact, normalize_name
from extractor.core.types import Table
from extractor.extractors.rules.grid import clean_label, compact
from extractor.extractors.rules.narrative import PERF_RE
from extractor.extractors.rules.patterns import (
    DERIVED,
    NARRATIVE_LOOSE,
    RESTATED,
    TABLE,
    FactSink,
    FactSpec,
    View,
)
from extractor.extractors.rules.rows import CELL_UNIT, Block, Cell, Row, blocks, cite
from extractor.numbers import parse_amount, parse_decimal, to_float

SCORE = "performance_projects.score"
EXECUTION = "aux.amount.performance_projects.execution_score"
"""预算执行情况得分: the 得分 of the budget-execution row (no contract field)."""
INDICATORS = "aux.amount.performance_projects.indicator_score"
"""指标完成情况得分: the indicators' points (no contract field)."""
FUND_WEIGHT = Decimal(10)
"""Points of budget execution where the table prints no 分值 (the standard template's)."""
FULL_MARKS = Decimal(100)

_NAME_LINE = re.compile(r"项目名称\s*[:：]\s*(?P<name>[^\n]+)")
_WHOLE = re.compile(r"整体支出|部门整体|单位整体")
_NEW_CONTEXT = re.compile(r"附件|绩效自评表|项目名称|自评综述|整体")
"""Prose before a table that starts another project (or none): the table continues nothing."""
_FUND_ROW = re.compile(r"(?:年度)?资金总额|合计|总计")
_TOTAL = re.compile(r"总分|总得分|合计得分")
_MERGED_TOTAL = re.compile(r"\s*(?:总\s*分|总\s*得\s*分)(?P<figures>(?:\s+\d+(?:\.\d+)?)+)\s*")
_REVIEW_REACH = 3
"""A 自评综述 names the table below it only when it is among the last lines above it."""


def _joined(row: Row) -> str:
    return compact("".join(c.text for c in row.cells))


def _project_name(text: str) -> str:
    return compact(re.sub(r"^项目名称", "", text.strip())).strip("：:")


def _column(header: dict[int, str], pattern: str) -> int | None:
    return next((i for i, h in sorted(header.items()) if re.search(pattern, h)), None)


def _column_unit(table: Block, header: dict[int, str], idx: int) -> str:
    unit = CELL_UNIT.search(header.get(idx, ""))
    if unit:
        return unit[1]
    overall = CELL_UNIT.search("".join(header.values()))
    return overall[1] if overall else table.unit


def _number(row: Row, idx: int | None) -> Cell | None:
    if idx is None or idx >= len(row.cells) or not row.cells[idx].is_num:
        return None
    return row.cells[idx]


def _dec(cell: Cell) -> Decimal:
    return parse_decimal(cell.text)[0]


@dataclass
class _Project:
    """The project whose table is being read, and its indicator rows so far."""

    name: str
    priority: int
    """TABLE when the table (or its 项目名称 line) names it; RESTATED when only the
    自评综述 paragraph right above the table does."""
    fund_weight: Decimal | None = None
    total_weight: Decimal | None = None
    rows: list[tuple[Cell, Cell]] = field(default_factory=list)
    """(分值, 得分) of each indicator row."""
    reading: bool = False
    read: bool = False
    """Whether any figure of the project was read yet (a name-only table has none)."""

    @property
    def key(self) -> dict[str, str | None]:
        return {"name": self.name}


def _intro_project(intro: str) -> _Project | None:
    """The project a table's intro names: its 项目名称 line (the report's own naming), else
    the one 自评综述 paragraph just above it (an inference: restatements only)."""
    lines = list(_NAME_LINE.finditer(intro))
    if lines:
        if _WHOLE.search(intro[lines[-1].end():]):
            return None
        name = _project_name(lines[-1]["name"])
        return _Project(name, TABLE) if name else None
    near = "\n".join(compact(ln) for ln in intro.split("\n") if ln.strip())
    near = "\n".join(near.split("\n")[-_REVIEW_REACH:])
    reviews = [m["name"].strip("“”\"'‘’ ") for m in PERF_RE.finditer(near) if "整体" not in m["name"]]
    return _Project(reviews[0], RESTATED) if len(reviews) == 1 and len(reviews[0]) >= 2 else None


def _total_figures(row: Row) -> tuple[Cell, list[Cell]] | None:
    """The 总分 row's label and figures; OCR may print "总分 100 99.96" as one cell."""
    label = next((c for c in row.cells if c.is_label), None)
    if label is None:
        return None
    if _TOTAL.fullmatch(compact(label.text)):
        return label, row.numbers()
    merged = _MERGED_TOTAL.fullmatch(label.text)
    if merged is None:
        return None
    base = label.start + merged.start("figures") if label.start is not None else None
    figures = [Cell(m.group(0), base + m.start() if base is not None else None,
                    base + m.end() if base is not None else None, label.source, label.page)
               for m in re.finditer(r"\d+(?:\.\d+)?", merged["figures"])]
    return label, figures


class _PerfReader:
    """Reads 绩效自评表 blocks in document order; a project stays open across blocks while an
    indicator table continues it (an annex prints the fund table and the indicator table
    apart)."""

    def __init__(self, sink: FactSink) -> None:
        self.sink = sink
        self.project: _Project | None = None

    def block(self, table: Block) -> None:
        intro = _intro_project(table.intro)
        perf = "绩效自评表" in table.title or any("全年预算数" in _joined(r) or "绩效自评表" in _joined(r)
                                              for r in table.rows)
        if perf:
            named = self.project
            if intro is not None or named is None or named.read or named.priority != TABLE \
                    or _NEW_CONTEXT.search(table.intro):
                named = None  # else the table before only named the project this one details
            self.close()
            self.project = intro or named
            self.rows(table, intro or named)
        elif self.project is not None and not _NEW_CONTEXT.search(table.intro) and any(
                _indicator_header(r) for r in table.rows):
            self.rows(table, None)
        else:
            self.close()

    def rows(self, table: Block, intro: _Project | None) -> None:
        dept_level = intro is None and re.search(r"整体支出|部门整体", table.intro) is not None
        header: dict[int, str] = {}
        first = True  # no table of this block read yet: its title is the one the intro names
        for row in table.rows:
            joined, head = _joined(row), clean_label(row.head)
            if "绩效自评表" in joined:
                self.close()
                self.project = _Project(intro.name, intro.priority) if first and intro else None
                header, first = {}, False
                continue
            first = first and not row.is_data
            if head.startswith("项目名称"):
                values = [c.text for c in row.cells[1:] if c.text] or [head[len("项目名称"):]]
                name = _project_name(values[0]) if len(values) == 1 else ""
                if name:
                    self.close()
                    self.project = _Project(name, TABLE)
                continue
            if not row.is_data and ("全年预算数" in joined or (
                    "得分" in joined and re.search(r"执行率|执行数|预算数", joined))):
                header = {i: compact(c.text) for i, c in enumerate(row.cells) if c.text}
                continue
            if _indicator_header(row):
                if self.project is not None:
                    self.project.rows, self.project.reading = [], True
                continue
            if header and not row.is_data and row.labels() and not head:
                for i, c in enumerate(row.cells):
                    if c.text:
                        header[i] = header.get(i, "") + compact(c.text)
                continue
            self.row(table, header, row, dept_level=dept_level)

    def row(self, table: Block, header: dict[int, str], row: Row, *, dept_level: bool) -> None:
        project = self.project
        labels = row.labels()
        if not labels:  # bare figures (a 总分 row that lost its label) end the indicator rows
            if project is not None and row.numbers():
                project.reading = False
            return
        total = _total_figures(row)
        if total is not None:
            self.total(*total)
            return
        if not row.is_data:
            return
        fund = next((c for c in labels if _FUND_ROW.fullmatch(compact(c.text))), None)
        if project is not None and project.reading:
            figures = row.numbers()
            if len(figures) >= 2:
                project.rows.append((figures[-2], figures[-1]))
        elif header and fund is not None and project is not None:
            self.fund(table, header, row, fund)
        elif header and dept_level and re.fullmatch(r"一般公共预算(?:资金|财政拨款)?",
                                                    compact(labels[0].text)):
            idx = _column(header, r"年初预算")
            cell = _number(row, idx)
            if idx is not None and cell is not None:
                q = parse_amount(cell.text, default_unit=_column_unit(table, header, idx))
                cite(self.sink, FactSpec("general_budget.budget_at_start", to_float(q.value), TABLE,
                                         raw=q.raw or None, decimals=q.decimals), labels[0], cell)

    def fund(self, table: Block, header: dict[int, str], row: Row, label: Cell) -> None:
        """年度资金总额 (or 合计): 全年预算数 / 全年执行数, and the budget execution's 得分."""
        project = self.project
        assert project is not None
        project.read = True
        if project.priority == TABLE and "全年预算数" in "".join(header.values()):
            for fld, pattern in (("performance_projects.budget", r"全年预算数"),
                                 ("performance_projects.executed", r"全年执行数|^执行数")):
                idx = _column(header, pattern)
                cell = _number(row, idx)
                if idx is not None and cell is not None:
                    q = parse_amount(cell.text, default_unit=_column_unit(table, header, idx))
                    first = cell if label.start is not None and cell.start is not None \
                        and cell.start < label.start else label
                    cite(self.sink, FactSpec(fld, to_float(q.value), TABLE, key=project.key,
                                             raw=q.raw or None, decimals=q.decimals), first, cell)
        if max((i for i, c in enumerate(row.cells) if c.text), default=0) > max(header):
            return  # the row's cells do not line up with the header's columns
        weight = _number(row, _column(header, r"分值|权重"))
        score = _number(row, _column(header, r"得分"))
        if weight is not None:
            project.fund_weight = _dec(weight)
        if score is not None and (weight is None or _dec(score) <= _dec(weight)):
            value, decimals = parse_decimal(score.text)
            cite(self.sink, FactSpec(EXECUTION, float(value), project.priority, key=project.key,
                                     raw=score.text, decimals=decimals), label, score)

    def total(self, label: Cell, figures: list[Cell]) -> None:
        project = self.project
        if project is None or not figures:
            return
        project.read = True
        cell = figures[-1]
        value, decimals = parse_decimal(cell.text)
        cite(self.sink, FactSpec(SCORE, float(value), project.priority, key=project.key, raw=cell.text,
                                 decimals=decimals), label, cell)
        if len(figures) >= 2:
            project.total_weight = _dec(figures[0])
        self.indicators()

    def indicators(self) -> None:
        """Σ of the indicator rows' 得分, when their 分值 and the fund's make the full marks
        (every row was read, none twice) and no row scores above its 分值."""
        project = self.project
        if project is None:
            return
        rows, project.rows, project.reading = project.rows, [], False
        if not rows:
            return
        fund = project.fund_weight if project.fund_weight is not None else FUND_WEIGHT
        full = project.total_weight if project.total_weight is not None else FULL_MARKS
        if sum((_dec(w) for w, _ in rows), fund) != full or any(_dec(s) > _dec(w) for w, s in rows):
            return
        total = sum((_dec(s) for _, s in rows), Decimal(0))
        decimals = max(parse_decimal(s.text)[1] for _, s in rows)
        cite(self.sink, FactSpec(INDICATORS, to_float(total), DERIVED, key=project.key,
                                 raw=" + ".join(s.text for _, s in rows), decimals=decimals,
                                 note="sum of the table's indicator 得分 rows"), rows[0][1], rows[-1][1])

    def close(self) -> None:
        self.indicators()
        self.project = None


def _indicator_header(row: Row) -> bool:
    joined = _joined(row)
    return (not row.is_data and "得分" in joined and "指标" in joined
            and re.search(r"分值|权重", joined) is not None)


def read_perf_tables(sink: FactSink, tables: list[Table]) -> None:
    """项目支出绩效自评表: 项目名称, 全年预算数 / 全年执行数 of 年度资金总额, the budget
    execution's 得分, the indicators' 得分 and 总分.

    The project is named in the table (a 项目名称 row with one name cell), in the report
    text just above it ("项目名称：…") or, for restatements only, by the 自评综述 paragraph
    right above it. A department-level 整体支出 table names no project; its 一般公共预算资金
    年初预算数 is the appropriation's budget at full precision.
    """
    reader = _PerfReader(sink)
    for table in blocks(sink, tables):
        reader.block(table)
    reader.close()


# --------------------------------------------------------------------------- annex statements

_ANCHOR = re.compile(
    r"(?m)^[ \t\u3000]*(?:项目名称\s*[:：]\s*(?P<field>[^\n]*?)"
    r"|(?P<title>[^\n《》。，,：:\t]{2,60}?)项目(?:支出)?绩效(?:自评|评价)(?:分析)?报告"
    r"|(?P<annex>[（(]?\s*附件\s*\d+\s*[)）]?|第[一二三四五六七八九十]+部分[^\n]*))[ \t\u3000]*$")
"""What a statement further down is about: a 项目名称 line, a report title naming the
project, or the start of another annex or part (about something else until it names it)."""
_STATED = (
    (EXECUTION, re.compile(r"预算执行(?:情况|率)?得分(?:为)?(?P<v>\d+(?:\.\d+)?)分")),
    (INDICATORS, re.compile(r"(?:绩效)?指标完成情况得分(?:为)?(?P<v>\d+(?:\.\d+)?)分")),
    (SCORE, re.compile(r"(?:总得分|自评得分|自评总分|综合得分|最终得分)(?:为|是)?[:：]?"
                       r"(?P<v>\d+(?:\.\d+)?)分")),
)
_ITS_NAME = re.compile(r"(?:^|[：:，,；])(?P<name>[^：:，,。；\n]{2,40}?)项目(?:绩效)?自我?评价?结果")
_NOT_A_PROJECT = re.compile(r"整体|(?:部门|单位)(?:绩效|自评|整体)")


def _known_projects(facts: list[Fact]) -> list[str]:
    """Projects the narrative or a table names (restatements may only point at these)."""
    names: dict[str, None] = {}
    for f in facts:
        base = f.field.split(".", 2)[2] if f.field.startswith(AUX_PREFIX) else f.field
        name = (f.key or {}).get("name")
        if base.startswith("performance_projects.") and f.priority >= NARRATIVE_LOOSE and name:
            names[name] = None
    return list(names)


_MIN_PART = 4
"""Characters a name must share to stand for a longer one (not "经费" for any 经费 project)."""


def resolve_project(name: str | None, known: list[str]) -> str | None:
    """The known project ``name`` means: the same name, else the only one containing it or
    contained in it ("2024年度法律顾问经费" → "法律顾问经费")."""
    def norm(text: str) -> str:
        return normalize_name(text, drop_project_suffix=True)

    mine = norm(name or "")
    if not mine:
        return None
    exact = [k for k in known if norm(k) == mine]
    if exact:
        return exact[0]
    hits = {norm(k): k for k in known if min(len(norm(k)), len(mine)) >= _MIN_PART
            and (norm(k) in mine or mine in norm(k))}
    return next(iter(hits.values())) if len(hits) == 1 else None


def _sentence(text: str, start: int, end: int) -> str:
    a = max(text.rfind(ch, 0, start) for ch in "。；\n") + 1
    stops = [i for i in (text.find(ch, end) for ch in "。；\n") if i >= 0]
    return text[a:min(stops) if stops else len(text)]


def read_score_statements(sink: FactSink, view: View) -> None:
    """"预算执行情况得分 X 分、…指标完成情况得分 Y 分，最终评分结果：…总得分 S 分" and
    "本项目绩效自评得分 S 分" in an annex: the project's score stated again, and its parts.

    The project is the one the annex names above the statement (项目名称, or a report
    title "X项目绩效自评报告") and, where the sentence names one ("X项目绩效自评价结果"),
    the same; a statement about the department as a whole, or about no known project, is
    left out. Statements the 自评综述 reader already took are not read twice.
    """
    anchors = [(m.start(), None if m["annex"] else compact(m["field"] or m["title"] or ""))
               for m in _ANCHOR.finditer(sink.text)]
    known = _known_projects(sink.facts)
    taken = [(f.evidence.start or 0, f.evidence.end or 0) for f in sink.facts
             if f.field == SCORE and f.evidence is not None]
    for fld, rx in _STATED:
        for m in rx.finditer(view.text):
            start, end = view.norm_span(m.start(), m.end())
            if any(s < end and start < e for s, e in taken):
                continue
            sentence = _sentence(view.text, m.start(), m.end())
            if _NOT_A_PROJECT.search(sentence):
                continue
            above = next((name for pos, name in reversed(anchors) if pos < start), None)
            own = _ITS_NAME.search(sentence)
            named = resolve_project(own["name"], known) if own else None
            if own and named is None:
                continue  # the sentence is about a project the report names nowhere else
            whose = {resolve_project(above, known), named} - {None}
            if len(whose) != 1:
                continue
            value, decimals = parse_decimal(m["v"])
            sink.add(FactSpec(fld, float(value), RESTATED, key={"name": whose.pop()}, raw=m["v"],
                              decimals=decimals), (start, end))
