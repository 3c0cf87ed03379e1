"""``eval``: score prediction files or stored runs against gold, compare runs, export."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from extractor.cli.common import open_store, settings_from
from extractor.core.errors import ConfigError

if TYPE_CHECKING:  # imported by the handlers: building the parser stays light
    from extractor.evaluate.score import ScoreReport
    from extractor.store import Store


def register(sub: Any) -> None:
    ev = sub.add_parser("eval", help="score, compare and export extractions")
    esub = ev.add_subparsers(dest="eval_command", required=True, metavar="ACTION")

    p = esub.add_parser("score", help="score predictions (files or a stored run) against gold")
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
    p.set_defaults(handler=cmd_compare)


def _gold(args: argparse.Namespace) -> dict[str, Any]:
    from extractor.evaluate.schema import load_dir

    gold_dir: Path = args.gold or settings_from(args).gold_dir
    if not gold_dir.is_dir():
        raise ConfigError(f"gold folder {gold_dir} does not exist")
    return load_dir(gold_dir)


def _evidence(store: Store, run_id: int) -> dict[tuple[str, str], str]:
    """(doc_id, slot path) → the quote the extractor cited, for the HTML report."""
    from extractor.core.records import slot_facts

    out: dict[tuple[str, str], str] = {}
    for rd in store.run_documents(run_id):
        doc = store.find_document(rd.document)
        if doc is None:
            continue
        for path, fact in slot_facts(store.facts(run_id, rd.document)).items():
            if fact.evidence:
                out[(doc.doc_id, path)] = fact.evidence.quote
    return out


def _report(args: argparse.Namespace, store: Store | None) -> ScoreReport:
    from extractor.evaluate.schema import load_dir
    from extractor.evaluate.score import score_dirs
    from extractor.pipeline import predictions

    gold = _gold(args)
    if args.pred is not None:
        return score_dirs(gold, load_dir(args.pred))
    assert store is not None
    store.get_run(args.run)
    return score_dirs(gold, predictions(store, args.run))


def cmd_score(args: argparse.Namespace) -> int:
    from extractor.evaluate.report import write_html
    from extractor.evaluate.score import format_table

    store = open_store(settings_from(args)) if args.run is not None else None
    report = _report(args, store)
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        print(format_table(report))
    if args.html:
        run_settings = None
        evidence: dict[tuple[str, str], str] = {}
        if store is not None:
            run = store.get_run(args.run)
            run_settings = {"run": run.id, "extractor": run.extractor, "code": run.code_version,
                            "prompts": run.prompt_hashes, "settings": run.settings}
            evidence = _evidence(store, args.run)
        write_html(report, args.html, run_settings, evidence)
        print(f"wrote {args.html}")
    return 0


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
    from extractor.evaluate.compare import compare, comparison_json, format_comparison
    from extractor.evaluate.score import score_dirs
    from extractor.pipeline import predictions

    store = open_store(settings_from(args))
    gold = _gold(args)
    reports = []
    for run_id in (args.run_a, args.run_b):
        store.get_run(run_id)
        reports.append(score_dirs(gold, predictions(store, run_id)))
    result = compare(reports[0], reports[1], labels=(f"run {args.run_a}", f"run {args.run_b}"))
    print(comparison_json(result) if args.json else format_comparison(result, all_fields=args.all_fields))
    return 0
