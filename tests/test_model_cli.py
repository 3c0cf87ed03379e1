"""The model path through the real CLI, against a FakeOpenAI endpoint on 127.0.0.1.

In-process runs (``extractor.cli.main``) cover accounting, caching and comparison with a
rules run; the kill-and-resume test runs the CLI as a subprocess and SIGKILLs it
mid-run, then checks that the re-run completes without re-sending a call that had
already succeeded.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from extractor.backends.openai_compat import make_backend
from extractor.cli import main
from extractor.core.settings import Settings
from extractor.extractors.model import ModelExtractor
from extractor.prompts import load_prompts, section_of_message
from extractor.store import ModelCall, Run, Store
from extractor.testing import FAULT_KINDS, FakeOpenAI, FaultPlan, Reply
from extractor.testing.demo_responder import respond
from tests.conftest import ROOT, SAMPLES
from tests.service_support import WAIT_S

SAMPLE_FILES = [str(p) for p in sorted(SAMPLES.glob("*.txt"))]
FAST_ENV = {"EXTRACTOR_MODEL__BACKOFF_MAX_S": "0.05", "EXTRACTOR_MODEL__MAX_RETRIES": "2",
            "EXTRACTOR_MODEL__TIMEOUT_S": "20"}


@pytest.fixture
def fast_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FAST_ENV.items():
        monkeypatch.setenv(name, value)


def run_model(db: str, srv: FakeOpenAI, *extra: str) -> int:
    return main(["--db", db, "run", *SAMPLE_FILES, "--extractor", "model", "--base-url", srv.base_url,
                 "--model", "fake-model", *extra])


def model_calls(db: str) -> list[ModelCall]:
    with Store.open(db).session() as s:
        return list(s.exec(select(ModelCall)))


def identity(body: dict[str, Any]) -> tuple[str | None, str]:
    """What a request asks, independent of retries' and re-asks' extra messages."""
    messages = body["messages"]
    user = next(m["content"] for m in messages if m["role"] == "user")
    return section_of_message(messages[0]["content"]), user


@pytest.mark.usefixtures("fast_env")
def test_model_run_is_accounted_per_call_document_and_run(sqlite_url: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAI(respond) as srv:
        assert run_model(sqlite_url, srv) == 0
        out = capsys.readouterr()
        assert "run 1 (model): 3 documents" in out.out
        assert "model calls: 25 sent" in out.err
        assert srv.count() == 25
        rows = model_calls(sqlite_url)
        assert len(rows) == 25 and {r.run_id for r in rows} == {1}
        assert main(["--db", sqlite_url, "runs", "show", "1"]) == 0
        shown = capsys.readouterr().out
        assert "prompts: basic_expense=" in shown
        assert f"total: 25 calls, {sum(r.tokens_in for r in rows)} tokens in" in shown
        for doc_id in ("002_ede6ec7d9a9ccbff", "003_17aaca51ade6ba7f", "004_4a020ba0f11f1338"):
            line = next(ln for ln in shown.splitlines() if ln.startswith(doc_id))
            assert line.split()[1:4] == ["done", str(8 if not doc_id.startswith("004") else 9),
                                         str(8 if not doc_id.startswith("004") else 9)]


@pytest.mark.usefixtures("fast_env")
def test_rerunning_an_unchanged_run_makes_no_model_call(sqlite_url: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAI(respond) as srv:
        assert run_model(sqlite_url, srv) == 0
        sent = srv.count()
        capsys.readouterr()
        before = Store.open(sqlite_url).info()
        assert run_model(sqlite_url, srv) == 0
        assert srv.count() == sent
        out = capsys.readouterr().out
    assert out.count("unchanged (run 1)") == 3, "the finished identical run is reused"
    assert Store.open(sqlite_url).info() == before, "and nothing is added to the database"
    with Store.open(sqlite_url).session() as s:
        runs = list(s.exec(select(Run)))
    assert [r.status for r in runs] == ["done"]


@pytest.mark.usefixtures("fast_env")
def test_compare_a_model_run_with_a_rules_run(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAI(respond) as srv:
        assert run_model(sqlite_url, srv) == 0
    assert main(["--db", sqlite_url, "run", *SAMPLE_FILES, "--extractor", "rules"]) == 0
    capsys.readouterr()
    assert main(["--db", sqlite_url, "eval", "compare", "1", "2", "--gold", str(ROOT / "eval" / "gold")]) == 0
    out = capsys.readouterr().out
    assert "1" in out and "2" in out and "F1" in out


def _misquote_everything(request: dict[str, Any]) -> Reply:
    """A model whose every quote is invented: all values must be dropped, none stored."""
    answer = json.loads(respond(request).content)

    def spoil(node: Any) -> Any:
        if isinstance(node, dict):
            if "quote" in node and "value" in node:
                return {**node, "quote": "此句不在原文中 " + str(node["value"])}
            return {k: spoil(v) for k, v in node.items()}
        if isinstance(node, list):
            return [spoil(v) for v in node]
        return node

    return Reply.json(spoil(answer))


@pytest.mark.usefixtures("fast_env")
def test_values_without_evidence_never_become_findings(sqlite_url: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAI(_misquote_everything) as srv:
        assert run_model(sqlite_url, srv, "--no-reconcile") == 0
    capsys.readouterr()
    store = Store.open(sqlite_url)
    for rd in store.run_documents(1):
        assert rd.status == "empty"
        assert store.facts(1, rd.document) == []
        assert rd.stats is not None and rd.stats["dropped_values"] > 10
        assert any("dropped" in note for note in rd.notes or [])


def test_a_run_with_thirty_percent_faults_of_every_kind_completes(
        sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Seed 10 draws every fault kind within its first 22 requests. No transport retries, so
    every transient fault is a call that fails for good and must be on record; one re-ask."""
    for name, value in {**FAST_ENV, "EXTRACTOR_MODEL__TIMEOUT_S": "3", "EXTRACTOR_MODEL__MAX_RETRIES": "0",
                        "EXTRACTOR_MODEL__MAX_REASKS": "1"}.items():
        monkeypatch.setenv(name, value)
    faults = FaultPlan(0.3, seed=10, slow_s=6.0, retry_after_s=0.05)  # slow: outlasts the timeout
    with FakeOpenAI(respond, faults=faults) as srv:
        assert run_model(sqlite_url, srv, "--no-reconcile") == 0
        labels = {r.reply for r in srv.chat_requests()}
        requests = srv.count()
    assert {f"fault:{kind}" for kind in FAULT_KINDS} <= labels
    store = Store.open(sqlite_url)
    assert {rd.status for rd in store.run_documents(1)} == {"done"}
    rows = model_calls(sqlite_url)
    assert len({r.cache_key for r in rows}) == len(rows)  # each call recorded once
    assert requests <= len(rows) * 1 * 2  # (0 retries + 1) x (1 re-ask + 1) per recorded call
    failed = [r for r in rows if r.status != "ok"]
    assert failed and all(r.error for r in failed)
    capsys.readouterr()
    assert main(["--db", sqlite_url, "runs", "show", "1"]) == 0
    shown = capsys.readouterr().out
    assert all(f"{r.section} chunk {r.chunk_index}: {r.error}" in shown for r in failed)


# --------------------------------------------------------------------------- kill and resume


def _ok_calls_so_far(db: str) -> int:
    """Read-only peek while the CLI runs (opening a Store here would race its table creation)."""
    try:
        with sqlite3.connect(f"file:{db.removeprefix('sqlite:///')}?mode=ro", uri=True) as conn:
            return int(conn.execute("SELECT count(*) FROM modelcall WHERE status = 'ok'").fetchone()[0])
    except sqlite3.OperationalError:  # no file or no table yet
        return 0


def _cli(db: str, srv: FakeOpenAI) -> list[str]:
    return [sys.executable, "-c", "import sys; from extractor.cli import main; sys.exit(main())",
            "--db", db, "run", *SAMPLE_FILES, "--extractor", "model", "--base-url", srv.base_url,
            "--model", "fake-model", "--concurrency", "2", "--no-reconcile"]


@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_resends_no_successful_call(sqlite_url: str, tmp_path: Path) -> None:
    env = {**os.environ, **FAST_ENV, "PYTHONPATH": str(ROOT)}
    with FakeOpenAI(respond, latency_s=0.25) as srv:
        proc = subprocess.Popen(_cli(sqlite_url, srv), cwd=tmp_path, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + WAIT_S  # a bound on waiting for a loaded machine to start it
        while time.monotonic() < deadline and proc.poll() is None:
            if _ok_calls_so_far(sqlite_url) >= 6:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        done_before = {r.cache_key for r in model_calls(sqlite_url) if r.status == "ok"}
        first_requests = srv.count()
        assert 6 <= len(done_before) < 25

        finished = subprocess.run(_cli(sqlite_url, srv), cwd=tmp_path, env=env, capture_output=True,
                                  text=True, timeout=120, check=False)
        assert finished.returncode == 0, finished.stderr[-2000:]
        second = srv.chat_requests()[first_requests:]

    store = Store.open(sqlite_url)
    settings = Settings().model.model_copy(update={"base_url": srv.base_url, "model": "fake-model"})
    planner = ModelExtractor(make_backend(settings), store, load_prompts(Settings().prompts_dir),
                             settings)  # plans only: sends nothing
    try:
        asked = {c.cache_key: identity({"messages": c.message_dicts()})
                 for rd in store.run_documents(1)
                 for c in planner.plan(store.load_document(rd.document))}
    finally:
        planner.close()
    already = {asked[k] for k in done_before}
    assert not [r for r in second if identity(r.body) in already]
    assert len(second) == 25 - len(done_before)
    with store.session() as s:
        runs = list(s.exec(select(Run)))
    assert len(runs) == 1 and runs[0].status == "done"  # the killed run was resumed
    assert {rd.status for rd in store.run_documents(1)} == {"done"}
    assert sorted(r.status for r in model_calls(sqlite_url)) == ["ok"] * 25

