"""Extraction benchmark on synthetic reports: layouts nobody tuned on, with known truth.

Run from the repository root::

    python -m bench.generated [--n 50] [--seed 1000] [--scan-share 0.2] [--family NAME] [--keep DIR]
                              [--rulings grid|horizontal|none|mixed]

It generates ``n`` reports with :mod:`extractor.testing.synth` (layout families rotated,
every k-th one scanned), runs the project's pipeline on them — ingest (text layer, or OCR
for the scans), the rules extractor, reconciliation — in a throwaway SQLite database, and
prints micro precision / recall / F1 of the run against the generated gold: overall, per
layout family, and born-digital vs scanned, plus the fields that lose the most. The
seeds default to 1000 and up so the bench does not score the seeds the tests use.
Scans go through OCR (seconds per page on a small machine; a scanned report of 15 pages
took about 7 minutes on the shared 2-core machine): keep ``--scan-share`` small when
iterating, and ``--keep DIR`` to reuse what was ingested.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

from extractor.core.records import FinalAccounts
from extractor.core.settings import load_settings
from extractor.evaluate.schema import load_dir
from extractor.evaluate.score import Counts, SlotResult, aggregate, score_document
from extractor.extract import choose_extractor
from extractor.pipeline import RunPlan, ingest, predictions, reconcile_stage, run_extraction
from extractor.store import Store
from extractor.testing.synth import FAMILIES, RULINGS, generate, write


def _fmt(value: float | None) -> str:
    return "  —  " if value is None else f"{value:.3f}"


def _row(label: str, c: Counts, docs: int) -> str:
    return (
        f"{label:<24} {docs:>4} {c.tp:>6} {c.fp:>5} {c.fn:>5}  "
        f"{_fmt(c.precision)}  {_fmt(c.recall)}  {_fmt(c.f1)}"
    )


def make_corpus(
    root: Path, n: int, seed: int, scan_share: float, family: str | None, *, rulings: str | None = None
) -> dict[str, tuple[str, bool]]:
    """Write PDFs and cell truth to ``root/docs``, gold to ``root/gold``; doc_id → (family, scanned)."""
    docs: dict[str, tuple[str, bool]] = {}
    step = round(1 / scan_share) if scan_share > 0 else 0
    for i in range(n):
        s = seed + i
        fam = family or FAMILIES[i % len(FAMILIES)]
        scan = bool(step) and i % step == step - 1
        rendered = generate(s, family=fam, scan=scan, rulings=rulings)
        write(rendered, root / "docs", root / "gold")
        docs[rendered.doc_id] = (fam, scan)
    return docs


def run_pipeline(pdf_dir: Path, db: Path, ocr_cache: Path | None = None) -> dict[str, FinalAccounts]:
    """The CLI's ``run`` job through the pipeline API: ingest, rules extractor, reconcile."""
    settings = load_settings(database_url=f"sqlite:///{db}")
    if ocr_cache is not None:
        settings.ocr.cache_dir = ocr_cache
    store = Store.open(settings.database_url)
    outcomes = ingest([pdf_dir], store, settings)
    for o in outcomes:
        if o.status == "failed":
            print(f"skipped: {o.path}: {o.reason}")
    shas = list(dict.fromkeys(o.sha256 for o in outcomes if o.sha256 and o.status != "failed"))
    choice = choose_extractor(settings, store, "rules")
    run, _ = run_extraction(
        shas, store, RunPlan(choice.extractor, settings, choice.prompt_hashes), reconcile_stage
    )
    assert run.id is not None
    return predictions(store, run.id)


def report(
    gold: dict[str, FinalAccounts], pred: dict[str, FinalAccounts], docs: dict[str, tuple[str, bool]]
) -> str:
    slots: list[SlotResult] = []
    per_doc: dict[str, list[SlotResult]] = {}
    for doc_id, record in gold.items():
        predicted = pred.get(doc_id) or FinalAccounts(doc_id=doc_id)
        doc_slots, _ = score_document(record, predicted)
        per_doc[doc_id] = doc_slots
        slots += doc_slots
    lines = [f"{'group':<24} {'docs':>4} {'tp':>6} {'fp':>5} {'fn':>5}  {'P':>5}  {'R':>5}  {'F1':>5}"]
    groups: list[tuple[str, list[str]]] = [("overall", sorted(gold))]
    groups += [(f"family {f}", [d for d in gold if docs[d][0] == f]) for f in FAMILIES]
    groups += [
        ("born-digital", [d for d in gold if not docs[d][1]]),
        ("scanned", [d for d in gold if docs[d][1]]),
    ]
    groups += [
        (f"{f} / {'scan' if s else 'digital'}", [d for d in gold if docs[d] == (f, s)])
        for f in FAMILIES
        for s in (False, True)
    ]
    for label, members in groups:
        if members:
            c = aggregate([x for d in members for x in per_doc[d]]).overall
            lines.append(_row(label, c, len(members)))
    lost: Counter[str] = Counter()
    for s in slots:
        if s.outcome in {"wrong", "missing", "spurious"}:
            lost[s.field] += 1
    lines.append("\nfields losing most (wrong + missing + spurious slots):")
    lines += [f"  {field:<48} {count}" for field, count in lost.most_common(12)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--scan-share", type=float, default=0.2, help="share of scanned documents")
    parser.add_argument("--family", choices=FAMILIES)
    parser.add_argument("--rulings", choices=[*RULINGS, "mixed"],
                        help="draw the tables with full grids (the family's default), horizontal "
                        "rules only, no rules at all, or one of those per document")
    parser.add_argument("--keep", type=Path, help="write the corpus and database here instead of a temp dir; "
                        "a rerun reuses the database (documents already ingested are not read again)")
    parser.add_argument("--ocr-cache", type=Path, metavar="DIR",
                        help="OCR page cache (ocr.cache_dir): pages OCR'd before, e.g. by "
                        "`python -m bench.tables --ocr-cache DIR`, are not OCR'd again")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-generated-") as tmp:
        root = args.keep or Path(tmp)
        t0 = time.perf_counter()
        docs = make_corpus(root, args.n, args.seed, args.scan_share, args.family,
                           rulings=args.rulings)
        t1 = time.perf_counter()
        db = root / "bench.db"
        if not args.keep:
            db.unlink(missing_ok=True)
        pred = run_pipeline(root / "docs", db, args.ocr_cache)
        t2 = time.perf_counter()
        gold = {k: v for k, v in load_dir(root / "gold").items() if k in docs}  # this corpus only
        scans = sum(s for _, s in docs.values())
        print(
            f"{len(docs)} generated documents ({len(docs) - scans} born-digital, {scans} scanned), "
            f"seeds {args.seed}..{args.seed + args.n - 1}: generated in {t1 - t0:.0f} s, "
            f"pipeline (rules) {t2 - t1:.0f} s\n"
        )
        print(report(gold, pred, docs))


if __name__ == "__main__":
    main()
