"""Model calls through the OpenAI Batch API: one uploaded file, one wait, half the price.

Same calls, same cache, same records as :class:`~extractor.extractors.model.calls.CallRunner`:
each planned call not already answered becomes one line of a JSONL input file
(``custom_id`` = its cache key, the body the synchronous path would send), the file is
uploaded and a batch created, and when the batch is done every reply is stored in the
``modelcall`` table (raw first, parsed after) exactly where a synchronous reply would be.
The extractor then assembles documents from the cache as usual, so a later synchronous
run reuses batch replies and a batch run reuses synchronous ones.

What makes a kill harmless:

* the job (input file id and every call it carries) is recorded before the batch is
  created, and the batch id the moment the endpoint returns it; a kill in between is
  covered by looking the batch up by its input file;
* a re-run finds the open job and polls it instead of submitting the calls again;
* a batch's replies are stored, and the job marked done, in one transaction.

A request that failed inside the batch (an error line, a reply that does not validate)
is recorded as a failed call with its reason; its document fails (see
:meth:`ModelExtractor.extract`) and a re-run submits it again. A reply cut off at its
token limit is recorded as truncated, and the synchronous runner splits it as it would
its own.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Awaitable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any, TypeVar

from sqlalchemy import update
from sqlmodel import col, select

from extractor.core.errors import ConfigError, ExtractorError, TruncatedOutputError
from extractor.core.types import BatchBackend, BatchState
from extractor.extractors.model.calls import TRUNCATED, CallRunner, PlannedCall, cost_usd
from extractor.extractors.model.schemas import SECTIONS
from extractor.retry import poll_until
from extractor.store import ModelCall, Run
from extractor.store_batches import BatchJob, open_jobs

T = TypeVar("T")

MAX_FILE_BYTES = 190_000_000
"""Bytes per input file (the API takes up to 200 MB)."""
_LOOKUP = 500
"""Cache keys looked up per query."""
SETTLED = ("ok", "delivered", TRUNCATED)
"""A call with a stored row in one of these states is not submitted again."""


@dataclass
class _Part:
    """One input file being written: its lines on disk, its calls in memory (small)."""

    file: IO[bytes]
    calls: dict[str, list[Any]] = field(default_factory=dict)
    size: int = 0


class BatchRunner:
    """Sends a run's uncached calls as batches and stores every reply; see the module docstring.

    Shares the :class:`CallRunner`'s backend, store, settings, counters and event loop.
    """

    def __init__(self, runner: CallRunner) -> None:
        if not isinstance(runner.backend, BatchBackend):
            raise ConfigError(f"model.batch: backend {getattr(runner.backend, 'name', '?')!r} "
                              "cannot send batches")
        self.runner = runner
        self.backend: BatchBackend = runner.backend
        self.settings = runner.settings
        self.store = runner.store
        self.batches: list[str] = []
        """Batch ids this process waited for (for the run's stats)."""
        self.answered: dict[str, tuple[int, int, float, str]] = {}
        """Calls this process's batches answered: tokens in, out, cost, model (accounting)."""

    # ------------------------------------------------------------------ entry point
    def run(self, calls: Iterable[PlannedCall]) -> dict[str, str]:
        """Submit what ``calls`` still need, wait, store the replies; return the calls that
        failed inside a batch (cache key → reason)."""
        endpoint, model = self.settings.base_url or "", self.settings.model or ""
        with self.store.session() as s:
            waiting = open_jobs(s, endpoint, model)
        covered = {key: job.id for job in waiting for key in (job.calls or {})}
        wanted: set[int | None] = set()
        parts = list(self._write_parts(calls, covered, wanted))
        jobs = [job for job in waiting if job.id in wanted]
        if jobs:
            print(f"model batch: resuming {len(jobs)} submitted batch(es)", file=sys.stderr, flush=True)
        try:
            for part in parts:
                jobs.append(self._submit(part, endpoint, model))
        finally:
            for part in parts:
                part.file.close()
        failed: dict[str, str] = {}
        for job in jobs:
            failed.update(self._collect(job))
        return failed

    # ------------------------------------------------------------------ writing
    def _write_parts(self, calls: Iterable[PlannedCall], covered: dict[str, int | None],
                     wanted: set[int | None]) -> Iterator[_Part]:
        part: _Part | None = None
        seen: set[str] = set()
        for group in _groups(calls, _LOOKUP):
            settled = self._settled([c.cache_key for c in group])
            for call in group:
                key = call.cache_key
                if key in seen or key in settled:
                    continue
                seen.add(key)
                if key in covered:
                    wanted.add(covered[key])
                    continue
                line = self.backend.batch_line(key, call.message_dicts(), SECTIONS[call.section].reply,
                                               max_tokens=call.max_tokens)
                data = (json.dumps(line, ensure_ascii=False) + "\n").encode()
                if part is not None and (len(part.calls) >= self.settings.batch_max_requests
                                         or part.size + len(data) > MAX_FILE_BYTES):
                    yield part
                    part = None
                if part is None:
                    part = _Part(tempfile.TemporaryFile())  # noqa: SIM115  (closed by run())
                part.file.write(data)
                part.size += len(data)
                part.calls[key] = [call.document, call.section,
                                   call.chunks[0].index if call.chunks else None,
                                   call.prompt_hash, call.schema_hash]
        if part is not None:
            yield part

    def _settled(self, keys: list[str]) -> set[str]:
        with self.store.session() as s:
            rows = s.exec(select(ModelCall.cache_key).where(col(ModelCall.cache_key).in_(keys),
                                                            col(ModelCall.status).in_(SETTLED)))
            return set(rows.all())

    # ------------------------------------------------------------------ submitting
    def _submit(self, part: _Part, endpoint: str, model: str) -> BatchJob:
        part.file.seek(0)
        file_id = self._await(self.backend.upload_batch_file(part.file.read(), "extractor-batch.jsonl"))
        job = self._save(BatchJob(run_id=self.runner.run_id, endpoint=endpoint, model=model,
                                  input_file_id=file_id, status="uploaded",
                                  requests=len(part.calls), calls=part.calls))
        return self._create(job)

    def _create(self, job: BatchJob, look_up: bool = False) -> BatchJob:
        """Create the job's batch; ``look_up``: first find the one a killed process may have
        created but never recorded (so it is not created, and paid for, twice)."""
        state = self._await(self.backend.find_batch(job.input_file_id)) if look_up else None
        if state is None:
            state = self._await(self.backend.create_batch(job.input_file_id,
                                                          {"extractor_job": str(job.id)}))
        job.batch_id, job.status, job.remote_status = state.batch_id, "submitted", state.status
        print(f"model batch {state.batch_id}: {job.requests} requests submitted", file=sys.stderr, flush=True)
        return self._save(job)

    # ------------------------------------------------------------------ waiting
    def _collect(self, job: BatchJob) -> dict[str, str]:
        if job.status == "uploaded":  # left so by a killed process
            job = self._create(job, look_up=True)
        assert job.batch_id is not None
        batch_id = job.batch_id
        self.batches.append(batch_id)
        s = self.settings

        async def poll() -> BatchState:
            state = await self.backend.batch_state(batch_id)
            self._heartbeat()  # hours of waiting: the run stays this process's
            return state

        state = self._await(poll_until(poll, lambda st: st.finished, first_s=s.batch_poll_s,
                                       max_s=s.batch_poll_max_s, timeout_s=s.batch_timeout_s,
                                       what=f"model batch {batch_id}"))
        print(f"model batch {batch_id}: {state.status}", file=sys.stderr, flush=True)
        replies = self._lines(state.output_file_id) + self._lines(state.error_file_id)
        return self._store_replies(job, state, replies)

    def _lines(self, file_id: str | None) -> list[dict[str, Any]]:
        if not file_id:
            return []
        text = self._await(self.backend.file_text(file_id))
        out = []
        for raw in text.splitlines():
            if raw.strip():
                try:
                    line = json.loads(raw)
                except json.JSONDecodeError:
                    continue  # a broken line: its call is reported as having no result
                if isinstance(line, dict):
                    out.append(line)
        return out

    # ------------------------------------------------------------------ storing
    def _store_replies(self, job: BatchJob, state: BatchState, lines: list[dict[str, Any]]
                       ) -> dict[str, str]:
        """Raw replies and failures in one transaction with the job's end; parsed after."""
        calls = job.calls or {}
        rows: dict[str, ModelCall] = {}
        failed: dict[str, str] = {}
        for line in lines:
            key = str(line.get("custom_id", ""))
            if key not in calls or key in rows:
                continue
            row = self._row(key, calls[key])
            given = line.get("response")
            response: dict[str, Any] = given if isinstance(given, dict) else {}
            body = response.get("body")
            if response.get("status_code") == 200 and isinstance(body, dict) and not line.get("error"):
                row.status, row.raw = "delivered", body
            else:
                row.status, row.error = "failed", f"batch {state.batch_id}: {_line_error(line)}"
                failed[key] = row.error
            rows[key] = row
        whole = "; ".join(state.errors) or f"batch ended {state.status}"
        for key in calls.keys() - rows.keys():
            rows[key] = self._row(key, calls[key], status="failed",
                                  error=f"batch {state.batch_id}: no result ({whole})")
            failed[key] = rows[key].error or ""
        job.status = "done" if state.status == "completed" else "failed"
        job.remote_status, job.output_file_id, job.error_file_id = (
            state.status, state.output_file_id, state.error_file_id)
        job.error = None if state.status == "completed" else whole
        job.finished = datetime.now(UTC)
        with self.store.session() as s:
            s.add_all(rows.values())
            s.merge(job)
        self.runner.counters.sent += len(calls)
        self.runner.counters.failed += len(failed)
        failed.update(self._parse([r for r in rows.values() if r.status == "delivered"]))
        return failed

    def _row(self, key: str, meta: list[Any], status: str = "delivered",
             error: str | None = None) -> ModelCall:
        document, section, chunk_index, prompt_hash, schema_hash = meta
        return ModelCall(cache_key=key, run_id=self.runner.run_id, document=document, section=section,
                         chunk_index=chunk_index, model=self.settings.model or "",
                         endpoint=self.settings.base_url or "", prompt_hash=prompt_hash,
                         schema_hash=schema_hash, status=status, error=error, attempts=1)

    def _parse(self, rows: list[ModelCall]) -> dict[str, str]:
        """Each stored raw reply parsed as a live one is; tokens and cost accounted."""
        failed: dict[str, str] = {}
        counters = self.runner.counters
        for row in rows:
            usage = (row.raw or {}).get("usage") or {}
            row.tokens_in = int(usage.get("prompt_tokens") or 0)
            row.tokens_out = int(usage.get("completion_tokens") or 0)
            row.model = str((row.raw or {}).get("model") or row.model)
            row.cost_usd = round(cost_usd(self.settings, row.model, row.tokens_in, row.tokens_out)
                                 * self.settings.batch_price_factor, 8)
            counters.tokens_in += row.tokens_in
            counters.tokens_out += row.tokens_out
            counters.cost_usd += row.cost_usd
            try:
                record = self.backend.parse_stored(row.raw, SECTIONS[row.section].reply)
            except TruncatedOutputError as exc:
                row.status, row.error = TRUNCATED, f"{exc}; not re-asked as is"
                counters.truncated += 1
            except ExtractorError as exc:
                row.status, row.error = "failed", f"batch reply: {exc}"
                failed[row.cache_key] = row.error
                counters.failed += 1
            else:
                row.status, row.response = "ok", record.model_dump(mode="json")
                self.answered[row.cache_key] = (row.tokens_in, row.tokens_out, row.cost_usd, row.model)
        with self.store.session() as s:
            for row in rows:
                s.merge(row)
        return failed

    # ------------------------------------------------------------------ plumbing
    def _save(self, job: BatchJob) -> BatchJob:
        with self.store.session() as s:
            job = s.merge(job)
            s.flush()
        return job

    def _heartbeat(self) -> None:
        if self.runner.run_id is not None:
            with self.store.session() as s:
                s.execute(update(Run).where(col(Run.id) == self.runner.run_id)
                          .values(heartbeat=datetime.now(UTC)))

    def _await(self, awaitable: Awaitable[T]) -> T:
        return self.runner.loop().run_until_complete(awaitable)


def _groups(calls: Iterable[PlannedCall], size: int) -> Iterator[list[PlannedCall]]:
    group: list[PlannedCall] = []
    for call in calls:
        group.append(call)
        if len(group) >= size:
            yield group
            group = []
    if group:
        yield group


def _line_error(line: dict[str, Any]) -> str:
    """One line saying why a batch request failed (its error object or its HTTP reply)."""
    error = line.get("error")
    if isinstance(error, dict):
        return f"{error.get('code') or 'error'}: {error.get('message') or ''}".strip()
    response = line.get("response") or {}
    body = response.get("body") if isinstance(response, dict) else None
    message = ""
    if isinstance(body, dict):
        inner = body.get("error")
        message = str(inner.get("message") if isinstance(inner, dict) else inner or "")
    status = response.get("status_code") if isinstance(response, dict) else None
    return f"HTTP {status}: {message}".strip() if status else (message or "no reply")
