"""``tables DOC``: a stored document's tables as grids, to check what the table layer read.

Each table is printed with its title, unit, page(s) and box, then its grid: one line per
row, header rows above a rule, a merged cell shown once at its first position. ``--json``
prints the same tables with every cell (row, column, spans, box, page, header path, row
label) for scripts and the review page.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from extractor.cli.common import open_store, settings_from, table
from extractor.core.types import Table


def register(sub: Any) -> None:
    p = sub.add_parser("tables", help="show a stored document's tables as grids")
    p.add_argument("doc", help="doc id, SHA-256 prefix or ingested path")
    p.add_argument("--json", action="store_true", help="print tables and cells as JSON")
    p.set_defaults(handler=cmd_tables)


def cmd_tables(args: argparse.Namespace) -> int:
    store = open_store(settings_from(args))
    doc = store.resolve_document(args.doc)
    tables = store.tables(doc.sha256)
    if args.json:
        print(json.dumps({"doc_id": doc.doc_id, "sha256": doc.sha256,
                          "tables": [asdict(t) for t in tables]}, ensure_ascii=False, indent=1))
        return 0
    print(f"{doc.doc_id} ({doc.sha256[:12]}): {len(tables)} tables")
    for t in tables:
        print()
        print(describe(t))
        print(grid(t))
    return 0


def describe(t: Table) -> str:
    """``#2  收入决算表  unit 万元  pages 8-9  23 x 11  bbox (66.6, 156.9, 775.4, 512.1)``."""
    pages = t.pages or [t.page]
    where = f"page {pages[0]}" if len(pages) == 1 else f"pages {pages[0]}-{pages[-1]}"
    box = "" if t.bbox is None else "  bbox (" + ", ".join(f"{v:.1f}" for v in t.bbox) + ")"
    return (f"#{t.index}  {t.title or '(no title)'}  unit {t.unit or '?'}  {where}  "
            f"{t.n_rows} x {t.n_cols}  {t.source}{box}")


def grid(t: Table) -> str:
    """The table's grid as an aligned text table; header rows become the heading."""
    rows = [[""] * t.n_cols for _ in range(t.n_rows)]
    for cell in t.cells:
        if 0 <= cell.row < t.n_rows and 0 <= cell.col < t.n_cols:
            rows[cell.row][cell.col] = cell.text
    head = max(t.header_rows, 1)
    headers = [" / ".join(filter(None, (rows[r][c] for r in range(min(head, t.n_rows)))))
               for c in range(t.n_cols)]
    return table(headers, rows[head:])
