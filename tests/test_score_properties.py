"""Properties of the scoring rules: what must not change the counts, and what changes them
by exactly how much (list order, file names, one more unmatched item)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from extractor.core.records import FinalAccounts
from extractor.evaluate.schema import DocIdMismatchWarning, load_dir
from extractor.evaluate.score import ScoreReport, item_fields, score_dirs

# Names none of which contains another, so matching never hinges on a containment tie.
PROJECTS = ("法律顾问经费", "档案整理经费", "办公楼维修", "会议保障", "应急演练", "信息系统运维",
            "党建活动", "培训专项")
EXTRA_PROJECTS = ("外事接待专款", "防汛物资储备", "普法宣传周")
SECTIONS = ("财政事务", "行政管理", "教育管理事务", "公共卫生")
ITEMS = ("行政运行", "一般行政管理事务", "事业运行", "其他支出款")

amounts = st.one_of(st.none(), st.decimals(0, 5000, places=2).map(float))
codes = st.one_of(st.none(), st.from_regex(r"20[1-9]0[1-9]0[1-9]", fullmatch=True))


@st.composite
def projects(draw: st.DrawFn, names: tuple[str, ...] = PROJECTS) -> list[dict[str, Any]]:
    chosen = draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names)))
    return [{"name": n, "score": draw(st.one_of(st.none(), st.integers(60, 100))),
             "budget": draw(amounts), "executed": draw(amounts)} for n in chosen]


@st.composite
def budget_items(draw: st.DrawFn) -> list[dict[str, Any]]:
    pairs = draw(st.lists(st.tuples(st.sampled_from(SECTIONS), st.sampled_from(ITEMS)),
                          unique=True, max_size=6))
    used: set[str] = set()
    out = []
    for section, item in pairs:
        code = draw(codes)
        if code in used:                 # a code identifies one item
            code = None
        if code:
            used.add(code)
        out.append({"class": draw(st.sampled_from(("一般公共服务", "教育", None))),
                    "section": section, "item": item, "code": code,
                    "budget_at_start": draw(amounts), "actual": draw(amounts)})
    return out


def _perturb(draw: st.DrawFn, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A prediction of a list: a subset of the gold items, some fields changed or nulled."""
    keep = draw(st.lists(st.booleans(), min_size=len(items), max_size=len(items)))
    out = []
    for item, kept in zip(items, keep, strict=True):
        if not kept:
            continue
        copy = dict(item)
        for key, value in item.items():
            if isinstance(value, float) and draw(st.booleans()):
                copy[key] = draw(amounts)
        if "class" in copy and draw(st.integers(0, 4)) == 0:
            copy["class"] = draw(st.sampled_from(("一般公共服务", "教育", "卫生健康", None)))
        if "code" in copy and draw(st.integers(0, 4)) == 0:
            copy["code"] = draw(st.sampled_from((None, "2990101")))   # lost or misread
        out.append(copy)
    return out


@st.composite
def gold_and_pred(draw: st.DrawFn) -> tuple[FinalAccounts, FinalAccounts]:
    gold_projects, gold_items = draw(projects()), draw(budget_items())
    summary = {"income_grand_total": draw(amounts), "expense_grand_total": draw(amounts)}
    gold = FinalAccounts.model_validate({
        "doc_id": "doc", "summary": summary, "performance_projects": gold_projects,
        "general_budget": {"items": gold_items}})
    pred = FinalAccounts.model_validate({
        "doc_id": "doc", "summary": {k: draw(amounts) for k in summary},
        "performance_projects": _perturb(draw, gold_projects),
        "general_budget": {"items": _perturb(draw, gold_items)}})
    return gold, pred


def _counts(report: ScoreReport) -> tuple[int, int, int, int]:
    o = report.overall
    return o.tp, o.fp, o.fn, o.abstain


def _score(gold: FinalAccounts, pred: FinalAccounts) -> ScoreReport:
    return score_dirs({gold.doc_id: gold}, {pred.doc_id: pred})


def _shuffled(record: FinalAccounts, perm: st.DataObject) -> FinalAccounts:
    data = record.to_json_dict()
    for items in (data["performance_projects"], data["general_budget"]["items"]):
        order = perm.draw(st.permutations(list(range(len(items)))))
        items[:] = [items[i] for i in order]
    return FinalAccounts.model_validate(data)


@settings(max_examples=60, deadline=None)
@given(gold_and_pred(), st.data())
def test_list_order_does_not_change_any_count(pair: tuple[FinalAccounts, FinalAccounts],
                                              data: st.DataObject) -> None:
    gold, pred = pair
    base = _score(gold, pred)
    again = _score(_shuffled(gold, data), _shuffled(pred, data))
    assert _counts(again) == _counts(base)
    assert again.by_field == base.by_field


@settings(max_examples=60, deadline=None)
@given(gold_and_pred(), projects(EXTRA_PROJECTS), st.booleans())
def test_an_unmatched_item_adds_exactly_its_non_null_fields(
        pair: tuple[FinalAccounts, FinalAccounts], extra: list[dict[str, Any]],
        on_gold_side: bool) -> None:
    gold, pred = pair
    base = _counts(_score(gold, pred))
    target = gold if on_gold_side else pred
    data = target.to_json_dict()
    data["performance_projects"] += extra
    bigger = FinalAccounts.model_validate(data)
    added = sum(1 for item in extra for leaf in item_fields("performance_projects")
                if item.get(leaf) is not None)
    tp, fp, fn, abstain = _counts(_score(bigger, pred) if on_gold_side else _score(gold, bigger))
    assert (tp, abstain) == (base[0], base[3])
    assert (fp, fn) == ((base[1], base[2] + added) if on_gold_side else (base[1] + added, base[2]))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(gold_and_pred(), st.from_regex(r"[a-z][a-z0-9_\-]{0,20}", fullmatch=True))
def test_file_names_do_not_change_the_counts(tmp_path: Path,
                                             pair: tuple[FinalAccounts, FinalAccounts],
                                             name: str) -> None:
    gold, pred = pair
    folder = tmp_path / name
    for side, record, file_name in (("gold", gold, "doc"), ("pred", pred, name)):
        (folder / side).mkdir(parents=True, exist_ok=True)
        for old in (folder / side).glob("*.json"):
            old.unlink()
        (folder / side / f"{file_name}.json").write_text(json.dumps(record.to_json_dict()),
                                                         "utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DocIdMismatchWarning)
        report = score_dirs(load_dir(folder / "gold"), load_dir(folder / "pred"))
    assert report.documents == ["doc"]
    assert _counts(report) == _counts(_score(gold, pred))


def _reference_counts(gold: dict[str, Any], pred: dict[str, Any]) -> tuple[int, int, int]:
    """A second, deliberately plain reading of the contract's rules (what an outside
    scorer would write) for records whose list keys are unique and never contain each
    other: scalars slot by slot; list items paired by key; every field of a pair a slot;
    unpaired items count each non-null field."""
    tp = fp = fn = 0

    def slot(g: Any, p: Any) -> None:
        nonlocal tp, fp, fn
        if g is None and p is None:
            return
        if g is None:
            fp += 1
        elif p is None:
            fn += 1
        elif g == p or (isinstance(g, float) and isinstance(p, float) and abs(g - p) <= 0.005):
            tp += 1
        else:
            fp += 1
            fn += 1

    for key in ("income_grand_total", "expense_grand_total"):
        slot(gold["summary"][key], pred["summary"][key])
    for items_g, items_p, key in (
            (gold["performance_projects"], pred["performance_projects"], ("name",)),
            (gold["general_budget"]["items"], pred["general_budget"]["items"],
             ("section", "item"))):
        by_key = {tuple(i[k] for k in key): i for i in items_p}
        paired: set[tuple[Any, ...]] = set()
        for g in items_g:
            k = tuple(g[f] for f in key)
            p = by_key.get(k)
            if p is not None and g.get("code") and p.get("code") and g["code"] != p["code"]:
                p = None                     # two printed codes that differ: other items
            if p is not None:
                paired.add(k)
            for field, value in g.items():
                slot(value, None if p is None else p[field])
        for k, p in by_key.items():
            if k not in paired:
                for value in p.values():
                    slot(None, value)
    return tp, fp, fn


@settings(max_examples=80, deadline=None)
@given(gold_and_pred())
def test_the_scorer_agrees_with_a_plain_reading_of_the_rules(
        pair: tuple[FinalAccounts, FinalAccounts]) -> None:
    gold, pred = pair
    tp, fp, fn, _ = _counts(_score(gold, pred))
    assert (tp, fp, fn) == _reference_counts(gold.to_json_dict(), pred.to_json_dict())
