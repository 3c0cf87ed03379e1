"""The job queue, kept in the database so it outlives any process.

Claiming is one atomic step: ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL (workers
never wait on each other's rows), a single conditional ``UPDATE`` on SQLite (which
serializes writers). A claim holds a lease that the worker's heartbeat extends; a job
whose lease ran out (its process was killed) is claimable again. Every later write
names the claim token, so only the current holder can finish a job: none twice.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select

from extractor.core.errors import NotFoundError
from extractor.service.models import Job
from extractor.store import Store

MAX_ATTEMPTS = 3
"""A job whose process died this many times is failed rather than tried again: a file
that crashes the process (memory, a native library) must not take every worker down."""


def options_key(options: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()


class JobQueue:
    """Enqueue, claim, heartbeat and finish jobs; every method is one short transaction."""

    def __init__(self, store: Store, lease_s: float) -> None:
        self.store = store
        self.lease_s = lease_s
        self.postgres = store.engine.dialect.name == "postgresql"

    # ------------------------------------------------------------------ producers
    def enqueue(self, document: str, filename: str, source: str, options: dict[str, Any]) -> Job:
        """A new job, or the existing one for the same bytes and options (unless it failed)."""
        key = options_key(options)
        with self.store.session() as s:
            existing = s.exec(select(Job).where(Job.document == document, Job.options_key == key,
                                                col(Job.status).in_(("queued", "running", "done")))
                              .order_by(col(Job.id).desc())).first()
            if existing is not None:
                return existing
            job = Job(document=document, filename=filename, source=source, options=options,
                      options_key=key)
            s.add(job)
            s.flush()
            s.refresh(job)
        return job

    def get(self, job_id: int) -> Job:
        with self.store.session() as s:
            job = s.get(Job, job_id)
        if job is None:
            raise NotFoundError(f"no job {job_id}")
        return job

    def jobs(self, document: str | None = None) -> list[Job]:
        with self.store.session() as s:
            query = select(Job)
            if document:
                query = query.where(Job.document == document)
            return list(s.exec(query.order_by(col(Job.id))))

    # ------------------------------------------------------------------ workers
    def _claimable(self, now: float) -> ColumnElement[bool]:
        return or_(col(Job.status) == "queued",
                   and_(col(Job.status) == "running", col(Job.lease_until) < now))

    def claim(self, worker: str) -> Job | None:
        """Take the oldest claimable job, or ``None`` when there is none."""
        now = time.time()
        token = uuid.uuid4().hex
        values = {"status": "running", "claim": token, "worker": worker,
                  "lease_until": now + self.lease_s, "attempts": col(Job.attempts) + 1,
                  "started": datetime.now(UTC), "stage": "claimed"}
        with self.store.session() as s:
            if self.postgres:
                row = s.exec(select(Job).where(self._claimable(now)).order_by(col(Job.id))
                             .limit(1).with_for_update(skip_locked=True)).first()
                if row is None:
                    return None
                s.execute(update(Job).where(col(Job.id) == row.id).values(**values))
            else:
                oldest = (select(col(Job.id)).where(self._claimable(now)).order_by(col(Job.id))
                          .limit(1).scalar_subquery())
                result = s.execute(update(Job).where(col(Job.id) == oldest, self._claimable(now))
                                   .values(**values))
                if not getattr(result, "rowcount", 0):
                    return None
        with self.store.session() as s:
            claimed = s.exec(select(Job).where(Job.claim == token)).first()
        if claimed is not None and claimed.attempts > MAX_ATTEMPTS:
            self.fail(claimed, f"gave up after {MAX_ATTEMPTS} attempts: the process running "
                               "this job stopped each time (killed or out of memory)")
            return self.claim(worker)
        return claimed

    def _update_claimed(self, job: Job, **values: Any) -> bool:
        """Write to a job only while ``job``'s claim is the current one."""
        with self.store.session() as s:
            result = s.execute(update(Job).where(col(Job.id) == job.id, col(Job.claim) == job.claim,
                                                 col(Job.status) == "running").values(**values))
            return bool(getattr(result, "rowcount", 0))

    def heartbeat(self, job: Job) -> bool:
        """Extend the lease; ``False`` when the claim was lost (another worker took over)."""
        return self._update_claimed(job, lease_until=time.time() + self.lease_s)

    def progress(self, job: Job, stage: str, fraction: float) -> bool:
        return self._update_claimed(job, stage=stage, progress=fraction,
                                    lease_until=time.time() + self.lease_s)

    def finish(self, job: Job, run_id: int | None) -> bool:
        return self._update_claimed(job, status="done", stage="done", progress=1.0, run_id=run_id,
                                    finished=datetime.now(UTC), lease_until=None,
                                    completions=col(Job.completions) + 1)

    def fail(self, job: Job, reason: str, run_id: int | None = None) -> bool:
        return self._update_claimed(job, status="failed", reason=reason, run_id=run_id,
                                    finished=datetime.now(UTC), lease_until=None,
                                    completions=col(Job.completions) + 1)
