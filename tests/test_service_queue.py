"""The job queue on SQLite and PostgreSQL: exclusive claims under concurrency, leases that
expire, and a stale claim that can no longer finish a job."""

from __future__ import annotations

import threading
import time

from sqlalchemy import update
from sqlmodel import col

from extractor.service.models import Job
from extractor.service.queue import MAX_ATTEMPTS, JobQueue
from extractor.store import Store


def _enqueue(queue: JobQueue, n: int) -> list[int]:
    ids = []
    for i in range(n):
        job = queue.enqueue(f"{i:064x}", f"doc{i}.txt", f"/nowhere/doc{i}.txt", {"extractor": "rules"})
        assert job.id is not None
        ids.append(job.id)
    return ids


def test_concurrent_workers_claim_every_job_exactly_once(store_url: str) -> None:
    queue = JobQueue(Store.open(store_url), lease_s=60)
    ids = _enqueue(queue, 24)
    claimed: list[int] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        own = JobQueue(Store.open(store_url), lease_s=60)  # a connection pool of its own
        while (job := own.claim(name)) is not None:
            assert job.id is not None
            with lock:
                claimed.append(job.id)
            assert own.finish(job, run_id=None)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == ids
    jobs = queue.jobs()
    assert all(j.status == "done" and j.completions == 1 and j.attempts == 1 for j in jobs)


def test_an_expired_lease_is_reclaimed_and_the_old_claim_cannot_finish(store_url: str) -> None:
    store = Store.open(store_url)
    queue = JobQueue(store, lease_s=60)  # long: no stall of a busy machine can expire it
    (job_id,) = _enqueue(queue, 1)
    first = queue.claim("dead-worker")
    assert first is not None and first.id == job_id
    assert queue.claim("other") is None  # leased: not claimable
    # the first worker stops heart-beating (killed) and its lease runs out: written as the
    # passing of time would leave it, rather than slept for
    with store.session() as s:
        s.execute(update(Job).where(col(Job.id) == job_id).values(lease_until=time.time() - 1))
    second = queue.claim("other")
    assert second is not None and second.id == job_id and second.attempts == 2
    assert not queue.heartbeat(first) and not queue.finish(first, run_id=None)
    assert queue.finish(second, run_id=7)
    done = queue.get(job_id)
    assert (done.status, done.completions, done.run_id, done.worker) == ("done", 1, 7, "other")
    assert queue.claim("third") is None


def test_a_job_that_keeps_killing_its_process_is_failed(store_url: str) -> None:
    queue = JobQueue(Store.open(store_url), lease_s=0.05)
    (job_id,) = _enqueue(queue, 1)
    for _ in range(MAX_ATTEMPTS):
        assert queue.claim("crashing") is not None
        time.sleep(0.15)
    assert queue.claim("next") is None
    job = queue.get(job_id)
    assert job.status == "failed" and "gave up" in (job.reason or "")


def test_the_same_upload_is_one_job_until_it_fails(store_url: str) -> None:
    queue = JobQueue(Store.open(store_url), lease_s=60)
    a = queue.enqueue("a" * 64, "x.pdf", "/x.pdf", {"extractor": "rules"})
    assert queue.enqueue("a" * 64, "y.pdf", "/x.pdf", {"extractor": "rules"}).id == a.id
    other = queue.enqueue("a" * 64, "x.pdf", "/x.pdf", {"extractor": "model"})
    assert other.id != a.id  # other options: another job
    claimed = queue.claim("w")
    assert claimed is not None and claimed.id == a.id
    queue.fail(claimed, "boom")
    retry = queue.enqueue("a" * 64, "x.pdf", "/x.pdf", {"extractor": "rules"})
    assert retry.id not in (a.id, other.id)
    assert isinstance(queue.get(retry.id or 0), Job)
