"""Document findings: what is wrong with the report itself, told apart from doubts about
our reading.

When two printed statements of one figure disagree and each reading is certain (clean
digits on a page that was not OCR'd, and neither value one OCR slip away from the
other), the report contradicts itself: that is a finding about the report, stored and
exported as such. The values themselves keep the status the arithmetic gives them.
Kinds: ``figure_printed_differently``, ``total_not_sum`` (a total that is not the sum its
own table prints), ``year_inconsistent`` / ``department_inconsistent``,
``mandatory_table_missing`` (a table of the national template) and
``wording_contradicts_figures`` (``决算数大于预算数`` where 决算 < 预算).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from extractor.core.records import DocumentFinding, FindingStatement
from extractor.core.types import DocumentData
from extractor.numbers import NumberFormatError, parse_amount
from extractor.reconcile.labels import FieldLabels, default_labels
from extractor.reconcile.models import CheckResult, FigureRef, ReconcileResult, fmt_number
from extractor.reconcile.repair import ocr_candidates
from extractor.reconcile.textchecks import title_years

_CLEAN = re.compile(r"^[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?\s*"
                    r"(?:万元|元|亿元|个|人次|人|辆|批次|批|台)?$")
_DEPT_LINE = re.compile(r"(?:编制单位|单位名称|部门名称|填报单位)\s*[:：]\s*([\u4e00-\u9fff（）()]{3,40})")
_COMPARE = re.compile(r"决算数?\s*(大于|高于|超过|多于|小于|低于|少于|等于)\s*(?:年初)?预算数?")
_AMOUNT = r"((?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?\s*(?:万元|元|亿元))"
_BUDGET_AMOUNT = re.compile(r"预算(?:数)?(?:为|是)?\s*" + _AMOUNT)
_ACTUAL_AMOUNT = re.compile(r"决算(?:数)?(?:为|是)?\s*" + _AMOUNT)
_MIN_TABLES_PRESENT = 3
"""A text with fewer of the template's tables is a fragment or a narrative-only file:
missing tables say nothing there."""


def _fold(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if not ch.isspace())


def _certain(ref: FigureRef, doc: DocumentData | None) -> bool:
    """A clean printed number on a page that was not OCR'd."""
    if ref.raw is None or not _CLEAN.match(unicodedata.normalize("NFKC", ref.raw).strip()):
        return False
    if doc is not None and ref.page is not None and 0 < ref.page <= len(doc.pages):
        return not doc.pages[ref.page - 1].source.startswith("ocr")
    return True


def _num(ref: FigureRef) -> float:
    return ref.value if isinstance(ref.value, float | int) else float("nan")


def _slip_apart(a: FigureRef, b: FigureRef) -> bool:
    """One value is a single OCR slip (or 元/万元 slip) of the other."""
    for x, y in ((a, b), (b, a)):
        for cand in ocr_candidates(_num(x), decimals=x.decimals, raw=x.raw):
            if abs(cand.value - _num(y)) <= 0.005:
                return True
    return False


def _statement(ref: FigureRef) -> FindingStatement:
    return FindingStatement(quote=ref.quote, page=ref.page, value=ref.value)


def _field_path(ref: FigureRef) -> str:
    return ref.slot.split(" (", 1)[0]


def _printed_differently(check: CheckResult, repaired: set[str], doc: DocumentData | None
                         ) -> DocumentFinding | None:
    if check.passed or check.kind != "same" or len(check.figures) != 2:
        return None
    first, second = check.figures
    if second.role != "mention" or _field_path(first) in repaired:
        return None
    if not (_certain(first, doc) and _certain(second, doc)) or _slip_apart(first, second):
        return None
    return DocumentFinding(
        kind="figure_printed_differently", fields=[_field_path(first)],
        statements=[_statement(first), _statement(second)],
        message=(f"{_field_path(first)} is printed as {fmt_number(first.value)} and as "
                 f"{fmt_number(second.value)} (万元 / count): the report states one figure two ways"))


def _explained_by_slip(check: CheckResult) -> bool:
    """A single OCR slip of one figure closes the sum: likely our reading, not the report."""
    for n, ref in enumerate(check.figures):
        for cand in ocr_candidates(_num(ref), decimals=ref.decimals, raw=ref.raw):
            delta = cand.value - _num(ref)
            diff = check.difference + (delta if n == 0 else -delta)
            if abs(diff) <= check.tolerance + 1e-9:
                return True
    return False


def _not_sum(check: CheckResult, repaired: set[str], doc: DocumentData | None) -> DocumentFinding | None:
    if check.passed or check.kind != "sum" or len(check.figures) < 2:
        return None
    refs = check.figures
    places = {(r.page, r.chunk) for r in refs}
    if any(r.role != "finding" or _field_path(r) in repaired or r.chunk is None for r in refs) \
            or len(places) != 1 or any("\t" not in (r.quote or "\t") and "  " not in (r.quote or "  ")
                                       for r in refs) \
            or not all(_certain(r, doc) for r in refs) or _explained_by_slip(check):
        return None
    total = refs[0]
    return DocumentFinding(
        kind="total_not_sum", fields=[_field_path(r) for r in refs],
        statements=[_statement(r) for r in refs],
        message=(f"{check.name}: the table prints {fmt_number(total.value)} but its parts sum to "
                 f"{fmt_number(check.expected)} (off by {fmt_number(abs(check.difference))})"))


def _year_findings(doc: DocumentData) -> list[DocumentFinding]:
    found = title_years(doc)
    years = Counter(t.year for t in found)
    if len(years) < 2:
        return []
    first: dict[int, FindingStatement] = {}
    for t in found:
        first.setdefault(t.year, t.statement)
    main = years.most_common(1)[0][0]
    return [DocumentFinding(kind="year_inconsistent", fields=["meta.fiscal_year"],
                            statements=[first[main], *(first[y] for y in years if y != main)],
                            message=(f"titles and headings name fiscal year {main} ({years[main]}×) but also "
                                     + ", ".join(f"{y} ({n}×)" for y, n in years.items() if y != main)))]


def _department_findings(doc: DocumentData, department: str | None) -> list[DocumentFinding]:
    if not department:
        return []
    text = doc.normalized.text
    out = []
    for match in _DEPT_LINE.finditer(text):
        name = re.sub(r"[（(].*$", "", match[1])
        if name and name not in department and department not in name:
            out.append(FindingStatement(quote=match.group(0), page=doc.page_at(match.start()), value=name))
    if not out:
        return []
    return [DocumentFinding(kind="department_inconsistent", fields=["meta.department"],
                            statements=[FindingStatement(value=department), *out[:3]],
                            message=f"the report is {department}'s, but a table names {out[0].value}")]


def _table_findings(doc: DocumentData, labels: FieldLabels) -> list[DocumentFinding]:
    folded = _fold(doc.normalized.text)
    present = {title: any(re.search(p, folded) for p in pats)
               for title, pats in labels.mandatory_tables.items()}
    if sum(present.values()) < _MIN_TABLES_PRESENT:
        return []
    return [DocumentFinding(kind="mandatory_table_missing", fields=[],
                            message=f"the national template's table {title} is not in the report")
            for title, found in present.items() if not found]


def _wording_findings(doc: DocumentData) -> list[DocumentFinding]:
    text = doc.normalized.text
    out = []
    for match in _COMPARE.finditer(text):
        start = max(text.rfind("。", 0, match.start()), text.rfind("\n\n", 0, match.start())) + 1
        sentence = text[start: match.end()]
        budget, actual = _BUDGET_AMOUNT.search(sentence), _ACTUAL_AMOUNT.search(sentence)
        if budget is None or actual is None:
            continue
        try:
            b, a = parse_amount(budget[1]).value, parse_amount(actual[1]).value
        except NumberFormatError:
            continue
        said = match[1]
        holds = (a > b if said in "大于高于超过多于" else a < b if said in "小于低于少于" else a == b)
        if holds:
            continue
        out.append(DocumentFinding(
            kind="wording_contradicts_figures", fields=[],
            statements=[FindingStatement(quote=sentence.strip(), page=doc.page_at(match.start()),
                                         value=said)],
            message=f"the text says 决算数{said}预算数, but it prints 预算 {budget[1]} and 决算 {actual[1]}"))
    return out


def _stated_rate(check: CheckResult, repaired: set[str], doc: DocumentData | None) -> DocumentFinding | None:
    """A printed share or completion rate that its own printed figures contradict, when
    the figures are proven elsewhere (the check blames only the percentage)."""
    if check.passed or check.kind != "ratio" or len(check.figures) != 3:
        return None
    stated = check.figures[0]
    if check.blamed != [stated.slot] or any(_field_path(r) in repaired for r in check.figures) \
            or not all(_certain(r, doc) for r in check.figures[1:]) or stated.raw is None \
            or not re.fullmatch(r"\d+(?:\.\d+)?\s*[%％]", stated.raw.strip()):
        return None
    target = check.figures[1]
    return DocumentFinding(
        kind="wording_contradicts_figures", fields=[_field_path(target), _field_path(check.figures[2])],
        statements=[_statement(r) for r in check.figures],
        message=f"{check.name}: the report prints {stated.raw.strip()} but its figures give "
                f"{check.expected:.2f}%")


def document_findings(result: ReconcileResult, doc: DocumentData | None = None, *,
                      department: str | None = None, labels: FieldLabels | None = None
                      ) -> list[DocumentFinding]:
    """Every finding about the report: from the checks' disagreements and from its text."""
    repaired = {r.slot for r in result.repairs}
    out: list[DocumentFinding] = []
    for check in result.checks:
        found = (_printed_differently(check, repaired, doc) or _not_sum(check, repaired, doc)
                 or _stated_rate(check, repaired, doc))
        if found is not None:
            out.append(found)
    if doc is not None:
        out += _year_findings(doc)
        out += _department_findings(doc, department)
        out += _table_findings(doc, labels or default_labels())
        out += _wording_findings(doc)
    return out
