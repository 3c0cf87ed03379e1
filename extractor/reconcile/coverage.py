"""Coverage: per contract field, the share of extracted values that no check and no
second reading touches.

A value nothing touches is trusted on its evidence alone; this is the part of a run a
reader should know is unconfirmed. A check touches a value when it was applicable and
its figures were independent statements (a check over one printed number read twice
touches nothing); a second reading is a ``same`` check against another statement or
another extractor.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from extractor.core.records import AUX_PREFIX, Fact, primary_facts
from extractor.reconcile.book import slot_label


@dataclass(frozen=True)
class CoverageRow:
    field: str
    values: int
    untouched: int

    @property
    def share(self) -> float:
        return self.untouched / self.values if self.values else 0.0


WHY_UNTOUCHED: dict[str, str] = {
    "meta.department": "a name: only the text's consistency (a document finding) speaks to it",
    "meta.fiscal_year": "a year: only the titles' consistency (a document finding) speaks to it",
    "assets.equipment_over_1m": "printed once and in no identity of the template",
    "performance_projects.score": "a self-evaluation score: bounded by 100, confirmed only when its "
                                  "two part scores are printed",
}
"""Why some fields stay untouched on reports that print each figure once."""


def coverage(facts: Iterable[Fact], checks: Iterable[Mapping[str, Any]]) -> list[CoverageRow]:
    """Rows per contract field of ``facts`` (a run's stored facts, all documents' mixed
    is fine when labels are per document: pass one document at a time and merge)."""
    touched: set[str] = set()
    for check in checks:
        if not check.get("independent", True):
            continue
        for fig in check.get("figures", []):
            touched.add(str(fig.get("slot", "")).split(" (", 1)[0])
    counts: dict[str, list[int]] = {}
    for fact in primary_facts(list(facts)):
        if fact.field.startswith(AUX_PREFIX) or fact.value is None:
            continue
        row = counts.setdefault(fact.field, [0, 0])
        row[0] += 1
        row[1] += slot_label(fact.slot_id()) not in touched
    return [CoverageRow(f, n, u) for f, (n, u) in sorted(counts.items())]


def merge(rows: Iterable[CoverageRow]) -> list[CoverageRow]:
    total: dict[str, list[int]] = {}
    for row in rows:
        acc = total.setdefault(row.field, [0, 0])
        acc[0] += row.values
        acc[1] += row.untouched
    return [CoverageRow(f, n, u) for f, (n, u) in sorted(total.items())]


def format_coverage(rows: list[CoverageRow]) -> str:
    lines = [f"{'field':<52} {'values':>6} {'untouched':>9} {'share':>7}"]
    for row in rows:
        why = f"  ({WHY_UNTOUCHED[row.field]})" if row.share == 1.0 and row.field in WHY_UNTOUCHED else ""
        lines.append(f"{row.field:<52} {row.values:>6} {row.untouched:>9} {100 * row.share:>6.1f}%{why}")
    values = sum(r.values for r in rows)
    untouched = sum(r.untouched for r in rows)
    lines.append(f"{'all fields':<52} {values:>6} {untouched:>9} {100 * untouched / max(values, 1):>6.1f}%")
    return "\n".join(lines)
