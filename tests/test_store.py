"""Storage on SQLite and PostgreSQL: documents by content hash, runs, facts, calls."""

from __future__ import annotations

from pathlib import Path

import pytest

from extractor.core.errors import NotFoundError, StoreError
from extractor.core.records import CheckStatus, Evidence, Fact
from extractor.store import ModelCall, Run, RunDocument, Store
from tests.conftest import text_document


def test_document_round_trips_with_pages_and_chunks(store: Store) -> None:
    doc = text_document("003_17aaca51ade6ba7f")
    store.save_document(doc)
    loaded = store.load_document(doc.sha256)
    assert loaded.normalized.text == doc.normalized.text
    assert loaded.normalized.offsets == doc.normalized.offsets
    assert [c.text for c in loaded.chunks] == [c.text for c in doc.chunks]
    assert loaded.chunks[5].heading_path == doc.chunks[5].heading_path
    assert loaded.pages[0].raw == doc.pages[0].raw
    assert store.resolve_document("003_17aaca51ade6ba7f").sha256 == doc.sha256


def test_saving_the_same_bytes_twice_is_insert_or_get(store: Store) -> None:
    doc = text_document("002_ede6ec7d9a9ccbff")
    first, inserted = store.save_document(doc)
    again, inserted_again = store.save_document(doc)
    assert (inserted, inserted_again) == (True, False)
    assert again.sha256 == first.sha256 and again.doc_id == first.doc_id
    assert store.info()["document"] == 1
    assert store.info()["chunk"] == len(doc.chunks), "the second save writes no page or chunk"
    assert store.info()["page"] == len(doc.pages)


def test_text_is_stored_once_compressed_and_read_back_whole(store: Store) -> None:
    """Normalized text, raw page, offsets and chunks are one compressed value, smaller than
    the normalized text alone, and come back exactly."""
    doc = text_document("003_17aaca51ade6ba7f")
    row, _ = store.save_document(doc)
    assert len(row.content) < len(doc.normalized.text.encode()) / 2
    assert row.normalized == doc.normalized.text
    loaded = store.load_document(doc.sha256)
    assert loaded.normalized.offsets == doc.normalized.offsets
    assert [p.raw for p in loaded.pages] == [p.raw for p in doc.pages]
    assert loaded.chunks == doc.chunks
    assert store.chunk_count(doc.sha256) == len(doc.chunks)


def test_a_quote_that_is_the_text_between_its_offsets_is_not_stored_twice(store: Store) -> None:
    from sqlmodel import Session, select

    from extractor.store import Record

    doc = text_document("002_ede6ec7d9a9ccbff")
    store.save_document(doc)
    run = store.create_run(Run(extractor="rules"))
    assert run.id is not None
    text = doc.normalized.text
    start = text.index("万元") - 6
    facts = [Fact(field="summary.income_grand_total", value=1.0, raw="1万元",
                  evidence=Evidence(quote=text[start:start + 8], page=1, start=start, end=start + 8)),
             Fact(field="summary.expense_grand_total", value=2.0,
                  evidence=Evidence(quote="not in the text", page=1, start=start, end=start + 8))]
    store.save_document_result(run.id, RunDocument(run_id=run.id, document=doc.sha256, status="done"),
                               facts)
    with Session(store.engine) as s:
        quotes = [r.quote for r in s.exec(select(Record).order_by(Record.id))]  # type: ignore[arg-type]
    assert quotes == [None, "not in the text"]
    assert store.facts(run.id, doc.sha256) == facts


def test_checks_round_trip_with_each_figure_stored_once(store: Store) -> None:
    from extractor.store.records import unpack_json

    doc = text_document("002_ede6ec7d9a9ccbff")
    store.save_document(doc)
    run = store.create_run(Run(extractor="rules"))
    assert run.id is not None
    total = {"slot": "summary.income_grand_total", "field": "summary.income_grand_total",
             "value": 885.9, "quote": "收入总计885.90万元", "page": 1, "raw": "885.90万元"}
    part = {**total, "slot": "summary.income_current_year", "value": 880.0}
    checks = [{"rule": f"r{i}", "name": f"名{i}", "passed": i % 2 == 0,
               "detail": {"kind": "sum", "figures": [total, part], "summary": f"s{i}", "blamed": []}}
              for i in range(30)]
    store.save_checks(run.id, doc.sha256, checks, [])
    store.save_checks(run.id, doc.sha256, checks, [])  # replaced, not duplicated
    stored = store.checks(run.id, doc.sha256)
    assert [{"rule": c.rule, "name": c.name, "passed": c.passed, "detail": c.detail}
            for c in stored] == checks
    assert [c.id for c in stored] == list(range(1, 31)) and store.info()["checkresult"] == 30
    from sqlmodel import Session, select

    from extractor.store import CheckSet

    with Session(store.engine) as s:
        (data,) = s.exec(select(CheckSet.data)).all()
    assert unpack_json(data)["figures"] == [total, part]


def test_unknown_document_is_a_clear_error(store: Store) -> None:
    with pytest.raises(NotFoundError, match="no stored document"):
        store.resolve_document("nope")


def test_facts_of_a_run_round_trip_with_evidence_and_status(store: Store) -> None:
    doc = text_document("002_ede6ec7d9a9ccbff")
    store.save_document(doc)
    run = store.create_run(Run(extractor="rules", settings={"a": 1}))
    assert run.id is not None
    facts = [
        Fact(field="summary.income_grand_total", value=885.9, raw="885.90万元", decimals=2,
             evidence=Evidence(quote="收入总计885.90万元", chunk_index=3, page=1, start=10, end=22),
             priority=10, status=CheckStatus.VERIFIED),
        Fact(field="general_budget.items.actual", key={"class": "一般公共服务", "section": "s",
                                                      "item": "行政运行", "code": None},
             value=631.01, status=CheckStatus.FLAGGED),
    ]
    store.save_document_result(run.id, RunDocument(run_id=run.id, document=doc.sha256,
                                                   status="done", notes=["ok"]), facts)
    # Saving again replaces, never duplicates.
    store.save_document_result(run.id, RunDocument(run_id=run.id, document=doc.sha256,
                                                   status="done", notes=["ok"]), facts)
    assert store.facts(run.id, doc.sha256) == facts
    assert [rd.status for rd in store.run_documents(run.id)] == ["done"]


def test_unfinished_run_is_found_by_fingerprint(store: Store) -> None:
    run = store.create_run(Run(extractor="model", fingerprint="abc"))
    assert store.latest_unfinished_run("abc") is not None
    run.status = "done"
    store.update_run(run)
    assert store.latest_unfinished_run("abc") is None


def test_only_successful_calls_are_cache_hits(store: Store) -> None:
    common = {"section": "summary", "model": "m", "endpoint": "http://127.0.0.1", "prompt_hash": "p",
                  "schema_hash": "s"}
    store.save_call(ModelCall(cache_key="k1", status="failed", error="429", **common))
    assert store.cached_call("k1") is None
    store.save_call(ModelCall(cache_key="k1", status="ok", response={"x": 1}, tokens_in=5, **common))
    hit = store.cached_call("k1")
    assert hit is not None and hit.response == {"x": 1}


def test_unreachable_database_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="cannot open database"):
        Store.open("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")


def test_a_database_from_before_new_columns_is_upgraded_in_place(tmp_path: Path) -> None:
    """A file written by an earlier version (no ``run.owner``, ``modelcall.raw`` …) opens and
    gains the columns instead of failing on the first query."""
    import sqlite3

    db = tmp_path / "old.db"
    Store.open(f"sqlite:///{db}")
    with sqlite3.connect(db) as conn:
        for table, column in (("run", "owner"), ("run", "inputs"), ("modelcall", "raw")):
            conn.execute(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    store = Store.open(f"sqlite:///{db}")
    run = store.create_run(Run(extractor="rules", inputs={"second_sources": {}}))
    assert store.get_run(run.id or 0).inputs == {"second_sources": {}}


def test_an_abandoned_run_is_claimed_once_and_a_live_ones_never(store: Store) -> None:
    import os
    import socket
    import subprocess

    child = subprocess.Popen(["true"])
    child.wait()  # a process that has exited: nobody works under its pid
    dead = f"{socket.gethostname()}:{child.pid}"
    abandoned = store.create_run(Run(extractor="rules", fingerprint="fp", owner=dead))
    live = store.create_run(Run(extractor="rules", fingerprint="other",
                                owner=f"{socket.gethostname()}:{os.getppid()}"))
    claimed, resumed = store.claim_run("fp", Run(extractor="rules", fingerprint="fp"))
    assert resumed and claimed.id == abandoned.id
    assert claimed.owner == f"{socket.gethostname()}:{os.getpid()}"
    again, resumed_again = store.claim_run("fp", Run(extractor="rules", fingerprint="fp"))
    assert not resumed_again and again.id not in (abandoned.id, live.id), "now owned by a live process"
    fresh, resumed_live = store.claim_run("other", Run(extractor="rules", fingerprint="other"))
    assert not resumed_live and fresh.id != live.id
