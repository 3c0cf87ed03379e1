"""``eval score`` on folders with broken files: the rest is scored, the bad ones are
listed with their reason, and the exit status says something was invalid."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from extractor.cli import main
from extractor.cli.evaluation import EXIT_INVALID
from tests.conftest import GOLD


def _copy_gold(target: Path) -> list[str]:
    target.mkdir()
    docs = []
    for file in sorted(GOLD.glob("*.json")):
        shutil.copy(file, target / file.name)
        docs.append(file.stem)
    return docs


def test_one_malformed_prediction_file_is_listed_and_the_others_are_scored(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pred = tmp_path / "pred"
    docs = _copy_gold(pred)
    (pred / f"{docs[0]}.json").write_text('{"format": "final_accounts/v1", "doc_id": ', "utf-8")
    data = json.loads((pred / f"{docs[1]}.json").read_text("utf-8"))
    data["summary"]["income_grand_total"] = "885.90"          # a string, not a number
    (pred / "renamed.json").write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    (pred / f"{docs[1]}.json").unlink()

    code = main(["eval", "score", "--gold", str(GOLD), "--pred", str(pred), "--json"])
    captured = capsys.readouterr()
    assert code == EXIT_INVALID == 3
    report = json.loads(captured.out)
    assert report["documents"] == [docs[2]]                     # the valid one was scored
    assert report["overall"]["f1"] == 1.0
    assert sorted(report["missing_in_pred"]) == sorted(docs[:2])
    invalid = {Path(f["file"]).name: f for f in report["invalid"]}
    assert set(invalid) == {f"{docs[0]}.json", "renamed.json"}
    assert all(f["side"] == "pred" for f in invalid.values())
    assert "invalid JSON" in invalid[f"{docs[0]}.json"]["reason"]
    assert "$.summary.income_grand_total" in invalid["renamed.json"]["reason"]
    errors = [ln for ln in captured.err.splitlines() if ln.startswith("invalid pred file")]
    assert len(errors) == 2 and any("renamed.json" in ln for ln in errors)


def test_invalid_gold_files_and_duplicate_doc_ids_are_listed_too(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gold = tmp_path / "gold"
    docs = _copy_gold(gold)
    shutil.copy(gold / f"{docs[0]}.json", gold / "copy_of_first.json")
    (gold / f"{docs[1]}.json").write_bytes(b"\xff\xfe not utf-8")
    code = main(["eval", "score", "--gold", str(gold), "--pred", str(GOLD)])
    out = capsys.readouterr().out
    assert code == EXIT_INVALID
    assert "invalid files (not scored): 2" in out
    assert f"doc_id {docs[0]!r} also used by" in out
    assert "cannot read file" in out
    assert f"missing in gold (not scored): {docs[1]}" in out


def test_all_valid_files_exit_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "score", "--gold", str(GOLD), "--pred", str(GOLD)]) == 0
    assert "invalid files" not in capsys.readouterr().out
