"""``ingest``, ``chunks``, ``docs`` and ``db``: getting documents in and looking at them."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from extractor.cli.common import add_json_flag, open_store, print_json, settings_from, table

if TYPE_CHECKING:
    from extractor.pipeline import IngestBatch


def register(sub: Any) -> None:
    p = sub.add_parser("ingest", help="read, normalize, chunk and store PDFs / text files")
    p.add_argument("paths", nargs="+", type=Path, help="files or folders")
    p.add_argument("--workers", type=int, metavar="N",
                   help="processes reading (and OCR-ing) files (default: every core); "
                        "this process alone writes the database")
    p.set_defaults(handler=cmd_ingest)

    p = sub.add_parser("chunks", help="list a stored document's chunks")
    p.add_argument("doc", help="doc id, SHA-256 prefix or ingested path")
    p.add_argument("--text", action="store_true", help="print each chunk's text too")
    p.set_defaults(handler=cmd_chunks)

    p = sub.add_parser("docs", help="list stored documents")
    add_json_flag(p)
    p.set_defaults(handler=cmd_docs)

    db = sub.add_parser("db", help="database: where it is and what it holds")
    dsub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    info = dsub.add_parser("info", help="show the database URL and row counts")
    add_json_flag(info)
    info.set_defaults(handler=cmd_db_info)
    upgrade = dsub.add_parser("upgrade", help="migrate an older database to this version's schema "
                                              "(in place, data kept; Alembic)")
    add_json_flag(upgrade)
    upgrade.set_defaults(handler=cmd_db_upgrade)


def report_skipped(batch: IngestBatch) -> None:
    """What folders held that was not read, and folders that held nothing readable."""
    from extractor.ingest import MEDIA_TYPES

    line = batch.skipped_line()
    if line:
        print(line)
    for folder in batch.empty_folders:
        print(f"{folder}: no readable file in this folder (readable: {', '.join(MEDIA_TYPES)})")


def cmd_ingest(args: argparse.Namespace) -> int:
    from extractor.pipeline import ingest_batch
    from extractor.workers import make_executor

    settings = settings_from(args)
    store = open_store(settings)
    executor = make_executor(args.workers)
    try:
        batch = ingest_batch(args.paths, store, settings, executor=executor)
    finally:
        executor.close()
    outcomes = batch.outcomes
    rows = [(o.doc_id or Path(o.path).name, o.status, o.pages or "", o.chunks or "",
             o.ocr_pages if o.status != "failed" else "", o.reason or "") for o in outcomes]
    if rows:
        print(table(["document", "status", "pages", "chunks", "ocr pages", "reason"], rows))
    failed = [o for o in outcomes if o.status == "failed"]
    for o in failed:
        print(f"failed: {o.path}: {o.reason}")
    report_skipped(batch)
    print(f"{len(outcomes) - len(failed)} stored ({sum(o.status == 'new' for o in outcomes)} new, "
          f"{sum(o.status == 'unchanged' for o in outcomes)} unchanged), {len(failed)} failed")
    return 1 if len(failed) == len(outcomes) else 0


def cmd_chunks(args: argparse.Namespace) -> int:
    store = open_store(settings_from(args))
    doc = store.load_document(store.resolve_document(args.doc).sha256)
    rows = [(c.index, c.kind, " > ".join(c.heading_path) or "(preamble)",
             f"{c.page_start}-{c.page_end}" if c.page_end != c.page_start else c.page_start,
             f"{c.start}-{c.end}", c.tokens) for c in doc.chunks]
    print(f"{doc.doc_id} ({doc.sha256[:12]}): {len(doc.chunks)} chunks")
    print(table(["#", "kind", "heading path", "pages", "chars", "tokens"], rows))
    if args.text:
        for c in doc.chunks:
            print(f"\n--- chunk {c.index} ---\n{c.text}")
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    store = open_store(settings_from(args))
    docs = store.documents()
    if args.json:
        print_json([{"doc_id": d.doc_id, "sha256": d.sha256, "media_type": d.media_type,
                     "pages": d.pages, "ocr_pages": d.ocr_pages, "path": d.path,
                     "created": d.created.isoformat()} for d in docs])
        return 0
    rows = [(d.doc_id, d.sha256[:12], d.media_type, d.pages, d.ocr_pages, d.path) for d in docs]
    print(table(["doc id", "sha256", "type", "pages", "ocr pages", "path"], rows))
    return 0


def cmd_db_info(args: argparse.Namespace) -> int:
    from extractor.database import parse_database_url

    settings = settings_from(args)
    url = parse_database_url(settings.database_url)
    shown = url.render_as_string(hide_password=True)
    counts = open_store(settings).info()
    file = url.database if url.get_backend_name() == "sqlite" else None
    if args.json:
        print_json({"database": shown, "file": file, "rows": counts})
        return 0
    print(f"database: {shown}")
    if file:
        print(f"file: {file}")
    print(table(["table", "rows"], sorted(counts.items())))
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from extractor.migrations import upgrade
    from extractor.store import make_engine

    before, after = upgrade(make_engine(settings_from(args).database_url, prepare=False))
    if args.json:
        print_json({"from": before, "to": after})
    elif before == after:
        print(f"database already at revision {after}")
    else:
        print(f"database upgraded from {before or 'an unversioned schema'} to revision {after}")
    return 0
