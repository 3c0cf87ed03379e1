"""HTTP requests, cost and wall time of a model run, synchronous vs ``--batch``, in one run.

Both runs use the same loopback server (``FakeOpenAI`` with the demo responder and a
per-request latency), the same documents (the samples), fresh databases and the same
price table; the figures are
ratios measured side by side, so machine load cancels out. The batch server answers a
whole batch at once, so its wall time says nothing about OpenAI's 24-hour window: the
point is requests and cost.

    python bench/batch_api.py [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from sqlmodel import select

from extractor.cli import main
from extractor.store import ModelCall, Store
from extractor.testing import FakeOpenAI
from extractor.testing.demo_responder import respond

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


def measure(paths: list[str], folder: Path, name: str, latency_s: float, *extra: str) -> dict[str, float]:
    db = f"sqlite:///{folder / (name + '.db')}"
    with FakeOpenAI(respond, latency_s=latency_s) as srv, contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        started = time.perf_counter()
        code = main(["--db", db, "run", *paths, "--extractor", "model", "--base-url", srv.base_url,
                     "--model", "fake-model", "--no-reconcile", "--workers", "1", *extra])
        wall = time.perf_counter() - started
        requests = len(srv.requests)
    with Store.open(db).session() as s:
        rows = [c for c in s.exec(select(ModelCall)) if c.status == "ok"]
    return {"exit": code, "wall_s": wall, "http_requests": requests, "calls": len(rows),
            "tokens": sum(c.tokens_in + c.tokens_out for c in rows),
            "cost_usd": sum(c.cost_usd for c in rows)}


def run(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args(argv)
    os.environ["EXTRACTOR_MODEL__PRICES"] = json.dumps({"fake-model": {"input": 0.4, "output": 1.6}})
    os.environ["EXTRACTOR_MODEL__BATCH_POLL_S"] = "0.05"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = [str(p) for p in sorted(SAMPLES.glob("*.txt"))]
        sync = measure(paths, folder, "sync", args.latency_ms / 1000)
        batch = measure(paths, folder, "batch", args.latency_ms / 1000, "--batch")
    print(f"{len(paths)} documents, {args.latency_ms:g} ms per request")
    print(f"{'':14}{'sync':>12}{'batch':>12}{'batch/sync':>12}")
    for key in ("calls", "http_requests", "tokens", "cost_usd", "wall_s"):
        a, b = sync[key], batch[key]
        ratio = f"{b / a:.3f}" if a else "-"
        print(f"{key:14}{a:12.4g}{b:12.4g}{ratio:>12}")
    if sync["exit"] or batch["exit"]:
        sys.exit(f"a run failed: sync exit {sync['exit']}, batch exit {batch['exit']}")


if __name__ == "__main__":
    run()
