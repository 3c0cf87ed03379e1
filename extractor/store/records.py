"""Facts as ``record`` rows, and a document's checks as one compressed set.

A record's quote is the document's text between its offsets for every fact the rules
extractor reads (and most model facts): such a quote is stored as NULL and read back from
the text. A check's figures repeat the same findings (slot, field, quote, raw, page …)
across dozens of checks; a set stores each distinct figure once and the checks refer to
it by position, and the whole set is compressed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from extractor.core.records import CheckStatus, Evidence, Fact
from extractor.store.content import pack_json, unpack_json
from extractor.store.models import Record, document_key

SET_FORMAT = 1


class StoredCheck(BaseModel):
    """One check of a stored run, as ``extractor checks``, explain and the review page read it."""

    id: int | None = None
    """Position of the check in its run (1-based, in the order stored)."""
    run_id: int
    document: str
    rule: str
    name: str
    passed: bool
    detail: dict[str, Any] | None = None


def fact_values(run_id: int, document: str, fact: Fact, text: str | None = None) -> dict[str, Any]:
    """A fact as the column values of its ``record`` row (for bulk inserts); the quote is
    left out when it is ``text[start:end]``."""
    ev = fact.evidence
    quote = ev.quote if ev else None
    if (ev is not None and text is not None and ev.start is not None and ev.end is not None
            and 0 <= ev.start <= ev.end <= len(text) and text[ev.start:ev.end] == quote):
        quote = None
    return {"run_id": run_id, "doc": document_key(document), "field": fact.field, "key": fact.key,
            "value": fact.value, "raw": fact.raw, "decimals": fact.decimals,
            "quote": quote, "chunk_index": ev.chunk_index if ev else None,
            "page": ev.page if ev else None, "start": ev.start if ev else None,
            "end": ev.end if ev else None,
            "bbox": list(ev.bbox) if ev and ev.bbox else None,
            "row_label": ev.row_label if ev else None,
            "column_header": ev.column_header if ev else None,
            "extractor": fact.extractor, "priority": fact.priority,
            "status": fact.status.value, "note": fact.note}


def row_to_fact(row: Record, text: str) -> Fact:
    evidence = None
    quote = row.quote
    if quote is None and row.start is not None and row.end is not None:
        quote = text[row.start:row.end]
    if quote is not None:
        bbox = (row.bbox[0], row.bbox[1], row.bbox[2], row.bbox[3]) if row.bbox else None
        evidence = Evidence(quote=quote, chunk_index=row.chunk_index, page=row.page,
                            start=row.start, end=row.end, bbox=bbox, row_label=row.row_label,
                            column_header=row.column_header)
    return Fact(field=row.field, key=row.key, value=row.value, raw=row.raw,
                decimals=row.decimals, evidence=evidence, extractor=row.extractor,
                priority=row.priority, status=CheckStatus(row.status), note=row.note)


def pack_checks(checks: Sequence[dict[str, Any]]) -> bytes:
    """Check rows (``rule``, ``name``, ``passed``, ``detail``) as one compressed set in which
    every distinct figure is written once."""
    figures: dict[str, int] = {}
    table: list[Any] = []
    rows: list[Any] = []
    for check in checks:
        if check.get("detail") is None:
            rows.append([check["rule"], check["name"], bool(check["passed"]), None])
            continue
        detail = dict(check["detail"])
        refs = []
        for figure in detail.get("figures") or []:
            canonical = json.dumps(figure, sort_keys=True, ensure_ascii=False)
            if canonical not in figures:
                figures[canonical] = len(table)
                table.append(figure)
            refs.append(figures[canonical])
        if "figures" in detail:
            detail["figures"] = refs
        rows.append([check["rule"], check["name"], bool(check["passed"]), detail])
    return pack_json({"v": SET_FORMAT, "figures": table, "checks": rows})


def unpack_checks(blob: bytes) -> list[dict[str, Any]]:
    """The check rows :func:`pack_checks` was given, figures in place again."""
    data = unpack_json(blob)
    table = data["figures"]
    out = []
    for rule, name, passed, detail in data["checks"]:
        if detail is not None and "figures" in detail:
            detail["figures"] = [dict(table[i]) for i in detail["figures"]]
        out.append({"rule": rule, "name": name, "passed": passed, "detail": detail})
    return out
