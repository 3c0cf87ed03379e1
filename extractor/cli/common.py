"""Helpers shared by the command modules: settings with CLI overrides, the store, tables."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from extractor.core.settings import Settings, load_settings
from extractor.store import Store


def settings_from(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    if getattr(args, "db", None):
        overrides["database_url"] = args.db
    return load_settings(**overrides)


def open_store(settings: Settings) -> Store:
    return Store.open(settings.database_url)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain aligned table; CJK characters count double so columns line up in a terminal."""

    def width(text: str) -> int:
        return sum(2 if "\u2e80" <= ch <= "\uffef" else 1 for ch in text)

    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(width(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c + " " * (widths[i] - width(c)) for i, c in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
