"""``run``, ``runs``, ``checks`` and ``reconcile``: extraction runs and their checks."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from extractor.cli.common import open_store, settings_from, table
from extractor.core.errors import NotFoundError
from extractor.core.records import AUX_PREFIX, CheckStatus, primary_facts
from extractor.core.settings import Settings
from extractor.evaluate.schema import load_dir
from extractor.evaluate.score import format_table, score_dirs
from extractor.extract import choose_extractor
from extractor.pipeline import RunPlan, export_run, ingest, predictions, reconcile_stage, run_extraction
from extractor.reconcile.coverage import coverage, format_coverage, merge
from extractor.store import RunDocument, Store


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="ingest, extract, reconcile and store a run; score it if gold exists")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--extractor", choices=["rules", "model", "auto"], default=None,
                   help="default: model when an endpoint is configured, else rules")
    p.add_argument("--base-url", help="OpenAI-compatible endpoint (model extractor)")
    p.add_argument("--model", help="model name at the endpoint")
    p.add_argument("--mode", choices=["tools", "json_schema", "json"], help="instructor mode")
    p.add_argument("--concurrency", type=int, help="model calls in flight")
    p.add_argument("--no-reconcile", action="store_true", help="skip the numeric cross-checks")
    p.add_argument("--export", type=Path, metavar="DIR", help="write prediction files here")
    p.add_argument("--gold", type=Path, help="gold folder to score against (default eval/gold)")
    p.set_defaults(handler=cmd_run)

    runs = sub.add_parser("runs", help="stored runs")
    rsub = runs.add_subparsers(dest="runs_command", required=True, metavar="ACTION")
    rsub.add_parser("list", help="list runs").set_defaults(handler=cmd_runs_list)
    show = rsub.add_parser("show", help="a run's settings, documents and model-call accounting")
    show.add_argument("run_id", type=int)
    show.set_defaults(handler=cmd_runs_show)

    p = sub.add_parser("checks", help="passing and failing numeric checks of a run or document")
    p.add_argument("target", help="run id, or a document (doc id / SHA prefix: its latest run)")
    p.add_argument("--failed", action="store_true", help="only failing checks")
    p.add_argument("--coverage", action="store_true",
                   help="per contract field, the share of values no check and no second reading touches")
    p.set_defaults(handler=cmd_checks)

    p = sub.add_parser("reconcile", help="re-run the numeric cross-checks over a stored run")
    p.add_argument("--run", dest="run_id", type=int, required=True)
    p.set_defaults(handler=cmd_reconcile)


def _run_settings(args: argparse.Namespace) -> Settings:
    settings = settings_from(args)
    model = settings.model.model_copy(update={k: v for k, v in {
        "base_url": args.base_url, "model": args.model, "mode": args.mode,
        "max_concurrency": args.concurrency}.items() if v is not None})
    return settings.model_copy(update={"model": model})


def cmd_run(args: argparse.Namespace) -> int:
    settings = _run_settings(args)
    store = open_store(settings)
    outcomes = ingest(args.paths, store, settings)
    for o in outcomes:
        if o.status == "failed":
            print(f"skipped: {o.path}: {o.reason}")
    shas = list(dict.fromkeys(o.sha256 for o in outcomes if o.sha256 and o.status != "failed"))
    if not shas:
        print("no document could be ingested")
        return 1
    choice = choose_extractor(settings, store, args.extractor)
    plan = RunPlan(choice.extractor, settings, choice.prompt_hashes, reconcile=not args.no_reconcile)
    try:
        run, results = run_extraction(shas, store, plan, None if args.no_reconcile else reconcile_stage)
    finally:
        close = getattr(choice.extractor, "close", None)
        if callable(close):  # capability: release the event loop, HTTP pool and writer
            close()
    assert run.id is not None
    rows = []
    for r in results:
        findings = [f for f in primary_facts(r.facts) if not f.field.startswith(AUX_PREFIX)]
        flagged = sum(f.status == CheckStatus.FLAGGED for f in findings)
        repaired = sum(f.status == CheckStatus.REPAIRED for f in findings)
        rows.append((r.doc_id, r.status, len(findings), repaired, flagged, "; ".join(r.notes)[:80]))
    print(f"run {run.id} ({choice.extractor.name}): {len(results)} documents")
    print(table(["document", "status", "fields", "repaired", "flagged", "notes"], rows))
    if args.export:
        written = export_run(store, run.id, args.export)
        print(f"exported {len(written)} prediction files to {args.export}")
    _score_if_gold(store, run.id, args.gold or settings.gold_dir)
    return 0


def _score_if_gold(store: Store, run_id: int, gold_dir: Path) -> None:
    if not gold_dir.is_dir():
        return
    gold = load_dir(gold_dir)
    pred = predictions(store, run_id)
    if not set(gold) & set(pred):
        print(f"(no document of this run has a gold file in {gold_dir})")
        return
    print(f"\nscore against {gold_dir}:")
    print(format_table(score_dirs(gold, pred)))


def cmd_runs_list(args: argparse.Namespace) -> int:
    store = open_store(settings_from(args))
    rows = [(r.id, r.extractor, r.status, (r.settings or {}).get("model", {}).get("model") or "",
             r.code_version, r.created.strftime("%Y-%m-%d %H:%M"),
             (r.stats or {}).get("documents", "")) for r in store.runs()]
    print(table(["run", "extractor", "status", "model", "code", "created", "docs"], rows))
    return 0


def cmd_runs_show(args: argparse.Namespace) -> int:
    store = open_store(settings_from(args))
    run = store.get_run(args.run_id)
    assert run.id is not None
    print(f"run {run.id}: extractor={run.extractor} status={run.status} code={run.code_version}")
    print(f"created {run.created:%Y-%m-%d %H:%M:%S}; finished {run.finished or '-'}")
    if run.prompt_hashes:
        print("prompts: " + ", ".join(f"{k}={v[:12]}" for k, v in sorted(run.prompt_hashes.items())))
    print("settings: " + json.dumps((run.settings or {}).get("model", {}), ensure_ascii=False))
    calls = store.calls(run.id)
    by_doc: dict[str, list[Any]] = {}
    for c in calls:
        by_doc.setdefault(c.document or "-", []).append(c)
    names = {d.sha256: d.doc_id for d in store.documents()}
    rows = []
    for rd in store.run_documents(run.id):
        dc = by_doc.get(rd.document, [])
        rows.append((names.get(rd.document, rd.document[:12]), rd.status, len(dc),
                     sum(c.status == "ok" for c in dc), sum(c.tokens_in for c in dc),
                     sum(c.tokens_out for c in dc), f"{sum(c.latency_s for c in dc):.1f}",
                     f"{sum(c.cost_usd for c in dc):.4f}", "; ".join(rd.notes or [])[:60]))
    print(table(["document", "status", "calls", "ok", "tokens in", "tokens out", "latency s",
                 "cost $", "notes"], rows))
    if calls:
        print(f"total: {len(calls)} calls, {sum(c.tokens_in for c in calls)} tokens in, "
              f"{sum(c.tokens_out for c in calls)} out, {sum(c.latency_s for c in calls):.1f} s, "
              f"${sum(c.cost_usd for c in calls):.4f}")
        failed = [c for c in calls if c.status != "ok"]
        for c in failed:
            print(f"failed call: {names.get(c.document or '', c.document)} {c.section} "
                  f"chunk {c.chunk_index}: {c.error}")
    return 0


def _resolve_checks_target(store: Store, target: str) -> tuple[int, str | None]:
    if target.isdigit():
        try:
            return store.get_run(int(target)).id or 0, None
        except NotFoundError:
            pass
    doc = store.resolve_document(target)
    runs = [rd.run_id for r in store.runs() if r.id is not None
            for rd in store.run_documents(r.id) if rd.document == doc.sha256]
    if not runs:
        raise NotFoundError(f"document {doc.doc_id} is in no run yet: `extractor run` it first")
    return max(runs), doc.sha256


def cmd_checks(args: argparse.Namespace) -> int:
    """Document findings (the report contradicts itself) and extraction flags (doubts
    about our reading) in separate sections, then every check and repair."""
    store = open_store(settings_from(args))
    run_id, document = _resolve_checks_target(store, args.target)
    names = {d.sha256: d.doc_id for d in store.documents()}
    checks = store.checks(run_id, document)
    if args.coverage:
        return _print_coverage(store, run_id, document, checks)
    findings = store.findings(run_id, document)
    print(f"== document findings (the report disagrees with itself): {len(findings)}")
    for sha, f in findings:
        print(f"FINDING  {names.get(sha, sha[:12])}  {f.kind}: {f.message}")
        for st in f.statements:
            quote = (st.quote or "").replace("\n", " ")[:80]
            print(f"           page {st.page if st.page is not None else '-'}: {st.value}  «{quote}»")
    flagged = [(rd.document, f) for rd in store.run_documents(run_id) if document in (None, rd.document)
               for f in primary_facts(store.facts(run_id, rd.document))
               if f.status == CheckStatus.FLAGGED and not f.field.startswith(AUX_PREFIX)]
    print(f"\n== extraction flags (values we could not confirm): {len(flagged)}")
    for sha, fact in flagged:
        key = "/".join(v for v in (fact.key or {}).values() if v)
        print(f"FLAGGED  {names.get(sha, sha[:12])}  {fact.field}{f'[{key}]' if key else ''} = {fact.value}")
    shown = [c for c in checks if not (args.failed and c.passed)]
    print(f"\n== checks: run {run_id}: {sum(c.passed for c in checks)} passing, "
          f"{sum(not c.passed for c in checks)} failing")
    for c in shown:
        detail = c.detail or {}
        figures = ", ".join(f"{f.get('slot')}={f.get('value')}" for f in detail.get("figures", []))
        print(f"{'PASS' if c.passed else 'FAIL'}  {names.get(c.document, c.document[:12])}  "
              f"{c.rule} {c.name}: {detail.get('summary', '')}  [{figures}]")
    for r in store.repairs(run_id, document):
        print(f"REPAIRED {names.get(r.document, r.document[:12])} {r.slot}: {r.before} -> {r.after} "
              f"({r.rule}; {json.dumps(r.evidence, ensure_ascii=False)})")
    return 0


def _print_coverage(store: Store, run_id: int, document: str | None, checks: list[Any]) -> int:
    rows = []
    for rd in store.run_documents(run_id):
        if document not in (None, rd.document):
            continue
        mine = [c.detail or {} for c in checks if c.document == rd.document]
        rows += coverage(store.facts(run_id, rd.document), mine)
    print(f"coverage of run {run_id}: values no check and no second reading touches")
    print(format_coverage(merge(rows)))
    return 0


def cmd_reconcile(args: argparse.Namespace) -> int:
    store = open_store(settings_from(args))
    run = store.get_run(args.run_id)
    assert run.id is not None
    for rd in store.run_documents(run.id):
        if rd.status != "done":
            continue
        doc = store.load_document(rd.document)
        facts = reconcile_stage(store, run.id, doc, store.facts(run.id, rd.document))
        store.save_document_result(run.id, RunDocument(run_id=run.id, document=rd.document,
                                                       status=rd.status, notes=rd.notes,
                                                       stats=rd.stats), facts)
        print(f"{doc.doc_id}: {sum(f.status == CheckStatus.FLAGGED for f in facts)} flagged, "
              f"{sum(f.status == CheckStatus.REPAIRED for f in facts)} repaired")
    return 0
