"""Benchmark the model path: tokens sent with routing vs. the whole document per section, and
wall time against a latency-simulating endpoint vs. the ideal N·latency/concurrency.

Both token arms run in the same invocation through the real extractor against the test
endpoint (:mod:`extractor.testing.fake_openai` with the demo responder); tokens are counted
on the requests the server actually received (every message plus the response schema),
with the project's estimator (:func:`extractor.chunk.count_tokens`).

The timing arm starts the endpoint in a separate process (so the client does not share a
GIL with the server) answering every call after ``--latency-ms`` with the minimal instance
of the requested schema: the endpoint costs only its latency, which is what the ideal
N·latency/concurrency assumes. The store is a fresh SQLite file, so nothing is cached.

    python bench/tokens.py                      # data/samples/*.txt
    python bench/tokens.py --concurrency 8 --latency-ms 300 data/samples
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import openai.resources.chat  # noqa: E402,F401  # the SDK imports this lazily on the first call: not concurrency

from extractor.backends.openai_compat import make_backend  # noqa: E402
from extractor.chunk import count_tokens  # noqa: E402
from extractor.core.settings import ModelSettings, Settings  # noqa: E402
from extractor.core.types import DocumentData  # noqa: E402
from extractor.extractors.model import ModelExtractor  # noqa: E402
from extractor.extractors.model.routing import RoutingConfig  # noqa: E402
from extractor.ingest import iter_input_files  # noqa: E402
from extractor.pipeline import prepare_document  # noqa: E402
from extractor.prompts import load_prompts  # noqa: E402
from extractor.store import Store  # noqa: E402
from extractor.testing.demo_responder import respond  # noqa: E402
from extractor.testing.fake_openai import FakeOpenAI, RecordedRequest  # noqa: E402


def request_tokens(request: RecordedRequest) -> int:
    """Tokens a request sends: every message, plus the schema in response_format / tools."""
    body = request.body
    total = sum(count_tokens(str(m.get("content") or "")) for m in body.get("messages") or [])
    for extra in ("response_format", "tools"):
        if body.get(extra):
            total += count_tokens(json.dumps(body[extra], ensure_ascii=False))
    return total


@dataclass
class Arm:
    calls: int = 0
    tokens: int = 0


def _extractor(settings: ModelSettings, store_dir: Path, name: str,
               routing: RoutingConfig) -> ModelExtractor:
    store = Store.open(f"sqlite:///{store_dir / name}.db")
    prompts = load_prompts(Settings().prompts_dir)
    return ModelExtractor(make_backend(settings), store, prompts, settings, routing)


def token_arms(docs: Sequence[DocumentData], workdir: Path) -> dict[str, tuple[Arm, Arm]]:
    """Per document: (routed, whole document per section), measured at the server."""
    out: dict[str, tuple[Arm, Arm]] = {}
    with FakeOpenAI(respond) as srv:
        settings = srv.settings(max_concurrency=8, timeout_s=30)
        arms = {"routed": _extractor(settings, workdir, "routed", RoutingConfig()),
                "whole": _extractor(settings, workdir, "whole", RoutingConfig(whole_document=True))}
        try:
            for doc in docs:
                measured = []
                for extractor in arms.values():
                    before = srv.count()
                    extractor.prefetch([doc])
                    sent = srv.chat_requests()[before:]
                    measured.append(Arm(len(sent), sum(request_tokens(r) for r in sent)))
                out[doc.doc_id] = (measured[0], measured[1])
        finally:
            for extractor in arms.values():
                extractor.close()
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int, proc: subprocess.Popen[Any], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"endpoint exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("endpoint did not start")


@dataclass
class Timing:
    calls: int
    wall_s: float
    ideal_s: float


def timing_arm(docs: Sequence[DocumentData], workdir: Path, latency_ms: float,
               concurrency: int) -> Timing:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "extractor.testing.fake_openai", "--port", str(port),
                             "--latency-ms", str(latency_ms)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(port, proc)
        settings = ModelSettings(base_url=f"http://127.0.0.1:{port}/v1", model="bench-model",
                                 max_concurrency=concurrency, timeout_s=30)
        extractor = _extractor(settings, workdir, "timing", RoutingConfig())
        try:
            started = time.perf_counter()
            extractor.prefetch(docs)
            wall = time.perf_counter() - started
            calls = extractor.runner.counters.sent
        finally:
            extractor.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return Timing(calls, wall, calls * latency_ms / 1000.0 / concurrency)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path,
                        default=sorted((ROOT / "data" / "samples").glob("*.txt")))
    parser.add_argument("--latency-ms", type=float, default=300.0)
    parser.add_argument("--concurrency", type=int, default=5,
                        help="calls in flight in the timing arm (default 5: the samples need 25 "
                             "calls, 5 full waves)")
    args = parser.parse_args(argv)
    settings = Settings()
    files = [p for p in iter_input_files(args.paths) if p.suffix in {".txt", ".md", ".pdf"}]
    docs = [prepare_document(p, settings, None) for p in files]
    with tempfile.TemporaryDirectory(prefix="bench-tokens-") as tmp:
        arms = token_arms(docs, Path(tmp))
        print("tokens sent per document (messages + response schema, count_tokens estimate)")
        print(f"{'document':28} {'routed calls':>12} {'routed tokens':>14} {'whole calls':>12} "
              f"{'whole tokens':>13} {'reduction':>10}")
        total_r = total_w = 0
        for doc_id, (routed, whole) in arms.items():
            total_r += routed.tokens
            total_w += whole.tokens
            print(f"{doc_id:28} {routed.calls:>12} {routed.tokens:>14,} {whole.calls:>12} "
                  f"{whole.tokens:>13,} {whole.tokens / max(1, routed.tokens):>9.1f}x")
        print(f"{'total':28} {'':>12} {total_r:>14,} {'':>12} {total_w:>13,} "
              f"{total_w / max(1, total_r):>9.1f}x")
        timing = timing_arm(docs, Path(tmp), args.latency_ms, args.concurrency)
    ratio = timing.ideal_s / timing.wall_s if timing.wall_s else 0.0
    print(f"\nwall time: {timing.calls} calls, {args.latency_ms:g} ms latency, concurrency "
          f"{args.concurrency}: {timing.wall_s:.2f} s; ideal N·latency/concurrency = "
          f"{timing.ideal_s:.2f} s -> {ratio:.2f} of ideal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
