"""Scale: throughput, CPU, peak memory and database size against batch size and workers.

Builds N distinct reports (edited copies of the bundled samples: figures scaled, the
department renamed; ``extractor.testing.corpus``) and runs the real CLI on them,
``extractor run DIR --extractor rules --export OUT`` in a fresh process with a fresh
SQLite database, for each N. Per run it prints docs/s, CPU seconds per document (the
run's whole process tree), peak RSS (the largest process of the tree: the writer, or a
worker), database bytes per document beside the input bytes per document. Then, in the
same bench run, the same N_small documents with ``--workers 1``, ``--workers 2`` and
``--ray`` (when Ray is installed): the throughput ratios against one worker, and whether
the exports are byte-identical.

Acceptance (issue 12): peak RSS at the largest N ≤ 1.2× that at 30; CPU s/doc flat within
15%; ``--workers 2`` / ``--workers 1`` ≥ 1.7 on text documents; database ≤ 2× input.
The machine's load average is printed: on a shared machine absolute numbers are noise,
the ratios within one run are what to read.

    python bench/scale.py                 # N = 30, 300
    python bench/scale.py --big           # N = 30, 300, 3000
    python bench/scale.py --sizes 30 100  # other sizes
"""

from __future__ import annotations

import argparse
import filecmp
import importlib.util
import json
import os
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

    @property
    def docs_per_s(self) -> float:
        return self.docs / self.wall_s

    def row(self) -> str:
        return (f"{self.label:<22}{self.docs:>6}{self.docs_per_s:>9.2f}{self.cpu_s / self.docs:>10.3f}"
                f"{self.peak_rss_mb:>10.0f}{self.db_bytes / self.docs / 1024:>11.1f}"
                f"{self.input_bytes / self.docs / 1024:>11.1f}{self.db_bytes / self.input_bytes:>8.2f}")


HEADER = (f"{'run':<22}{'docs':>6}{'docs/s':>9}{'CPU s/doc':>10}{'peak MB':>10}{'DB KB/doc':>11}"
          f"{'in KB/doc':>11}{'DB/in':>8}")


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
                    sum(p.stat().st_size for p in corpus.iterdir()), out)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    parser.add_argument("--big", action="store_true", help="add N = 3000")
    parser.add_argument("--workers", type=int, default=None, help="workers for the size series "
                                                                  "(default: every core)")
    args = parser.parse_args()
    sizes = args.sizes or ([30, 300, 3000] if args.big else [30, 300])
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}; "
          f"cores: {len(os.sched_getaffinity(0))}")
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        work = Path(tmp)
        series: list[Measured] = []
        flags = ["--workers", str(args.workers)] if args.workers else []
        print(f"\nsize series ({'--workers ' + str(args.workers) if args.workers else 'default workers'}):")
        print(HEADER)
        for n in sizes:
            corpus = work / f"in-{n}"
            write_corpus(SAMPLES, n, corpus)
            series.append(run_cli(f"n{n}", corpus, work, flags))
            print(series[-1].row(), flush=True)
        small = work / f"in-{sizes[0]}"
        print(f"\nworkers on the same {sizes[0]} documents:")
        print(HEADER)
        ceiling_before = parallel_ceiling()
        one = run_cli("workers-1", small, work, ["--workers", "1"])
        print(one.row(), flush=True)
        two = run_cli("workers-2", small, work, ["--workers", "2"])
        print(two.row(), flush=True)
        ray = None
        if importlib.util.find_spec("ray") is not None:
            ray = run_cli("ray-local-2cpu", small, work, ["--ray", "--workers", "2"])
            print(ray.row(), flush=True)
        ceiling = (ceiling_before + parallel_ceiling()) / 2
        first, last = series[0], series[-1]
        print("\nratios (same run):")
        print(f"  peak RSS  N={last.docs} / N={first.docs}: {last.peak_rss_mb / first.peak_rss_mb:.2f} "
              "(target <= 1.2)")
        print(f"  CPU s/doc N={last.docs} / N={first.docs}: "
              f"{(last.cpu_s / last.docs) / (first.cpu_s / first.docs):.2f} (target within 0.85-1.15)")
        print(f"  database / input at N={last.docs}: {last.db_bytes / last.input_bytes:.2f} (target <= 2)")
        print(f"  throughput --workers 2 / --workers 1: {two.docs_per_s / one.docs_per_s:.2f} "
              "(target >= 1.7)")
        print(f"  machine's own ceiling, CPU loop in 2 processes / 1 (before and after): {ceiling:.2f}; "
              f"--workers 2 reaches {two.docs_per_s / one.docs_per_s / ceiling:.0%} of it")
        print(f"  exports --workers 2 == --workers 1: {same_exports(one.export, two.export)}")
        if ray is not None:
            print(f"  throughput --ray (2 CPUs) / --workers 1: {ray.docs_per_s / one.docs_per_s:.2f}")
            print(f"  exports --ray == --workers 1: {same_exports(one.export, ray.export)}")
        else:
            print("  ray: not installed (pip install 'extractor[ray]')")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
