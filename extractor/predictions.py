"""A run's prediction files: one ``final_accounts/v1`` record per document, with check
status, findings and evidence, read back from the database.

With a local process pool the files are written by the workers (the last step of a run
would otherwise leave every core but one idle); the bytes are the same either way.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from extractor.core.records import FinalAccounts, assemble
from extractor.store import Store
from extractor.workers import Executor, Pool


def predictions(store: Store, run_id: int) -> dict[str, FinalAccounts]:
    """Contract records of a run's documents (failed ones left out), with check status,
    document findings and the ``evidence`` extension (so exported files can be checked)."""
    return dict(iter_predictions(store, run_id))


def iter_predictions(store: Store, run_id: int) -> Iterator[tuple[str, FinalAccounts]]:
    """:func:`predictions` one document at a time (an export of thousands holds one record)."""
    for rd in store.run_documents(run_id):
        doc = store.find_document(rd.document)
        if doc is None or rd.status == "failed":
            continue
        yield doc.doc_id, prediction(store, run_id, doc.doc_id, rd.document)


def prediction(store: Store, run_id: int, doc_id: str, sha256: str) -> FinalAccounts:
    """One document's contract record in a run, with check status, findings and evidence."""
    record = assemble(doc_id, store.facts(run_id, sha256), with_evidence=True)
    record.document_findings = [f for _, f in store.findings(run_id, sha256)]
    return record


def _write_prediction(path: Path, record: FinalAccounts) -> None:
    path.write_text(json.dumps(record.to_json_dict(), ensure_ascii=False, indent=2) + "\n",
                    encoding="utf-8")


def export_run(store: Store, run_id: int, out_dir: Path,
               executor: Executor | None = None) -> list[Path]:
    """One ``final_accounts/v1`` prediction file per document of the run, with check status.

    With a local process pool the files are written by the workers, each reading its
    documents from the database (the run is finished: nobody writes any more): the last
    step of a run would otherwise leave every core but one idle. Same bytes either way.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(executor, Pool):
        return _export_pooled(store, run_id, out_dir, executor)
    written: dict[Path, None] = {}
    for doc_id, record in iter_predictions(store, run_id):  # a later same-named one wins, as before
        path = out_dir / f"{doc_id}.json"
        _write_prediction(path, record)
        written[path] = None
    return list(written)


@dataclass
class ExportTask:
    """One prediction file to write, from the database at ``url`` (see :func:`export_stage`)."""

    url: str
    run_id: int
    doc_id: str
    sha256: str
    path: Path


@cache
def _reader(url: str) -> Store:
    """One store per worker process and database, opened on the first export task.

    A plain engine, for reading only: a store opened to write takes SQLite's write lock
    at the start of every transaction, reads included, so exporting workers would queue
    on it (and sleep in its busy handler) instead of reading side by side.
    """
    from sqlalchemy import create_engine

    return Store(create_engine(url, pool_pre_ping=True))


def export_stage(task: ExportTask) -> Path:
    """Write one prediction file (what a pool worker runs for :func:`export_run`)."""
    _write_prediction(task.path, prediction(_reader(task.url), task.run_id, task.doc_id, task.sha256))
    return task.path


def _export_pooled(store: Store, run_id: int, out_dir: Path, pool: Pool) -> list[Path]:
    targets: dict[Path, tuple[str, str]] = {}
    for rd in store.run_documents(run_id):
        doc = store.find_document(rd.document)  # one row at a time: rows carry the text
        if doc is not None and rd.status != "failed":  # a later same-named one wins
            targets[out_dir / f"{doc.doc_id}.json"] = (doc.doc_id, rd.document)
    url = store.engine.url.render_as_string(hide_password=False)
    tasks = (ExportTask(url, run_id, doc_id, sha, path) for path, (doc_id, sha) in targets.items())
    for _written in pool.map(export_stage, tasks):
        pass
    return list(targets)


