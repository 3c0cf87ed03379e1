"""eval/check_gold.py: the gold set's own arithmetic, with rounding-aware tolerances."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from extractor.core.records import FinalAccounts

ROOT = Path(__file__).resolve().parents[1]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_gold", ROOT / "eval" / "check_gold.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_gold"] = module     # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


cg = _load()


def _by_name(record: FinalAccounts) -> dict[str, Any]:
    return {c.name: c for c in cg.checks_for(record)}


def test_committed_gold_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert cg.main([str(ROOT / "eval" / "gold")]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out and "0 failed" in out
    assert "PASS 002_ede6ec7d9a9ccbff income grand total: 885.9" in out


def test_half_units() -> None:
    assert cg.half_unit(885.9) == 0.005
    assert cg.half_unit(30) == 0.005
    assert cg.half_unit(0) == 0.0
    assert cg.half_unit(5592.396372) == 5e-7     # converted from 元, printed to the fen
    assert cg.half_unit(11.425) == 5e-7


def test_two_decimal_sum_tolerance_is_n_times_half_a_cent() -> None:
    ok = FinalAccounts.model_validate({"doc_id": "t", "basic_expense": {
        "total": 10.01, "personnel": 5.0, "public": 5.0}})
    check = _by_name(ok)["basic_expense total = personnel + public"]
    assert check.tolerance == pytest.approx(0.015)         # three figures printed to 0.01
    assert check.passed and check.diff == pytest.approx(0.01)
    edge = FinalAccounts.model_validate({"doc_id": "t", "basic_expense": {
        "total": 10.02, "personnel": 5.0, "public": 5.0}})
    assert not _by_name(edge)["basic_expense total = personnel + public"].passed
    bad = FinalAccounts.model_validate({"doc_id": "t", "basic_expense": {
        "total": 10.02, "personnel": 5.0, "public": 4.99}})
    check = _by_name(bad)["basic_expense total = personnel + public"]
    assert not check.passed and check.diff == pytest.approx(0.03)
    assert check.line().startswith("FAIL t basic_expense total")
    assert "10.02 (total) = 5 (personnel) + 4.99 (public)" in check.line()


def test_figures_converted_from_yuan_close_tighter() -> None:
    exact = FinalAccounts.model_validate({"doc_id": "y", "basic_expense": {
        "total": 1706.632546, "personnel": 1398.814389, "public": 307.818157}})
    check = _by_name(exact)["basic_expense total = personnel + public"]
    assert check.passed and check.tolerance < 2e-6
    off = FinalAccounts.model_validate({"doc_id": "y", "basic_expense": {
        "total": 1706.6325, "personnel": 1398.814389, "public": 307.818157}})
    assert not _by_name(off)["basic_expense total = personnel + public"].passed


def test_null_figures_skip_and_classes_link_items_by_normalised_name() -> None:
    record = FinalAccounts.model_validate({"doc_id": "c", "general_budget": {
        "actual_total": 10.0, "budget_at_start": 20.0,
        "classes": [{"name": "一般公共服务", "actual": 10.0}, {"name": "住房保障支出", "actual": 0}],
        "items": [
            {"class": "一般公共服务支出", "section": "a", "item": "x", "budget_at_start": None,
             "actual": 6.0},
            {"class": "一般公共服务（类）", "section": "a", "item": "y", "budget_at_start": 20.0,
             "actual": 4.0},
        ]}})
    checks = _by_name(record)
    assert checks["general_budget budget_at_start = Σ item budgets"].skipped
    assert checks["class 一般公共服务 = Σ its items"].passed
    assert len(checks["class 一般公共服务 = Σ its items"].parts) == 2
    assert checks["class 住房保障支出 = Σ its items"].passed      # no items, and 0
    assert checks["general_budget actual_total = Σ items"].passed


def test_failing_file_exits_non_zero_with_figures(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads((ROOT / "eval" / "gold" / "002_ede6ec7d9a9ccbff.json").read_text("utf-8"))
    data["procurement"]["goods"] = 8.05
    (tmp_path / "002_ede6ec7d9a9ccbff.json").write_text(json.dumps(data), "utf-8")
    assert cg.main([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL 002_ede6ec7d9a9ccbff procurement total = goods + works + services: 47.93" \
        in out
    assert "diff +0.450000" in out and "1 failed" in out


def test_contract_errors_and_missing_dirs_exit_2(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text('{"doc_id": 5}', "utf-8")
    assert cg.main([str(tmp_path)]) == 2
    assert cg.main([str(tmp_path / "absent")]) == 2


def test_runs_as_a_script_from_any_directory(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "eval" / "check_gold.py")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 failed" in proc.stdout
