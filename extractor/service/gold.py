"""Reviewed documents become gold files: the extraction with the reviewer's corrections.

A correction is stored beside the extraction, never over it; here the two meet. The
latest correction of a slot wins; ``accept`` keeps the extracted value. The result is
validated against the contract before it is written, so the evaluation harness can
score against the folder at once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from extractor.core.errors import ConfigError
from extractor.core.records import LIST_KEYS, FinalAccounts, assemble, field_kind
from extractor.core.records import Fact as _Fact
from extractor.service import data
from extractor.service.models import Correction
from extractor.store import Store


def parse_value(field: str, text: str | float | int | None) -> float | int | str | None:
    """A typed value for a slot from what a reviewer typed (empty: the report states none)."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    kind = field_kind(field)
    if kind == "name":
        return str(text).strip()
    raw = str(text).strip().replace(",", "").replace("，", "")
    try:
        number = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{field}: {text!r} is not a number") from exc
    if kind in ("count", "year"):
        if number != int(number):
            raise ConfigError(f"{field}: a {kind} is a whole number, not {text!r}")
        return int(number)
    return number


def _identity(field: str, key: dict[str, Any] | None) -> tuple[str, tuple[str, ...]]:
    return _Fact(field=field, key=key, value=None).slot_id()


def apply_corrections(record: dict[str, Any], corrections: list[Correction]) -> dict[str, Any]:
    """``record`` (contract JSON) with the latest ``correct`` of each slot applied."""
    latest: dict[tuple[str, tuple[str, ...]], Correction] = {}
    for c in corrections:
        latest[_identity(c.field, c.key)] = c
    for c in latest.values():
        if c.action != "correct":
            continue
        head, _, leaf = c.field.rpartition(".")
        probe = _Fact(field=c.field, key=c.key, value=None)
        list_path = probe.list_path
        if list_path is None:
            target = record
            for part in head.split(".") if head else []:
                target = target.setdefault(part, {})
            target[leaf] = c.value
            continue
        section, _, attr = list_path.partition(".")
        items: list[dict[str, Any]] = record[section][attr] if attr else record[section]
        wanted = _identity(c.field, c.key)
        for item in items:
            if _identity(c.field, {k: item.get(k) for k in LIST_KEYS[list_path]}) == wanted:
                item[leaf] = c.value
                break
        else:
            items.append({**(c.key or {}), leaf: c.value})
    return record


def gold_record(store: Store, sha256: str, run_id: int) -> FinalAccounts:
    doc = store.find_document(sha256)
    if doc is None:
        raise ConfigError(f"document {sha256[:12]} is not in the database")
    facts = store.facts(run_id, sha256)
    record = assemble(doc.doc_id, facts, with_status=False).to_json_dict()
    record = apply_corrections(record, data.corrections(store, sha256))
    return FinalAccounts.model_validate(record)


def export_gold(store: Store, out_dir: Path, run_id: int | None = None) -> list[Path]:
    """Gold files for every reviewed document (or every document of ``run_id``)."""
    if run_id is not None:
        store.get_run(run_id)
        targets = [(rd.document, run_id) for rd in store.run_documents(run_id)
                   if rd.status in data.FINISHED]
    else:
        targets = [(r.document, r.run_id or data.latest_run(store, r.document))
                   for r in data.reviewed_documents(store)]
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for sha, rid in targets:
        record = gold_record(store, sha, rid)
        path = out_dir / f"{record.doc_id}.json"
        path.write_text(json.dumps(record.to_json_dict(), ensure_ascii=False, indent=2) + "\n",
                        encoding="utf-8")
        written.append(path)
    return written
