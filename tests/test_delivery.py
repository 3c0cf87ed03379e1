"""No billed reply is lost: a reply is in the database before it is parsed.

The first process is SIGKILLed right after the first reply it received was stored (a
hook installed in that process only, around ``Store.save_delivery``), i.e. between
delivery and parsing. The re-run must parse the stored reply instead of paying for it
again, and finish the run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import select

from extractor.cli import main
from extractor.store import ModelCall, Store
from extractor.testing import FakeOpenAI
from extractor.testing.demo_responder import respond
from tests.conftest import ROOT, SAMPLES

DIE_AFTER_DELIVERY = """
import os, signal, sys
from extractor.store import Store

_save = Store.save_delivery

def save_then_die(self, call):
    row = _save(self, call)  # committed: the reply is in the database
    os.kill(os.getpid(), signal.SIGKILL)
    return row

Store.save_delivery = save_then_die
from extractor.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _args(db: str, srv: FakeOpenAI) -> list[str]:
    return ["--db", db, "run", str(SAMPLES / "002_ede6ec7d9a9ccbff.txt"), "--extractor", "model",
            "--base-url", srv.base_url, "--model", "fake-model", "--concurrency", "1", "--no-reconcile"]


def _calls(db: str) -> list[ModelCall]:
    with Store.open(db).session() as s:
        return list(s.exec(select(ModelCall).order_by(ModelCall.id)))  # type: ignore[arg-type]


@pytest.mark.slow
def test_a_kill_between_delivery_and_parsing_never_resends_the_reply(
        sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("EXTRACTOR_")},
           "PYTHONPATH": str(ROOT), "EXTRACTOR_MODEL__MAX_RETRIES": "0"}
    with FakeOpenAI(respond) as srv:
        killed = subprocess.run([sys.executable, "-c", DIE_AFTER_DELIVERY, *_args(sqlite_url, srv)],
                                cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                                check=False)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        (stored,) = _calls(sqlite_url)
        assert stored.status == "delivered" and stored.raw["choices"], "stored before parsing"
        assert srv.count() == 1
        first = srv.chat_requests()[0].body["messages"]

        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("EXTRACTOR_MODEL__MAX_RETRIES", "0")
        assert main(_args(sqlite_url, srv)) == 0  # the re-run, in this process
        resent = [r for r in srv.chat_requests()[1:] if r.body["messages"] == first]
        later = srv.count() - 1

    assert not resent, "the delivered reply was paid for once and parsed from the database"
    rows = _calls(sqlite_url)
    assert [r.status for r in rows] == ["ok"] * len(rows) and len(rows) == later + 1
    assert rows[0].id == stored.id and rows[0].response and rows[0].raw == stored.raw
    runs_doc = Store.open(sqlite_url).run_documents(1)
    assert [rd.status for rd in runs_doc] == ["done"]
