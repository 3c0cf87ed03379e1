"""``extractor run --batch``: the model path through the OpenAI Batch API, on loopback.

Every test talks HTTP to :class:`FakeOpenAI`, whose Batch endpoints answer each line with
the same reply logic as its chat endpoint, so a batch run and a synchronous run of the
same documents can be compared record for record. The kill test SIGKILLs the CLI while
its batch is provably running (the server holds it ``in_progress`` until told), not after
a guessed sleep.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from sqlmodel import select

from extractor.backends import OpenAICompatBackend
from extractor.cli import main
from extractor.core.errors import ModelError
from extractor.migrations import head, upgrade
from extractor.prompts import section_of_message
from extractor.retry import poll_until
from extractor.store import ModelCall, Run, Store, make_engine
from extractor.store_batches import BatchJob
from extractor.testing import FakeOpenAI, Reply
from extractor.testing.demo_responder import respond
from tests.conftest import ROOT, SAMPLES

SAMPLE_FILES = [str(p) for p in sorted(SAMPLES.glob("*.txt"))]
CALLS = 25
"""Model calls the three samples need (see tests/test_model_cli.py)."""
ENV = {"EXTRACTOR_MODEL__BACKOFF_MAX_S": "0.05", "EXTRACTOR_MODEL__MAX_RETRIES": "2",
       "EXTRACTOR_MODEL__TIMEOUT_S": "20", "EXTRACTOR_MODEL__BATCH_POLL_S": "0.01",
       "EXTRACTOR_MODEL__BATCH_POLL_MAX_S": "0.05",
       "EXTRACTOR_MODEL__PRICES": json.dumps({"fake-model": {"input": 2.0, "output": 8.0}})}


@pytest.fixture(autouse=True)
def fast_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def run_model(db: str, srv: FakeOpenAI, *extra: str) -> int:
    return main(["--db", db, "run", *SAMPLE_FILES, "--extractor", "model", "--base-url", srv.base_url,
                 "--model", "fake-model", *extra])


def exported(db: str, srv: FakeOpenAI, out: Path, *extra: str) -> dict[str, Any]:
    """Run, export, and read the prediction files back (document id → record)."""
    run_model(db, srv, "--export", str(out), *extra)
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(out.glob("*.json"))}


def calls(db: str) -> list[ModelCall]:
    with Store.open(db).session() as s:
        return list(s.exec(select(ModelCall).order_by(ModelCall.id)))  # type: ignore[arg-type]


def body_key(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, ensure_ascii=False)


def test_batch_run_gives_the_records_the_sync_path_gives_at_half_the_price(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sync_db, batch_db = f"sqlite:///{tmp_path / 'sync.db'}", f"sqlite:///{tmp_path / 'batch.db'}"
    with FakeOpenAI(respond) as srv:
        sync = exported(sync_db, srv, tmp_path / "sync")
        sync_bodies = sorted(body_key(r.body) for r in srv.chat_requests())
        before = srv.endpoint_counts()
        batch = exported(batch_db, srv, tmp_path / "batch", "--batch")
        counts = srv.endpoint_counts() - before
        lines = sorted(body_key(r.body) for r in srv.batch_lines)
        err = capsys.readouterr().err
        assert srv.errors == []
    assert len(sync) == 3 and batch == sync, "same prediction files, value for value"
    assert counts["POST /v1/chat/completions"] == 0, "nothing went through the synchronous endpoint"
    assert counts["POST /v1/files"] == 1 and counts["POST /v1/batches"] == 1
    assert counts["GET /v1/files/{id}/content"] == 1  # the output file; no error file
    assert lines == sync_bodies, "each batch line is the request the synchronous path sends"
    assert f"model calls: {CALLS} sent" in err
    sync_calls, batch_calls = calls(sync_db), calls(batch_db)
    assert [c.status for c in batch_calls] == ["ok"] * CALLS
    assert {c.cache_key for c in batch_calls} == {c.cache_key for c in sync_calls}
    assert sum(c.tokens_in for c in batch_calls) == sum(c.tokens_in for c in sync_calls) > 0
    sync_cost, batch_cost = sum(c.cost_usd for c in sync_calls), sum(c.cost_usd for c in batch_calls)
    assert batch_cost == pytest.approx(sync_cost / 2, rel=1e-6) and batch_cost > 0
    with Store.open(batch_db).session() as s:
        jobs = list(s.exec(select(BatchJob)))
    assert [(j.status, j.remote_status, j.requests) for j in jobs] == [("done", "completed", CALLS)]


def test_a_synchronous_run_reuses_batch_replies_and_an_unchanged_rerun_sends_nothing(
        sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAI(respond) as srv:
        assert run_model(sqlite_url, srv, "--batch") == 0
        seen, lines = len(srv.requests), len(srv.batch_lines)
        capsys.readouterr()
        assert run_model(sqlite_url, srv, "--batch") == 0
        out = capsys.readouterr().out
        assert len(srv.requests) == seen and len(srv.batch_lines) == lines, "0 HTTP requests"
        assert out.count("unchanged (run 1)") == 3
        assert run_model(sqlite_url, srv) == 0  # synchronous: another run, same cache
        assert srv.count() == 0 and len(srv.requests) == seen, "every call answered by the batch"
        assert run_model(sqlite_url, srv, "--batch", "--no-reconcile") == 0  # a new batch run
        assert len(srv.requests) == seen, "all cached: no file, no batch, no poll"


def _section(body: dict[str, Any]) -> str | None:
    return section_of_message(body["messages"][0]["content"])


def test_a_request_that_fails_inside_the_batch_fails_its_document_with_the_reason(
        sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    refuse = {"on": True}

    def handler(body: dict[str, Any]) -> Reply:
        if refuse["on"] and _section(body) == "three_public":
            return Reply.http_error(400, "context_length_exceeded: this prompt is too long")
        return respond(body)

    with FakeOpenAI(handler) as srv:
        code = run_model(sqlite_url, srv, "--batch", "--no-reconcile")
        out = capsys.readouterr().out
        refused = [r for r in srv.batch_lines if _section(r.body) == "three_public"]
        assert refused and srv.endpoint_counts()["GET /v1/files/{id}/content"] == 2  # output + errors
        store = Store.open(sqlite_url)
        statuses = {rd.document: rd for rd in store.run_documents(1)}
        assert code == 3 and {rd.status for rd in statuses.values()} == {"failed"}
        for rd in statuses.values():
            note = " ".join(rd.notes or [])
            assert "failed in the batch" in note and "HTTP 400" in note and "context_length_exceeded" in note
        assert out.count("failed: ") >= 3
        failed = [c for c in calls(sqlite_url) if c.status == "failed"]
        assert len(failed) == len(refused) and all("context_length_exceeded" in (c.error or "")
                                                    for c in failed)

        refuse["on"] = False  # the endpoint recovers: a re-run submits only what failed
        lines = len(srv.batch_lines)
        assert run_model(sqlite_url, srv, "--batch", "--no-reconcile") == 0
        assert len(srv.batch_lines) - lines == len(refused)
        assert srv.endpoint_counts()["POST /v1/batches"] == 2 and srv.count() == 0


def test_a_reply_cut_off_in_the_batch_is_split_and_asked_again_like_a_synchronous_one(
        sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    def handler(body: dict[str, Any]) -> Reply:
        if _section(body) == "summary" and body.get("max_tokens") == 2048:
            return Reply.truncated(respond(body).content)
        return respond(body)

    with FakeOpenAI(handler) as srv:
        assert run_model(sqlite_url, srv, "--batch", "--no-reconcile") == 0
        cut = [r for r in srv.batch_lines if _section(r.body) == "summary"]
        again = srv.chat_requests()
        counts = srv.endpoint_counts()
    capsys.readouterr()
    assert cut and again and {_section(r.body) for r in again} == {"summary"}, \
        "only the cut-off calls went through the synchronous path"
    assert any(r.body["max_tokens"] == 4096 for r in again)
    assert counts["POST /v1/batches"] == 1
    with Store.open(sqlite_url).session() as s:
        batched = set(s.exec(select(BatchJob)).one().calls or {})
    cut_rows = [c for c in calls(sqlite_url) if c.cache_key in batched and c.status == "truncated"]
    assert len(cut_rows) == len(cut) and {c.section for c in cut_rows} == {"summary"}
    assert {rd.status for rd in Store.open(sqlite_url).run_documents(1)} == {"done"}


# --------------------------------------------------------------------------- kill and resume


def _cli(db: str, srv: FakeOpenAI, *extra: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from extractor.cli import main; sys.exit(main())",
            "--db", db, "run", *SAMPLE_FILES, "--extractor", "model", "--base-url", srv.base_url,
            "--model", "fake-model", "--batch", *extra]


def _kill_when(srv: FakeOpenAI, db: str, cwd: Path, seen: str, times: int) -> None:
    """Start a batch run and SIGKILL it once the server has seen ``seen`` ``times`` times."""
    env = {**os.environ, **ENV, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(_cli(db, srv), cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        reached = srv.wait_for(lambda: srv.endpoint_counts()[seen] >= times or proc.poll() is not None,
                               timeout_s=120)
        assert reached and proc.poll() is None, f"the run was alive after {times} x {seen}"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)


@pytest.mark.slow
def test_a_batch_run_killed_while_its_batch_runs_resumes_it_without_a_second_batch(
        tmp_path: Path) -> None:
    db, ref_db = f"sqlite:///{tmp_path / 'batch.db'}", f"sqlite:///{tmp_path / 'sync.db'}"
    env = {**os.environ, **ENV, "PYTHONPATH": str(ROOT)}
    with FakeOpenAI(respond) as srv:
        srv.batches.hold.clear()  # every batch stays in_progress until released
        _kill_when(srv, db, tmp_path, "GET /v1/batches/{id}", 2)
        with Store.open(db).session() as s:
            jobs = list(s.exec(select(BatchJob)))
        assert [(j.status, j.requests) for j in jobs] == [("submitted", CALLS)], \
            "the batch was on record before it was polled"
        assert calls(db) == [] and srv.batch_lines == []

        srv.batches.hold.set()
        patient = {**env, "EXTRACTOR_MODEL__BATCH_POLL_S": "0.02"}  # polls differently: same run
        finished = subprocess.run(_cli(db, srv, "--export", str(tmp_path / "batch")), cwd=tmp_path,
                                  env=patient, capture_output=True, text=True, timeout=300, check=False)
        assert finished.returncode == 0, finished.stderr[-2000:]
        assert "resuming 1 submitted batch" in finished.stderr
        counts = srv.endpoint_counts()
        assert counts["POST /v1/batches"] == 1 and counts["POST /v1/files"] == 1
        assert len(srv.batch_lines) == CALLS and srv.count() == 0

        run_model(ref_db, srv, "--export", str(tmp_path / "sync"))  # the synchronous reference
    batch = {p.name: p.read_text(encoding="utf-8") for p in (tmp_path / "batch").glob("*.json")}
    sync = {p.name: p.read_text(encoding="utf-8") for p in (tmp_path / "sync").glob("*.json")}
    assert len(batch) == 3 and batch == sync
    with Store.open(db).session() as s:
        runs = list(s.exec(select(Run)))
        jobs = list(s.exec(select(BatchJob)))
    assert [(r.id, r.status) for r in runs] == [(1, "done")], "the killed run was resumed"
    assert [j.status for j in jobs] == ["done"]
    assert sorted(c.status for c in calls(db)) == ["ok"] * CALLS
    assert {c.run_id for c in calls(db)} == {1}


@pytest.mark.slow
def test_a_run_killed_before_it_learnt_its_batch_id_finds_the_batch_instead_of_paying_twice(
        tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'batch.db'}"
    env = {**os.environ, **ENV, "PYTHONPATH": str(ROOT)}
    with FakeOpenAI(respond) as srv:
        srv.batches.answer_create.clear()  # the batch is created, its id never reaches the client
        _kill_when(srv, db, tmp_path, "POST /v1/batches", 1)
        with Store.open(db).session() as s:
            assert [(j.status, j.batch_id) for j in s.exec(select(BatchJob))] == [("uploaded", None)]
        srv.batches.answer_create.set()
        finished = subprocess.run(_cli(db, srv, "--no-reconcile"), cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=300, check=False)
        assert finished.returncode == 0, finished.stderr[-2000:]
        counts = srv.endpoint_counts()
    assert counts["POST /v1/batches"] == 1 and counts["GET /v1/batches"] == 1, "found by its input file"
    assert counts["POST /v1/files"] == 1 and len(srv.batch_lines) == CALLS
    assert sorted(c.status for c in calls(db)) == ["ok"] * CALLS


def test_db_upgrade_adds_the_batch_job_table_to_an_older_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    Store.open(f"sqlite:///{path}")
    with sqlite3.connect(path) as con:  # as the code before batch runs left it, at r0002
        con.execute("DROP TABLE batch_job")
        con.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        con.execute("INSERT INTO alembic_version VALUES ('r0002')")
    engine = make_engine(f"sqlite:///{path}")
    with sqlite3.connect(path) as con:  # opening adds it; drop it again to test the migration
        con.execute("DROP TABLE batch_job")
    assert upgrade(engine) == ("r0002", head())
    with sqlite3.connect(path) as con:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        columns = {r[1] for r in con.execute("PRAGMA table_info(batch_job)")}
    assert "batch_job" in tables and {"batch_id", "input_file_id", "calls", "status"} <= columns


class Answer(BaseModel):
    name: str
    value: float


MESSAGES = [{"role": "system", "content": "Extract the figure."},
            {"role": "user", "content": "收入合计 123.45 万元"}]


@pytest.mark.parametrize("mode", ["tools", "json_schema", "json"])
def test_in_every_mode_a_batch_line_is_the_synchronous_request_and_parses_to_the_same_record(
        mode: str) -> None:
    async def both(srv: FakeOpenAI) -> tuple[Any, ...]:
        backend = OpenAICompatBackend.from_settings(srv.settings(mode=mode, max_retries=0))
        try:
            record, _meta = await backend.complete(MESSAGES, Answer, max_tokens=256)
            line = backend.batch_line("key-1", MESSAGES, Answer, max_tokens=256)
            file_id = await backend.upload_batch_file(json.dumps(line).encode() + b"\n", "in.jsonl")
            state = await backend.create_batch(file_id, {"extractor_job": "1"})
            while not state.finished:
                state = await backend.batch_state(state.batch_id)
            assert state.output_file_id is not None
            reply = json.loads(await backend.file_text(state.output_file_id))
            parsed = backend.parse_stored(reply["response"]["body"], Answer)
            found = await backend.find_batch(file_id)
            return record, line, reply, parsed, state, found
        finally:
            await backend.aclose()

    with FakeOpenAI([Reply.json({"name": "收入合计", "value": 123.45})] * 2) as srv:
        record, line, reply, parsed, state, found = asyncio.run(both(srv))
        sync_body = srv.chat_requests()[0].body
    assert line["url"] == "/v1/chat/completions" and line["method"] == "POST"
    assert line["body"] == sync_body, f"{mode}: the batch asks exactly what the sync call asked"
    assert reply["custom_id"] == "key-1" and parsed == record == Answer(name="收入合计", value=123.45)
    assert state.status == "completed" and found is not None and found.batch_id == state.batch_id


def test_polling_stops_when_the_batch_is_done_and_gives_up_past_its_timeout_with_one_line() -> None:
    polls: list[int] = []

    async def fetch() -> int:
        polls.append(1)
        return len(polls)

    assert asyncio.run(poll_until(fetch, lambda n: n >= 3, first_s=0.001, max_s=0.002, timeout_s=60,
                                  what="model batch b1")) == 3
    with pytest.raises(ModelError, match=r"model batch b2: not finished after 0.05 s .*re-run"):
        asyncio.run(poll_until(fetch, lambda n: False, first_s=0.001, max_s=0.002, timeout_s=0.05,
                               what="model batch b2"))
