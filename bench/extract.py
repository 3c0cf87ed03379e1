"""Extraction speed of the rules extractor, against a bare number scan in the same run.

For each bundled sample: the rules extractor on the prepared document (normalized and
chunked, as loaded from the store), the reconciliation stage on its facts, and, as the
baseline, one bare ``re.finditer`` pass of the shared number pattern over the same text —
the least any extractor that looks at every figure must do. Ratios are printed beside
documents/s so the figures mean the same on a slower machine.

    python bench/extract.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from extractor.chunk import chunk_document  # noqa: E402
from extractor.core.types import DocumentData, PageText  # noqa: E402
from extractor.extractors.rules import RulesExtractor  # noqa: E402
from extractor.normalize import normalize_pages  # noqa: E402
from extractor.numbers import NUMBER_RE  # noqa: E402
from extractor.reconcile import reconcile  # noqa: E402


def _document(path: Path) -> DocumentData:
    pages = [PageText(1, path.read_text(encoding="utf-8"), "file")]
    norm, starts = normalize_pages(pages)
    doc = DocumentData(path.stem, str(path), path.stem, "text/plain", pages, norm, starts)
    doc.chunks = chunk_document(doc, 1200)
    return doc


def _best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    docs = [_document(p) for p in sorted((ROOT / "data" / "samples").glob("*.txt"))]
    rules = RulesExtractor()
    rows = []
    for doc in docs:
        facts = rules.extract(doc).facts
        t_rules = _best(lambda d=doc: rules.extract(d), args.repeat)
        t_rec = _best(lambda f=facts: reconcile(f), args.repeat)
        t_scan = _best(lambda d=doc: sum(1 for _ in NUMBER_RE.finditer(d.normalized.text)), args.repeat)
        rows.append((doc.doc_id, len(doc.normalized.text), t_rules, t_rec, t_scan))
    print(f"{'document':24} {'chars':>7} {'rules s':>8} {'reconcile s':>11} {'scan s':>8} "
          f"{'rules/scan':>10}")
    for doc_id, chars, t_rules, t_rec, t_scan in rows:
        print(f"{doc_id:24} {chars:7d} {t_rules:8.4f} {t_rec:11.4f} {t_scan:8.5f} {t_rules / t_scan:10.0f}x")
    total_rules = sum(r[2] for r in rows)
    total_both = sum(r[2] + r[3] for r in rows)
    print(f"\nrules extractor: {len(rows) / total_rules:.1f} documents/s; "
          f"with reconciliation: {len(rows) / total_both:.1f} documents/s "
          f"(median of {args.repeat} runs per document)")


if __name__ == "__main__":
    main()
