"""The review page's content: every slot by contract section, with its value, status,
evidence, box on the page, the checks it takes part in, its repair and corrections.

Built from the store only (no re-extraction). Boxes come from the table layer's cell
boxes when the evidence has them, else from finding the printed value on the original
page; a text document is shown as its page text with each value's quote marked.
"""

from __future__ import annotations

import bisect
import html
from pathlib import Path
from typing import Any

from extractor.core.records import (
    Fact,
    assemble,
    iter_scalar_slots,
    section_of,
    slot_facts,
)
from extractor.core.settings import Settings
from extractor.core.types import DocumentData
from extractor.service import data, pages
from extractor.store import Document, Store
from extractor.summary import finding_counts

SECTION_ORDER = ("meta", "summary", "income_sources", "expense_uses", "general_budget",
                 "basic_expense", "project_expense_total", "three_public", "gov_fund_expense",
                 "state_capital_expense", "operating_costs", "procurement", "assets",
                 "performance_projects")


def slot_label(fact: Fact) -> str:
    """The name the reconciler gives a slot in checks and repairs (list items by key)."""
    key = fact.item_key()
    if not key:
        return fact.field
    head, leaf = fact.field.rsplit(".", 1)
    return f"{head}[{'/'.join(k for k in key if k)}].{leaf}"


def slot_title(path: str, key: dict[str, str | None] | None) -> str:
    """A readable name for a slot: list items by their printed name, not only their index."""
    if not key or "[" not in path:
        return path
    head, _, rest = path.partition("[")
    index, _, leaf = rest.partition("].")
    name = key.get("item") or key.get("name") or key.get("section") or key.get("class") or ""
    return f"{head.rsplit('.', 1)[-1]}[{index}] {name} · {leaf}"


def _mentions(label: str, figure_slot: str) -> bool:
    return figure_slot == label or figure_slot.startswith(label + " (")


def _checks(store: Store, run_id: int, sha: str) -> list[dict[str, Any]]:
    out = []
    for c in store.checks(run_id, sha):
        detail = c.detail or {}
        out.append({"rule": c.rule, "name": c.name, "passed": c.passed,
                    "summary": detail.get("summary", ""), "blamed": detail.get("blamed", []),
                    "figures": [{"slot": f.get("slot"), "value": f.get("value"), "role": f.get("role")}
                                for f in detail.get("figures", [])]})
    return out


def _repairs(store: Store, run_id: int, sha: str) -> dict[str, dict[str, Any]]:
    return {r.slot: {"before": r.before, "after": r.after, "rule": r.rule,
                     "source": (r.evidence or {}).get("source"),
                     "detail": (r.evidence or {}).get("detail")}
            for r in store.repairs(run_id, sha)}


def _raw_span(doc: DocumentData, fact: Fact) -> tuple[int, int, int] | None:
    """(page, raw start, raw end) of a fact's quote within its page's stored text."""
    ev = fact.evidence
    norm = doc.normalized
    if ev is None or ev.start is None or ev.end is None or not 0 <= ev.start < ev.end < len(norm.offsets):
        return None
    page = bisect.bisect_right(doc.page_starts, ev.start)
    start, end = norm.raw_span(ev.start, ev.end)
    return page, start, end


def _finding_flags(raws: dict[int, str], findings: list[dict[str, Any]]) -> dict[int, list[tuple[int, str]]]:
    """(page, position) of each document finding's statements in the page text."""
    flags: dict[int, list[tuple[int, str]]] = {}
    for finding in findings:
        for st in finding.get("statements", []):
            page, quote = st.get("page"), str(st.get("quote") or "").strip()
            at = raws.get(page, "").find(quote) if isinstance(page, int) and quote else -1
            if at >= 0:
                flags.setdefault(page, []).append((at, f"{finding.get('kind')}: {finding.get('message')}"))
    return flags


def _text_pages(doc: DocumentData, raws: dict[int, str], fields: list[dict[str, Any]],
                facts: dict[str, Fact], findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each page's text as HTML: every located value in a ``<mark>``, and a flag where a
    statement of a document finding begins."""
    spans: dict[int, list[tuple[int, int, str, str, str]]] = {}
    for f in fields:
        fact = facts.get(f["path"])
        where = _raw_span(doc, fact) if fact is not None else None
        if fact is None or where is None:
            continue
        page, start, end = where
        raw = raws.get(page, "")
        for text in pages.value_texts(fact):
            at = raw.find(text, start, end)
            if at >= 0:
                start, end = at, at + len(text)
                break
        spans.setdefault(page, []).append((start, end, "mark", f["path"], f["status"]))
        f["text_page"] = page
    for page, flags in _finding_flags(raws, findings).items():
        spans.setdefault(page, []).extend((at, at, "flag", message, "") for at, message in flags)
    out = []
    for number in sorted(raws):
        raw, parts, pos = raws[number], [], 0
        for at, end, kind, text, status in sorted(spans.get(number, [])):
            if kind == "mark" and at < pos:
                continue
            start = max(at, pos)  # a flag inside a mark goes right after it
            parts.append(html.escape(raw[pos:start]))
            if kind == "flag":
                parts.append(f'<span class="finding-flag" title="{html.escape(text)}">⚑</span>')
                pos = start
                continue
            parts.append(f'<mark class="v {status}" data-slot="{html.escape(text)}">'
                         f"{html.escape(raw[start:end])}</mark>")
            pos = end
        parts.append(html.escape(raw[pos:]))
        out.append({"number": number, "html": "".join(parts)})
    return out


def _locate_all(original: Path, fields: list[dict[str, Any]], facts: dict[str, Fact],
                findings: list[dict[str, Any]]) -> None:
    with pages.open_original(original) as pdf:
        for f in fields:
            fact = facts.get(f["path"])
            if fact is None or fact.evidence is None or not fact.evidence.page:
                continue
            if fact.evidence.page > pdf.page_count:
                continue
            found = pages.locate(pdf[fact.evidence.page - 1], fact)
            if found is not None:
                f["boxes"], f["method"] = found.boxes, found.method
        for finding in findings:
            for st in finding.get("statements", []):
                page = st.get("page")
                if isinstance(page, int) and 1 <= page <= pdf.page_count and st.get("quote"):
                    st["boxes"] = pages.locate_quote(pdf[page - 1], str(st["quote"]))


def build(store: Store, doc: Document, run_id: int, blobs: Path) -> dict[str, Any]:
    """Everything the review page shows, as one JSON-able dict."""
    facts_list = store.facts(run_id, doc.sha256)
    facts = slot_facts(facts_list)
    record = data.record_json(store, run_id, doc)
    checks = _checks(store, run_id, doc.sha256)
    repairs = _repairs(store, run_id, doc.sha256)
    corrections = data.corrections(store, doc.sha256)
    fields: list[dict[str, Any]] = []
    paths = [s.path for s in iter_scalar_slots(assemble(doc.doc_id, facts_list))]
    paths += [p for p in facts if p not in paths]
    for path in paths:
        fact = facts.get(path)
        field = fact.field if fact is not None else path
        entry: dict[str, Any] = {"path": path, "field": field, "section": section_of(path),
                                 "title": slot_title(path, fact.key if fact else None),
                                 "value": fact.value if fact else None,
                                 "raw": fact.raw if fact else None,
                                 "status": fact.status.value if fact else "missing",
                                 "key": fact.key if fact else None, "boxes": [], "method": None}
        if fact is not None and fact.evidence is not None:
            entry["evidence"] = fact.evidence.model_dump(mode="json", exclude_none=True)
        if fact is not None:
            label = slot_label(fact)
            entry["label"] = label
            entry["checks"] = [i for i, c in enumerate(checks)
                               if any(_mentions(label, str(g["slot"])) for g in c["figures"])]
            entry["repair"] = repairs.get(label)
        entry["corrections"] = [
            {"action": c.action, "value": c.value, "before": c.before, "note": c.note,
             "author": c.author, "created": c.created.isoformat(timespec="seconds")}
            for c in corrections if c.slot == path]
        fields.append(entry)
    fields.sort(key=lambda f: SECTION_ORDER.index(f["section"]) if f["section"] in SECTION_ORDER
                else len(SECTION_ORDER))
    findings = data.findings_of(record)
    original = pages.original_path(doc, blobs)
    visual = pages.is_visual(doc, original)
    payload: dict[str, Any] = {
        "document": {"sha256": doc.sha256, "doc_id": doc.doc_id, "pages": doc.pages,
                     "media_type": doc.media_type, "visual": visual,
                     "original": original is not None},
        "run_id": run_id, "fields": fields, "checks": checks, "findings": findings,
        "counts": finding_counts(facts_list).as_dict(),
    }
    loaded = store.load_document(doc.sha256)
    stored = loaded.pages
    if visual and original is not None:
        payload["document"]["page_sizes"] = pages.page_sizes(original)
        payload["document"]["ocr_pages"] = [p.number for p in stored if p.source.startswith("ocr")]
        _locate_all(original, fields, facts, findings)
    else:
        raws = {p.number: p.raw for p in stored}
        payload["text_pages"] = _text_pages(loaded, raws, fields, facts, findings)
    review = data.review_state(store, doc.sha256)
    payload["review"] = None if review is None else {
        "reviewed": review.reviewed, "author": review.author, "run_id": review.run_id,
        "created": review.created.isoformat(timespec="seconds")}
    return payload


def scanned_page_boxes(store: Store, doc: Document, run_id: int, number: int,
                       settings: Settings) -> dict[str, dict[str, Any]]:
    """Slot path → box of every value on a scanned page that has no box yet, found among
    the page's OCR words (read on first request, then cached)."""
    blobs, ocr = settings.service.blobs, settings.ocr
    original = pages.original_path(doc, blobs)
    if original is None or not pages.is_visual(doc, original) or not 1 <= number <= doc.pages:
        return {}
    wanted = {path: fact for path, fact in slot_facts(store.facts(run_id, doc.sha256)).items()
              if fact.evidence is not None and fact.evidence.page == number and fact.evidence.bbox is None}
    if not wanted:
        return {}
    cache = blobs / doc.sha256 / ".ocr" / f"page-{number}-{ocr.dpi}dpi.json"
    words = pages.ocr_words(original, number, cache, ocr)
    out = {}
    for path, fact in wanted.items():
        found = pages.locate_in_words(words, fact)
        if found is not None:
            out[path] = {"boxes": found.boxes, "method": found.method}
    return out
