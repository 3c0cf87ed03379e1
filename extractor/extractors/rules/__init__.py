"""The deterministic rules extractor: the embedded default and the baseline for model runs.

It reads the standard wording of 部门决算 disclosures and their 公开01–10 statistical
tables without any model, so it is fast, free and reproducible, and every value it reports
carries the exact quote it came from. Every mention of a figure becomes a fact: the one
with the highest priority (tables over narrative over blank cells over derived values) is
the finding, the others are second sources the reconciler uses to check and repair it.

A document that is not a final-accounts report (a budget, a news text, English text)
yields no facts and a note saying why, never invented values.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass

from extractor.chunk import chunk_document
from extractor.core.records import Fact, normalize_name
from extractor.core.types import DocumentData, ExtractionResult, Table
from extractor.extractors.rules import narrative, perf, tables
from extractor.extractors.rules.patterns import (
    EXTRACTOR_NAME,
    NARRATIVE,
    FactSink,
    FactSpec,
    build_view,
)
from extractor.tables.text import read_text_tables

_CJK = re.compile(r"[\u4e00-\u9fa5]")
_FINAL_MARKERS = ("收入决算", "支出决算", "部门决算", "单位决算", "决算公开", "决算总计", "决算数")
_BUDGET_TITLE = re.compile(r"部门预算|单位预算|预算公开|预算情况说明|预算编制说明|预算表")
_ORG_SUFFIX = (r"(?:局|办公室|委员会|中心|院|所|厅|部|处|站|队|会|馆|校|社|署|办|政府|办事处|公司|"
               r"协会|联合会|委|检察院|法院|学院|医院|大学|中学|小学|幼儿园|集团|机关)")
_DEPT_PATTERNS = (
    # the whole field: "部门名称：…人力资源和社会保障局", not its first suffix (…和社)
    re.compile(rf"(?:部门|单位|预算主管部门|主管部门)名称[:：]\s*(?P<name>[\u4e00-\u9fa5（）()]{{2,40}}"
               rf"{_ORG_SUFFIX})(?![\u4e00-\u9fa5])"),
    re.compile(rf"(?:^|(?<=[\n。：:]))\s*(?P<name>[\u4e00-\u9fa5]{{2,40}}?{_ORG_SUFFIX})"
               r"\s*(?:[（(](?:部门|单位|本级)[)）])?\s*(?:部门)?(?:[（(]单位[)）])?\s*20\d{2}\s*年"),
)
_HEAD = 3000
"""A report's title and table of contents sit in its first few thousand characters."""
_MIN_FINALS = 3
"""Mentions of 决算 that make a text a final-accounts report (a section has a few; news few)."""
_YEAR_RE = re.compile(r"(20\d{2})\s*年度?[^\n。]{0,24}?决算")


@dataclass(frozen=True)
class DocKind:
    """What a document is, as far as the rules can tell."""

    kind: str
    """``final`` (a final-accounts report), ``budget`` or ``other``."""
    reason: str


def classify(text: str) -> DocKind:
    """Final accounts are recognised by their 决算 wording, budgets by their titles."""
    if len(_CJK.findall(text[:20000])) < 50:
        return DocKind("other", "not a final-accounts report: no Chinese text")
    finals = text.count("决算")
    markers = sum(text.count(m) for m in _FINAL_MARKERS)
    head = text[:_HEAD]
    if _BUDGET_TITLE.search(head) and "决算" not in head and finals < _MIN_FINALS * 3:
        return DocKind("budget", "not a final-accounts report: a budget (预算) document, not 决算 "
                                 f"({finals} mentions of 决算)")
    if finals >= _MIN_FINALS and markers >= 1:
        return DocKind("final", "")
    return DocKind("other", "not a final-accounts report: no final-accounts wording "
                            f"({finals} mentions of 决算, {markers} of its standard phrases)")


def read_meta(sink: FactSink) -> None:
    """Department (the name heading most sentences) and fiscal year (the year before 决算)."""
    text = sink.text
    names: Counter[str] = Counter()
    first: dict[str, tuple[int, int]] = {}
    for weight, rx in zip((3, 1), _DEPT_PATTERNS, strict=True):
        for m in rx.finditer(text):
            name = re.sub(r"[（(](?:部门|单位|本级)[)）]$", "", m["name"]).strip()
            names[name] += weight
            first.setdefault(name, m.span("name"))
    if names:
        name, _ = names.most_common(1)[0]
        sink.add(FactSpec("meta.department", name, NARRATIVE, raw=name), first[name])
    year = _YEAR_RE.search(text[:5000]) or _YEAR_RE.search(text)
    if year:
        sink.add(FactSpec("meta.fiscal_year", int(year[1]), NARRATIVE, raw=year[1], decimals=0),
                 year.span(1))


def unify_keys(facts: list[Fact]) -> None:
    """Give every mention of a list item the same key, preferring the table's spelling.

    Tables print codes and full names; the narrative may drop the code, the 项目 suffix or a
    word of the name. Without one key per item the mentions would become separate items.
    """
    _unify_items(facts)
    _unify_projects(facts)


def _base(fld: str) -> str:
    """``aux.rate.general_budget.items.actual`` → ``general_budget.items.actual``."""
    return fld.split(".", 2)[2] if fld.startswith("aux.") else fld


def _unify_items(facts: list[Fact]) -> None:
    items = [f for f in facts if _base(f.field).startswith("general_budget.items.") and f.key]
    coded: dict[tuple[str, str], dict[str, str | None]] = {}
    for f in items:
        if f.key and f.key.get("code"):
            coded.setdefault((normalize_name(f.key.get("section")), normalize_name(f.key.get("item"))), f.key)
    by_item: dict[tuple[str, str], list[dict[str, str | None]]] = {}
    for (_sec, item), key in coded.items():
        by_item.setdefault((normalize_name(key.get("class")), item), []).append(key)
    for f in items:
        if not f.key or f.key.get("code"):
            continue
        ident = (normalize_name(f.key.get("section")), normalize_name(f.key.get("item")))
        if ident in coded:
            f.key = dict(coded[ident])
            continue
        same = by_item.get((normalize_name(f.key.get("class")), ident[1]), [])
        if len(same) == 1:
            f.key = dict(same[0])
    _unify_by_figure(items)


_SAME = 0.005


def _unify_by_figure(items: list[Fact]) -> None:
    """An item the narrative names differently from the table (归口管理的行政单位离退休 for
    行政单位离退休): in the same section (or class), the one coded table item with the same
    决算数 is that item, and its name and code win (the gold convention)."""
    actual = "general_budget.items.actual"
    table_items = [f for f in items if f.field == actual and f.key and f.key.get("code")
                   and isinstance(f.value, int | float)]
    loose: dict[tuple[str, ...], list[Fact]] = {}
    for f in items:
        if f.key and not f.key.get("code"):
            ident = tuple(normalize_name(f.key.get(k)) for k in ("class", "section", "item"))
            loose.setdefault(ident, []).append(f)
    for (cls, section, _item), group in loose.items():
        stated = [f.value for f in group if f.field == actual and isinstance(f.value, int | float)]
        if not stated:
            continue
        hits = {id(t.key): t.key for t in table_items if t.key and isinstance(t.value, int | float)
                and abs(t.value - stated[0]) < _SAME
                and ((section and normalize_name(t.key.get("section")) == section)
                     or (cls and normalize_name(t.key.get("class")) == cls))}
        if len(hits) == 1:
            key = next(iter(hits.values()))
            for f in group:
                f.key = dict(key)


def _unify_projects(facts: list[Fact]) -> None:
    projects = [f for f in facts if _base(f.field).startswith("performance_projects.") and f.key]
    table_names = {name for f in projects
                   if f.key and (name := f.key.get("name")) and f.priority > NARRATIVE}

    def norm(name: str) -> str:
        return normalize_name(name, drop_project_suffix=True)

    for f in projects:
        if not f.key or not f.key.get("name") or f.key["name"] in table_names:
            continue
        mine = norm(f.key["name"] or "")
        hits = [t for t in table_names if mine and (norm(t) == mine or mine in norm(t) or norm(t) in mine)]
        if len(hits) == 1:
            f.key = {"name": hits[0]}


def document_tables(doc: DocumentData) -> list[Table]:
    """The document's tables: those the table layer read (PDF, scans), and the rows of
    plain text read by :func:`extractor.tables.text.read_text_tables` where the table layer
    found none (a plain-text input, or an unruled table in a PDF). A table is read once:
    text rows inside a table the layer placed in the text are not read again."""
    text_tables = read_text_tables(doc.normalized.text, doc.page_starts, doc.normalized.offsets)
    if not doc.tables:
        return text_tables
    spans = [(t.start, t.end) for t in doc.tables if t.start is not None and t.end is not None]
    if len(spans) < len(doc.tables):
        return doc.tables  # tables not placed in the text: no telling which rows they hold
    extra = [t for t in text_tables if t.start is not None and t.end is not None
             and not any(t.start <= end and start <= t.end for start, end in spans)]
    return sorted([*doc.tables, *extra], key=lambda t: t.start or 0)


class RulesExtractor:
    """Regular-expression and table-row reading of the standard disclosure wording."""

    name = EXTRACTOR_NAME

    def extract(self, doc: DocumentData) -> ExtractionResult:
        started = time.perf_counter()
        kind = classify(doc.normalized.text)
        if kind.kind != "final":
            return ExtractionResult(facts=[], notes=[kind.reason],
                                    stats={"kind": kind.kind, "seconds": time.perf_counter() - started})
        facts = self.read(doc)
        notes: list[str] = []
        if not any(not f.field.startswith(("meta.", "aux.")) for f in facts):
            notes.append("final-accounts wording found but no figure could be read")
        elapsed = time.perf_counter() - started
        return ExtractionResult(facts=facts, notes=notes,
                                stats={"kind": kind.kind, "facts": len(facts), "seconds": elapsed})

    def read(self, doc: DocumentData) -> list[Fact]:
        """Every figure the rules can read, without deciding whether the text is a report.

        :meth:`extract` asks that first, of the whole document; a caller holding only part
        of one (the demo model answering a prompt of a few chunks) knows the answer already
        and would be refused by the test. Chunks the document lacks are made here, because
        each fact's evidence names its chunk.
        """
        if not doc.chunks:
            doc.chunks = chunk_document(doc, 1200)
        sink = FactSink(doc)
        read_meta(sink)
        view = build_view(doc.normalized.text)
        narrative.read_statements(sink, view)
        narrative.read_classes_and_items(sink, view)
        narrative.read_performance(sink, view)
        narrative.read_counts(sink, view)
        narrative.read_stated_zeros(sink, view)
        narrative.read_sme_awarded(sink, view)
        found = document_tables(doc)
        tables.read_tables(sink, found)
        perf.read_perf_tables(sink, found)
        perf.read_score_statements(sink, view)  # after every reading that names a project
        unify_keys(sink.facts)
        return sink.facts
