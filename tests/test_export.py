"""``eval export --format``: a run's figures as one table that pandas, R and DuckDB load."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.csv as pv
import pyarrow.parquet as pq
import pytest

from extractor.cli import main
from extractor.core.records import slot_facts
from extractor.store import Store
from tests.conftest import SAMPLES

DOCS = [SAMPLES / "002_ede6ec7d9a9ccbff.txt", SAMPLES / "003_17aaca51ade6ba7f.txt"]
STATUSES = {"verified", "repaired", "flagged", "unchecked"}


@pytest.fixture
def run_db(sqlite_url: str) -> str:
    assert main(["--db", sqlite_url, "run", *map(str, DOCS), "--extractor", "rules"]) == 0
    return sqlite_url


def _expected(db: str) -> dict[tuple[str, str], str]:
    store = Store.open(db)
    names = {d.sha256: d.doc_id for d in store.documents()}
    return {(names[rd.document], path): fact.status.value
            for rd in store.run_documents(1)
            for path, fact in slot_facts(store.facts(1, rd.document)).items()}


def test_long_csv_and_parquet_load_with_one_row_per_document_and_field(run_db: str, tmp_path: Path) -> None:
    expected = _expected(run_db)
    tables = {}
    for fmt, reader in (("csv", pv.read_csv), ("parquet", pq.read_table)):
        out = tmp_path / f"run1.{fmt}"
        assert main(["--db", run_db, "eval", "export", "--run", "1", "--format", fmt, "--out", str(out)]) == 0
        tables[fmt] = reader(out).to_pylist()
    for fmt, rows in tables.items():
        assert {(r["document"], r["field"]): r["status"] for r in rows} == expected, fmt
        assert len(rows) == len(expected), "one row per document and field"
        assert {r["status"] for r in rows} <= STATUSES
        total = next(r for r in rows if r["document"] == "002_ede6ec7d9a9ccbff"
                     and r["field"] == "summary.income_grand_total")
        assert total["number"] == pytest.approx(885.9) and total["unit"] == "万元"
        assert "885.90" in total["quote"] and total["page"] == 1
        assert set(rows[0]) == {"document", "field", "value", "number", "unit", "status", "quote", "page"}


def test_wide_form_has_one_row_per_document(run_db: str, tmp_path: Path) -> None:
    out = tmp_path / "wide.parquet"
    assert main(["--db", run_db, "eval", "export", "--run", "1", "--format", "parquet", "--shape", "wide",
                 "--out", str(out)]) == 0
    rows = pq.read_table(out).to_pylist()
    assert [r["document"] for r in rows] == ["002_ede6ec7d9a9ccbff", "003_17aaca51ade6ba7f"]
    assert rows[0]["summary.income_grand_total"] == pytest.approx(885.9)
    assert rows[0]["meta.department"] == "赤峰市松山区人民政府办公室"
    out_json = tmp_path / "wide.json"
    assert main(["--db", run_db, "eval", "export", "--run", "1", "--format", "json", "--shape", "wide",
                 "--out", str(out_json)]) == 0
    assert len(json.loads(out_json.read_text(encoding="utf-8"))) == 2
