"""Two real processes on one database, at the same time, on SQLite and on PostgreSQL.

Each process must finish with every one of its documents, no document may be stored
twice, and no run may be split between the processes or left empty.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import select

from extractor.store import Failure, Run, Store
from tests.conftest import ROOT, SAMPLES

DOCS = [str(SAMPLES / f"{doc_id}.txt") for doc_id in ("002_ede6ec7d9a9ccbff", "003_17aaca51ade6ba7f")]
"""The two shorter samples: enough to interleave two processes' writes, cheap to extract."""


def _start(db: str, paths: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXTRACTOR_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen([sys.executable, "-m", "extractor.cli", "--db", db, "run", *paths,
                             "--extractor", "rules"], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.slow
@pytest.mark.parametrize("inputs", ["same", "overlapping"])
def test_two_processes_on_one_database_both_finish_every_document(
        store_url: str, tmp_path: Path, inputs: str) -> None:
    first, second = (DOCS, DOCS) if inputs == "same" else (DOCS[:1], DOCS)
    procs = [_start(store_url, paths, tmp_path) for paths in (first, second)]
    results = [p.communicate(timeout=280) for p in procs]
    for proc, (_out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err[-3000:]
        assert "Traceback" not in err and "IntegrityError" not in err
    for (out, _err), paths in zip(results, (first, second), strict=True):
        for path in paths:
            row = next(ln for ln in out.splitlines() if ln.startswith(Path(path).stem))
            assert row.split()[1] in {"done", "unchanged"}, out

    store = Store.open(store_url)
    assert store.info()["document"] == 2
    with store.session() as s:
        runs = list(s.exec(select(Run)))
        assert not list(s.exec(select(Failure)))
    assert runs and all(r.status == "done" for r in runs)
    expected = {frozenset(Path(p).stem for p in paths) for paths in (first, second)}
    names = {d.sha256: d.doc_id for d in store.documents()}
    by_run = {frozenset(names[rd.document] for rd in store.run_documents(r.id or 0)) for r in runs}
    assert by_run == expected, "each run holds exactly one process's documents, none split or empty"
    for run in runs:
        assert {rd.status for rd in store.run_documents(run.id or 0)} == {"done"}
