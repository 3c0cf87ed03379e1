"""Durable jobs: a server or worker killed with SIGKILL mid-job leaves nothing half done.

After a restart every job finishes exactly once: one completion per job, one run per
document, and the record of the job that was cut off equals an uninterrupted
``extractor run --export`` of the same file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from extractor.cli import main
from extractor.service.models import Job
from extractor.service.queue import JobQueue
from extractor.store import Store, make_engine
from tests.conftest import ROOT, sample_text
from tests.service_support import WAIT_S, Server, clean_env, upload, wait_job

LEASE_S = 3


def _reports(folder: Path, n: int) -> list[Path]:
    """Distinct reports of a few pages each (long enough that a kill lands mid-job)."""
    base = sample_text("003_17aaca51ade6ba7f")
    out = []
    for i in range(n):
        path = folder / f"report_{i}.txt"
        path.write_text(f"副本 {i}\n" + "\f".join([base] * 3), encoding="utf-8")
        out.append(path)
    return out


def _wait_for(queue: JobQueue, states: set[str]) -> list[Job]:
    """Poll until the queue holds a job in each of ``states`` (e.g. running and queued)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        jobs = queue.jobs()
        if states <= {j.status for j in jobs}:
            return jobs
        time.sleep(0.05)
    raise AssertionError(f"queue never held {states}: {[(j.id, j.status) for j in queue.jobs()]}")


def _assert_each_job_done_once(store: Store, queue: JobQueue, interrupted: list[int]) -> None:
    jobs = queue.jobs()
    assert all(j.status == "done" and j.completions == 1 for j in jobs), \
        [(j.id, j.status, j.completions, j.reason) for j in jobs]
    for job in jobs:
        assert job.attempts == (2 if job.id in interrupted else 1), (job.id, job.attempts)
        holding = [rd.run_id for r in store.runs() if r.id is not None
                   for rd in store.run_documents(r.id) if rd.document == job.document]
        assert holding == [job.run_id], f"job {job.id}: document in runs {holding}"


def _matches_uninterrupted_run(tmp: Path, client_record: dict[str, object], path: Path) -> None:
    assert main(["--db", f"sqlite:///{tmp / 'reference.db'}", "run", str(path), "--extractor", "rules",
                 "--export", str(tmp / "reference")]) == 0
    expected = json.loads((tmp / "reference" / f"{path.stem}.json").read_text(encoding="utf-8"))
    assert client_record == expected


def test_a_killed_server_finishes_every_job_exactly_once(store_url: str, tmp_path: Path) -> None:
    store = Store.open(store_url)
    queue = JobQueue(store, LEASE_S)
    reports = _reports(tmp_path, 4)
    server = Server(store_url, tmp_path, lease_s=LEASE_S, workers=1).start()
    try:
        with server.client() as client:
            ids = [upload(client, p, extractor="rules").json()["job_id"] for p in reports]
        _wait_for(queue, {"running", "queued"})
        server.kill()
    finally:
        server.stop()
    at_kill = {j.id: j.status for j in queue.jobs()}
    interrupted = [i for i, s in at_kill.items() if s == "running"]
    assert interrupted and "queued" in at_kill.values(), at_kill

    with Server(store_url, tmp_path, lease_s=LEASE_S, workers=1) as restarted, restarted.client() as client:
        for job_id in ids:
            wait_job(client, job_id)
        cut = queue.get(interrupted[0])
        record = client.get(f"/v1/documents/{cut.document}/record").json()["record"]
    _assert_each_job_done_once(store, queue, interrupted)
    _matches_uninterrupted_run(tmp_path, record, reports[ids.index(interrupted[0])])


@pytest.fixture
def postgres_url() -> str:
    url = os.environ.get("EXTRACTOR_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("EXTRACTOR_TEST_POSTGRES_URL not set (.ci/run sets it)")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public;"))
    engine.dispose()
    return url


def test_worker_processes_share_the_postgres_queue_and_survive_a_kill(postgres_url: str,
                                                                       tmp_path: Path) -> None:
    store = Store.open(postgres_url)
    queue = JobQueue(store, LEASE_S)
    reports = _reports(tmp_path, 5)
    env = clean_env(EXTRACTOR_SERVICE__LEASE_S=str(LEASE_S), EXTRACTOR_SERVICE__POLL_S="0.2",
                    EXTRACTOR_SERVICE__BLOB_DIR=str(tmp_path / "blobs"))
    workers: list[subprocess.Popen[bytes]] = []
    with Server(postgres_url, tmp_path, lease_s=LEASE_S, workers=0) as server, server.client() as client:
        ids = [upload(client, p, extractor="rules").json()["job_id"] for p in reports]
        try:
            for n in range(2):
                log = (tmp_path / f"worker-{n}.log").open("wb")
                workers.append(subprocess.Popen([sys.executable, "-m", "extractor.cli", "--db", postgres_url,
                                                 "worker"], cwd=ROOT, env=env, stdout=log,
                                                stderr=subprocess.STDOUT))
            running = next(j for j in _wait_for(queue, {"running", "queued"}) if j.status == "running")
            victim = next(w for w in workers if f":{w.pid}:" in (running.worker or ""))
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=30)
            at_kill = {j.id: j.status for j in queue.jobs()}
            for job_id in ids:
                wait_job(client, job_id)
        finally:
            for w in workers:
                if w.poll() is None:
                    w.terminate()
                    w.wait(timeout=30)
    jobs = {j.id: j for j in queue.jobs()}
    interrupted = [i for i, j in jobs.items() if i == running.id or (at_kill.get(i) == "running"
                                                                    and j.attempts == 2)]
    _assert_each_job_done_once(store, queue, interrupted)
    assert f":{victim.pid}:" not in (jobs[running.id].worker or "")  # a survivor finished it
