"""Tables the service adds to the store: jobs, corrections and review marks.

They live in the same SQLModel metadata as the pipeline's tables, so ``make_engine``
creates them once this module is imported. Corrections and review marks are append-only:
a correction never overwrites the extraction it corrects, and the latest row wins.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel

JOB_STATES = ("queued", "running", "done", "failed")


def _now() -> datetime:
    return datetime.now(UTC)


class Job(SQLModel, table=True):
    """One uploaded file to run through the pipeline.

    ``claim`` is a fresh token per claim: heartbeats and the final write only succeed for
    the holder of the current claim, so a worker whose lease ran out (and whose job was
    taken over) cannot mark it done a second time. ``lease_until`` is epoch seconds.
    """

    id: int | None = Field(default=None, primary_key=True)
    document: str = Field(index=True, max_length=64)
    filename: str
    source: str
    options: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    options_key: str = Field(default="", max_length=64)
    status: str = Field(default="queued", index=True, max_length=16)
    stage: str | None = None
    progress: float = 0.0
    reason: str | None = Field(default=None, sa_column=Column(Text))
    run_id: int | None = None
    attempts: int = 0
    completions: int = 0
    claim: str | None = Field(default=None, max_length=32)
    worker: str | None = None
    lease_until: float | None = None
    created: datetime = Field(default_factory=_now)
    started: datetime | None = None
    finished: datetime | None = None


class Correction(SQLModel, table=True):
    """A reviewer's verdict on one slot: ``accept`` the extracted value or ``correct`` it."""

    id: int | None = Field(default=None, primary_key=True)
    document: str = Field(index=True, max_length=64)
    run_id: int | None = None
    slot: str
    field: str
    key: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    action: str
    before: Any = Field(default=None, sa_column=Column(JSON))
    value: Any = Field(default=None, sa_column=Column(JSON))
    note: str | None = Field(default=None, sa_column=Column(Text))
    author: str
    created: datetime = Field(default_factory=_now)


class Review(SQLModel, table=True):
    """A document marked reviewed (or un-marked) on a run; the latest row is its state."""

    id: int | None = Field(default=None, primary_key=True)
    document: str = Field(index=True, max_length=64)
    run_id: int | None = None
    reviewed: bool = True
    author: str
    created: datetime = Field(default_factory=_now)
