"""Helpers shared by the command modules: settings with CLI overrides, the store, tables.

Nothing heavy is imported at module level here or in any command module: building the
parser (``extractor --help``) must not load the database layer, PyMuPDF or the OCR
engine, so each handler imports what it uses.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from extractor.core.settings import Settings
    from extractor.store import Store

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
EXIT_NOTHING_DONE = 3
EXIT_INTERRUPTED = 130

EXIT_CODES_EPILOG = """\
exit status:
  0    every input was processed (documents done, empty or unchanged)
  1    some input failed (unreadable file, over a limit, extraction failed); the rest is stored
  2    bad arguments, settings or database URL: nothing was done
  3    nothing succeeded: no document could be ingested, every document failed,
       or every model call failed
  130  interrupted; finished work is stored, re-run to resume

document status (run, runs show, docs --json):
  done       extracted (and reconciled)
  empty      read, but not a final-accounts report (or a budget): no figures, with a note
  failed     could not be extracted: every model call failed, or the extractor raised;
             the reason is stored in full (runs show)
  skipped    finished earlier by an interrupted attempt of the same run, not redone
  unchanged  an identical finished run exists (same documents, settings, prompts, code,
             second source): reused as is, nothing extracted or written
"""


def settings_from(args: argparse.Namespace) -> Settings:
    from extractor.core.settings import load_settings

    overrides: dict[str, object] = {}
    if getattr(args, "db", None):
        overrides["database_url"] = args.db
    return load_settings(**overrides)


class _Opened(threading.local):
    """Stores a command opened, per thread (a server may run a command in a thread of
    its own); :func:`close_stores` closes them when the command ends."""

    def __init__(self) -> None:
        self.stores: list[Store] = []


_opened = _Opened()


def open_store(settings: Settings) -> Store:
    """The command's store; closed when the command ends (see Store.close)."""
    from extractor.store import Store

    store = Store.open(settings.database_url)
    _opened.stores.append(store)
    return store


def close_stores() -> None:
    """Close what the command opened: SQLite's log folded into the database file, and no
    connection left open (a long-lived caller, such as a test process running many
    commands, would otherwise hold one per command until it exits)."""
    while _opened.stores:
        _opened.stores.pop().close()


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output on stdout")


def print_json(payload: Any) -> None:
    """One JSON document on stdout (dates and paths as strings, Chinese kept readable)."""
    json.dump(payload, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


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


def short(text: str, width: int = 80) -> str:
    """``text`` cut at a word boundary with an ellipsis (tables only; full text elsewhere)."""
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > width // 2 else cut).rstrip(" ;,") + "…"
