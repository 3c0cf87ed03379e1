"""Why a value is wrong: the run's failing checks, repairs and document findings per slot.

A wrong value is easier to judge beside what the extractor itself concluded: a check
that failed on it (and so flagged it), a repair that changed it, or a finding that the
report contradicts itself there. The store keeps checks and repairs per run and
document, naming the figures they involve by slot field and list-item key; this module
maps them onto the *prediction's* slot paths (``general_budget.items[3].actual``), the
numbering :func:`~extractor.core.records.slot_facts` gives an exported record, so the
scorer's results and the run's verdicts meet on the same path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from extractor.core.records import AUX_PREFIX, Fact, FinalAccounts, slot_facts
from extractor.evaluate.results import CheckNote, DocContext, RepairNote

SlotId = tuple[str, tuple[str, ...]]


def slot_label(sid: SlotId) -> str:
    """How the reconciler names a slot in checks and repairs:
    ``general_budget.items[卫生健康/行政事业单位医疗/行政单位医疗].actual``."""
    field, key = sid
    if not key:
        return field
    head, leaf = field.rsplit(".", 1)
    return f"{head}[{'/'.join(k for k in key if k)}].{leaf}"


def _paths(facts: list[Fact]) -> tuple[dict[SlotId, str], dict[str, str]]:
    """Slot id → prediction path, and reconciler label → prediction path."""
    by_sid = {fact.slot_id(): path for path, fact in slot_facts(facts).items()}
    return by_sid, {slot_label(sid): path for sid, path in by_sid.items()}


def _figure_path(figure: Mapping[str, Any], by_sid: Mapping[SlotId, str]) -> str | None:
    field = figure.get("field")
    if not isinstance(field, str) or field.startswith(AUX_PREFIX):
        return None
    if figure.get("role", "finding") != "finding":
        return None
    fact = Fact(field=field, key=figure.get("key"), value=None)
    return by_sid.get(fact.slot_id())


def run_context(facts: list[Fact], checks: Iterable[Mapping[str, Any]],
                repairs: Iterable[Mapping[str, Any]],
                findings: Iterable[Mapping[str, Any]] = ()) -> DocContext:
    """One document's context from what the store holds for a run.

    ``checks`` are stored check rows as dicts (``passed``, ``name``, ``rule`` and the
    ``detail`` the reconciler wrote: ``figures`` with ``field``/``key``/``role``,
    ``blamed``, ``summary``); only failing ones are kept. ``repairs`` are stored repair
    rows (``slot`` label, ``before``, ``after``, ``rule``, ``evidence.source``).
    """
    by_sid, by_label = _paths(facts)
    out = DocContext(findings=[dict(f) for f in findings])
    for check in checks:
        if check.get("passed"):
            continue
        detail = check.get("detail") or {}
        paths = [p for p in (_figure_path(f, by_sid) for f in detail.get("figures") or [])
                 if p is not None]
        blamed = [by_label[b] for b in detail.get("blamed") or [] if b in by_label]
        out.failed_checks.append(CheckNote(
            name=str(check.get("name", "")), rule=str(check.get("rule", "")),
            summary=str(detail.get("summary", "")), paths=list(dict.fromkeys(paths)),
            blamed=blamed))
    for repair in repairs:
        label = str(repair.get("slot", ""))
        evidence = repair.get("evidence") or {}
        out.repairs.append(RepairNote(
            path=by_label.get(label), slot=label, before=repair.get("before"),
            after=repair.get("after"), rule=str(repair.get("rule", "")),
            source=evidence.get("source") if isinstance(evidence, Mapping) else None))
    return out


def findings_of(record: FinalAccounts) -> list[dict[str, Any]]:
    """The record's ``document_findings`` as plain dicts; ``[]`` when it has none (the
    extension is optional, and older records do not know it)."""
    raw = getattr(record, "document_findings", None) or (record.model_extra or {}).get(
        "document_findings") or []
    return [f.model_dump(mode="json") if isinstance(f, BaseModel) else dict(f) for f in raw]


def file_context(preds: Mapping[str, FinalAccounts]) -> dict[str, DocContext]:
    """Context of prediction files: only what they carry themselves (findings)."""
    return {doc: DocContext(findings=found) for doc, record in preds.items()
            if (found := findings_of(record))}
