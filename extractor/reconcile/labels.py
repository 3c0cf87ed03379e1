"""Evidence must name its field: a value is kept only when the text that labels it (its
quote up to the number, or a table cell's row label and column header) carries a label
of the field it was taken for.

A quote that holds the value proves the number was printed, not what it was printed
*as*: ``收入决算总计 99999.99 万元`` holds a figure, but of income, so it cannot support an
expense field; a ``预算`` figure cannot stand for a ``决算`` field, nor last year's for this
year's; a figure printed in 万元 cannot carry a value converted as if it were 元. The
labels are data (``extractor/doctypes/<type>/fields.yaml``); both extractors' facts pass
through :func:`admit` before reconciliation, and what fails is dropped with its reason,
never stored as a finding.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from extractor.core.errors import ConfigError
from extractor.core.records import AUX_PREFIX, Fact, field_kind
from extractor.core.types import DocumentData
from extractor.doctypes import FINAL_ACCOUNTS
from extractor.numbers import NUMBER_RE, UNIT_FACTORS, NumberFormatError, parse_decimal
from extractor.reconcile.sources import Hints, number_offset, prints_number

_CJK = re.compile(r"[\u4e00-\u9fff]")
_UNIT_LINE = re.compile(r"单位\s*[:：]\s*(万元|元)")
_CHECKED = {"amount", "count", "score"}


class FieldLabel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    any: list[str] = Field(default_factory=list)
    not_near: list[str] = Field(default_factory=list)
    own: list[str] = Field(default_factory=list)
    """Words that lift a ``not_near`` clash: ``收入、支出决算总计均为…`` names both totals."""
    measure: Literal["actual", "budget"] | None = None


class FieldLabels(BaseModel):
    """The label data of one document type (``fields.yaml``)."""

    model_config = ConfigDict(extra="forbid")
    fund_names: list[str] = Field(default_factory=list)
    budget_words: list[str] = Field(min_length=1)
    actual_words: list[str] = Field(min_length=1)
    last_year_words: list[str] = Field(default_factory=list)
    fields: dict[str, FieldLabel]
    class_codes: dict[str, list[str]] = Field(default_factory=dict)
    """3-digit 功能分类 class code → the class names printed for it."""
    mandatory_tables: dict[str, list[str]] = Field(default_factory=dict)
    """Title → patterns (any finds it) of each table the national template requires."""

    @classmethod
    def load(cls, path: Path) -> FieldLabels:
        try:
            return cls.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot read field labels: {exc}") from exc
        except ValidationError as exc:
            err = exc.errors()[0]
            raise ConfigError(f"{path}: invalid field labels: {err['msg']} at "
                              f"{'.'.join(str(p) for p in err['loc'])}") from exc


@cache
def default_labels() -> FieldLabels:
    """The ``final_accounts/v1`` labels (``extractor/doctypes/final_accounts/fields.yaml``)."""
    return FieldLabels.load(FINAL_ACCOUNTS / "fields.yaml")


@dataclass(frozen=True)
class Rejected:
    """A value whose evidence does not name its field, kept for the run's notes and counts."""

    field: str
    value: str
    quote: str
    reason: str


@dataclass(frozen=True)
class LabelText:
    subject: str
    """Everything that labels the figure: headings, the quote up to the number, the cell's labels."""
    near: str
    """The words right before the number (a cell: its row label and column header)."""
    column_known: bool
    """False for a table row quoted whole: which column the number stood in is not told."""


def _fold(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if not ch.isspace())


def label_text(fact: Fact, doc: DocumentData | None, labels: FieldLabels | None = None) -> LabelText | None:
    """The text that says what a figure is: a cell's row label and column header; a
    sentence's words before the number; for a table row quoted whole, the table (its title
    and header rows) since the column cannot be told; for a zero stated in words or a blank
    cell, what is printed above it."""
    ev = fact.evidence
    if ev is None:
        return None
    chunk = doc.chunks[ev.chunk_index] if doc and ev.chunk_index is not None \
        and 0 <= ev.chunk_index < len(doc.chunks) else None
    headings = " ".join(chunk.heading_path) if chunk else ""
    if ev.row_label or ev.column_header:
        near = f"{ev.row_label or ''} {ev.column_header or ''}"
        head = "" if ev.column_header else _table_head(doc, ev.start)  # column untold: the header
        return LabelText(_fold(f"{headings} {head} {near} {ev.quote}"), _fold(near), bool(ev.column_header))
    quote = ev.quote
    row = "\t" in quote or (chunk is not None and chunk.kind == "table") or not _CJK.search(quote)
    if not prints_number(fact):  # a zero in words (本表无数据) or a blank cell
        above = _fold(doc.normalized.text[max(0, ev.start - 10 * _ABOVE): ev.start])[-_ABOVE:] \
            if doc and ev.start else ""
        table = chunk.text if row and chunk is not None else _table_just_above(doc, ev.start)
        return LabelText(_fold(f"{headings} {above} {table} {quote}"), _fold(quote), False)
    at = number_offset(quote, fact.raw, hints(fact.field, labels or default_labels()))
    before, after = quote[:at], quote[at:at + len(fact.raw or "") + 4]
    near = ""
    for segment in reversed(NUMBER_RE.split(before)):
        if segment and _CJK.search(segment):
            near = segment
            break
    tabular = row or before.rstrip()[-1:].isdigit()
    if tabular and chunk is not None:  # the column headers are printed above the row, in the chunk
        header = _table_head(doc, ev.start)  # or above the table, where it has no header rows
        return LabelText(_fold(f"{headings} {header} {chunk.text} {before}"), _fold(near), False)
    return LabelText(_fold(f"{headings} {before} {after}"), _fold(near), True)


_ABOVE = 200
"""Printed characters (spaces left out: an empty table laid out as text is mostly spaces)
above a zero stated in words that may say what it is about."""
_NOTE_REACH = 300
"""Characters between the end of a table and a note under it (注：…, 说明：…本表无数据)."""


def _table_just_above(doc: DocumentData | None, start: int | None) -> str:
    """The table a note right under it speaks of ("故本表无数据"): its header names the
    columns the note's zeros stand for, however wide the empty table was printed."""
    if doc is None or start is None:
        return ""
    tables = [c for c in doc.chunks if c.kind == "table" and c.end <= start <= c.end + _NOTE_REACH]
    return tables[-1].text if tables else ""


_TABLE_LINES = 400
"""Lines walked back over from a table row to the table's title."""
_TITLE_LINE = re.compile(r"表\s*$|单位\s*[:：]")


def _table_head(doc: DocumentData | None, start: int | None) -> str:
    """The title and header lines of the table holding ``start``: the printed characters
    from the nearest title (or unit) line above. A plain-text table whose header lines were
    not read as rows (single-spaced, names wrapped past recognition) names its columns
    only there, above a chunk that may not reach them."""
    if doc is None or start is None:
        return ""
    text = doc.normalized.text
    top = text.rfind("\n", 0, start) + 1
    for _ in range(_TABLE_LINES):
        if top <= 0:
            return ""
        prev = text.rfind("\n", 0, top - 1) + 1
        if _TITLE_LINE.search(text[prev:top - 1]):
            return _fold(text[prev:start])[:2 * _ABOVE]
        top = prev
    return ""


def hints(field: str, labels: FieldLabels) -> Hints:
    """What to look for around a field's number when its quote prints the digits twice."""
    spec = labels.fields.get(field)
    if spec is None:
        return ((), ())
    before = labels.actual_words if spec.measure == "actual" else \
        labels.budget_words if spec.measure == "budget" else []
    return (spec.any, before)


def _strip(text: str, words: list[str]) -> str:
    for word in sorted(words, key=len, reverse=True):
        text = text.replace(word, "")
    return text


def _measure_problem(spec: FieldLabel, near: str, labels: FieldLabels) -> str | None:
    text = _strip(near, labels.fund_names)
    if any(w in text for w in labels.last_year_words):
        return f"labelled as last year's figure ({near!r})"
    budget_at = max((text.rfind(w) for w in labels.budget_words), default=-1)
    actual_at = max((text.rfind(w) for w in labels.actual_words), default=-1)
    if spec.measure == "actual" and budget_at >= 0 and actual_at < budget_at:
        return f"labelled as a budget (预算) figure ({near!r}), the field is 决算"
    if spec.measure == "budget" and actual_at >= 0 and budget_at < actual_at:
        return f"labelled as an actual (决算/执行) figure ({near!r}), the field is 预算"
    return None


def _unit_problem(fact: Fact, doc: DocumentData | None) -> str | None:
    """A figure printed in 万元 (or 元) whose value was converted as the other unit."""
    ev = fact.evidence
    raw = fact.raw or ""
    match = NUMBER_RE.search(raw)
    if ev is None or match is None or not isinstance(fact.value, int | float) or fact.value == 0:
        return None
    try:
        number, _ = parse_decimal(match.group(0))
    except NumberFormatError:
        return None
    if number == 0:
        return None
    tail = raw[match.end():].lstrip()
    unit = next((u for u in ("亿元", "万元", "元") if tail.startswith(u)), None)
    if unit is None:
        offset = number_offset(ev.quote, raw) + len(match.group(0))
        after = _fold(ev.quote[offset:])
        if not after and doc is not None and ev.start is not None:  # the quote stops at the number
            window = _fold(doc.normalized.text[ev.start: ev.start + len(ev.quote) + 40])
            at = window.find(_fold(ev.quote))
            after = window[at + len(_fold(ev.quote)):] if at >= 0 else ""
        unit = next((u for u in ("亿元", "万元", "元") if after.startswith(u)), None)
    if unit is None:
        unit = _table_unit(ev.chunk_index, doc)
    if unit is None:
        return None
    expected = float(number * UNIT_FACTORS[unit])
    if abs(float(fact.value) - expected) <= 1e-6 * max(1.0, abs(expected)):
        return None
    return f"printed in {unit} ({match.group(0)}), stored as {fact.value:g} 万元"


def _table_unit(chunk_index: int | None, doc: DocumentData | None) -> str | None:
    """The one unit line of the cited chunk (a table's ``单位：万元``), if it has one."""
    if doc is None or chunk_index is None or not 0 <= chunk_index < len(doc.chunks):
        return None
    chunk = doc.chunks[chunk_index]
    units = set(_UNIT_LINE.findall(chunk.text))
    if not units:
        head = doc.normalized.text[max(0, chunk.start - 300): chunk.start]
        units = set(_UNIT_LINE.findall(head)[-1:])
    return units.pop() if len(units) == 1 else None


def problem(fact: Fact, doc: DocumentData | None, labels: FieldLabels) -> str | None:
    """Why the fact's evidence does not support its field, or ``None`` when it does."""
    if fact.field.startswith(AUX_PREFIX) or field_kind(fact.field) not in _CHECKED:
        return None
    spec = labels.fields.get(fact.field)
    text = label_text(fact, doc, labels)
    if spec is None or text is None:
        return None
    if text.column_known and not text.near:
        return "nothing labels the number (it opens its quote)"
    if spec.any and not any(w in text.subject for w in spec.any):
        return f"the label does not name the field (none of {'/'.join(spec.any)} in {text.subject[-40:]!r})"
    if not prints_number(fact):
        return None  # a zero stated in words (无此项收入和支出) may name several fields at once
    clash = next((w for w in spec.not_near if w in text.near), None)
    if clash is not None and not any(w in text.near for w in spec.own):
        return f"labelled {text.near!r}: {clash} names another field"
    if text.column_known:
        found = _measure_problem(spec, text.near, labels)
        if found is not None:
            return found
    if field_kind(fact.field) == "amount":
        return _unit_problem(fact, doc)
    return None


@dataclass
class Admitted:
    facts: list[Fact]
    rejected: list[Rejected]

    def note(self) -> str | None:
        if not self.rejected:
            return None
        return (f"{len(self.rejected)} value(s) dropped: evidence does not name the field "
                f"(e.g. {self.rejected[0].field}: {self.rejected[0].reason})")


def admit(facts: list[Fact], doc: DocumentData | None = None,
          labels: FieldLabels | None = None) -> Admitted:
    """Keep the facts whose evidence names their field; the rest are rejected with a reason."""
    spec = labels or default_labels()
    out = Admitted([], [])
    for fact in facts:
        why = problem(fact, doc, spec)
        if why is None:
            out.facts.append(fact)
        else:
            out.rejected.append(Rejected(fact.field, str(fact.raw or fact.value),
                                         fact.evidence.quote if fact.evidence else "", why))
    return out
