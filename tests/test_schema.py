"""Loading contract files: strict validation, precise error locations, the committed schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from extractor.core.errors import ContractError
from extractor.evaluate.schema import (
    SCHEMA_PATH,
    DocIdMismatchWarning,
    json_path,
    load_dir,
    load_record,
    schema_text,
    write_schema,
)

GOLD_DIR = Path(__file__).resolve().parents[1] / "eval" / "gold"


def _gold_data() -> dict[str, Any]:
    file = sorted(GOLD_DIR.glob("*.json"))[0]
    data: dict[str, Any] = json.loads(file.read_text("utf-8"))
    return data


def _write(tmp_path: Path, name: str, data: dict[str, Any] | str) -> Path:
    file = tmp_path / name
    file.write_text(data if isinstance(data, str) else json.dumps(data, ensure_ascii=False),
                    "utf-8")
    return file


def test_committed_schema_is_up_to_date() -> None:
    assert SCHEMA_PATH.read_text("utf-8") == schema_text(), \
        "run `python -m extractor.evaluate.schema` to regenerate eval/final_accounts.schema.json"


def test_gold_files_validate_against_the_written_json_schema(tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(write_schema(tmp_path / "s.json").read_text("utf-8"))
    for file in GOLD_DIR.glob("*.json"):
        jsonschema.validate(json.loads(file.read_text("utf-8")), schema)
    bad = _gold_data()
    bad["summary"]["income_grand_total"] = "885.90"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_load_record_reads_a_gold_file() -> None:
    file = sorted(GOLD_DIR.glob("*.json"))[0]
    record = load_record(file)
    assert record.doc_id == file.stem
    assert record.check_status is None


def test_wrong_type_reports_file_json_path_and_problem(tmp_path: Path) -> None:
    data = _gold_data()
    data["general_budget"]["items"][2]["actual"] = "8.60"   # a string, not a number
    file = _write(tmp_path, "bad.json", data)
    with pytest.raises(ContractError) as info:
        load_record(file)
    err = info.value
    assert err.file == str(file)
    assert err.json_path == "$.general_budget.items[2].actual"
    assert "valid number" in err.problem and '"8.60"' in err.problem
    assert str(file) in str(err) and "$.general_budget.items[2].actual" in str(err)


def test_unknown_key_missing_doc_id_and_float_count_are_rejected(tmp_path: Path) -> None:
    data = _gold_data()
    data["summary"]["grand_total"] = 1
    with pytest.raises(ContractError) as info:
        load_record(_write(tmp_path, "a.json", data))
    assert info.value.json_path == "$.summary.grand_total"

    data = _gold_data()
    del data["doc_id"]
    data["three_public"]["vehicles_held"] = 8.5
    with pytest.raises(ContractError) as info:
        load_record(_write(tmp_path, "b.json", data))
    assert info.value.json_path == "$.doc_id"
    assert "$.three_public.vehicles_held" in info.value.problem   # further problems listed


def test_bad_check_status_key_is_located(tmp_path: Path) -> None:
    data = _gold_data()
    data["check_status"] = {"general_budget.items[0].actual": "maybe"}
    with pytest.raises(ContractError) as info:
        load_record(_write(tmp_path, "c.json", data))
    assert info.value.json_path == '$.check_status["general_budget.items[0].actual"]'


def test_json_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    file = _write(tmp_path, "d.json", '{\n  "doc_id": "x",\n  "meta": {,}\n}')
    with pytest.raises(ContractError) as info:
        load_record(file)
    assert info.value.json_path == "$"
    assert "line 3 column 12" in info.value.problem


def test_unreadable_file_is_a_contract_error(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="cannot read"):
        load_record(tmp_path / "absent.json")


def test_json_path_formatting() -> None:
    assert json_path(("general_budget", "items", 2, "class")) == "$.general_budget.items[2].class"
    assert json_path(()) == "$"


def test_load_dir_keys_by_content_doc_id_and_warns_on_name_mismatch(tmp_path: Path) -> None:
    data = _gold_data()
    _write(tmp_path, "renamed.json", data)
    with pytest.warns(DocIdMismatchWarning, match="renamed.json"):
        records = load_dir(tmp_path)
    assert list(records) == [data["doc_id"]]


def test_load_dir_rejects_duplicate_doc_ids_and_missing_dirs(tmp_path: Path) -> None:
    data = _gold_data()
    _write(tmp_path, f"{data['doc_id']}.json", data)
    _write(tmp_path, "copy.json", data)
    with pytest.raises(ContractError, match="also used by"):
        load_dir(tmp_path)
    with pytest.raises(ContractError, match="not a directory"):
        load_dir(tmp_path / "nope")


def test_load_dir_of_the_gold_set() -> None:
    records = load_dir(GOLD_DIR)
    assert sorted(records) == sorted(p.stem for p in GOLD_DIR.glob("*.json"))
