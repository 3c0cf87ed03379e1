"""One-to-one matching of predicted list items to gold items, by the contract's keys.

``general_budget.classes`` and ``performance_projects`` match by name,
``general_budget.items`` by code when both sides print one, else by (section, item)
names. A match only decides which two items are compared; it does not make their names
equal (the scorer scores the names as slots of their own).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from extractor.core.records import normalize_name
from extractor.evaluate.results import MatchKind

Key = tuple[str, ...]


def _code(value: Any) -> str:
    if value is None:
        return ""
    return "".join(unicodedata.normalize("NFKC", str(value)).split())


@lru_cache(maxsize=65536)
def name_key(name: str | None, drop_project_suffix: bool = False) -> str:
    """The contract's name normalisation, cached: the same names recur in every document."""
    return normalize_name(name, drop_project_suffix=drop_project_suffix)


def item_key(list_path: str, item: Mapping[str, Any]) -> Key:
    """Normalised name key: ``(section, item)`` for budget items, ``(name,)`` otherwise."""
    names = ("section", "item") if list_path == "general_budget.items" else ("name",)
    return tuple(name_key(item.get(n), True) for n in names)


def item_label(list_path: str, item: Mapping[str, Any]) -> str:
    """How a list item is shown to people (printed names, code in brackets)."""
    if list_path != "general_budget.items":
        return str(item.get("name"))
    label = " / ".join(str(item.get(k)) for k in ("class", "section", "item") if item.get(k))
    return f"{label} [{item['code']}]" if item.get("code") else label


def _contains(a: Key, b: Key) -> bool:
    """Component-wise: each name equals, or one contains the other (an empty name — not
    printed — is contained in anything); keys with no name at all never match."""
    if not any(a) or not any(b):
        return False
    return all(x in y or y in x for x, y in zip(a, b, strict=True))


def match_items(list_path: str, gold: list[dict[str, Any]],
                pred: list[dict[str, Any]]) -> list[tuple[int, int, MatchKind]]:
    """One-to-one matching of predicted to gold list items.

    Order matters for one-to-one-ness: codes first (budget items, when both sides have
    one), then names equal after normalisation, then containment among what is left,
    accepted only when it is unique in both directions, so a tie never matches. Two
    items that both carry a code are never matched by name: differing codes mean
    different items.
    """
    codes_g = [_code(g.get("code")) for g in gold]
    codes_p = [_code(p.get("code")) for p in pred]
    keys_g = [item_key(list_path, g) for g in gold]
    keys_p = [item_key(list_path, p) for p in pred]
    pairs: list[tuple[int, int, MatchKind]] = []
    used_g: set[int] = set()
    used_p: set[int] = set()

    def take(gi: int, pi: int, how: MatchKind) -> None:
        pairs.append((gi, pi, how))
        used_g.add(gi)
        used_p.add(pi)

    for gi, code in enumerate(codes_g):
        pi = next((j for j, c in enumerate(codes_p) if code and c == code and j not in used_p),
                  None)
        if pi is not None:
            take(gi, pi, "code")

    def allowed(gi: int, pi: int) -> bool:
        return gi not in used_g and pi not in used_p and not (codes_g[gi] and codes_p[pi])

    for gi in range(len(gold)):
        pi = next((j for j in range(len(pred))
                   if allowed(gi, j) and any(keys_g[gi]) and keys_p[j] == keys_g[gi]), None)
        if pi is not None:
            take(gi, pi, "exact")

    cand_g = {gi: {pi for pi in range(len(pred))
                   if allowed(gi, pi) and _contains(keys_g[gi], keys_p[pi])}
              for gi in range(len(gold)) if gi not in used_g}
    cand_p: dict[int, set[int]] = {}
    for gi, cands in cand_g.items():
        for pi in cands:
            cand_p.setdefault(pi, set()).add(gi)
    for gi, cands in cand_g.items():
        if len(cands) == 1:
            (pi,) = cands
            if cand_p[pi] == {gi}:
                pairs.append((gi, pi, "containment"))
    return sorted(pairs)
