"""Shared fixtures: sample paths, a real SQLite store per test, and PostgreSQL when available."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from extractor.core.types import DocumentData, PageText
from extractor.store import Store

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
GOLD = ROOT / "eval" / "gold"
SAMPLE_IDS = ("002_ede6ec7d9a9ccbff", "003_17aaca51ade6ba7f", "004_4a020ba0f11f1338")


def sample_text(doc_id: str) -> str:
    return (SAMPLES / f"{doc_id}.txt").read_text(encoding="utf-8")


def text_document(doc_id: str, budget: int = 1200) -> DocumentData:
    """A sample as the pipeline sees it (normalized, chunked), without the store."""
    from extractor.chunk import chunk_document
    from extractor.normalize import normalize_pages

    raw = sample_text(doc_id)
    pages = [PageText(1, raw, "file")]
    norm, starts = normalize_pages(pages)
    doc = DocumentData(doc_id, str(SAMPLES / f"{doc_id}.txt"), doc_id, "text/plain", pages, norm, starts)
    doc.chunks = chunk_document(doc, budget)
    return doc


def _postgres_url() -> str | None:
    return os.environ.get("EXTRACTOR_TEST_POSTGRES_URL")


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist every worker gets a PostgreSQL database of its own.

    The storage tests wipe the ``public`` schema before each test; two workers sharing one
    database would wipe each other's tables mid-test. Each worker (``gw0``, ``gw1`` …) creates
    ``extractor_test_gw0`` … on the given server and points ``EXTRACTOR_TEST_POSTGRES_URL`` at
    it, so every test, and every process a test starts, sees only its worker's database.
    """
    worker = getattr(config, "workerinput", {}).get("workerid")
    url = _postgres_url()
    if not worker or not url:
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server = make_url(url)
    name = f"extractor_test_{worker}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    own = server.set(database=name)
    os.environ["EXTRACTOR_TEST_POSTGRES_URL"] = own.render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every storage test runs on SQLite and, where a server is given, on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    url = _postgres_url()
    if not url:
        pytest.skip("EXTRACTOR_TEST_POSTGRES_URL not set (.ci/run sets it)")
    from sqlalchemy import text

    from extractor.store import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:  # a clean schema per test
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public;"))
    engine.dispose()
    yield url


@pytest.fixture
def store(store_url: str) -> Store:
    return Store.open(store_url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"
