"""``run``, ``runs``, ``checks`` and ``reconcile``: extraction runs and their checks."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from extractor.cli.common import (
    EXIT_NOTHING_DONE,
    EXIT_OK,
    EXIT_SOME_FAILED,
    add_json_flag,
    open_store,
    print_json,
    settings_from,
    short,
    table,
)
from extractor.core.errors import NotFoundError

if TYPE_CHECKING:
    from extractor.core.settings import Settings
    from extractor.pipeline import DocumentOutcome, IngestBatch
    from extractor.store import Run, Store
    from extractor.workers import Executor


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="ingest, extract, reconcile and store a run; score it if gold exists")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--extractor", choices=["rules", "model", "auto"], default=None,
                   help="default: model when an endpoint is configured, else rules")
    p.add_argument("--base-url", help="OpenAI-compatible endpoint (model extractor)")
    p.add_argument("--model", help="model name at the endpoint")
    p.add_argument("--mode", choices=["tools", "json_schema", "json"], help="instructor mode")
    p.add_argument("--concurrency", type=int, help="model calls in flight")
    p.add_argument("--batch", action="store_true", default=None,
                   help="send the model calls through the OpenAI Batch API (half price, "
                        "results within 24 h; a re-run resumes a submitted batch)")
    p.add_argument("--no-reconcile", action="store_true", help="skip the numeric cross-checks")
    p.add_argument("--workers", type=int, metavar="N",
                   help="processes reading and extracting documents (default: every core); "
                        "this process alone writes the database")
    p.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run the stages as Ray tasks: a local Ray by default, or the cluster at "
                        "ADDRESS (see docs/ray.md; needs extractor[ray])")
    p.add_argument("--export", type=Path, metavar="DIR", help="write prediction files here")
    p.add_argument("--gold", type=Path, help="gold folder to score against (default eval/gold)")
    add_json_flag(p)
    p.set_defaults(handler=cmd_run)

    runs = sub.add_parser("runs", help="stored runs")
    rsub = runs.add_subparsers(dest="runs_command", required=True, metavar="ACTION")
    lst = rsub.add_parser("list", help="list runs")
    add_json_flag(lst)
    lst.set_defaults(handler=cmd_runs_list)
    show = rsub.add_parser("show", help="a run's settings, documents and model-call accounting")
    show.add_argument("run_id", type=int)
    add_json_flag(show)
    show.set_defaults(handler=cmd_runs_show)

    p = sub.add_parser("checks", help="passing and failing numeric checks of a run or document")
    p.add_argument("target", help="run id, or a document (doc id / SHA prefix: its latest run)")
    p.add_argument("--failed", action="store_true", help="only failing checks")
    p.add_argument("--coverage", action="store_true",
                   help="per contract field, the share of values no check and no second reading touches")
    add_json_flag(p)
    p.set_defaults(handler=cmd_checks)

    p = sub.add_parser("reconcile", help="re-run the numeric cross-checks over a stored run")
    p.add_argument("--run", dest="run_id", type=int, required=True)
    add_json_flag(p)
    p.set_defaults(handler=cmd_reconcile)


def _run_settings(args: argparse.Namespace) -> Settings:
    """Settings with the model flags on top, validated like the environment is."""
    from pydantic import ValidationError

    from extractor.core.errors import ConfigError
    from extractor.core.settings import ModelSettings

    settings = settings_from(args)
    flags = {"base_url": args.base_url, "model": args.model, "mode": args.mode,
             "max_concurrency": args.concurrency, "batch": args.batch}
    try:
        model = ModelSettings.model_validate({**settings.model.model_dump(),
                                              **{k: v for k, v in flags.items() if v is not None}})
    except ValidationError as exc:
        problems = "; ".join(f"--{str(e['loc'][0]).replace('max_', '').replace('_', '-')}: {e['msg']}"
                             for e in exc.errors())
        raise ConfigError(problems) from None
    return settings.model_copy(update={"model": model})


def _run_exit_code(batch: IngestBatch, results: list[DocumentOutcome], run: Run | None) -> int:
    """0 all good; 1 something failed; 3 nothing succeeded (see the ``--help`` epilog)."""
    ingest_failed = [o for o in batch.outcomes if o.status == "failed"]
    failed = [r for r in results if r.status == "failed"]
    if not results or len(failed) == len(results) or (run and (run.stats or {}).get("every_call_failed")):
        return EXIT_NOTHING_DONE
    return EXIT_SOME_FAILED if failed or ingest_failed else EXIT_OK


def per_worker_settings(settings: Settings, workers: int) -> Settings:
    """One worker is one core, as each pool worker is: with one worker, OCR gets one
    onnxruntime thread (its default would spread over every core and leave none to other
    jobs) unless ``ocr.threads`` says otherwise."""
    if workers != 1 or settings.ocr.threads is not None:
        return settings
    return settings.model_copy(update={"ocr": settings.ocr.model_copy(update={"threads": 1})})


def cmd_run(args: argparse.Namespace) -> int:
    from extractor.workers import make_executor

    settings = _run_settings(args)
    store = open_store(settings)
    executor = make_executor(args.workers, args.ray, use_ray=args.ray is not None)
    settings = per_worker_settings(settings, executor.workers)
    try:
        return _run_with(args, settings, store, executor)
    finally:
        executor.close()


def _run_with(args: argparse.Namespace, settings: Settings, store: Store, executor: Executor) -> int:
    from extractor.cli.docs import report_skipped
    from extractor.extract import choose_extractor
    from extractor.pipeline import RunPlan, export_run, ingest_batch, reconcile_stage, run_extraction

    batch = ingest_batch(args.paths, store, settings, executor=executor)
    ingest_failed = [{"path": o.path, "reason": o.reason} for o in batch.outcomes if o.status == "failed"]
    if not args.json:  # with --json, stdout carries one JSON document and nothing else
        for failure in ingest_failed:
            print(f"failed: {failure['path']}: {failure['reason']}")
        report_skipped(batch)
    shas = list(dict.fromkeys(o.sha256 for o in batch.outcomes if o.sha256 and o.status != "failed"))
    if not shas:
        if args.json:
            print_json({"run": None, "exit_status": EXIT_NOTHING_DONE, "documents": [],
                        "ingest_failed": ingest_failed, "skipped": dict(batch.skipped)})
        else:
            print("no document could be ingested")
        return EXIT_NOTHING_DONE
    choice = choose_extractor(settings, store, args.extractor)
    plan = RunPlan(choice.extractor, settings, choice.prompt_hashes, reconcile=not args.no_reconcile,
                   keep_facts=False)
    try:
        run, results = run_extraction(shas, store, plan, None if args.no_reconcile else reconcile_stage,
                                      executor)
    finally:
        close = getattr(choice.extractor, "close", None)
        if callable(close):  # capability: release the event loop, HTTP pool and writer
            close()
    assert run.id is not None
    code = _run_exit_code(batch, results, run)
    docs: list[dict[str, Any]] = []
    for r in results:
        counts = r.counts
        status = f"unchanged (run {run.id})" if r.status == "unchanged" else r.status
        docs.append({"document": r.doc_id, "sha256": r.sha256, "status": status, **counts.as_dict(),
                     "notes": r.notes})
    if args.json:
        print_json({"run": run.id, "extractor": choice.extractor.name, "exit_status": code,
                    "documents": docs,
                    "ingest_failed": ingest_failed, "skipped": dict(batch.skipped)})
    else:
        print(f"run {run.id} ({choice.extractor.name}): {len(results)} documents")
        print(table(["document", "status", "fields", "repaired", "flagged", "notes"],
                    [(d["document"], d["status"], d["fields"], d["repaired"], d["flagged"],
                      short("; ".join(d["notes"]))) for d in docs]))
        for r in results:
            if r.status == "failed":
                print(f"failed: {r.doc_id}: {'; '.join(r.notes)}")
    if args.export:
        written = export_run(store, run.id, args.export, executor)
        if not args.json:
            print(f"exported {len(written)} prediction files to {args.export}")
    if not args.json:
        _score_if_gold(store, run.id, args.gold or settings.gold_dir)
    return code


def _score_if_gold(store: Store, run_id: int, gold_dir: Path) -> None:
    if not gold_dir.is_dir():
        return
    from extractor.cli.evaluation import document_texts
    from extractor.evaluate.schema import invalid_file, load_dir_lenient
    from extractor.evaluate.score import format_table, score_dirs
    from extractor.pipeline import predictions

    gold, errors = load_dir_lenient(gold_dir)
    pred = predictions(store, run_id)
    if not set(gold) & set(pred):
        print(f"(no document of this run has a gold file in {gold_dir})")
        return
    print(f"\nscore against {gold_dir}:")
    report = score_dirs(gold, pred, documents=document_texts(store, set(pred), run_id),
                        invalid=[invalid_file(e, "gold") for e in errors])
    print(format_table(report))


def cmd_runs_list(args: argparse.Namespace) -> int:
    store = open_store(settings_from(args))
    runs = store.runs()
    if args.json:
        print_json([{"run": r.id, "extractor": r.extractor, "status": r.status,
                     "model": (r.settings or {}).get("model", {}).get("model"),
                     "code": r.code_version, "created": r.created.isoformat(),
                     "finished": r.finished.isoformat() if r.finished else None,
                     "stats": r.stats} for r in runs])
        return 0
    rows = [(r.id, r.extractor, r.status, (r.settings or {}).get("model", {}).get("model") or "",
             r.code_version, r.created.strftime("%Y-%m-%d %H:%M"),
             (r.stats or {}).get("documents", "")) for r in runs]
    print(table(["run", "extractor", "status", "model", "code", "created", "docs"], rows))
    return 0


def cmd_runs_show(args: argparse.Namespace) -> int:
    from extractor.summary import counts_line, run_counts, total

    store = open_store(settings_from(args))
    run = store.get_run(args.run_id)
    assert run.id is not None
    calls = store.calls(run.id)
    by_doc: dict[str, list[Any]] = {}
    for c in calls:
        by_doc.setdefault(c.document or "-", []).append(c)
    names = {d.sha256: d.doc_id for d in store.documents()}
    counts = run_counts(store, run.id)
    docs: list[dict[str, Any]] = []
    for rd in store.run_documents(run.id):
        dc = by_doc.get(rd.document, [])
        docs.append({"document": names.get(rd.document, rd.document[:12]), "sha256": rd.document,
                     "status": rd.status, **counts[rd.document].as_dict(), "calls": len(dc),
                     "ok_calls": sum(c.status == "ok" for c in dc),
                     "tokens_in": sum(c.tokens_in for c in dc),
                     "tokens_out": sum(c.tokens_out for c in dc),
                     "latency_s": round(sum(c.latency_s for c in dc), 3),
                     "cost_usd": round(sum(c.cost_usd for c in dc), 6), "notes": rd.notes or []})
    failed_calls = [c for c in calls if c.status != "ok"]
    if args.json:
        print_json({"run": run.id, "extractor": run.extractor, "status": run.status,
                    "code": run.code_version, "created": run.created.isoformat(),
                    "finished": run.finished.isoformat() if run.finished else None,
                    "prompts": run.prompt_hashes, "settings": run.settings, "inputs": run.inputs,
                    "stats": run.stats, "totals": total(counts).as_dict(), "documents": docs,
                    "failed_calls": [{"document": names.get(c.document or "", c.document),
                                      "section": c.section, "chunk": c.chunk_index,
                                      "status": c.status, "error": c.error} for c in failed_calls]})
        return 0
    print(f"run {run.id}: extractor={run.extractor} status={run.status} code={run.code_version}")
    print(f"created {run.created:%Y-%m-%d %H:%M:%S}; finished {run.finished or '-'}")
    if run.prompt_hashes:
        print("prompts: " + ", ".join(f"{k}={v[:12]}" for k, v in sorted(run.prompt_hashes.items())))
    print("settings: " + json.dumps((run.settings or {}).get("model", {}), ensure_ascii=False))
    print(table(["document", "status", "calls", "ok", "tokens in", "tokens out", "latency s",
                 "cost $", "fields", "repaired", "flagged", "notes"],
                [(d["document"], d["status"], d["calls"], d["ok_calls"], d["tokens_in"],
                  d["tokens_out"], f"{d['latency_s']:.1f}", f"{d['cost_usd']:.4f}", d["fields"],
                  d["repaired"], d["flagged"], short("; ".join(d["notes"]), 60)) for d in docs]))
    print(f"findings: {counts_line(total(counts))}")
    for d in docs:
        if d["status"] == "failed":
            print(f"failed: {d['document']}: {'; '.join(d['notes'])}")
    if calls:
        print(f"total: {len(calls)} calls, {sum(c.tokens_in for c in calls)} tokens in, "
              f"{sum(c.tokens_out for c in calls)} out, {sum(c.latency_s for c in calls):.1f} s, "
              f"${sum(c.cost_usd for c in calls):.4f}")
        for c in failed_calls:
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
    from extractor.core.records import AUX_PREFIX, CheckStatus, primary_facts
    from extractor.summary import counts_line, run_counts, total

    store = open_store(settings_from(args))
    run_id, document = _resolve_checks_target(store, args.target)
    names = {d.sha256: d.doc_id for d in store.documents()}
    checks = store.checks(run_id, document)
    if args.coverage:
        return _print_coverage(store, run_id, document, checks)
    report = store.findings(run_id, document)
    flagged = [(rd.document, f) for rd in store.run_documents(run_id) if document in (None, rd.document)
               for f in primary_facts(store.facts(run_id, rd.document))
               if f.status == CheckStatus.FLAGGED and not f.field.startswith(AUX_PREFIX)]
    shown = [c for c in checks if not (args.failed and c.passed)]
    repairs = store.repairs(run_id, document)
    findings = total(run_counts(store, run_id, document))
    if args.json:
        print_json({"run": run_id, "document": document, "findings": findings.as_dict(),
                    "document_findings": [{"document": names.get(sha, sha), **f.model_dump(mode="json")}
                                          for sha, f in report],
                    "flags": [{"document": names.get(sha, sha), "field": f.field, "key": f.key,
                               "value": f.value} for sha, f in flagged],
                    "passing": sum(c.passed for c in checks),
                    "failing": sum(not c.passed for c in checks),
                    "checks": [{"document": names.get(c.document, c.document), "rule": c.rule,
                                "name": c.name, "passed": c.passed, "detail": c.detail} for c in shown],
                    "repairs": [{"document": names.get(r.document, r.document), "slot": r.slot,
                                 "before": r.before, "after": r.after, "rule": r.rule,
                                 "evidence": r.evidence} for r in repairs]})
        return 0
    print(f"== document findings (the report disagrees with itself): {len(report)}")
    for sha, f in report:
        print(f"FINDING  {names.get(sha, sha[:12])}  {f.kind}: {f.message}")
        for st in f.statements:
            quote = (st.quote or "").replace("\n", " ")[:80]
            print(f"           page {st.page if st.page is not None else '-'}: {st.value}  «{quote}»")
    print(f"\n== extraction flags (values we could not confirm): {len(flagged)}")
    for sha, fact in flagged:
        key = "/".join(v for v in (fact.key or {}).values() if v)
        print(f"FLAGGED  {names.get(sha, sha[:12])}  {fact.field}{f'[{key}]' if key else ''} = {fact.value}")
    print(f"\n== checks: run {run_id}: {sum(c.passed for c in checks)} passing, "
          f"{sum(not c.passed for c in checks)} failing")
    print(f"findings: {counts_line(findings)}")
    for c in shown:
        detail = c.detail or {}
        figures = ", ".join(f"{f.get('slot')}={f.get('value')}" for f in detail.get("figures", []))
        print(f"{'PASS' if c.passed else 'FAIL'}  {names.get(c.document, c.document[:12])}  "
              f"{c.rule} {c.name}: {detail.get('summary', '')}  [{figures}]")
    for r in repairs:
        print(f"REPAIRED {names.get(r.document, r.document[:12])} {r.slot}: {r.before} -> {r.after} "
              f"({r.rule}; {json.dumps(r.evidence, ensure_ascii=False)})")
    return 0


def _print_coverage(store: Store, run_id: int, document: str | None, checks: list[Any]) -> int:
    from extractor.reconcile.coverage import coverage, format_coverage, merge

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
    from extractor.pipeline import reconcile_stage
    from extractor.store import RunDocument
    from extractor.summary import counts_line, finding_counts

    store = open_store(settings_from(args))
    run = store.get_run(args.run_id)
    assert run.id is not None
    out = []
    for rd in store.run_documents(run.id):
        if rd.status != "done":
            continue
        doc = store.load_document(rd.document)
        facts = reconcile_stage(store, run.id, doc, store.facts(run.id, rd.document))
        store.save_document_result(run.id, RunDocument(run_id=run.id, document=rd.document,
                                                       status=rd.status, notes=rd.notes,
                                                       stats=rd.stats), facts)
        counts = finding_counts(facts)
        out.append({"document": doc.doc_id, "sha256": rd.document, **counts.as_dict()})
        if not args.json:
            print(f"{doc.doc_id}: {counts_line(counts)}")
    if args.json:
        print_json({"run": run.id, "documents": out})
    return 0
