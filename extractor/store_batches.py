"""Stored Batch API jobs: what was submitted, so a killed run polls its batch, never pays twice.

A job row is written when its input file is uploaded (before the batch is created) and
updated with the batch id the moment the endpoint answers; the calls it carries are kept
with it (cache key → what the reply is stored under), so a later process can store the
replies of a batch it did not submit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, Session, SQLModel, col, select

OPEN_STATUSES = ("uploaded", "submitted")
"""``uploaded``: input file up, batch maybe not created; ``submitted``: batch id known."""


def _now() -> datetime:
    return datetime.now(UTC)


class BatchJob(SQLModel, table=True):
    """One batch of model calls sent through the OpenAI Batch API."""

    __tablename__ = "batch_job"
    id: int | None = Field(default=None, primary_key=True)
    run_id: int | None = Field(default=None, index=True)
    """The run that submitted it (its replies are recorded under the run that collects them)."""
    endpoint: str
    model: str
    input_file_id: str
    batch_id: str | None = Field(default=None, index=True)
    status: str = Field(index=True)
    """``uploaded``, ``submitted``, ``done`` (replies stored) or ``failed``."""
    remote_status: str | None = None
    """The endpoint's last word: ``validating``, ``in_progress``, ``completed``, ``expired`` …"""
    requests: int = 0
    calls: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    """cache key → ``[document, section, chunk_index, prompt_hash, schema_hash]``."""
    output_file_id: str | None = None
    error_file_id: str | None = None
    error: str | None = Field(default=None, sa_column=Column(Text))
    created: datetime = Field(default_factory=_now)
    finished: datetime | None = None


def open_jobs(session: Session, endpoint: str, model: str) -> list[BatchJob]:
    """Jobs submitted (or uploaded) to this endpoint and model whose replies are not stored yet."""
    return list(session.exec(select(BatchJob).where(
        col(BatchJob.status).in_(OPEN_STATUSES), BatchJob.endpoint == endpoint,
        BatchJob.model == model).order_by(col(BatchJob.id))))
