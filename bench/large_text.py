"""Ingest of very large text files: time and peak memory against size, to show linearity.

For each size a fresh process ingests one generated ``.txt`` of that many MB (the bundled
samples repeated, one page, as a 50 MB OCR dump would arrive) through the real path —
read, normalize, chunk, store in SQLite — with the size limits raised, and reports
seconds and peak RSS per stage. Beside it, in the same process, the bare baseline: reading
the file and splitting it into lines. The table prints s/MB and peak MB per MB of input
and both as ratios to the smallest size: ingest is linear when the ratios stay near 1.

    python bench/large_text.py                # 1, 10 and 50 MB
    python bench/large_text.py --sizes 1 5    # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from extractor.core.settings import load_settings
from extractor.ingest import read_pages
from extractor.normalize import normalize_pages
from extractor.chunk import chunk_document
from extractor.core.types import DocumentData
from extractor.store import Store

path, db = Path(sys.argv[1]), sys.argv[2]
settings = load_settings(database_url=db)
def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out = {"start_mb": rss_mb()}
t0 = time.perf_counter()
lines = path.read_text(encoding="utf-8").split("\n")
out["baseline_s"] = time.perf_counter() - t0
del lines
t = time.perf_counter()
pages, media = read_pages(path, settings.ocr)
out["read_s"] = time.perf_counter() - t; t = time.perf_counter()
norm, starts = normalize_pages(pages)
out["normalize_s"] = time.perf_counter() - t; t = time.perf_counter()
doc = DocumentData(path.stem, str(path), "bench" + path.stem, media, pages, norm, starts)
doc.chunks = chunk_document(doc, settings.chunk.token_budget)
out["chunk_s"] = time.perf_counter() - t; t = time.perf_counter()
Store.open(db).save_document(doc)
out["store_s"] = time.perf_counter() - t
out["chars"] = len(norm.text)
out["chunks"] = len(doc.chunks)
out["peak_mb"] = rss_mb()
print(json.dumps(out))
"""


def make_text(path: Path, megabytes: float) -> int:
    """Write the samples repeated to ``megabytes`` (UTF-8 bytes); returns the byte count."""
    base = "".join(p.read_text(encoding="utf-8") for p in sorted(SAMPLES.glob("*.txt")))
    unit = base.encode("utf-8")
    target = int(megabytes * 1_000_000)
    with path.open("wb") as handle:
        written = 0
        while written < target:
            handle.write(unit)
            written += len(unit)
    return written


def measure(megabytes: float, folder: Path) -> dict[str, float]:
    text = folder / f"large_{megabytes:g}mb.txt"
    size = make_text(text, megabytes)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EXTRACTOR_LIMITS__MAX_FILE_BYTES": str(10 * size),
           "EXTRACTOR_LIMITS__MAX_CHARS": str(10 * size)}
    done = subprocess.run([sys.executable, "-c", CHILD, str(text), f"sqlite:///{folder / 'bench.db'}"],
                          capture_output=True, text=True, env=env, check=True)
    (folder / "bench.db").unlink(missing_ok=True)
    text.unlink()
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    result["mb"] = size / 1e6
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 10, 50], help="MB of text")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="extractor-bench-") as tmp:
        for mb in sorted(args.sizes):
            rows.append(measure(mb, Path(tmp)))
            r = rows[-1]
            print(f"measured {r['mb']:.1f} MB", file=sys.stderr)
    first = rows[0]

    def total(r: dict[str, float]) -> float:
        return r["read_s"] + r["normalize_s"] + r["chunk_s"] + r["store_s"]

    print(f"{'MB':>6} {'chars':>11} {'chunks':>7} {'read':>6} {'norm':>6} {'chunk':>6} {'store':>6} "
          f"{'total s':>8} {'s/MB':>6} {'x':>5} {'peak MB':>8} {'MB/MB':>6} {'x':>5} {'baseline s':>10}")
    for r in rows:
        s_per_mb = total(r) / r["mb"]
        mem_per_mb = (r["peak_mb"] - r["start_mb"]) / r["mb"]
        first_mem = (first["peak_mb"] - first["start_mb"]) / first["mb"]
        print(f"{r['mb']:6.1f} {int(r['chars']):11,d} {int(r['chunks']):7d} {r['read_s']:6.2f} "
              f"{r['normalize_s']:6.2f} {r['chunk_s']:6.2f} {r['store_s']:6.2f} {total(r):8.2f} "
              f"{s_per_mb:6.2f} {s_per_mb / (total(first) / first['mb']):5.2f} {r['peak_mb']:8.0f} "
              f"{mem_per_mb:6.1f} {mem_per_mb / first_mem if first_mem > 0 else 0:5.2f} "
              f"{r['baseline_s']:10.2f}")
    print("x = ratio to the smallest size (near 1: linear). Peak MB is the process's RSS, "
          "MB/MB the growth over start-up per MB of input.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
