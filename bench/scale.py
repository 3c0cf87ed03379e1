"""Scale: throughput, CPU, peak memory and database size against batch size and workers.

Builds N distinct reports (edited copies of the bundled samples: figures scaled, the
department renamed; ``extractor.testing.corpus``) and runs the real CLI on them,
``extractor run DIR --extractor rules --export OUT`` in a fresh process with a fresh
SQLite database, for each N. Per run it prints docs/s, CPU seconds per document (the
run's whole process tree), peak RSS (the largest process of the tree: the writer, or a
worker), database bytes per document beside the input bytes per document, and the
machine's 1-minute load average when the run ended.

CPU s/doc includes the fixed cost of a run (interpreter and imports, opening the
database, starting the workers, their first document): spread over 30 documents that is
a visible share, over 3,000 none. So the bench also runs one document alone and prints
the CPU per document *beyond* it, ``(CPU(N) - CPU(1)) / (N - 1)``: what each further
document costs, which is what "flat" is about.

Then, in the same bench run:

* text documents: the same ``--worker-docs`` documents (default 100) with ``--workers 1``,
  ``--workers 2`` and ``--ray`` (when Ray is installed): throughput ratios against one
  worker, and whether the exports are byte-identical;
* scanned pages: the samples' scanned PDFs (``data/samples/pdf/*_scan.pdf``, 2 pages each;
  ``--scan-generated K`` adds K generated scanned reports of about 10 pages) with
  ``--workers 1`` and ``--workers 2``: pages/s ratio (the pages of one PDF are read across
  the workers) and whether the exports are identical.

Acceptance (issue 12): peak RSS at the largest N <= 1.2x that at 30; CPU s/doc flat
within 15%; ``--workers 2`` / ``--workers 1`` >= 1.7 on text documents and >= 1.6 on
scanned pages; database <= 2x input. The machine's load average is printed: on a shared
machine absolute numbers are noise, the ratios within one run are what to read, and a
"ceiling" (a pure CPU loop in 2 processes vs 1, measured in the same run) says what two
processes could get at that moment.

    python bench/scale.py                   # N = 30, 300; 100 docs and 6 scanned pages by workers
    python bench/scale.py --big             # N = 30, 300, 3000
    python bench/scale.py --sizes 30 100    # other sizes
    python bench/scale.py --no-scan         # text only (OCR is seconds a page)
"""

from __future__ import annotations

import argparse
import filecmp
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from extractor.testing.corpus import write_corpus  # noqa: E402

SAMPLES = sorted((ROOT / "data" / "samples").glob("*.txt"))
SCANS = sorted((ROOT / "data" / "samples" / "pdf").glob("*_scan.pdf"))


@dataclass
class Measured:
    label: str
    docs: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    db_bytes: int
    input_bytes: int
    export: Path
    load: float
    """The machine's 1-minute load average when the run ended."""

    @property
    def docs_per_s(self) -> float:
        return self.docs / self.wall_s

    def row(self) -> str:
        return (f"{self.label:<22}{self.docs:>6}{self.docs_per_s:>9.2f}{self.cpu_s / self.docs:>10.3f}"
                f"{self.peak_rss_mb:>10.0f}{self.db_bytes / self.docs / 1024:>11.1f}"
                f"{self.input_bytes / self.docs / 1024:>11.1f}{self.db_bytes / self.input_bytes:>8.2f}"
                f"{self.load:>7.1f}")


HEADER = (f"{'run':<22}{'docs':>6}{'docs/s':>9}{'CPU s/doc':>10}{'peak MB':>10}{'DB KB/doc':>11}"
          f"{'in KB/doc':>11}{'DB/in':>8}{'load':>7}")


def run_cli(label: str, corpus: Path, work: Path, flags: list[str]) -> Measured:
    """One ``extractor run`` in a child process; CPU and peak RSS of its whole tree."""
    db = work / f"{label}.db"
    out = work / f"export-{label}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-m", "extractor.cli", "--db", f"sqlite:///{db}", "run", str(corpus),
           "--extractor", "rules", "--export", str(out), "--gold", str(work / "no-gold"), *flags]
    proc = subprocess.run([sys.executable, "-c", MEASURE, *cli], capture_output=True, text=True,
                          env=env, check=False)
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    if not last.startswith("{"):
        sys.exit(f"{label}: {proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    got = json.loads(last)
    if got["rc"] not in (0, 1):
        sys.exit(f"{label}: exit {got['rc']}\n{got['tail']}")
    docs = len(list(corpus.iterdir()))
    size = sum(p.stat().st_size for p in work.glob(f"{label}.db*"))
    return Measured(label, docs, got["wall"], got["cpu"], got["rss_kb"] / 1024, size,
                    sum(p.stat().st_size for p in corpus.iterdir()), out, os.getloadavg()[0])


MEASURE = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True, check=False)
wall = time.perf_counter() - started
use = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": proc.returncode, "wall": wall, "cpu": use.ru_utime + use.ru_stime,
                  "rss_kb": use.ru_maxrss, "tail": (proc.stdout + proc.stderr)[-2000:]}))
"""
"""A fresh measuring process per run: RUSAGE_CHILDREN's peak RSS is the largest process of
that run's tree only (in this process it would be the largest of every run so far)."""


def _burn(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def parallel_ceiling(tasks: int = 8, size: int = 3_000_000) -> float:
    """What two processes get on this machine right now: a pure-Python CPU loop, the same
    work in 2 processes vs 1 (2.0 on an idle 2-core machine; a shared one gives less)."""
    from concurrent.futures import ProcessPoolExecutor

    started = time.perf_counter()
    for _ in range(tasks):
        _burn(size)
    serial = time.perf_counter() - started
    with ProcessPoolExecutor(2) as pool:
        started = time.perf_counter()
        list(pool.map(_burn, [size] * tasks))
        parallel = time.perf_counter() - started
    return serial / parallel


def same_exports(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir())
    if names != sorted(p.name for p in b.iterdir()):
        return False
    match, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    return not mismatch and not errors and len(match) == len(names)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def size_series(work: Path, sizes: list[int], flags: list[str]) -> tuple[Measured, list[Measured]]:
    """One document alone (the fixed cost of a run), then each N."""
    print(f"\nsize series ({' '.join(flags) or 'default workers: every core'}):")
    print(HEADER)
    single = work / "in-1"
    write_corpus(SAMPLES, 1, single)
    alone = run_cli("n1", single, work, flags)
    print(alone.row(), flush=True)
    series: list[Measured] = []
    for n in sizes:
        corpus = work / f"in-{n}"
        write_corpus(SAMPLES, n, corpus)
        series.append(run_cli(f"n{n}", corpus, work, flags))
        print(series[-1].row(), flush=True)
    return alone, series


def worker_series(work: Path, docs: int) -> tuple[Measured, Measured, Measured | None]:
    corpus = work / f"workers-in-{docs}"
    write_corpus(SAMPLES, docs, corpus)
    print(f"\ntext documents by workers (the same {docs} documents):")
    print(HEADER)
    one = run_cli("text-workers-1", corpus, work, ["--workers", "1"])
    print(one.row(), flush=True)
    two = run_cli("text-workers-2", corpus, work, ["--workers", "2"])
    print(two.row(), flush=True)
    ray = None
    if importlib.util.find_spec("ray") is not None:
        ray = run_cli("text-ray-local-2cpu", corpus, work, ["--ray", "--workers", "2"])
        print(ray.row(), flush=True)
    return one, two, ray


def scan_corpus(folder: Path, generated: int) -> int:
    """The samples' scanned PDFs (and ``generated`` synthetic scanned reports); their pages."""
    from extractor.ingest import open_pdf
    from extractor.testing.synth import generate

    folder.mkdir(parents=True, exist_ok=True)
    for scan in SCANS:
        shutil.copyfile(scan, folder / scan.name)
    for seed in range(generated):
        rendered = generate(7000 + seed, scan=True)
        (folder / f"{rendered.doc_id}.pdf").write_bytes(rendered.pdf)
    pages = 0
    for pdf in folder.iterdir():
        with open_pdf(pdf) as doc:
            pages += doc.page_count
    return pages


def scan_series(work: Path, generated: int) -> tuple[Measured, Measured, int]:
    corpus = work / "scans"
    pages = scan_corpus(corpus, generated)
    print(f"\nscanned pages by workers ({len(list(corpus.iterdir()))} scanned PDFs, {pages} pages, "
          "real OCR):")
    print(HEADER + f"{'pages/s':>9}")
    one = run_cli("scan-workers-1", corpus, work, ["--workers", "1"])
    print(one.row() + f"{pages / one.wall_s:>9.3f}", flush=True)
    two = run_cli("scan-workers-2", corpus, work, ["--workers", "2"])
    print(two.row() + f"{pages / two.wall_s:>9.3f}", flush=True)
    return one, two, pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    parser.add_argument("--big", action="store_true", help="add N = 3000")
    parser.add_argument("--workers", type=int, default=None, help="workers for the size series "
                                                                  "(default: every core)")
    parser.add_argument("--worker-docs", type=int, default=100,
                        help="text documents for --workers 1 vs 2 (default 100)")
    parser.add_argument("--scan-generated", type=int, default=0, metavar="K",
                        help="add K generated scanned reports (about 10 pages each) to the scans")
    parser.add_argument("--no-scan", action="store_true", help="leave out the scanned-pages series")
    args = parser.parse_args()
    sizes = args.sizes or ([30, 300, 3000] if args.big else [30, 300])
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}; "
          f"cores: {len(os.sched_getaffinity(0))}")
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        work = Path(tmp)
        flags = ["--workers", str(args.workers)] if args.workers else []
        alone, series = size_series(work, sizes, flags)
        ceiling_before = parallel_ceiling()
        one, two, ray = worker_series(work, args.worker_docs)
        scans = None if args.no_scan else scan_series(work, args.scan_generated)
        ceiling = (ceiling_before + parallel_ceiling()) / 2
        first, last = series[0], series[-1]

        def beyond(m: Measured) -> float:
            return (m.cpu_s - alone.cpu_s) / (m.docs - 1)

        print("\nratios (same run):")
        print(f"  peak RSS  N={last.docs} / N={first.docs}: {_ratio(last.peak_rss_mb, first.peak_rss_mb)} "
              "(target <= 1.2)")
        print(f"  CPU s/doc N={last.docs} / N={first.docs}, whole runs: "
              f"{_ratio(last.cpu_s / last.docs, first.cpu_s / first.docs)} (target within 0.85-1.15)")
        print(f"  CPU s/doc beyond the first document (start-up excluded: (CPU(N) - CPU(1)) / (N - 1)): "
              f"{', '.join(f'N={m.docs}: {beyond(m):.3f}' for m in series)}; "
              f"N={last.docs} / N={first.docs}: {_ratio(beyond(last), beyond(first))}; "
              f"start-up + first document: {alone.cpu_s:.2f} CPU s")
        print(f"  database / input at N={last.docs}: {last.db_bytes / last.input_bytes:.2f} (target <= 2)")
        print(f"  text docs/s --workers 2 / --workers 1 ({one.docs} docs): "
              f"{_ratio(two.docs_per_s, one.docs_per_s)} (target >= 1.7)")
        if scans is not None:
            s1, s2, pages = scans
            print(f"  scanned pages/s --workers 2 / --workers 1 ({pages} pages): "
                  f"{_ratio(s2.docs_per_s, s1.docs_per_s)} (target >= 1.6)")
        print(f"  machine's own ceiling, CPU loop in 2 processes / 1 (before and after): {ceiling:.2f}; "
              f"text --workers 2 reaches {two.docs_per_s / one.docs_per_s / ceiling:.0%} of it")
        print(f"  exports text --workers 2 == --workers 1: {same_exports(one.export, two.export)}")
        if scans is not None:
            same = same_exports(scans[0].export, scans[1].export)
            print(f"  exports scanned --workers 2 == --workers 1: {same}")
        if ray is not None:
            print(f"  text docs/s --ray (2 CPUs) / --workers 1: {_ratio(ray.docs_per_s, one.docs_per_s)} "
                  "(Ray's workers are not children of the run: its CPU and peak MB leave them out)")
            print(f"  exports --ray == --workers 1: {same_exports(one.export, ray.export)}")
        else:
            print("  ray: not installed (pip install 'extractor[ray]')")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
