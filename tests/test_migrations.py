"""``extractor db upgrade``: a database in the old schema is migrated in place and scores the same."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from extractor.cli import main
from extractor.database import unpack_offsets
from extractor.evaluate.schema import load_dir
from extractor.evaluate.score import format_table, score_dirs
from extractor.migrations import head
from extractor.pipeline import predictions
from extractor.store import Store
from tests.conftest import GOLD, SAMPLE_IDS, SAMPLES


def _make_old(path: Path) -> int:
    """Rewrite a database into the shape the code wrote before migrations existed:
    one JSON integer per character for offsets, check details repeating their columns,
    no evidence-location or run-owner columns, no version table."""
    con = sqlite3.connect(path)
    per_character = 0
    for sha, stored in con.execute("SELECT sha256, offsets FROM document").fetchall():
        old = json.dumps(unpack_offsets(json.loads(stored)))
        per_character += len(old)
        con.execute("UPDATE document SET offsets = ? WHERE sha256 = ?", (old, sha))
    for row_id, rule, name, passed, detail in con.execute(
            "SELECT id, rule, name, passed, detail FROM checkresult").fetchall():
        full = {"rule": rule, "name": name, "passed": bool(passed), **json.loads(detail)}
        con.execute("UPDATE checkresult SET detail = ? WHERE id = ?", (json.dumps(full), row_id))
    for table, column in [("record", "bbox"), ("record", "row_label"), ("record", "column_header"),
                          ("run", "inputs"), ("run", "owner"), ("run", "heartbeat")]:
        con.execute(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    con.execute("DROP TABLE IF EXISTS alembic_version")
    con.commit()
    con.execute("VACUUM")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return per_character


def _score(url: str, run_id: int) -> str:
    return format_table(score_dirs(load_dir(GOLD), predictions(Store.open(url), run_id)))


@pytest.mark.slow
def test_old_schema_database_is_upgraded_in_place_and_scores_the_same(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for doc_id in SAMPLE_IDS[:2]:
        shutil.copy(SAMPLES / f"{doc_id}.txt", folder)
    db = tmp_path / "old.db"
    url = f"sqlite:///{db}"
    assert main(["--db", url, "run", str(folder), "--extractor", "rules", "--workers", "1",
                 "--export", str(tmp_path / "before"), "--gold", str(tmp_path / "none")]) in (0, 1)
    score_before = _score(url, 1)
    offsets_bytes = _make_old(db)
    old_size = db.stat().st_size
    capsys.readouterr()

    assert main(["--db", url, "db", "upgrade"]) == 0
    assert f"upgraded from an unversioned schema to revision {head()}" in capsys.readouterr().out
    assert db.stat().st_size < old_size - offsets_bytes * 0.9, "offsets compacted, space given back"
    con = sqlite3.connect(db)
    offsets = [json.loads(o) for (o,) in con.execute("SELECT offsets FROM document")]
    details = [json.loads(d) for (d,) in con.execute("SELECT detail FROM checkresult")]
    columns = {r[1] for r in con.execute("PRAGMA table_info(record)")}
    con.close()
    assert all(isinstance(o, dict) and "runs" in o for o in offsets)
    assert details and not any("rule" in d for d in details)
    assert {"bbox", "row_label", "column_header"} <= columns

    assert _score(url, 1) == score_before
    assert main(["--db", url, "eval", "export", "--run", "1", "--out", str(tmp_path / "after")]) == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "before").iterdir()}
    after = {p.name: p.read_bytes() for p in (tmp_path / "after").iterdir()}
    assert before == after and len(before) == 2
    capsys.readouterr()
    assert main(["--db", url, "db", "upgrade"]) == 0
    assert f"already at revision {head()}" in capsys.readouterr().out
