"""The main job through the real CLI: ingest a folder with bad files, run, export, score."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pymupdf
import pytest

from extractor.cli import main
from tests.conftest import GOLD, SAMPLES


def _bad_files(folder: Path) -> dict[str, Path]:
    folder.mkdir()
    files = {
        "empty": folder / "empty.txt",
        "corrupt": folder / "corrupt.pdf",
        "encrypted": folder / "locked.pdf",
        "nonutf8": folder / "gbk.txt",
    }
    files["empty"].write_bytes(b"")
    files["corrupt"].write_bytes(b"%PDF-1.7\n1 0 obj <<>> garbage")
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "secret 123")
    doc.save(files["encrypted"], encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="u", owner_pw="o")
    files["nonutf8"].write_bytes("收入决算总计885.90万元".encode("gb18030"))
    return files


def test_ingest_reports_each_bad_file_and_stores_the_rest(tmp_path: Path, sqlite_url: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    bad = _bad_files(tmp_path / "in")
    shutil.copy(SAMPLES / "003_17aaca51ade6ba7f.txt", tmp_path / "in" / "003_17aaca51ade6ba7f.txt")
    unsupported = tmp_path / "notes.docx"
    unsupported.write_bytes(b"PK\x03\x04")
    missing = tmp_path / "missing.pdf"

    code = main(["--db", sqlite_url, "ingest", str(tmp_path / "in"), str(unsupported), str(missing)])
    out = capsys.readouterr().out
    assert code == 0, "one good file: the batch succeeds"
    failed_lines = [ln for ln in out.splitlines() if ln.startswith("failed: ")]
    assert len(failed_lines) == 6
    for path in [*bad.values(), unsupported, missing]:
        assert any(str(path) in ln for ln in failed_lines), path
    assert "1 stored (1 new, 0 unchanged), 6 failed" in out

    assert main(["--db", sqlite_url, "ingest", str(tmp_path / "in")]) == 0
    assert "1 stored (0 new, 1 unchanged)" in capsys.readouterr().out


def test_exit_status_is_nonzero_only_when_every_file_failed(tmp_path: Path, sqlite_url: str) -> None:
    bad = _bad_files(tmp_path / "in")
    assert main(["--db", sqlite_url, "ingest", *map(str, bad.values())]) == 1


def test_run_exports_scores_and_reconciles(tmp_path: Path, sqlite_url: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    samples = sorted(SAMPLES.glob("*.txt"))
    out_dir = tmp_path / "pred"
    assert main(["--db", sqlite_url, "run", *map(str, samples), "--export", str(out_dir),
                 "--gold", str(GOLD)]) == 0
    out = capsys.readouterr().out
    assert "run 1 (rules): 3 documents" in out
    overall = next(ln for ln in out.splitlines() if ln.startswith("all slots"))
    assert float(overall.split()[-1]) >= 0.97
    exported = json.loads((out_dir / "003_17aaca51ade6ba7f.json").read_text(encoding="utf-8"))
    assert exported["format"] == "final_accounts/v1"
    assert exported["check_status"]["summary.income_grand_total"] in {"verified", "repaired",
                                                                      "flagged", "unchecked"}
    assert main(["--db", sqlite_url, "eval", "score", "--gold", str(GOLD), "--pred", str(out_dir),
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    # Names are slots too: 003's "…建设项目" read without its 项目 costs one FP and one FN.
    assert report["overall"]["precision"] >= 0.99
    assert report["silent"]["silent_error_rate"] <= 0.01

    assert main(["--db", sqlite_url, "checks", "1"]) == 0
    assert "passing" in capsys.readouterr().out
    assert main(["--db", sqlite_url, "eval", "score", "--run", "1", "--gold", str(GOLD),
                 "--html", str(tmp_path / "r.html")]) == 0
    assert "<html" in (tmp_path / "r.html").read_text(encoding="utf-8").lower()


def test_a_text_that_is_not_a_report_gives_an_empty_result_with_a_note(
        tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    news = tmp_path / "news.txt"
    news.write_text("今天天气晴朗，市民在公园散步。气温 23 度，明天有小雨。\n" * 20, encoding="utf-8")
    assert main(["--db", sqlite_url, "run", str(news), "--gold", str(GOLD),
                 "--export", str(tmp_path / "pred")]) == 0
    out = capsys.readouterr().out
    row = next(ln for ln in out.splitlines() if ln.startswith("news"))
    assert "empty" in row and "not a final-accounts report" in row
    exported = json.loads((tmp_path / "pred" / "news.json").read_text(encoding="utf-8"))
    assert exported["summary"]["income_grand_total"] is None
    assert exported["general_budget"]["items"] == []


def test_errors_are_one_line_without_traceback(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", sqlite_url, "chunks", "no-such-doc"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("extractor: error: no stored document matches 'no-such-doc'")
    assert "Traceback" not in err
