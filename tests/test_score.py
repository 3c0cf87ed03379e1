"""Scoring rules of gold-format.md, checked on tiny hand-written records with hand counts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from extractor.core.records import CheckStatus, FinalAccounts
from extractor.evaluate.schema import load_dir
from extractor.evaluate.score import (
    ScoreReport,
    format_table,
    match_items,
    score_dirs,
    score_document,
    values_equal,
)

GOLD_DIR = Path(__file__).resolve().parents[1] / "eval" / "gold"
SCALAR_SLOTS = 55
"""Scalar slots per record: meta 2, summary 8, income 8, expense 5, general_budget 2,
basic 3, project total 1, three_public 16, gov fund 1, state capital 1, operating 1,
procurement 5, assets 2."""


def rec(doc_id: str = "d1", **data: Any) -> FinalAccounts:
    return FinalAccounts.model_validate({"doc_id": doc_id, **data})


def score_one(gold: FinalAccounts, pred: FinalAccounts) -> ScoreReport:
    return score_dirs({gold.doc_id: gold}, {pred.doc_id: pred})


def counts(report: ScoreReport) -> tuple[int, int, int, int]:
    o = report.overall
    return o.tp, o.fp, o.fn, o.abstain


def test_empty_records_are_all_abstentions() -> None:
    report = score_one(rec(), rec())
    assert counts(report) == (0, 0, 0, SCALAR_SLOTS)
    assert report.overall.precision is None and report.overall.f1 is None


def test_exact_match_counts_true_positives() -> None:
    data: dict[str, Any] = {"meta": {"department": "赤峰市松山区人民政府办公室", "fiscal_year": 2024},
            "summary": {"income_grand_total": 885.9}}
    report = score_one(rec(**data), rec(**data))
    assert counts(report) == (3, 0, 0, SCALAR_SLOTS - 3)
    assert report.overall.f1 == 1.0
    assert report.by_section["meta"].tp == 2
    assert report.by_field["summary.income_grand_total"].tp == 1


@pytest.mark.parametrize(("gold", "pred", "equal"), [
    (100.0, 100.005, True),      # exactly at the tolerance
    (100.0, 99.995, True),
    (100.0, 100.0051, False),    # just outside
    (885.90, 885.905, True),     # 885.905 - 885.9 is 0.00500000000005 in floats
    (5592.396372, 5592.40, True),   # 元 figure at full precision vs rounded 万元: 0.003628
    (5592.396372, 5592.39, False),  # 0.006372
    (0, 0.0, True),
])
def test_amount_tolerance(gold: float, pred: float, equal: bool) -> None:
    assert values_equal("summary.income_grand_total", gold, pred) is equal
    report = score_one(rec(summary={"income_grand_total": gold}),
                       rec(summary={"income_grand_total": pred}))
    assert counts(report)[:3] == ((1, 0, 0) if equal else (0, 1, 1))


def test_percentages_use_the_amount_tolerance_counts_and_years_are_exact() -> None:
    assert values_equal("performance_projects.score", 92.8, 92.805)
    assert not values_equal("performance_projects.score", 92.8, 92.81)
    assert values_equal("three_public.vehicles_held", 8, 8)
    assert not values_equal("three_public.vehicles_held", 8, 9)
    assert not values_equal("meta.fiscal_year", 2024, 2023)


def test_names_compare_after_normalisation() -> None:
    assert values_equal("meta.department", "赤峰市松山区人民政府办公室", " “赤峰市松山区 人民政府办公室” ")
    assert values_equal("meta.department", "ＡＢ局（类）", "AB局")
    assert not values_equal("meta.department", "政务服务局", "行政审批服务管理局")


def test_null_cases() -> None:
    gold = rec(summary={"income_grand_total": 10.0, "income_current_year": 0,
                        "expense_grand_total": None})
    pred = rec(summary={"income_grand_total": None, "income_current_year": None,
                        "expense_grand_total": 3.0, "expense_current_year": None})
    report = score_one(gold, pred)
    outcomes = {s.field: s.outcome for s in report.slots}
    assert outcomes["summary.income_grand_total"] == "missing"
    assert outcomes["summary.income_current_year"] == "missing"   # a stated zero is a value
    assert outcomes["summary.expense_grand_total"] == "spurious"
    assert outcomes["summary.expense_current_year"] == "abstain"
    assert counts(report) == (0, 1, 2, SCALAR_SLOTS - 3)


def test_wrong_value_is_one_false_positive_and_one_false_negative() -> None:
    report = score_one(rec(assets={"vehicles": 8}), rec(assets={"vehicles": 9}))
    assert counts(report) == (0, 1, 1, SCALAR_SLOTS - 1)
    (wrong,) = report.errors()
    assert (wrong.gold_path, wrong.gold, wrong.pred, wrong.outcome) == \
        ("assets.vehicles", 8, 9, "wrong")


def _item(section: str | None, item: str | None, code: str | None, budget: float | None,
          actual: float | None, *, cls: str = "一般公共服务") -> dict[str, Any]:
    return {"class": cls, "section": section, "item": item, "code": code,
            "budget_at_start": budget, "actual": actual}


def test_items_match_by_code_when_both_have_one_else_by_names() -> None:
    gold = rec(general_budget={"items": [
        _item("财政事务", "行政运行", "2010601", 10, 9),
        _item("财政事务", "信息化建设", "2010607", 5, 4),
        _item("住房改革支出", "住房公积金", None, None, 3, cls="住房保障支出"),
    ]})
    pred = rec(general_budget={"items": [
        _item("其他事务", "行政运行（项）", "2010601", 10, 9),   # same code, other names
        _item("住房改革", "住房公积金", "2210201", 1, 3),         # gold has no code: names
        _item("财政事务", "信息化建设", "2010699", 5, 4),         # both coded, codes differ
    ]})
    slots, matches = score_document(gold, pred)
    assert [(m.gold_index, m.pred_index, m.how) for m in matches] == [(0, 0, "code"),
                                                                      (2, 1, "exact")]
    report = score_one(gold, pred)
    # Every field of a matched pair is a slot. g0~p0: class, item (after dropping （项）),
    # code, budget, actual TP; section 财政事务 vs 其他事务 wrong. g2~p1: section and item
    # equal after dropping 支出 (2 TP), actual TP; class wrong; code and budget spurious.
    # Unmatched g1: its 6 non-null fields FN. Unmatched p2: its 6 fields FP.
    assert counts(report) == (8, 1 + 3 + 6, 1 + 1 + 6, SCALAR_SLOTS)
    assert report.by_field["general_budget.items.actual"].model_dump(
        include={"tp", "fp", "fn"}) == {"tp": 2, "fp": 1, "fn": 1}
    assert report.by_field["general_budget.items.budget_at_start"].model_dump(
        include={"tp", "fp", "fn"}) == {"tp": 1, "fp": 2, "fn": 1}
    assert report.by_field["general_budget.items.section"].model_dump(
        include={"tp", "fp", "fn"}) == {"tp": 1, "fp": 2, "fn": 2}
    assert report.by_field["general_budget.items.code"].model_dump(
        include={"tp", "fp", "fn"}) == {"tp": 1, "fp": 2, "fn": 1}
    assert report.by_section["general_budget"].tp == 8
    spurious = [s for s in slots if s.outcome == "spurious"]
    assert {s.pred_path for s in spurious} == {
        "general_budget.items[1].code", "general_budget.items[1].budget_at_start",
        *(f"general_budget.items[2].{f}" for f in ("class", "section", "item", "code",
                                                   "budget_at_start", "actual"))}
    assert all(s.gold_path is None for s in spurious if s.pred_path and "[2]" in s.pred_path)


def test_classes_match_by_name_without_trailing_zhichu() -> None:
    gold = rec(general_budget={"classes": [{"name": "一般公共服务", "actual": 721.17},
                                           {"name": "卫生健康支出", "actual": 30.41}]})
    pred = rec(general_budget={"classes": [{"name": "卫生健康支出", "actual": 30.41},
                                           {"name": "一般公共服务支出（类）", "actual": 721.17}]})
    report = score_one(gold, pred)
    assert counts(report) == (4, 0, 0, SCALAR_SLOTS)      # names and figures, both TP
    assert {(m.gold_index, m.pred_index) for m in report.matches} == {(0, 1), (1, 0)}


def _proj(name: str, score: float | None, budget: float | None,
          executed: float | None) -> dict[str, Any]:
    return {"name": name, "score": score, "budget": budget, "executed": executed}


def test_project_names_match_by_containment_but_a_tie_does_not_match() -> None:
    gold = rec(performance_projects=[
        _proj("法律顾问经费", 100, 19.6, 19.6),
        _proj("区政府重要活动保障经费", 90, 53.27, 53.27),
        _proj("数字政府", 96.85, 3000, None),
    ])
    pred = rec(performance_projects=[
        _proj("法律顾问经费项目", 100, 19.6, 19.6),           # equal once 项目 is dropped
        _proj("2024年区政府重要活动保障经费", 90, 53.27, 53.28),  # unique containment
        _proj("数字政府信息化费用", 96.85, 3000, 2055.41),     # tie: both contain 数字政府
        _proj("数字政府运维费", None, 10, None),
    ])
    report = score_one(gold, pred)
    assert [(m.gold_index, m.pred_index, m.how) for m in report.matches] == [
        (0, 0, "exact"), (1, 1, "containment")]
    # TP: 3 figures of 法律顾问 + 2 of 重要活动 (score, budget). Wrong (FP+FN each): both
    # names (项目 is dropped for matching only; the containment pair's names differ) and
    # 重要活动 executed. Unmatched gold 数字政府: name, score, budget FN. Unmatched preds:
    # 4 + 2 non-null fields FP.
    assert counts(report) == (5, 3 + 4 + 2, 3 + 3, SCALAR_SLOTS)
    assert report.by_section["performance_projects"].fn == 6
    names = {s.gold_path: s.outcome for s in report.slots
             if s.field == "performance_projects.name" and s.gold_path}
    assert names == {"performance_projects[0].name": "wrong",
                     "performance_projects[1].name": "wrong",
                     "performance_projects[2].name": "missing"}


def test_containment_tie_on_the_gold_side_does_not_match() -> None:
    pairs = match_items("performance_projects",
                        [_proj("门户网站维护", 1, 1, 1), _proj("门户网站维护二期", 1, 1, 1)],
                        [_proj("门户网站", 1, 1, 1)])
    assert pairs == []


def test_exact_matches_are_taken_before_containment() -> None:
    pairs = match_items("performance_projects",
                        [_proj("档案整理经费", 1, 1, 1), _proj("档案整理经费补充", 1, 1, 1)],
                        [_proj("档案整理经费补充", 1, 1, 1), _proj("档案整理经费", 1, 1, 1)])
    assert pairs == [(0, 1, "exact"), (1, 0, "exact")]


def test_matching_is_one_to_one_with_duplicate_names() -> None:
    pairs = match_items("general_budget.classes",
                        [{"name": "其他支出", "actual": 1}],
                        [{"name": "其他支出", "actual": 1}, {"name": "其他支出", "actual": 2}])
    assert pairs == [(0, 0, "exact")]


def test_documents_on_one_side_only_are_listed_not_scored() -> None:
    gold = {"a": rec("a", assets={"vehicles": 1}), "b": rec("b", assets={"vehicles": 2})}
    pred = {"a": rec("a", assets={"vehicles": 1}), "c": rec("c", assets={"vehicles": 3})}
    report = score_dirs(gold, pred)
    assert report.documents == ["a"]
    assert report.missing_in_pred == ["b"]
    assert report.missing_in_gold == ["c"]
    assert counts(report) == (1, 0, 0, SCALAR_SLOTS - 1)
    assert list(report.by_document) == ["a"]
    table = format_table(report)
    assert "missing in pred (not scored): b" in table
    assert "missing in gold (not scored): c" in table


def test_silent_error_rates() -> None:
    gold = rec(summary={"income_grand_total": 100, "income_current_year": 100,
                        "expense_grand_total": 100},
               three_public={"vehicles_held": 3})
    st = CheckStatus
    pred = rec(summary={"income_grand_total": 100, "income_current_year": 90,
                        "expense_grand_total": 80, "expense_current_year": 5},
               three_public={"vehicles_held": 4},
               procurement={"total": 1},
               check_status={"summary.income_grand_total": st.VERIFIED,      # right
                             "summary.income_current_year": st.FLAGGED,     # wrong, flagged
                             "summary.expense_grand_total": st.VERIFIED,    # wrong, silent
                             "summary.expense_current_year": st.UNCHECKED,  # spurious, silent
                             "procurement.total": st.FLAGGED})              # spurious, flagged
    s = score_one(gold, pred).silent          # vehicles_held: wrong, no status
    assert (s.with_status, s.wrong, s.wrong_with_status, s.wrong_without_status) == (5, 5, 4, 1)
    assert (s.wrong_unflagged, s.flagged, s.flagged_wrong) == (2, 2, 2)
    assert s.silent_error_rate == pytest.approx(2 / 5)
    assert s.unflagged_error_share == pytest.approx(2 / 4)


def test_status_is_read_at_the_prediction_index_of_a_matched_item() -> None:
    gold = rec(performance_projects=[_proj("甲经费", 100, 1, 1), _proj("乙经费", 100, 2, 2)])
    pred = rec(performance_projects=[_proj("乙经费", 100, 2, 9), _proj("甲经费", 100, 1, 1)],
               check_status={"performance_projects[0].executed": CheckStatus.FLAGGED})
    report = score_one(gold, pred)
    (wrong,) = report.errors()
    assert wrong.gold_path == "performance_projects[1].executed"
    assert wrong.pred_path == "performance_projects[0].executed"
    assert wrong.status == CheckStatus.FLAGGED
    assert report.silent.unflagged_error_share == 0.0


def test_gold_scored_against_itself_is_perfect_and_one_change_costs_one_fp_one_fn() -> None:
    gold = load_dir(GOLD_DIR)
    assert len(gold) >= 3
    report = score_dirs(gold, gold)
    o = report.overall
    assert (o.precision, o.recall, o.f1) == (1.0, 1.0, 1.0)
    assert o.fp == o.fn == 0
    pred = {k: v.model_copy(deep=True) for k, v in gold.items()}
    doc = sorted(pred)[0]
    pred[doc].general_budget.items[1].actual = 12345.0
    changed = score_dirs(gold, pred).overall
    assert (changed.tp, changed.fp, changed.fn, changed.abstain) == (o.tp - 1, 1, 1, o.abstain)


def test_directories_outside_the_repo_are_scored_on_common_documents(tmp_path: Path) -> None:
    gold_dir, pred_dir = tmp_path / "gold", tmp_path / "pred"
    gold_dir.mkdir()
    pred_dir.mkdir()
    records = {"x": rec("x", procurement={"total": 47.93}),
               "y": rec("y", procurement={"total": 1.0}),
               "z": rec("z", procurement={"total": 2.0})}
    for doc in ("x", "y"):
        (gold_dir / f"{doc}.json").write_text(json.dumps(records[doc].to_json_dict()), "utf-8")
    pred_x = rec("x", procurement={"total": 47.934})
    (pred_dir / "x.json").write_text(json.dumps(pred_x.to_json_dict()), "utf-8")
    (pred_dir / "z.json").write_text(json.dumps(records["z"].to_json_dict()), "utf-8")
    report = score_dirs(load_dir(gold_dir), load_dir(pred_dir))
    assert report.documents == ["x"]
    assert (report.missing_in_pred, report.missing_in_gold) == (["y"], ["z"])
    assert counts(report) == (1, 0, 0, SCALAR_SLOTS - 1)


def test_report_round_trips_through_json() -> None:
    gold = rec(performance_projects=[_proj("甲", 1, 2, 3)], meta={"fiscal_year": 2024})
    pred = rec(performance_projects=[_proj("甲", 1, 2, 4)], meta={"fiscal_year": 2024})
    report = score_one(gold, pred)
    data = json.loads(report.model_dump_json())
    # TP: fiscal_year, name, score, budget; executed wrong.
    assert data["overall"]["f1"] == pytest.approx(2 * 4 / (2 * 4 + 1 + 1))
    assert data["by_field"]["performance_projects.executed"]["fp"] == 1
    again = ScoreReport.model_validate(data)
    assert again.overall == report.overall and again.slots == report.slots


def test_format_table_shows_sections_documents_and_errors() -> None:
    report = score_one(rec(assets={"vehicles": 8}), rec(assets={"vehicles": 9}))
    table = format_table(report)
    for needle in ("overall", "assets", "d1", "errors by field", "assets.vehicles",
                   "correct abstentions (both null): 54"):
        assert needle in table


# --------------------------------------------------------------------------- clarified contract:
# every field of a matched pair is a slot; unmatched items count all their non-null fields.


def _field_counts(report: ScoreReport, field: str) -> tuple[int, int, int]:
    c = report.by_field[field]
    return c.tp, c.fp, c.fn


def test_matched_item_with_a_wrong_class_costs_one_fp_and_one_fn_on_class() -> None:
    gold = rec(general_budget={"items": [_item("财政事务", "行政运行", "2010601", 10, 9)]})
    pred = rec(general_budget={"items": [_item("财政事务", "行政运行", "2010601", 10, 9,
                                               cls="教育")]})
    report = score_one(gold, pred)
    assert [m.how for m in report.matches] == ["code"]
    assert _field_counts(report, "general_budget.items.class") == (0, 1, 1)
    # class, section, item, code, budget, actual: 5 right, class wrong.
    assert counts(report) == (5, 1, 1, SCALAR_SLOTS)


def test_a_missing_code_is_one_false_negative() -> None:
    gold = rec(general_budget={"items": [_item("财政事务", "行政运行", "2010601", 10, 9)]})
    pred = rec(general_budget={"items": [_item("财政事务", "行政运行", None, 10, 9)]})
    report = score_one(gold, pred)
    assert [m.how for m in report.matches] == ["exact"]       # matched by names
    assert _field_counts(report, "general_budget.items.code") == (0, 0, 1)
    assert counts(report) == (5, 0, 1, SCALAR_SLOTS)
    (missing,) = report.errors()
    assert (missing.gold_path, missing.gold, missing.outcome) == \
        ("general_budget.items[0].code", "2010601", "missing")


def test_codes_compare_exactly() -> None:
    assert values_equal("general_budget.items.code", "2010601", "2010601")
    assert not values_equal("general_budget.items.code", "2010601", "2010602")
    assert not values_equal("general_budget.items.code", "2010601", "201 0601")


def test_an_unmatched_predicted_item_counts_every_non_null_field_as_false_positive() -> None:
    gold = rec(general_budget={"items": [_item("财政事务", "行政运行", None, 10, 9)]})
    extra = _item("教育管理事务", "其他教育管理事务", "2050199", None, 3.5, cls="教育")
    pred = rec(general_budget={"items": [_item("财政事务", "行政运行", None, 10, 9), extra]})
    report = score_one(gold, pred)
    # gold item: class, section, item, budget, actual TP (code null on both: abstention).
    # extra: class, section, item, code, actual FP; its null budget counts nothing.
    assert counts(report) == (5, 5, 0, SCALAR_SLOTS + 1)
    spurious = {s.pred_path: s.pred for s in report.slots if s.outcome == "spurious"}
    assert spurious == {"general_budget.items[1].class": "教育",
                        "general_budget.items[1].section": "教育管理事务",
                        "general_budget.items[1].item": "其他教育管理事务",
                        "general_budget.items[1].code": "2050199",
                        "general_budget.items[1].actual": 3.5}


def test_containment_match_scores_the_differing_names_as_wrong() -> None:
    gold = rec(performance_projects=[_proj("区政府重要活动保障经费", 90, 53.27, 53.27)],
               general_budget={"classes": [{"name": "卫生健康", "actual": 30.41}]})
    pred = rec(performance_projects=[_proj("2024年区政府重要活动保障经费", 90, 53.27, 53.27)],
               general_budget={"classes": [{"name": "卫生健康支出（类）", "actual": 30.41}]})
    report = score_one(gold, pred)
    assert [m.how for m in report.matches] == ["exact", "containment"]
    assert _field_counts(report, "performance_projects.name") == (0, 1, 1)
    assert _field_counts(report, "general_budget.classes.name") == (1, 0, 0)   # same name
    assert counts(report) == (1 + 1 + 3, 1, 1, SCALAR_SLOTS)


def _non_null_leaves(data: Any, key: str = "") -> int:
    """Independent count of the slots a gold file holds: every non-null scalar leaf."""
    if key in {"format", "doc_id"}:
        return 0
    if isinstance(data, dict):
        return sum(_non_null_leaves(v, k) for k, v in data.items())
    if isinstance(data, list):
        return sum(_non_null_leaves(v, key) for v in data)
    return int(data is not None)


def test_gold_against_itself_counts_every_field_of_every_item() -> None:
    gold = load_dir(GOLD_DIR)
    report = score_dirs(gold, gold)
    o = report.overall
    assert (o.precision, o.recall, o.f1) == (1.0, 1.0, 1.0)
    expected = sum(_non_null_leaves(json.loads(p.read_text("utf-8")))
                   for p in GOLD_DIR.glob("*.json"))
    assert o.tp == expected
    for lp, fields in (("general_budget.items", ("class", "section", "item", "code",
                                                 "budget_at_start", "actual")),
                       ("general_budget.classes", ("name", "actual")),
                       ("performance_projects", ("name", "score", "budget", "executed"))):
        n_items = sum(len(getattr(r.general_budget, lp.split(".")[1]) if "." in lp
                          else r.performance_projects) for r in gold.values())
        for leaf in fields:
            c = report.by_field[f"{lp}.{leaf}"]
            assert c.tp + c.abstain == n_items, f"{lp}.{leaf}"
