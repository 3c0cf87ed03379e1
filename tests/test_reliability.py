"""What a user relies on when things go wrong: one line per bad setting or input, honest
statuses and exit codes, limits, reused unchanged runs and one count everywhere."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from extractor.cli import main
from extractor.ingest import sha256_of
from extractor.store import Run, RunDocument, Store
from tests.conftest import ROOT, SAMPLES

S002 = SAMPLES / "002_ede6ec7d9a9ccbff.txt"
S003 = SAMPLES / "003_17aaca51ade6ba7f.txt"
S004 = SAMPLES / "004_4a020ba0f11f1338.txt"


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# --------------------------------------------------------------------------- settings, URLs


@pytest.mark.parametrize("case", [
    ("EXTRACTOR_MODEL__TIMEOUT_S", "abc", "EXTRACTOR_MODEL__TIMEOUT_S"),
    ("EXTRACTOR_MODEL__MAX_CONCURRENCY", "0", "greater than 0"),
    ("EXTRACTOR_LIMITS__MAX_PAGES", "many", "EXTRACTOR_LIMITS__MAX_PAGES"),
])
def test_a_bad_setting_is_one_line_naming_it(case: tuple[str, str, str], sqlite_url: str,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    name, value, expected = case
    monkeypatch.setenv(name, value)
    assert main(["--db", sqlite_url, "docs"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert expected in line and name in line and repr(value) in line


@pytest.mark.parametrize(("url", "expected"), [
    ("notaurl", "'notaurl' is not a URL"),
    ("mysql://root@localhost/db", "unsupported database 'mysql'"),
])
def test_a_bad_database_url_is_one_line(url: str, expected: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", url, "docs"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert expected in line and "--db" in line


def test_a_bad_flag_value_is_one_line_naming_it(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", sqlite_url, "run", str(S002), "--concurrency", "0"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "--concurrency: Input should be greater than 0" in line


def test_help_loads_no_heavy_library_and_version_prints() -> None:
    code = ("import sys; from extractor.cli import build_parser; build_parser().format_help(); "
            "print(sorted({m.split('.')[0] for m, mod in sys.modules.items() if mod is not None} & "
            "{'pymupdf', 'rapidocr', 'numpy', "
            "'sqlmodel', 'sqlalchemy', 'openai', 'instructor', 'matplotlib', 'onnxruntime'}))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True).stdout
    assert out.strip() == "[]"
    version = subprocess.run([sys.executable, "-m", "extractor.cli", "--version"], capture_output=True,
                             text=True, env=env, check=True).stdout
    assert version.strip().startswith("extractor 0.")


def test_help_documents_the_exit_codes_and_document_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for words in ("exit status:", "0    every input", "1    some input failed", "3    nothing succeeded",
                  "failed     could not be extracted", "unchanged  an identical finished run"):
        assert words in out


# --------------------------------------------------------------------------- folders, limits


def test_a_folder_reports_what_it_skipped_by_kind(tmp_path: Path, sqlite_url: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(S002, folder / "a.txt")
    for name in ("x.docx", "y.docx", "sub/z.docx", "notes.xlsx", "README"):
        (folder / name).write_bytes(b"PK\x03\x04")
    (folder / ".hidden.docx").write_bytes(b"")
    empty = tmp_path / "nothing"
    empty.mkdir()
    assert main(["--db", sqlite_url, "ingest", str(folder), str(empty)]) == 0
    out = capsys.readouterr().out
    assert "skipped 3 .docx, 1 .xlsx, 1 file without suffix" in out
    assert f"{empty}: no readable file in this folder" in out
    assert main(["--db", sqlite_url, "run", str(empty)]) == 3
    out = capsys.readouterr().out
    assert "no readable file in this folder" in out and "no document could be ingested" in out


def _ingest_as_nobody(db: str, folder: Path, out: Path) -> None:
    """Child process body: drop root (which reads every folder), then ingest ``folder``."""
    if os.geteuid() == 0:
        os.setgid(65534)
        os.setuid(65534)
    with out.open("w", encoding="utf-8") as handle:
        os.dup2(handle.fileno(), 1)
        sys.stdout = handle
        # one process: a pool worker would import modules lazily, and nobody cannot read them
        code = main(["--db", db, "ingest", str(folder), "--workers", "1"])
        handle.flush()
    os._exit(code)


def test_an_unreadable_sub_folder_is_counted() -> None:
    # The child may not read the standard library either: load what its ingest needs now
    # (in this process, earlier ingests may have run in pool workers and loaded nothing).
    import encodings.utf_8_sig  # noqa: F401
    import multiprocessing
    import sqlite3  # noqa: F401

    import sqlalchemy.dialects.sqlite  # noqa: F401  (the child may not read site-packages)

    import extractor.pipeline  # noqa: F401

    base = Path(tempfile.mkdtemp(prefix="extractor-perm-"))
    try:
        folder = base / "in"
        (folder / "locked").mkdir(parents=True)
        shutil.copy(S002, folder / "a.txt")
        (folder / "locked" / "b.txt").write_text("x", encoding="utf-8")
        (folder / "locked").chmod(0)
        for path in (base, folder):
            path.chmod(0o777)
        (folder / "a.txt").chmod(0o644)
        out = base / "out.txt"
        child = multiprocessing.get_context("fork").Process(
            target=_ingest_as_nobody, args=(f"sqlite:///{base / 'x.db'}", folder, out))
        child.start()
        child.join(120)
        printed = out.read_text(encoding="utf-8")
        assert child.exitcode == 0, printed
        assert "skipped 1 unreadable folder" in printed
        assert "1 stored (1 new" in printed
    finally:
        (base / "in" / "locked").chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("case", [
    ("EXTRACTOR_LIMITS__MAX_FILE_BYTES", "60000", "bytes, over the limit of 60,000"),
    ("EXTRACTOR_LIMITS__MAX_CHARS", "40000", "characters of text, over the limit of 40,000"),
])
def test_a_file_over_a_limit_gets_one_line_and_the_batch_goes_on(
        case: tuple[str, str, str], sqlite_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    name, value, words = case
    monkeypatch.setenv(name, value)
    assert main(["--db", sqlite_url, "ingest", str(S002), str(S004)]) == 0
    out = capsys.readouterr().out
    failed = [ln for ln in out.splitlines() if ln.startswith("failed: ")]
    assert len(failed) == 1 and str(S004) in failed[0] and words in failed[0] and name in failed[0]
    assert "1 stored (1 new, 0 unchanged), 1 failed" in out


def test_a_pdf_over_the_page_limit_is_refused_before_its_other_pages(
        sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("EXTRACTOR_LIMITS__MAX_PAGES", "1")
    monkeypatch.setenv("EXTRACTOR_OCR__ENGINE", "none")
    pdf = SAMPLES / "pdf" / "002_ede6ec7d9a9ccbff_text.pdf"
    assert main(["--db", sqlite_url, "ingest", str(pdf), str(S002)]) == 0
    out = capsys.readouterr().out
    assert f"failed: {pdf}: " in out and "pages, over the limit of 1 (EXTRACTOR_LIMITS__MAX_PAGES)" in out


# --------------------------------------------------------------------------- statuses


@pytest.fixture
def dead_endpoint() -> Iterator[str]:
    """A loopback port with nothing listening: every connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield f"http://127.0.0.1:{port}/v1"


def test_a_document_whose_calls_all_failed_is_failed_with_the_reason(
        dead_endpoint: str, sqlite_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("EXTRACTOR_MODEL__MAX_RETRIES", "0")
    monkeypatch.setenv("EXTRACTOR_MODEL__BACKOFF_MAX_S", "0")
    code = main(["--db", sqlite_url, "run", str(S002), "--extractor", "model", "--base-url",
                 dead_endpoint, "--model", "m", "--json"])
    assert code == 3, "every call failed: nothing succeeded"
    report = json.loads(capsys.readouterr().out)
    (doc,) = report["documents"]
    assert doc["status"] == "failed" and doc["fields"] == 0
    (reason,) = doc["notes"]
    assert reason.startswith("every model call failed (")
    assert "Connection error" in reason or "ConnectError" in reason or "refused" in reason.lower()
    store = Store.open(sqlite_url)
    (rd,) = store.run_documents(report["run"])
    assert rd.status == "failed" and rd.notes == [reason]
    assert main(["--db", sqlite_url, "runs", "show", str(report["run"])]) == 0
    assert f"failed: 002_ede6ec7d9a9ccbff: {reason}" in capsys.readouterr().out


def test_run_exits_1_when_some_input_failed(tmp_path: Path, sqlite_url: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.7 garbage")
    (tmp_path / "notes.docx").write_bytes(b"PK")
    assert main(["--db", sqlite_url, "run", str(S002), str(bad), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)  # nothing but the JSON document on stdout
    assert report["exit_status"] == 1 and report["skipped"] == {}
    (failure,) = report["ingest_failed"]
    assert failure["path"] == str(bad) and "PDF" in failure["reason"]
    assert [d["status"] for d in report["documents"]] == ["done"]
    assert main(["--db", sqlite_url, "run", str(S002)]) == 0
    capsys.readouterr()
    assert main(["--db", sqlite_url, "run", str(bad), "--json"]) == 3
    assert json.loads(capsys.readouterr().out)["documents"] == []


# --------------------------------------------------------------------------- reuse, counts


def test_an_unchanged_run_is_reused_and_a_changed_setting_makes_a_new_one(
        sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--db", sqlite_url, "run", str(S002), str(S003), "--extractor", "rules"]
    assert main(args) == 0
    capsys.readouterr()
    store = Store.open(sqlite_url)
    before = store.info()
    assert main(args) == 0
    out = capsys.readouterr().out
    for doc_id in ("002_ede6ec7d9a9ccbff", "003_17aaca51ade6ba7f"):
        assert next(ln for ln in out.splitlines() if ln.startswith(doc_id)).split()[1:4] == \
            ["unchanged", "(run", "1)"]
    assert store.info() == before, "a reused run adds nothing to the database"

    monkeypatch.setenv("EXTRACTOR_CHUNK__TOKEN_BUDGET", "1000")
    assert main(args) == 0
    assert "run 2 (rules)" in capsys.readouterr().out


def test_a_new_second_source_makes_a_new_run(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The reconciler compares with the other extractor's latest run: when that changes,
    the results may change, so the earlier run is not reused."""
    args = ["--db", sqlite_url, "run", str(S002), "--extractor", "rules"]
    assert main(args) == 0
    store = Store.open(sqlite_url)
    (rd,) = store.run_documents(1)
    assert store.get_run(1).inputs == {"second_sources": {rd.document: None}}
    model = store.create_run(Run(extractor="model", status="done"))
    assert model.id is not None
    store.save_document_result(model.id, RunDocument(run_id=model.id, document=rd.document,
                                                     status="done"), store.facts(1, rd.document))
    capsys.readouterr()
    assert main(args) == 0
    assert f"run {model.id + 1} (rules)" in capsys.readouterr().out
    assert store.get_run(model.id + 1).inputs == {"second_sources": {rd.document: model.id}}


def test_run_runs_show_reconcile_and_checks_report_the_same_counts(
        sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", sqlite_url, "run", str(S004), "--json"]) == 0
    (doc,) = json.loads(capsys.readouterr().out)["documents"]
    keys = ("fields", "flagged", "repaired", "verified", "unchecked")
    from_run = {k: doc[k] for k in keys}
    assert from_run["flagged"] >= 1, "the sample has a flagged value: the comparison means something"
    assert main(["--db", sqlite_url, "runs", "show", "1", "--json"]) == 0
    (shown,) = json.loads(capsys.readouterr().out)["documents"]
    assert main(["--db", sqlite_url, "reconcile", "--run", "1", "--json"]) == 0
    (reconciled,) = json.loads(capsys.readouterr().out)["documents"]
    assert main(["--db", sqlite_url, "checks", "1", "--json"]) == 0
    checks = json.loads(capsys.readouterr().out)["findings"]
    for other in (shown, reconciled, checks):
        assert {k: other[k] for k in keys} == from_run
    assert main(["--db", sqlite_url, "checks", "1"]) == 0
    assert (f"findings: {from_run['fields']} fields: {from_run['flagged']} flagged, "
            f"{from_run['repaired']} repaired") in capsys.readouterr().out


def test_json_output_of_listing_commands(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", sqlite_url, "run", str(S002), "--json"]) == 0
    capsys.readouterr()
    assert main(["--db", sqlite_url, "docs", "--json"]) == 0
    (doc,) = json.loads(capsys.readouterr().out)
    assert doc["doc_id"] == "002_ede6ec7d9a9ccbff" and doc["media_type"] == "text/plain"
    assert main(["--db", sqlite_url, "runs", "list", "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)
    assert run["run"] == 1 and run["status"] == "done" and run["stats"]["documents"] == 1
    assert main(["--db", sqlite_url, "db", "info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["rows"]["document"] == 1 and info["database"].startswith("sqlite:///")


def test_a_huge_text_file_is_refused_unread(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Its bytes prove it holds more characters than allowed: no need to decode it."""
    monkeypatch.setenv("EXTRACTOR_LIMITS__MAX_CHARS", "1000")
    huge = tmp_path / "huge.txt"
    huge.write_bytes(b"\xff" * 5000)  # not even UTF-8: refused for its size before decoding
    small = tmp_path / "small.txt"
    small.write_text("收入决算总计 885.90 万元。\n" * 20, encoding="utf-8")
    assert main(["--db", sqlite_url, "ingest", str(huge), str(small)]) == 0
    out = capsys.readouterr().out
    assert f"failed: {huge}: at least 1,250 characters of text, over the limit of 1,000" in out


def test_a_finished_run_leaves_its_data_in_the_database_file_not_the_log(tmp_path: Path) -> None:
    """SQLite's write-ahead log is folded into the database when a command ends: a copied
    or measured database file holds the run, and no `-wal` file is left beside it."""
    db = tmp_path / "run.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "extractor.cli", "--db", f"sqlite:///{db}", "run", str(S002),
                    "--extractor", "rules", "--workers", "2"], env=env, capture_output=True, check=True,
                   timeout=600)
    assert not (tmp_path / "run.db-wal").exists() or (tmp_path / "run.db-wal").stat().st_size == 0
    copy = tmp_path / "copy.db"
    shutil.copyfile(db, copy)  # the file alone, as a user would copy or back it up
    store = Store.open(f"sqlite:///{copy}")
    try:
        assert store.find_document(sha256_of(S002)) is not None
    finally:
        store.close()
