"""``eval``: score prediction files or stored runs against gold, compare runs, export.

Exit status of ``eval score``: 0 when every file was scored, 3 when some gold or
prediction file was invalid (those are listed with their reason and the rest is
scored), 2 for an error that stops the command (no gold folder, unknown run).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from extractor.cli.common import open_store, settings_from
from extractor.core.errors import ConfigError

if TYPE_CHECKING:  # imported by the handlers: building the parser stays light
    from extractor.core.records import FinalAccounts
    from extractor.evaluate.evidence import DocumentText
    from extractor.evaluate.results import DocContext, InvalidFile, ScoreReport
    from extractor.store import Store

EXIT_INVALID = 3
"""``eval score`` scored what it could but some gold or prediction file was invalid."""


def register(sub: Any) -> None:
    ev = sub.add_parser("eval", help="score, compare and export extractions")
    esub = ev.add_subparsers(dest="eval_command", required=True, metavar="ACTION")

    p = esub.add_parser("score", help="score predictions (files or a stored run) against gold",
                        epilog=f"exit status {EXIT_INVALID}: some file was invalid (listed; the "
                               "others were scored)")
    p.add_argument("--gold", type=Path, help="gold folder (default eval/gold)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--pred", type=Path, help="folder of prediction files")
    src.add_argument("--run", type=int, help="a stored run id")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--html", type=Path, metavar="FILE", help="also write a self-contained HTML report")
    p.set_defaults(handler=cmd_score)

    p = esub.add_parser("export", help="write a run's prediction files, or one table of its figures",
                        description="Without --format: one final_accounts/v1 prediction file per "
                                    "document into the folder OUT. With --format: one table file "
                                    "OUT, long (document, field, value, number, unit, status, "
                                    "quote, page) or wide (one row per document).")
    p.add_argument("--run", type=int, required=True)
    p.add_argument("--out", type=Path, required=True, help="folder (prediction files) or file (--format)")
    p.add_argument("--format", dest="fmt", choices=["json", "csv", "parquet"],
                   help="write one table of the run's figures in this format")
    p.add_argument("--shape", choices=["long", "wide"], default="long",
                   help="long: a row per document and field; wide: a row per document")
    p.set_defaults(handler=cmd_export)

    from extractor.cli.service import register_export_gold

    register_export_gold(esub)

    p = esub.add_parser("compare", help="per-field differences and a paired bootstrap ΔF1")
    p.add_argument("run_a", type=int)
    p.add_argument("run_b", type=int)
    p.add_argument("--gold", type=Path)
    p.add_argument("--json", action="store_true")
    p.add_argument("--all-fields", action="store_true", help="list unchanged fields too")
    p.add_argument("--html", type=Path, metavar="FILE",
                   help="also write an HTML page with the per-section ΔF1 interval plot")
    p.set_defaults(handler=cmd_compare)


def _gold(args: argparse.Namespace) -> tuple[dict[str, FinalAccounts], list[InvalidFile]]:
    from extractor.evaluate.schema import invalid_file, load_dir_lenient

    gold_dir: Path = args.gold or settings_from(args).gold_dir
    if not gold_dir.is_dir():
        raise ConfigError(f"gold folder {gold_dir} does not exist")
    records, errors = load_dir_lenient(gold_dir)
    return records, [invalid_file(e, "gold") for e in errors]


def document_texts(store: Store, doc_ids: set[str], run_id: int | None = None
                   ) -> dict[str, DocumentText]:
    """The stored normalized text of the named documents (the text evidence indexes).

    Two files may share a doc_id (``report.pdf`` and ``report.txt``): given the run, the
    document is the one that run read, not whichever of them was stored last."""
    from extractor.evaluate.evidence import DocumentText

    docs = store.documents()
    if run_id is not None:
        in_run = {rd.document for rd in store.run_documents(run_id)}
        docs = [d for d in docs if d.sha256 in in_run]
    return {d.doc_id: DocumentText(d.doc_id, d.normalized, list(d.page_starts or [0]), d.path,
                                   d.media_type)
            for d in docs if d.doc_id in doc_ids}


def _run_context(store: Store, run_id: int) -> dict[str, DocContext]:
    """Failing checks and repairs of a run, mapped onto the prediction's slot paths."""
    from extractor.evaluate.explain import run_context

    out: dict[str, DocContext] = {}
    for rd in store.run_documents(run_id):
        doc = store.find_document(rd.document)
        if doc is None or rd.status == "failed":
            continue
        out[doc.doc_id] = run_context(
            store.facts(run_id, rd.document),
            [c.model_dump() for c in store.checks(run_id, rd.document)],
            [r.model_dump() for r in store.repairs(run_id, rd.document)])
    return out


def _merge_findings(context: dict[str, DocContext], preds: dict[str, FinalAccounts]) -> None:
    from extractor.evaluate.explain import file_context
    from extractor.evaluate.results import DocContext

    for doc, ctx in file_context(preds).items():
        context.setdefault(doc, DocContext()).findings = ctx.findings


def run_title(store: Store, run_id: int) -> tuple[str, dict[str, Any]]:
    """A run's report title (id, extractor, model, chunk budget, code) and its settings."""
    run = store.get_run(run_id)
    settings = {"run": run.id, "extractor": run.extractor, "code": run.code_version,
                "prompts": run.prompt_hashes, "settings": run.settings}
    stored: dict[str, Any] = run.settings or {}
    model: dict[str, Any] = stored.get("model") or {}
    chunk: dict[str, Any] = stored.get("chunk") or {}
    parts = [f"run {run.id}", run.extractor]
    if run.extractor != "rules" and model.get("model"):
        parts.append(f"model {model['model']} @ {model.get('base_url')}")
    if chunk.get("token_budget"):
        parts.append(f"chunk budget {chunk['token_budget']}")
    parts.append(f"code {run.code_version or '?'}")
    return " · ".join(parts), settings


def _score(args: argparse.Namespace) -> tuple[ScoreReport, Store | None]:
    from extractor.evaluate.schema import invalid_file, load_dir_lenient
    from extractor.evaluate.score import score_dirs
    from extractor.pipeline import predictions

    gold, invalid = _gold(args)
    store: Store | None = None
    context: dict[str, DocContext] = {}
    if args.pred is not None:
        preds, errors = load_dir_lenient(args.pred)
        invalid += [invalid_file(e, "pred") for e in errors]
        if any(p.evidence for p in preds.values()):
            store = open_store(settings_from(args))
    else:
        store = open_store(settings_from(args))
        store.get_run(args.run)
        preds = predictions(store, args.run)
        context = _run_context(store, args.run)
    _merge_findings(context, preds)
    documents = (document_texts(store, set(preds), None if args.pred is not None else args.run)
                 if store is not None else None)
    report = score_dirs(gold, preds, documents=documents, invalid=invalid, context=context)
    return report, store


def cmd_score(args: argparse.Namespace) -> int:
    from extractor.evaluate.report import write_html
    from extractor.evaluate.score import format_table

    report, store = _score(args)
    print(report.model_dump_json(indent=2) if args.json else format_table(report))
    for bad in report.invalid:
        print(f"invalid {bad.side} file: {bad.file}: {bad.reason}", file=sys.stderr)
    if args.html:
        title, run_settings = (None, None)
        if args.run is not None and store is not None:
            title, run_settings = run_title(store, args.run)
        elif args.pred is not None:
            title = f"predictions {args.pred}"
        write_html(report, args.html, run_settings, title=title)
        print(f"wrote {args.html}")
    return EXIT_INVALID if report.invalid else 0


def cmd_export(args: argparse.Namespace) -> int:
    from extractor.pipeline import export_run

    store = open_store(settings_from(args))
    store.get_run(args.run)
    if args.fmt:
        from extractor.export import export_table

        rows = export_table(store, args.run, args.out, args.fmt, args.shape)
        print(f"wrote {rows} rows ({args.shape}, {args.fmt}) to {args.out}")
        return 0
    written = export_run(store, args.run, args.out)
    print(f"wrote {len(written)} prediction files to {args.out}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Score run A, then run B (in the order given) on the same gold, and compare."""
    from extractor.evaluate.compare import compare, comparison_json, format_comparison
    from extractor.evaluate.compare_html import write_comparison_html
    from extractor.evaluate.score import score_dirs
    from extractor.pipeline import predictions

    store = open_store(settings_from(args))
    gold, invalid = _gold(args)
    reports = []
    for run_id in (args.run_a, args.run_b):
        store.get_run(run_id)
        preds = predictions(store, run_id)
        reports.append(score_dirs(gold, preds, invalid=invalid,
                                  documents=document_texts(store, set(preds), run_id)))
    result = compare(reports[0], reports[1], labels=(f"run {args.run_a}", f"run {args.run_b}"))
    print(comparison_json(result) if args.json else format_comparison(result, all_fields=args.all_fields))
    if args.html:
        write_comparison_html(result, args.html)
        print(f"wrote {args.html}")
    for bad in invalid:
        print(f"invalid {bad.side} file: {bad.file}: {bad.reason}", file=sys.stderr)
    return EXIT_INVALID if invalid else 0
