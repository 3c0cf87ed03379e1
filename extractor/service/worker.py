"""Running jobs: the same steps as ``extractor run`` for one uploaded file, and the loop
that claims jobs and keeps their leases alive while they run.

The pipeline's own resume rules make a retried job cheap and exact: the document is
stored once (same bytes), and an interrupted run with the same settings is resumed, so
a job taken over from a killed process ends with the same record as an uninterrupted one.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from extractor.core.errors import ConfigError, ExtractorError
from extractor.core.settings import Settings
from extractor.extract import choose_extractor
from extractor.pipeline import RunPlan, ingest, reconcile_stage, run_extraction
from extractor.service.models import Job
from extractor.service.queue import JobQueue
from extractor.store import Store

log = logging.getLogger("extractor.service")

Progress = Callable[[str, float], None]

OVERRIDABLE = {"ocr": None, "chunk": None, "model": {"model", "mode", "temperature", "max_tokens"}}
"""Settings an upload may change. Never the endpoint or its key: a caller must not be able
to send the server's API key to an address of its choosing."""


class JobFailedError(ExtractorError):
    """The file went through the pipeline and produced no usable record."""

    def __init__(self, reason: str, run_id: int | None = None) -> None:
        super().__init__(reason)
        self.run_id = run_id


def job_settings(base: Settings, overrides: dict[str, Any] | None) -> Settings:
    """``base`` with an upload's overrides applied (only the sections in ``OVERRIDABLE``)."""
    if not overrides:
        return base
    data = base.model_dump()
    for section, values in overrides.items():
        allowed = OVERRIDABLE.get(section, ...)
        if allowed is ... or not isinstance(values, dict):
            raise ConfigError(f"setting {section!r} cannot be set per upload; allowed: "
                              + ", ".join(sorted(OVERRIDABLE)))
        for name in values:
            if allowed is not None and name not in allowed:
                raise ConfigError(f"setting {section}.{name} cannot be set per upload")
        data[section] = {**data[section], **values}
    try:
        return Settings.model_validate(data)
    except ValueError as exc:
        raise ConfigError(f"bad settings in upload: {str(exc).splitlines()[0]}: "
                          f"{' '.join(str(exc).splitlines()[1:3])}") from exc


def run_job(store: Store, settings: Settings, job: Job, progress: Progress) -> int:
    """Ingest → extract → reconcile → store one job's file; the run id it ended in."""
    options = job.options or {}
    settings = job_settings(settings, options.get("settings"))
    progress("ingest", 0.05)
    outcome = ingest([Path(job.source)], store, settings)[0]
    if outcome.status == "failed" or outcome.sha256 is None:
        raise JobFailedError(f"{job.filename}: {outcome.reason}")
    progress("extract", 0.3)
    choice = choose_extractor(settings, store, options.get("extractor"))
    plan = RunPlan(choice.extractor, settings, choice.prompt_hashes)
    try:
        run, results = run_extraction([outcome.sha256], store, plan, reconcile_stage)
    finally:
        close = getattr(choice.extractor, "close", None)
        if callable(close):
            close()
    result = results[0]
    if result.status == "failed":
        raise JobFailedError("extraction failed: " + "; ".join(result.notes), run.id)
    if result.status == "empty" or not result.facts:  # also a reused ("unchanged") empty run
        raise JobFailedError(f"{job.filename}: no figure of a final-accounts report was found "
                             "(is it a 部门决算 report?)", run.id)
    assert run.id is not None
    return run.id


class Worker:
    """Claims jobs one at a time and runs them; a heartbeat thread keeps the lease."""

    def __init__(self, store: Store, settings: Settings, name: str | None = None) -> None:
        self.store = store
        self.settings = settings
        self.queue = JobQueue(store, settings.service.lease_s)
        self.name = name or f"{self.host_pid()}:worker"

    @staticmethod
    def host_pid() -> str:
        """``host:pid``: who holds a job's claim, for people reading the ``job`` table."""
        return f"{socket.gethostname()}:{os.getpid()}"

    def run(self, stop: threading.Event, *, once: bool = False) -> int:
        """Work until ``stop`` is set (or, with ``once``, until the queue is empty)."""
        done = 0
        while not stop.is_set():
            job = self.queue.claim(self.name)
            if job is None:
                if once:
                    break
                stop.wait(self.settings.service.poll_s)
                continue
            self.process(job)
            done += 1
        return done

    def _progress(self, job: Job, stage: str, fraction: float) -> None:
        self.queue.progress(job, stage, fraction)

    def process(self, job: Job) -> None:
        beat_stop = threading.Event()
        interval = self.settings.service.lease_s / 3

        def beat() -> None:
            while not beat_stop.wait(interval):
                if not self.queue.heartbeat(job):
                    log.warning("job %s: lease lost to another worker", job.id)
                    return

        beater = threading.Thread(target=beat, name=f"heartbeat-{job.id}", daemon=True)
        beater.start()
        log.info("job %s: %s (attempt %s)", job.id, job.filename, job.attempts)
        try:
            run_id = run_job(self.store, self.settings, job,
                             lambda stage, fraction: self._progress(job, stage, fraction))
        except JobFailedError as exc:
            self.queue.fail(job, str(exc), exc.run_id)
            log.info("job %s failed: %s", job.id, exc)
        except ExtractorError as exc:
            self.queue.fail(job, str(exc))
            log.info("job %s failed: %s", job.id, exc)
        except Exception as exc:  # a bug must fail the job, not kill the worker
            log.exception("job %s: unexpected error", job.id)
            self.queue.fail(job, f"internal error: {exc.__class__.__name__}: {exc}")
        else:
            if not self.queue.finish(job, run_id):
                log.warning("job %s: finished, but its claim had passed to another worker", job.id)
        finally:
            beat_stop.set()
