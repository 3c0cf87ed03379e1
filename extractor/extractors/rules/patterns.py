"""Shared machinery of the rules extractor: the compact narrative view, figure tokens and
their roles, and fact construction with evidence.

Final-accounts narratives state figures in a small set of formulas ("X决算数为 A 万元",
"全年预算 A 万元，支出决算 B 万元，完成预算的 R%", "占 S%"). OCR and PDF layout scatter
those formulas over spaces and wrapped lines, so the narrative is matched on a compact
view (whitespace dropped, wrapped lines joined) that keeps, for every character, its
offset in the normalized text: evidence always points at the document's own text.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import accumulate

from extractor.core.records import Evidence, Fact
from extractor.core.types import BBox, Cell, ChunkData, DocumentData, Table
from extractor.normalize import normalize
from extractor.numbers import Quantity, parse_amount, parse_percent, to_float
from extractor.tables.text import is_table_line

EXTRACTOR_NAME = "rules"

TABLE = 20
"""Priority of a figure read from a statistical table (tables outrank narrative)."""
NARRATIVE = 10
"""Priority of a figure read from the narrative with the field's own wording."""
NARRATIVE_LOOSE = 8
"""Narrative wording that names the field less precisely (e.g. 财政拨款收入 for 一般公共预算)."""
STATED_NONE = 6
"""A zero read from "本年度无此项支出" / "本表无数据"."""
BLANK_ZERO = 5
"""A blank cell in a labelled table row: the templates print zero as an empty cell."""
RESTATED = 4
"""A figure stated again where the rules are less sure whose it is (an annex's 总得分, the
总分 of a table named only by the paragraph above it): below every other reading of it."""
DERIVED = 2
"""A figure the report prints only as its parts (Σ of a table's 得分 rows)."""

PAREN_OPEN = "[（(]"
PAREN_CLOSE = "[)）]"

_HARD_END = frozenset("。；;！？!?：:")
_LIST_START = re.compile(  # "1.41万元" wrapped to a line's start is a figure, not point 1
    r"^(?:[-•·]\s*)?(?:\d{1,2}\s*(?:[.．](?!\d+\s*(?:亿元|万元|元|%))|[、)）])|[（(]\s*[一二三四五六七八九十\d]{1,3}\s*[)）]"
    r"|[一二三四五六七八九十]{1,3}[、.．]|第[一二三四五六七八九十]+部分|附件|图\s*\d)")
_SPACE_RUN = re.compile(r"\S[ \u3000]{3,}\S")
_HEADING_MAX = 25
_BARE_FIGURE = re.compile(r"(?:^|\s)-?\d+\.\d+(?=\s|$)")
_PROSE_MARK = re.compile(r"[。，；,;：:！？%％]|万元")

TOKEN_RE = re.compile(r"(?<![\d.])(?P<num>-?\d+(?:\.\d+)?)(?:(?P<unit>亿元|万元|元)|(?P<pct>[%％]))")
"""An amount with its unit or a percentage; bare numbers (years, dates, counts) are not figures."""

_CHANGE = re.compile(
    r"增加|减少|增长|下降|降低|持平|节约|上年|同比|较\d{4}|比\d{4}|相比[，,]|超支|结余|差额|变动")
_BUDGET_KW = re.compile(r"预算(?:数|金额|总额)?(?:为|是|均为)?$")
_ACTUAL_KW = re.compile(
    r"(?:^|决算|支出|合计|总计|总额|金额|收入|经费|费用?|数)(?:数)?(?:均|共|各|合计)?(?:为|是|达|计)?[:：]?$")
_EXEC_KW = re.compile(r"执行(?:数|金额)?(?:为|是)?$")
_RATE_KW = re.compile(r"完成|执行率|完成率|预算的$")


@dataclass
class View:
    """Compact narrative text; ``index[i]`` is the normalized offset of ``text[i]``."""

    text: str
    index: list[int]

    def norm_span(self, start: int, end: int) -> tuple[int, int]:
        """Normalized ``[start, end)`` covering view ``[start, end)``."""
        end = max(end, start + 1)
        return self.index[start], self.index[min(end, len(self.index)) - 1] + 1


_PAGE_MARK = re.compile(r"(?:第\s*\d{1,4}\s*页(?:\s*[，,/]?\s*共\s*\d{1,4}\s*页)?|[-—–]\s*\d{1,4}\s*[-—–]"
                        r"|\d{1,3}|\d{1,4}\s*/\s*\d{1,4})")
"""A line that is only a page number (``15``, ``第15页``, ``- 15 -``, ``15/40``): a sentence
running on to the next page runs on past it ("全年购置车" / "15" / "辆0辆")."""


def build_view(text: str) -> View:
    """Prose lines without whitespace, soft-wrapped lines joined, paragraphs on their own line.

    A line break is kept where a sentence ends or a numbered point begins; elsewhere it is
    a layout wrap and is dropped, so "其他\\n收入6.2万元" reads as one phrase. Whitespace
    between two digits survives as one space so separate figures never fuse.
    """
    out: list[str] = []
    index: list[int] = []
    pos = 0
    prev_open = False  # the previous kept line did not end a sentence
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped or _PAGE_MARK.fullmatch(stripped):  # blank lines and page numbers separate
            pos += len(line) + 1                         # paragraphs and wrapped lines alike
            continue
        if is_table_line(line):
            if out and out[-1] != "\n":
                out.append("\n")
                index.append(pos)
            prev_open = False
            pos += len(line) + 1
            continue
        lead = len(line) - len(line.lstrip())
        if out and out[-1] != "\n" and not (prev_open and not _LIST_START.match(stripped)):
            out.append("\n")
            index.append(pos + lead)
        pending_space = False
        for offset, ch in enumerate(line):
            if ch.isspace():
                pending_space = True
                continue
            if pending_space and ch.isdigit() and out and out[-1].isdigit():
                out.append(" ")
                index.append(pos + offset - 1)
            pending_space = False
            out.append(ch)
            index.append(pos + offset)
        # a short numbered line is a heading: it never runs on into the next line
        prev_open = stripped[-1] not in _HARD_END and not (
            len(stripped) <= _HEADING_MAX and _LIST_START.match(stripped))
        pos += len(line) + 1
    return View("".join(out), index)


@dataclass(frozen=True)
class Token:
    """A figure in the view and the role its wording gives it."""

    start: int
    end: int
    quantity: Quantity
    role: str
    """``actual``, ``budget``, ``executed``, ``share``, ``rate``, ``change`` or ``other``."""


def _role(keyword: str, is_percent: bool) -> str:
    kw = re.split(r"[。；;]", keyword)[-1].lstrip("，,、：: ")
    if "其中" in kw:
        return "other"
    if is_percent:  # judged by its own clause: "与上年相比，完成年初预算的 R%" is a rate
        tail = re.split(r"[，,]", kw)[-1]
        if "占" in tail:
            return "share"
        return "rate" if _RATE_KW.search(tail) and not _CHANGE.search(tail) else "other"
    if _CHANGE.search(kw) and not re.search(r"^与(?:全年|年初)?预算$", kw):
        return "change"
    if "占" in kw or re.search(r"[，,、]", kw):  # another clause: the figure is not the label's
        return "other"
    if len(kw) > 24:
        return "other"
    if _EXEC_KW.search(kw):
        return "executed"
    if _BUDGET_KW.search(kw) or re.search(r"^与(?:全年|年初)?预算$", kw):
        return "budget"
    if _ACTUAL_KW.search(kw) or kw in {"", "为", "共", "均为", "计"}:
        return "actual"
    return "other"


def tokens(view: View, start: int, end: int) -> Iterator[Token]:
    """Figures in ``view.text[start:end]`` with the role of the words just before each."""
    text = view.text
    last = start
    for m in TOKEN_RE.finditer(text, start, end):
        keyword = text[last:m.start()]
        is_pct = m["pct"] is not None
        q = parse_percent(m.group(0)) if is_pct else parse_amount(m.group(0))
        yield Token(m.start(), m.end(), q, _role(keyword, is_pct))
        last = m.end()


def statement_end(view: View, start: int, limit: int = 160) -> int:
    """End of the sentence that states a label's figures.

    A sentence that merely goes on "。与年初预算 X 万元相比" still belongs to the label:
    002-style reports put the budget there (on the next line, where a PDF line ends at 。).
    """
    text = view.text
    stop = min(len(text), start + limit)
    i = start
    while i < stop:
        ch = text[i]
        if ch == "\n" or ch in "；;" or text.startswith("其中", i):
            return i
        if ch == "。":
            after = i + 2 if text.startswith("\n", i + 1) else i + 1  # a line may end at 。
            if text.startswith("与年初预算", after) or text.startswith("与预算", after):
                i = after
                continue
            return i
        i += 1
    return stop


# --------------------------------------------------------------------------- facts


class FactSink:
    """Collects facts, giving each its evidence (quote, offsets, chunk and page)."""

    def __init__(self, doc: DocumentData) -> None:
        self.doc = doc
        self.text = doc.normalized.text
        self.facts: list[Fact] = []
        self._chunks: list[ChunkData] = sorted(doc.chunks, key=lambda c: (c.start, c.end))
        self._starts = [c.start for c in self._chunks]
        self._reach = list(accumulate((max(c.end, c.start + 1) for c in self._chunks), max))
        """``_reach[i]``: the furthest any of the first i+1 chunks reaches (ends are not sorted)."""
        self._heading_cache: dict[int, str] = {}

    def chunk_at(self, offset: int) -> ChunkData | None:
        """The tightest chunk holding ``offset``; a heading line belongs to the chunk after it.

        A binary search, then a walk back only over chunks that can still reach ``offset``
        (a scan of every chunk per call was half the time on a 2-million-character report).
        Ties go to the earliest chunk, as a forward scan would choose.
        """
        after = bisect_right(self._starts, offset)
        best: ChunkData | None = None
        j = after - 1
        while j >= 0 and self._reach[j] > offset:
            chunk = self._chunks[j]
            if offset < max(chunk.end, chunk.start + 1) and (
                    best is None or chunk.end - chunk.start <= best.end - best.start):
                best = chunk
            j -= 1
        if best is None and after < len(self._chunks):
            best = self._chunks[after]
        return best

    def heading(self, offset: int) -> str:
        """The heading path above ``offset``, joined (for wording that depends on its section)."""
        if offset not in self._heading_cache:
            chunk = self.chunk_at(offset)
            self._heading_cache[offset] = " / ".join(chunk.heading_path) if chunk else ""
        return self._heading_cache[offset]

    def evidence(self, start: int, end: int) -> Evidence:
        chunk = self.chunk_at(start)
        return Evidence(quote=self.text[start:end], chunk_index=chunk.index if chunk else None,
                        page=self.doc.page_at(start), start=start, end=end)

    def add(self, spec: FactSpec, span: tuple[int, int]) -> Fact:
        fact = Fact(field=spec.field, key=spec.key, value=spec.value, raw=spec.raw,
                    decimals=spec.decimals, evidence=self.evidence(*span), extractor=EXTRACTOR_NAME,
                    priority=spec.priority, note=spec.note)
        self.facts.append(fact)
        return fact

    def add_cell(self, spec: FactSpec, ref: CellRef) -> Fact:
        """A fact read from a table cell: its evidence cites the cell (page, box, row label,
        column header) beside the quote, and offsets where the cell's text is known."""
        start, end = ref.cell.start, ref.cell.end
        quote = ref.cell.text if start is not None else normalize(ref.cell.text).text.strip()
        if start is None and ref.table is not None and ref.table.start is not None and quote:
            found = self.text.find(quote, ref.table.start, ref.table.end)
            start, end = (found, found + len(quote)) if found >= 0 else (None, None)
        if start is not None and end is not None:
            quote = self.text[start:end]
        chunk = self.chunk_at(start) if start is not None else self._table_chunk(ref.page)
        evidence = Evidence(quote=quote, chunk_index=chunk.index if chunk else None, page=ref.page,
                            start=start, end=end, bbox=ref.bbox, row_label=ref.row_label,
                            column_header=ref.column_header)
        fact = Fact(field=spec.field, key=spec.key, value=spec.value, raw=spec.raw,
                    decimals=spec.decimals, evidence=evidence, extractor=EXTRACTOR_NAME,
                    priority=spec.priority, note=spec.note)
        self.facts.append(fact)
        return fact

    def _table_chunk(self, page: int) -> ChunkData | None:
        return next((c for c in self._chunks if c.kind == "table" and c.page_start <= page <= c.page_end),
                    None)

    def quantity(self, fld: str, q: Quantity, span: tuple[int, int], priority: int, *,
                 key: dict[str, str | None] | None = None, note: str | None = None) -> Fact:
        """A parsed figure: amounts in 万元 at full precision, percentages as printed."""
        value: float | int = to_float(q.value)
        return self.add(FactSpec(fld, value, priority, key=key, raw=q.raw or None, decimals=q.decimals,
                                 note=note), span)

    def count(self, fld: str, number: str, span: tuple[int, int], priority: int,
              note: str | None = None) -> Fact:
        return self.add(FactSpec(fld, int(number), priority, raw=number, decimals=0, note=note), span)


@dataclass
class FactSpec:
    """What a fact says, before it gets its evidence."""

    field: str
    value: float | int | str | None
    priority: int
    key: dict[str, str | None] | None = None
    raw: str | None = None
    decimals: int | None = None
    note: str | None = None


@dataclass
class CellRef:
    """The table cell a value was read from, and what names it."""

    cell: Cell
    page: int
    bbox: BBox | None = None
    row_label: str | None = None
    column_header: str | None = None
    table: Table | None = None


def zero_quantity(raw: str = "") -> Quantity:
    """The stated-zero figure of a blank cell or a "无此项支出" sentence."""
    return Quantity(Decimal(0), "amount", "万元", raw, 0)


def paragraph_end(view: View, start: int, limit: int) -> int:
    """End of the point that begins before ``start``: the next line that opens a numbered
    point or heading (a line ending in "：" does not end the point)."""
    text = view.text
    stop = min(len(text), start + limit)
    i = text.find("\n", start, stop)
    while i >= 0:
        if _LIST_START.match(text, i + 1):
            return i
        i = text.find("\n", i + 1, stop)
    return stop
