"""Checks the report's text supports beyond its arithmetic: the fiscal year and the
department stated alike across cover, headings and tables; each item's 7-digit code
inside its class's code; and the changes against last year (or the budget) that the
narrative prints beside a figure (``…总计2995.39万元。与2023年度相比，增加307.82万元，增长11.46%``).

Each becomes a :class:`~extractor.reconcile.models.CheckResult` beside the arithmetic
ones, so ``extractor checks`` shows it and coverage counts what it touches; a failing one
flags the values it casts doubt on, a passing one that pins a figure verifies it.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from extractor.core.records import CheckStatus, Fact, FindingStatement, normalize_name, primary_facts
from extractor.core.types import DocumentData
from extractor.numbers import NumberFormatError, parse_amount, parse_decimal
from extractor.reconcile.book import slot_label
from extractor.reconcile.labels import FieldLabels, hints
from extractor.reconcile.models import CheckResult, FigureRef, ReconcileOptions, fmt_number
from extractor.reconcile.sources import source_of

_YEAR_TITLE = re.compile(r"(20\d{2})\s*年度?[^\n。，,]{0,20}?决算")
_NOT_TITLE = ("与", "比", "较", "上年", "相比", "对比")
_AMOUNT = r"((?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)\s*万元"
_CHANGE = re.compile(r"与[^，,。；]{1,16}?相比[，,]\s*[^，,。；0-9]{0,24}?(增加|减少)\s*" + _AMOUNT
                     + r"[，,]\s*(增长|下降|减少|增加)\s*(\d+(?:\.\d+)?)\s*[%％]")
_BEFORE_AMOUNT = re.compile(_AMOUNT)


@dataclass(frozen=True)
class TitleYear:
    year: int
    statement: FindingStatement


def title_years(doc: DocumentData) -> list[TitleYear]:
    """The fiscal years named in titles and headings (short lines with ``20XX年度…决算``),
    leaving out sentences that compare with another year."""
    text = doc.normalized.text
    out = []
    for match in _YEAR_TITLE.finditer(text):
        start = text.rfind("\n", 0, match.start()) + 1
        end = text.find("\n", match.start())
        line = text[start: end if end >= 0 else len(text)].strip()
        lead = text[max(0, match.start() - 6): match.start()]
        if len(line) > 60 or any(w in lead for w in _NOT_TITLE):
            continue
        out.append(TitleYear(int(match[1]), FindingStatement(quote=line, page=doc.page_at(match.start()),
                                                             value=int(match[1]))))
    return out


def _check(rule: str, name: str, passed: bool, figures: list[FigureRef], summary: str, *,
           blamed: list[str] | None = None) -> CheckResult:
    if blamed is None:
        blamed = [] if passed else [f.slot for f in figures[:1]]
    return CheckResult(rule=rule, name=name, kind="text", passed=passed, figures=figures, expected=0.0,
                       actual=0.0, difference=0.0, tolerance=0.0, blamed=blamed, summary=summary)


def _year_check(facts: list[Fact], doc: DocumentData) -> list[CheckResult]:
    fact = next((f for f in facts if f.field == "meta.fiscal_year" and isinstance(f.value, int)), None)
    years = title_years(doc)
    if fact is None or len(years) < 2:
        return []
    counts = Counter(y.year for y in years)
    same = counts[int(fact.value)]  # type: ignore[arg-type]
    passed = same >= 2 and len(counts) == 1
    ref = FigureRef(slot="meta.fiscal_year", field="meta.fiscal_year",
                    value=float(fact.value),  # type: ignore[arg-type]
                    quote=years[0].statement.quote, page=years[0].statement.page)
    return [_check("text.fiscal_year", "财政年度在封面、标题与表格中一致", passed, [ref],
                   f"{fact.value} stated in {same} of {len(years)} titles and headings"
                   + ("" if passed else "; others: " + ", ".join(f"{y}×{n}" for y, n in counts.items())))]


def _fold(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if not ch.isspace())


_DEPT_LINE = re.compile(r"(?:编制单位|单位名称|部门名称|填报单位)\s*[:：]\s*([\u4e00-\u9fff（）()]{3,40})")


def _department_check(facts: list[Fact], doc: DocumentData) -> list[CheckResult]:
    fact = next((f for f in facts if f.field == "meta.department" and isinstance(f.value, str)), None)
    if fact is None or not fact.value:
        return []
    name = str(fact.value)
    times = _fold(doc.normalized.text).count(_fold(name))
    others = [m[1] for m in _DEPT_LINE.finditer(doc.normalized.text)
              if _fold(m[1]) not in _fold(name) and _fold(name) not in _fold(m[1])]
    if times < 2 and not others:
        return []
    passed = times >= 2 and not others
    ref = FigureRef(slot="meta.department", field="meta.department", value=name,
                    quote=fact.evidence.quote if fact.evidence else None)
    return [_check("text.department", "部门名称在封面、标题与表格中一致", passed, [ref],
                   f"{name} printed {times} times" + (f"; a table names {others[0]}" if others else ""))]


def _class_code(name: str, labels: FieldLabels) -> str | None:
    norm = normalize_name(name)
    found = [code for code, names in labels.class_codes.items()
             if any(norm.startswith(normalize_name(n)) for n in names)]
    return found[0] if len(found) == 1 else None


def _code_checks(facts: list[Fact], labels: FieldLabels) -> list[CheckResult]:
    """Items whose 7-digit code is not inside their class's code: the item is keyed to the
    wrong class (or its code misread), so its figures are in doubt."""
    out = []
    seen: set[tuple[str, ...]] = set()
    for fact in primary_facts(facts):
        key = fact.key or {}
        code, klass = key.get("code"), key.get("class")
        if fact.list_path != "general_budget.items" or not code or not klass or fact.item_key() in seen:
            continue
        seen.add(fact.item_key())
        want = _class_code(klass, labels)
        if want is None or not re.fullmatch(r"\d{7}", code) or code.startswith(want):
            continue
        item = [f for f in primary_facts(facts) if f.item_key() == fact.item_key()
                and not f.field.startswith("aux.") and isinstance(f.value, int | float)]
        refs = [FigureRef(slot=slot_label(f.slot_id()), field=f.field, key=f.key,
                          value=float(f.value),  # type: ignore[arg-type]
                          quote=f.evidence.quote if f.evidence else None) for f in item]
        if refs:
            out.append(_check("text.item_code", "各项科目编码属于其所在类的编码", False, refs,
                              f"item code {code} is not inside class {klass} ({want})",
                              blamed=[r.slot for r in refs]))
    return out


def _change_checks(facts: list[Fact], doc: DocumentData, labels: FieldLabels) -> list[CheckResult]:
    """``Z万元。与上年相比，增加X万元，增长Y%``: Y = 100·X / (Z − X) (减少: Z + X)."""
    text = doc.normalized.text
    at: dict[tuple[object, ...], Fact] = {}
    for fact in primary_facts(facts):
        src = source_of(fact, hints(fact.field, labels))
        if src is not None and src[0] == "text" and isinstance(fact.value, int | float) \
                and not fact.field.startswith(("aux.", "meta.")):
            at[src] = fact
    out = []
    for match in _CHANGE.finditer(text):
        head = text[max(0, match.start() - 80): match.start()]
        amounts = list(_BEFORE_AMOUNT.finditer(head))
        if not amounts:
            continue
        last = amounts[-1]
        offset = match.start() - len(head) + last.start(1)
        found = at.get(("text", offset))
        try:
            z = float(parse_amount(last[1] + "万元").value)
            x = float(parse_amount(match[2] + "万元").value)
            y, y_places = parse_decimal(match[4])
        except NumberFormatError:
            continue
        if found is None or x == 0:
            continue  # nothing read there, or no change: the sentence pins nothing
        fact = found
        up = match[1] == "增加"
        base = z - x if up else z + x
        if base <= 0:
            continue
        expected = 100 * x / base
        tol = 10.0 ** -y_places + 100 * 0.005 * (1 / base + x / base ** 2) * 2
        passed = abs(float(y) - expected) <= tol + 1e-9
        slope = 100 * x / base ** 2
        ref = FigureRef(slot=slot_label(fact.slot_id()), field=fact.field, key=fact.key, value=z,
                        quote=text[max(0, offset - 20): match.end()], raw=last.group(0))
        result = _check("text.stated_change", "与上年（年初预算）相比的增减额与增减率一致", passed, [ref],
                        f"stated {y}% vs 100 × {fmt_number(x)} / {fmt_number(base)} = {expected:.4f}%")
        result.tolerance = tol / slope if slope > 0 else float("inf")  # how far the figure may move
        out.append(result)
    return out


def text_checks(facts: list[Fact], doc: DocumentData, labels: FieldLabels) -> list[CheckResult]:
    return [*_year_check(facts, doc), *_department_check(facts, doc), *_code_checks(facts, labels),
            *_change_checks(facts, doc, labels)]


def apply_text_checks(facts: Iterable[Fact], checks: list[CheckResult],
                      options: ReconcileOptions | None = None) -> None:
    """Statuses: a failing text check flags what it blames; a passing one that pins its
    figure (a title year stated alike, a printed change that fixes the figure's digits to
    within the verify limit) verifies a value nothing else had checked."""
    limit = (options or ReconcileOptions()).verify_limit
    by_slot: dict[str, Fact] = {slot_label(f.slot_id()): f for f in primary_facts(list(facts))}
    for check in checks:
        for slot in check.blamed if not check.passed else []:
            blamed = by_slot.get(slot)
            if blamed is not None and blamed.status is not CheckStatus.REPAIRED:
                blamed.status = CheckStatus.FLAGGED
        if check.passed and check.independent and check.tolerance <= limit:
            for ref in check.figures:
                pinned = by_slot.get(ref.slot)
                if pinned is not None and pinned.status is CheckStatus.UNCHECKED:
                    pinned.status = CheckStatus.VERIFIED
