"""The one way to count a run's findings by check status.

``run``, ``runs show``, ``reconcile`` and ``checks`` all report how many values of a run
were flagged or repaired; before this module each counted its own way (all facts, primary
facts, failing checks) and three commands gave three numbers for one run. Every count now
comes from :func:`finding_counts` over the contract slots a user sees in an export: one
primary fact per slot, auxiliary facts (stated shares, rates only the checks use) left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from extractor.core.records import CheckStatus, Fact, slot_facts
from extractor.store import Store


@dataclass(frozen=True)
class FindingCounts:
    """Contract slots filled, and how many of them carry each check status."""

    fields: int = 0
    verified: int = 0
    repaired: int = 0
    flagged: int = 0
    unchecked: int = 0

    def __add__(self, other: FindingCounts) -> FindingCounts:
        return FindingCounts(*(a + b for a, b in zip(asdict(self).values(), asdict(other).values(),
                                                     strict=True)))

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def finding_counts(facts: Sequence[Fact]) -> FindingCounts:
    """Counts over the slots of an export (the primary fact of each slot, no ``aux.`` facts)."""
    statuses = [f.status for f in slot_facts(list(facts)).values()]
    return FindingCounts(fields=len(statuses),
                         verified=statuses.count(CheckStatus.VERIFIED),
                         repaired=statuses.count(CheckStatus.REPAIRED),
                         flagged=statuses.count(CheckStatus.FLAGGED),
                         unchecked=statuses.count(CheckStatus.UNCHECKED))


def run_counts(store: Store, run_id: int, document: str | None = None) -> dict[str, FindingCounts]:
    """Stored counts of a run by document SHA-256 (one document when ``document`` is given)."""
    return {rd.document: finding_counts(store.facts(run_id, rd.document))
            for rd in store.run_documents(run_id) if document in (None, rd.document)}


def total(counts: dict[str, FindingCounts]) -> FindingCounts:
    out = FindingCounts()
    for c in counts.values():
        out = out + c
    return out


def counts_line(counts: FindingCounts) -> str:
    """``12 fields: 3 flagged, 1 repaired, 8 verified, 0 unchecked`` (the same words everywhere)."""
    return (f"{counts.fields} fields: {counts.flagged} flagged, {counts.repaired} repaired, "
            f"{counts.verified} verified, {counts.unchecked} unchecked")
