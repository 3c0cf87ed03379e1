"""The rules extractor on real passages of the sample reports, on invented layouts, on
documents that are not final accounts, and end to end against the gold set."""

from __future__ import annotations

from functools import cache

import pytest

from extractor.chunk import chunk_document
from extractor.core.records import Fact, assemble, normalize_name, slot_facts
from extractor.core.types import DocumentData, Extractor, PageText
from extractor.evaluate.schema import load_dir
from extractor.evaluate.score import score_dirs
from extractor.extractors import RulesExtractor
from extractor.extractors.rules.patterns import BLANK_ZERO, DERIVED, NARRATIVE, RESTATED, TABLE, build_view
from extractor.normalize import normalize_pages
from extractor.reconcile import reconcile
from extractor.reconcile.labels import admit
from tests.conftest import GOLD, SAMPLE_IDS, sample_text, text_document

S002, S003, S004 = SAMPLE_IDS
GB_SECTION = "五、一般公共预算财政拨款支出决算情况说明"


TITLE = "某局2024年度部门决算公开\n第二部分 部门决算情况说明\n"
"""Invented passages open like a report, so the extractor takes them for one."""


def make_doc(text: str, doc_id: str = "passage") -> DocumentData:
    pages = [PageText(1, text, "file")]
    norm, starts = normalize_pages(pages)
    doc = DocumentData(doc_id, f"{doc_id}.txt", doc_id, "text/plain", pages, norm, starts)
    doc.chunks = chunk_document(doc, 1200)
    return doc


def passage(doc_id: str, start: str, end: str | None) -> str:
    """A sample's text from the line holding ``start`` up to the line holding ``end``
    (the last ``start``: a table of contents may name the section first)."""
    text = sample_text(doc_id)
    a = text.rfind("\n", 0, text.rindex(start)) + 1
    b = text.index(end, a + len(start)) if end else len(text)
    return text[a:text.rfind("\n", 0, b) + 1]


#: Every passage starts with the report's part heading so its sections sit where they do
#: in the report (第二部分 … / 五、…).
def with_part(doc_id: str, start: str, end: str | None) -> str:
    return "第二部分 部门决算情况说明\n" + passage(doc_id, start, end)


@cache
def run_sample(doc_id: str) -> tuple[DocumentData, list[Fact]]:
    doc = text_document(doc_id)
    return doc, RulesExtractor().extract(doc).facts


def extract(text: str) -> list[Fact]:
    return RulesExtractor().extract(make_doc(text)).facts


def primary(facts: list[Fact]) -> dict[str, Fact]:
    """Slot path → finding (aux facts excluded), as the contract record will hold it."""
    return slot_facts(facts)


def values(facts: list[Fact]) -> dict[str, float | int | str | None]:
    return {path: f.value for path, f in primary(facts).items()}


def find(facts: list[Fact], field: str, **key: str) -> list[Fact]:
    return [f for f in facts if f.field == field
            and all(normalize_name((f.key or {}).get(k)) == normalize_name(v) for k, v in key.items())]


# --------------------------------------------------------------------------- sections


def test_summary_reads_noisy_ocr_zeros_split_numbers_and_markup() -> None:
    facts = extract(with_part(S003, "一、收入支出决算总体情况说明", "二、收入决算情况说明"))
    got = values(facts)
    assert got["summary.income_grand_total"] == pytest.approx(1724.62)
    assert got["summary.income_current_year"] == pytest.approx(1723.66)
    assert got["summary.income_nonfiscal_surplus_used"] == 0  # printed <u>O.OO</u>
    assert got["summary.income_carryover_begin"] == pytest.approx(0.95)  # <u>0.95</u>
    assert got["summary.expense_grand_total"] == pytest.approx(1724.62)
    assert got["summary.expense_current_year"] == pytest.approx(1723.94)
    assert got["summary.expense_surplus_distribution"] == 0  # <u>**0.00**</u>
    assert got["summary.expense_carryover_end"] == pytest.approx(0.67)
    # the 1,724.62 printed with a thousands separator keeps its printed precision
    grand = find(facts, "summary.income_grand_total")[0]
    assert grand.decimals == 2 and grand.priority == NARRATIVE


def test_income_sources_with_their_stated_shares() -> None:
    facts = extract(with_part(S003, "二、收入决算情况说明", "三、支出决算情况说明"))
    got = values(facts)
    assert got["income_sources.general_budget_appropriation"] == pytest.approx(1723.66)
    for fld in ("gov_fund_appropriation", "state_capital_appropriation", "superior_subsidy",
                "business_income", "operating_income", "affiliate_remittance", "other_income"):
        assert got[f"income_sources.{fld}"] == 0, fld
    shares = {f.field: f.value for f in facts if f.field.startswith("aux.pct.income_sources.")}
    assert shares["aux.pct.income_sources.general_budget_appropriation"] == 100
    assert shares["aux.pct.income_sources.state_capital_appropriation"] == 0  # _*O.OO*%
    # the total's sentence ends at 其中: the first part's share is not the total's
    assert not find(facts, "aux.pct.summary.income_current_year")


def test_expense_uses() -> None:
    got = values(extract(with_part(S002, "三、支出决算情况说明", "四、财政拨款收入支出决算总体情况说明")))
    assert got["summary.expense_current_year"] == pytest.approx(885.90)
    assert got["expense_uses.basic"] == pytest.approx(795.75)
    assert got["expense_uses.project"] == pytest.approx(90.15)
    assert got["expense_uses.remit_to_superior"] == 0
    assert got["expense_uses.operating"] == 0
    assert got["expense_uses.affiliate_subsidy"] == 0


def test_general_budget_classes_and_items_from_the_class_and_item_explanations() -> None:
    facts = extract(with_part(S002, GB_SECTION, "六、一般公共预算财政拨款基本支出"))
    record = assemble("p", facts, with_status=False).general_budget
    assert record.actual_total == pytest.approx(885.90)
    assert record.budget_at_start == pytest.approx(1316.04)  # "。与年初预算1316.04万元相比"
    assert [(c.name, c.actual) for c in record.classes] == [
        ("一般公共服务", 721.17), ("社会保障和就业支出", 82.29), ("卫生健康支出", 30.41),
        ("住房保障支出", 52.03)]
    items = {(i.section, i.item): i for i in record.items}
    assert len(items) == 8
    zhaoshang = items[("商贸事务", "招商引资")]
    assert (zhaoshang.class_, zhaoshang.budget_at_start, zhaoshang.actual, zhaoshang.code) == (
        "一般公共服务", 0, 8.6, None)
    assert items[("政府办公厅（室）及相关机构事务", "行政运行")].budget_at_start == pytest.approx(838.90)
    rates = find(facts, "aux.rate.general_budget.items.actual", item="行政运行")
    assert [f.value for f in rates] == [75.22]
    assert find(facts, "aux.rate.general_budget.actual_total")[0].value == 67.32


def test_items_of_the_noisy_report_keep_their_printed_names() -> None:
    facts = extract(with_part(S003, GB_SECTION, "六、一般公共预算财政拨款基本支出"))
    items = assemble("p", facts, with_status=False).general_budget.items
    first = items[0]
    assert (first.class_, first.section, first.item) == ("一般公共服务", "人大事务", "行政运行")
    assert (first.budget_at_start, first.actual) == (55.99, 375.54)
    nianjin = next(i for i in items if i.item == "机关事业单位职业年金缴费支出")
    assert (nianjin.budget_at_start, nianjin.actual) == (7.8, 0.36)
    assert len(items) == 10


def test_basic_and_project_expense() -> None:
    got = values(extract(with_part(S003, "六、一般公共预算财政拨款基本支出决算情况说明",
                                   "八、财政拨款\"三公\"经费支出决算情况说明")))
    assert got["basic_expense.total"] == pytest.approx(818.73)
    assert got["basic_expense.personnel"] == pytest.approx(396.62)
    assert got["basic_expense.public"] == pytest.approx(422.12)  # printed _422.12_
    assert got["project_expense_total"] == pytest.approx(905.21)
    assert "expense_uses.project" not in got  # 财政拨款项目支出 is not the all-funds 项目支出


def test_three_public_amounts_and_counts() -> None:
    got = values(extract(with_part(S003, "八、财政拨款\"三公\"经费支出决算情况说明",
                                   "九、政府性基金预算财政拨款支出决算情况说明")))
    expected = {"budget_total": 6.04, "actual_total": 6.04, "overseas_budget": 0, "overseas_actual": 0,
                "vehicle_budget": 6.04, "vehicle_actual": 6.04, "vehicle_purchase_actual": 0,
                "vehicle_operation_actual": 6.04, "reception_budget": 0, "reception_actual": 0,
                "overseas_groups": 0, "overseas_persons": 0, "vehicles_purchased": 0,
                "vehicles_held": 1, "reception_batches": 0, "reception_persons": 0}
    for fld, value in expected.items():
        assert got[f"three_public.{fld}"] == pytest.approx(value), fld
    assert isinstance(got["three_public.vehicles_held"], int)


def test_reception_counts_are_domestic_plus_foreign() -> None:
    text = (TITLE + "八、财政拨款“三公”经费支出决算情况说明\n"
            "3.公务接待费支出2.10万元。其中：国内公务接待支出1.60万元，接待5批次，40人次；"
            "国（境）外公务接待支出0.50万元，接待1批次，6人次。\n")
    got = values(extract(text))
    assert (got["three_public.reception_batches"], got["three_public.reception_persons"]) == (6, 46)
    assert got["three_public.reception_actual"] == pytest.approx(2.10)


def test_funds_operating_costs_procurement_and_assets() -> None:
    got = values(extract(with_part(S003, "九、政府性基金预算财政拨款支出决算情况说明", "十四、预算绩效")))
    assert got["gov_fund_expense"] == 0
    assert got["state_capital_expense"] == 0
    assert got["operating_costs"] == pytest.approx(422.12)  # 机构运行经费
    assert got["procurement.total"] == pytest.approx(1072.84)
    assert got["procurement.goods"] == pytest.approx(623.05)
    assert got["procurement.works"] == pytest.approx(285.37)
    assert got["procurement.services"] == pytest.approx(164.42)
    assert got["procurement.sme_awarded"] == pytest.approx(926.82)  # not the 小微企业 641.46
    assert got["assets.vehicles"] == 1
    assert got["assets.equipment_over_1m"] == 0  # printed _0台(套)


def test_no_such_spending_sections_are_stated_zeros() -> None:
    text = TITLE + passage(S004, "七、政府性基金预算财政拨款收支决算情况说明", "九、财政拨款“三公”经费")
    facts = extract(text)
    assert values(facts)["gov_fund_expense"] == 0
    assert values(facts)["state_capital_expense"] == 0
    assert all(f.priority < NARRATIVE for f in facts if f.field.endswith("_expense"))


def test_performance_projects_prefer_the_table_spelling_and_figures() -> None:
    facts = extract(with_part(S002, "十四、预算绩效情况说明", "第三部分 名词解释"))
    projects = {p.name: p for p in assemble("p", facts, with_status=False).performance_projects}
    assert set(projects) == {"法律顾问经费", "区政府重要活动保障经费", "档案整理经费",
                             "区政府门户网站维护经费",
                             "2024年度招商引资经费"}
    baozhang = projects["区政府重要活动保障经费"]
    assert (baozhang.budget, baozhang.executed) == (53.27, 53.27)
    assert projects["区政府门户网站维护经费"].score == 92.8  # the table lost its 总分 row
    assert projects["区政府门户网站维护经费"].executed == 1.68
    table = find(facts, "performance_projects.budget", name="档案整理经费")
    assert {f.priority for f in table} == {NARRATIVE, TABLE}
    # the narrative's rate now belongs to the same project as the table's figures
    assert find(facts, "aux.rate.performance_projects.executed", name="区政府重要活动保障经费")


SCORE = "performance_projects.score"
EXECUTION = "aux.amount.performance_projects.execution_score"
INDICATORS = "aux.amount.performance_projects.indicator_score"


def readings(facts: list[Fact], field: str, name: str) -> list[tuple[float | int | str | None, int]]:
    """(value, priority) of each reading of a project's figure, lowest priority first."""
    return sorted(((f.value, f.priority) for f in find(facts, field, name=name)), key=lambda r: r[1])


def test_an_annex_states_the_score_again_and_its_parts() -> None:
    """附件4: "综合考虑预算执行情况得分 8.9 分、…指标完成情况得分 90 分，最终评分结果：…总得分 98.9 分"."""
    doc = make_doc(passage(S004, "(附件 4)", "(附件 5)"))
    facts = RulesExtractor().read(doc)
    name = "忻州市公共资源交易平台服务费"  # 项目名称 above the annex's tables
    assert readings(facts, SCORE, name) == [(98.9, RESTATED)]
    assert readings(facts, EXECUTION, name) == [(8.9, RESTATED), (8.9, TABLE)]  # and the 合计 row's 得分
    assert readings(facts, INDICATORS, name) == [(90.0, DERIVED), (90.0, RESTATED)]  # and Σ 得分 rows
    quotes = {f.field: f.evidence.quote for f in facts if f.priority == RESTATED and f.evidence}
    assert quotes == {SCORE: "总得分 98.9 分", EXECUTION: "预算执行情况得分 8.9 分",
                      INDICATORS: "指标完成情况得分 90 分"}
    for f in facts:
        if f.field in {SCORE, EXECUTION, INDICATORS}:
            assert f.evidence is not None and f.evidence.chunk_index is not None
            assert doc.normalized.text[f.evidence.start:f.evidence.end] == f.evidence.quote


def test_self_evaluation_tables_print_the_parts_of_each_score() -> None:
    facts = extract(with_part(S002, "十四、预算绩效情况说明", "第三部分 名词解释"))
    portal = "区政府门户网站维护经费"  # the table lost its 总分 row: 2.8 + 90 is all it prints
    assert readings(facts, EXECUTION, portal) == [(2.8, TABLE)]
    assert readings(facts, INDICATORS, portal) == [(90.0, DERIVED)]
    assert readings(facts, SCORE, portal) == [(92.8, NARRATIVE)]
    assert readings(facts, INDICATORS, "区政府重要活动保障经费") == [(80.0, DERIVED)]  # 满意度 0 of 10
    # the annex report "2024年度法律顾问经费项目绩效自评报告" restates the narrative's project
    assert readings(facts, SCORE, "法律顾问经费") == [(100.0, RESTATED), (100.0, NARRATIVE)]
    assert {p.name for p in assemble("p", facts, with_status=False).performance_projects} == {
        "法律顾问经费", "区政府重要活动保障经费", "档案整理经费", portal, "2024年度招商引资经费"}


def test_a_table_named_only_by_the_paragraph_above_restates_its_score() -> None:
    """003's OCR split the 项目名称 cell and merged the 总分 row into one cell: "总分 100 99.96"."""
    facts = run_sample(S003)[1]
    name = "2023年旗政务服务大厅升级改造资金"
    assert readings(facts, SCORE, name) == [(99.96, RESTATED), (99.96, NARRATIVE)]
    (table,) = [f for f in find(facts, SCORE, name=name) if f.priority == RESTATED]
    assert table.evidence is not None and table.evidence.quote == "总分 100 99.96"
    assert readings(facts, "performance_projects.budget", name) == [(791.16, NARRATIVE)]  # none from it


def test_restatements_only_point_at_projects_the_report_names() -> None:
    annex = ("(附件 1)\n项目名称：档案整理经费\n三、项目自评结果\n1. 项目自评得分和结论\n"
             "综合考虑预算执行情况得分 9.5 分、产出、效益、服务对象满意度各方面因素，指标完成情况得分 90 分，"
             "最终评分结果：档案整理经费项目绩效自评价结果为：总得分 99.5 分，属于“优”。\n"
             "(附件 2)\n1. 部门自评得分和结论\n综合考虑预算执行情况得分 7.21 分、指标完成情况得分 90 分，"
             "最终评分结果：某局部门绩效自评价结果为：总得分 97.21 分。\n")
    review = ("十、预算绩效情况说明\n1.档案整理经费项目自评综述：根据年初设定的绩效目标，项目自评得分99.5分。"
              "全年预算数为7万元，执行数为7万元，完成预算的100.00%。\n")
    alone = RulesExtractor().read(make_doc(TITLE + annex))
    assert not [f for f in alone if f.field in {SCORE, EXECUTION, INDICATORS}]
    facts = RulesExtractor().read(make_doc(TITLE + review + annex))
    assert readings(facts, SCORE, "档案整理经费") == [(99.5, RESTATED), (99.5, NARRATIVE)]
    assert readings(facts, EXECUTION, "档案整理经费") == [(9.5, RESTATED)]
    assert 97.21 not in {f.value for f in facts} and 7.21 not in {f.value for f in facts}


def test_department_wide_scores_are_not_project_scores() -> None:
    facts = run_sample(S004)[1]  # 附件9 and 十(三): 整体支出 97.21 = 7.21 + 90
    scored = [f for f in facts if f.field in {SCORE, EXECUTION, INDICATORS}]
    assert len({(f.key or {}).get("name") for f in scored}) == 8
    assert not [f for f in scored if f.value in (97.21, 7.21)]


@pytest.mark.parametrize(("doc_id", "pinned"), [(S002, 4), (S003, 2), (S004, 8)])
def test_every_score_with_both_parts_adds_up(doc_id: str, pinned: int) -> None:
    checks = [c for c in reconcile(run_sample(doc_id)[1]).checks if c.rule == "performance.score_parts"]
    assert len(checks) == pinned and all(c.passed for c in checks)


def test_tables_in_yuan_are_converted_at_full_precision() -> None:
    facts = extract(passage(S004, "第二部分 2022年部门决算表", "第三部分 情况说明"))
    got = values(facts)
    assert got["summary.income_grand_total"] == pytest.approx(5592.396372, abs=1e-9)
    assert got["expense_uses.basic"] == pytest.approx(1706.632546, abs=1e-9)
    assert got["basic_expense.personnel"] == pytest.approx(1398.814389, abs=1e-9)
    assert got["basic_expense.public"] == pytest.approx(307.818157, abs=1e-9)  # the 基本支出 column
    assert got["three_public.vehicle_operation_actual"] == pytest.approx(4.647914, abs=1e-9)
    assert got["procurement.services"] == pytest.approx(4268.25927, abs=1e-9)
    assert got["operating_costs"] == pytest.approx(307.818157, abs=1e-9)
    assert got["assets.vehicles"] == 3
    item = find(facts, "general_budget.items.actual", item="行政运行")[0]
    assert item.key == {"class": "一般公共服务支出", "section": "政府办公厅（室）及相关机构事务",
                        "item": "行政运行", "code": "2010301"}
    assert item.value == pytest.approx(1097.141092, abs=1e-9)
    assert (item.raw, item.decimals, item.priority) == ("10971410.92", 2, TABLE)
    blank = find(facts, "summary.income_carryover_begin")[0]
    assert (blank.value, blank.priority) == (0, BLANK_ZERO)
    assert got["assets.equipment_over_1m"] == 0
    assert find(facts, "aux.amount.three_public.vehicle_operation_budget")[0].value == 6


def test_space_aligned_and_single_spaced_tables() -> None:
    text = (TITLE + "收入支出决算总表\n单位：万元\n"
            "     收入                              支出\n"
            "一、一般公共预算财政拨款收入      1,200.50   一、一般公共服务支出        1,000.00\n"
            "二、政府性基金预算财政拨款收入                二、外交支出\n"
            "八、其他收入                  9.50   八、社会保障和就业支出        200.50\n"
            "   本年收入合计     1,210.00       本年支出合计        1,200.50\n"
            "年初结转和结余              3.00     年末结转和结余     12.50\n"
            "总计                  1,213.00   总计         1,213.00\n"
            "一般公共预算财政拨款支出决算表\n单位：万元\n"
            "科目编码 科目名称 合计 基本支出 项目支出\n"
            "201 一般公共服务支出 1000.00 800.00 200.00\n"
            "20103 政府办公厅（室）及相关机构事务 1000.00 800.00 200.00\n"
            "2010301 行政运行 1000.00 800.00 200.00\n"
            "合计 1200.50 1000.50 200.00\n")
    got = values(extract(text))
    assert got["income_sources.general_budget_appropriation"] == pytest.approx(1200.50)
    assert got["income_sources.gov_fund_appropriation"] == 0  # blank cell
    assert got["income_sources.other_income"] == pytest.approx(9.5)
    assert (got["summary.income_grand_total"], got["summary.expense_grand_total"]) == (1213, 1213)
    assert got["summary.expense_carryover_end"] == pytest.approx(12.5)
    assert got["general_budget.items[0].actual"] == 1000
    assert (got["basic_expense.total"], got["project_expense_total"]) == (1000.5, 200)


def test_three_public_table_with_budget_and_actual_pairs_aligned_by_position() -> None:
    header = "   ".join(["预算数", "决算数"] * 6)
    cols = [m for m in range(len(header)) if header.startswith(("预算数", "决算数"), m)]
    data = [" "] * (len(header) + 4)
    for col, figure in ((0, "1.50"), (1, "1.20"), (10, "1.50"), (11, "1.20")):
        data[cols[col]:cols[col] + len(figure)] = list(figure)
    text = f"{TITLE}财政拨款“三公”经费支出决算表\n单位：万元\n{header}\n{''.join(data).rstrip()}\n"
    got = values(extract(text))
    assert (got["three_public.budget_total"], got["three_public.actual_total"]) == (1.5, 1.2)
    assert (got["three_public.reception_budget"], got["three_public.reception_actual"]) == (1.5, 1.2)
    assert got["three_public.vehicle_budget"] == 0


WRAPPED = "二、收入决算情况说明\n  本年收入合计100.00万元，其中：财政拨款收入93.80万元；其他\n收入6.2万元。\n"


def test_wrapped_lines_are_joined_and_headings_are_not() -> None:
    view = build_view(WRAPPED)
    assert "其他收入6.2万元" in view.text
    assert view.text.startswith("二、收入决算情况说明\n")
    got = values(extract(TITLE + WRAPPED))
    assert got["income_sources.other_income"] == pytest.approx(6.2)


def test_a_label_does_not_take_a_figure_the_sentence_gives_to_something_else() -> None:
    text = (TITLE + "五、一般公共预算财政拨款支出决算情况说明\n"
            "6、社会保障和就业支出（类）行政事业单位养老支出（款）机关事业单位基本养老\n"
            "52.30万元，支出决算为51.90万元。\n")
    facts = extract(text)
    assert not find(facts, "general_budget.classes.actual")
    text = TITLE + "三、支出决算情况说明\n本年支出合计120.00万元，较2023年增加8.00万元，基本支出100.00万元。"
    assert [f.value for f in find(extract(text), "summary.expense_current_year")] == [120]


# --------------------------------------------------------------------------- evidence


@pytest.mark.parametrize("doc_id", SAMPLE_IDS)
def test_evidence_points_at_the_quoted_text(doc_id: str) -> None:
    doc, facts = run_sample(doc_id)
    text = doc.normalized.text
    assert facts
    for fact in facts:
        ev = fact.evidence
        assert ev is not None and ev.start is not None and ev.end is not None
        assert text[ev.start:ev.end] == ev.quote
        assert ev.page == 1
        if fact.raw and fact.priority >= NARRATIVE and isinstance(fact.value, float):
            figure = "".join(fact.raw.split()).rstrip("万元%％")
            assert figure in "".join(ev.quote.split()), (fact.field, fact.raw, ev.quote)
        chunk = doc.chunks[ev.chunk_index] if ev.chunk_index is not None else None
        assert chunk is not None and (chunk.start <= ev.start < chunk.end or ev.start < chunk.start)


def test_every_fact_names_its_extractor_and_aux_facts_follow_the_convention() -> None:
    _, facts = run_sample(S002)
    assert {f.extractor for f in facts} == {"rules"}
    aux = {f.field.split(".")[1] for f in facts if f.field.startswith("aux.")}
    assert aux <= {"pct", "rate", "amount"}


# --------------------------------------------------------------------------- not a report


@pytest.mark.parametrize("text", [
    "The quarterly report shows revenue grew 12% to $4.5 million in the third quarter. " * 30,
    "新华社北京电 国家统计局今天发布数据，全国居民人均可支配收入39218元，比上年增长6.3%。" * 20,
    "",
])
def test_a_text_that_is_not_a_report_yields_nothing_and_says_why(text: str) -> None:
    result = RulesExtractor().extract(make_doc(text))
    assert result.facts == []
    assert result.notes and result.notes[0].startswith("not a final-accounts report: ")


def test_a_budget_document_is_recognised() -> None:
    text = ("某区教育局2025年部门预算情况说明\n一、部门预算编制说明\n"
            "2025年收入预算合计1500.00万元，其中一般公共预算拨款收入1500.00万元。\n"
            "2025年支出预算合计1500.00万元，其中基本支出1200.00万元，项目支出300.00万元。\n") * 3
    result = RulesExtractor().extract(make_doc(text))
    assert result.facts == []
    assert "budget" in result.notes[0] and "预算" in result.notes[0]
    assert result.stats["kind"] == "budget"


# --------------------------------------------------------------------------- end to end


def test_rules_extractor_is_an_extractor() -> None:
    assert isinstance(RulesExtractor(), Extractor)
    assert RulesExtractor.name == "rules"


def test_end_to_end_f1_against_gold() -> None:
    gold = load_dir(GOLD)
    pred = {doc_id: assemble(doc_id, run_sample(doc_id)[1], with_status=False) for doc_id in SAMPLE_IDS}
    report = score_dirs(gold, pred)
    assert report.overall.f1 is not None and report.overall.f1 >= 0.97, report.errors()
    for doc_id, counts in report.by_document.items():
        assert counts.f1 is not None and counts.f1 >= 0.95, doc_id



def test_domestic_reception_alone_is_the_reception_count() -> None:
    text = (TITLE + "七、财政拨款“三公”经费支出决算情况说明\n"
            "3、公务接待费支出0.02万元。其中：国内公务接待支出0.02万元。全年国内公务接待1批次，5人次。\n")
    got = values(extract(text))
    assert (got["three_public.reception_batches"], got["three_public.reception_persons"]) == (1, 5)
    abroad = text.replace("。\n", "；外宾接待2批次，8人次。\n")
    assert "three_public.reception_batches" not in values(extract(abroad))


def test_a_clause_that_starts_with_gong_jiedai_is_the_total_reception_count() -> None:
    text = (TITLE + "七、财政拨款“三公”经费支出决算情况说明\n"
            "3、公务接待费支出8.30万元。其中：国内公务接待支出8.30万元。共接待5批次、40人次（含外宾接待"
            "1批次、6人次）。\n")
    got = values(extract(text))
    assert (got["three_public.reception_batches"], got["three_public.reception_persons"]) == (5, 40)
    domestic = text.replace("。共接待5批次、40人次", "。国内公务接待共接待4批次、34人次")
    assert "three_public.reception_batches" not in values(extract(domestic)), "not a total"


def test_a_numbered_list_of_projects_with_their_scores_and_figures() -> None:
    text = (TITLE + "九、国有资本经营预算财政拨款支出决算情况说明\n本年度无此项支出。\n"
            "十、预算绩效管理情况\n2025年度本部门组织对2个项目开展绩效自评，情况如下：\n"
            "1.重点项目前期工作经费：自评得分84分，年初预算11.78万元，全年执行9.47万元。\n"
            "2.信息化系统运维项目：自评得分90.5分，年初预算77.32万元，全年执行70.15万元。\n")
    facts = extract(text)
    names = {(f.key or {}).get("name") for f in facts if f.field.startswith("performance_projects.")}
    assert names == {"重点项目前期工作经费", "信息化系统运维项目"}, "the name as printed, 项目 and all"
    got = {(name, fld): find(facts, f"performance_projects.{fld}", name=name)[0].value
           for name in ("重点项目前期工作经费", "信息化系统运维项目")
           for fld in ("score", "budget", "executed")}
    assert list(got.values()) == [84, 11.78, 9.47, 90.5, 77.32, 70.15]


def test_wording_broken_across_pdf_lines_reads_as_one_statement() -> None:
    """A PDF line may end right after 。, inside a fill-in blank, or between a label and a
    figure that looks like a list number (1.41万元)."""
    text = (TITLE + "四、一般公共预算财政拨款支出决算情况说明\n"
                    "某局2024年度一般公共预算财政拨款支出决算1723.94万元。\n"
                    "与年初预算354.72万元相比，完成年初预算的485.99%。\n"
                    "十一、其他重要事项的情况说明\n（二）政府采购支出情况\n"
                    "某局2024年度政府采购支出总额289.32万元，其中：政府采购货物支出\n"
                    "1.41万元、政府采购工程支出0.00万元、政府采购服务支出287.91万元。\n"
                    "（三）国有资产占有使用情况\n截至2024年12月31日，共有车辆1辆；单价100万元（含）以上的设备（不含车辆）_\n"
                    "2台（套）。\n")
    got = values(extract(text))
    assert got["general_budget.budget_at_start"] == pytest.approx(354.72)
    assert got["procurement.goods"] == pytest.approx(1.41)
    assert got["assets.equipment_over_1m"] == 2


def test_a_table_without_unit_line_is_not_taken_for_yuan_because_the_text_says_zero() -> None:
    """Every figure under 50 元 is 0.00 万元: a "0.00万元" in the narrative is no evidence
    that a table with no unit line of its own is in 元."""
    text = (TITLE + "一般公共预算财政拨款基本支出决算表\n"
            "人员经费\t\t公用经费\t\n科目名称\t决算数\t科目名称\t决算数\n"
            "工资福利支出\t127.70\t商品和服务支出\t40.21\n人员经费合计\t127.70\t公用经费合计\t40.21\n"
            "六、一般公共预算财政拨款基本支出决算情况说明\n本年度因公出国（境）费支出0.00万元，公务用车购置0.00万元。\n")
    got = values(extract(text))
    assert (got["basic_expense.personnel"], got["basic_expense.public"]) == (127.7, 40.21)


def test_a_sentence_runs_on_past_the_page_number_between_its_pages() -> None:
    text = (TITLE + "七、财政拨款“三公”经费支出决算情况说明\n2、公务用车购置及运行维护费支出24.20万元。"
            "其中：公务用车运行维护支出24.20万元，主要用于燃料费。全年购置车\n15\n辆0辆。截至年末公务用车"
            "保有量10辆。\n")
    got = values(extract(text))
    assert (got["three_public.vehicles_purchased"], got["three_public.vehicles_held"]) == (0, 10)
    assert "assets.vehicles" not in got, "车辆 bought is not the fleet"
    for mark in ("第15页", "- 15 -", "15/40"):
        assert values(extract(text.replace("\n15\n", f"\n{mark}\n")))["three_public.vehicles_purchased"] == 0


def test_reception_counted_as_gongwu_jiedai_without_domestic_is_the_total() -> None:
    text = (TITLE + "七、财政拨款“三公”经费支出决算情况说明\n3、公务接待费支出0.39万元。其中：国内公务接待"
            "支出0.39万（含外宾接待支出0.00万元）。主要用于接待上级部门调研，列明公务接待 2 批次、26 人次，"
            "其中：接待外宾 0 批次、0 人次。\n")
    got = values(extract(text))
    assert (got["three_public.reception_batches"], got["three_public.reception_persons"]) == (2, 26)


def test_zeros_of_an_empty_table_laid_out_wide_name_their_fields() -> None:
    """An empty 三公 table as ``pdftotext -layout`` prints it (mostly spaces), then "故本表无
    数据": every cell is a stated zero, and the evidence gate sees the table's header."""
    pad = " " * 60
    text = (TITLE + "财政拨款“三公”经费支出决算表\n" + pad + "单位：万元\n"
            + pad + "财政拨款“三公”经费\n" + pad + "公务用车购置及运行维护费\n"
            + "    因公出国" + pad + "公务用车" + pad + "公务接待费\n    （境）费" + pad + "小计\n"
            + "  预算数   决算数   预算数   决算数   预算数   决算数   预算数   决算数\n" + "\n" * 3
            + "注：本表反映部门本年度“三公”经费支出预决算情况。\n"
            + "说明：某局本年度没有财政拨款“三公”经费支出，故本表无数据。\n")
    doc = make_doc(text)
    facts = RulesExtractor().read(doc)
    zeros = {f.field for f in facts if f.field.startswith("three_public.") and f.value == 0}
    assert {"three_public.overseas_actual", "three_public.reception_budget"} <= zeros
    assert [r.field for r in admit(facts, doc).rejected] == []


def test_a_single_spaced_table_is_labelled_by_the_header_above_its_rows() -> None:
    """A plain-text table whose header lines were not read as rows (single spaces, a name
    wrapped onto a line of its own): its 合计 row's figures go by the template's order, and
    the evidence gate finds their column names in the lines under the title."""
    text = (TITLE + "一般公共预算财政拨款支出决算表\n单位：万元\n项 目 一般公共预算财政拨款支出决算数\n"
            "功能分类\n科目编码 科目名称 合计 基本支出 项目支出\n类 款 项\n"
            "208 社会保障和就业支出 471.44 460.67 10.77\n20808\n出抚恤\n10.77 0.00 10.77\n"
            "2080801 死亡抚恤 10.77 0.00 10.77\n221 住房保障支出 409.89 409.89 0.00\n"
            "2210201 住房公积金 409.89 409.89 0.00\n合计 881.33 870.56 10.77\n"
            "注：本表反映部门本年度一般公共预算财政拨款支出情况。\n")
    doc = make_doc(text)
    facts = RulesExtractor().read(doc)
    kept = admit(facts, doc).facts
    assert {f.field: f.value for f in kept if f.field in {"project_expense_total", "basic_expense.total"}} \
        == {"project_expense_total": 10.77, "basic_expense.total": 870.56}


def test_a_plain_text_expense_table_with_its_header_in_eight_lines_above() -> None:
    """putuo_sthjj's 支出决算表 as its text prints it: the title eight header lines above
    the rows, and the code columns' titles run into the 合计 label (类 款 项 合计)."""
    text = (TITLE + "支出决算表\n单位：万元\n项目\n对附属单位补助\n"
            "本年支出合计 基本支出 项目支出 上缴上级支出 经营支出\n功能分类 支出\n科目名称\n科目编码\n"
            "决算数 决算数 决算数 决算数 决算数 决算数\n"
            "类 款 项 合计 4,733.14 3,365.38 1,367.76 0.00 0.00 0.00\n"
            "208 社会保障和就业支出 471.44 460.67 10.77 0.00 0.00 0.00\n"
            "20805 行政事业单位养老支出 460.67 460.67 0.00 0.00 0.00 0.00\n"
            "注：本表反映部门本年度各项支出情况。\n")
    doc = make_doc(text)
    kept = admit(RulesExtractor().read(doc), doc).facts
    got = {f.field: f.value for f in kept if f.field.startswith("expense_uses.")}
    assert got == {"expense_uses.basic": 3365.38, "expense_uses.project": 1367.76,
                   "expense_uses.remit_to_superior": 0.0, "expense_uses.operating": 0.0,
                   "expense_uses.affiliate_subsidy": 0.0}


def test_the_department_is_the_whole_name_field_not_its_first_suffix() -> None:
    text = ("部门名称：上海市静安区人力资源和社会保障局\n2021年度\n" + TITLE
            + "上海市静安区人力资源和社会保障局2021年度收入决算合计100万元。\n")
    assert values(extract(text))["meta.department"] == "上海市静安区人力资源和社会保障局"


def test_the_awarded_to_smes_wording_of_another_template_is_read_once_stated() -> None:
    text = (TITLE + "十一、其他重要事项的情况说明\n（二）政府采购支出情况\n"
            "政府采购支出总额289.32万元。在政府采购项目中，由中小\n企业供应商中标或成交的，采购金额276.32万元。\n")
    assert values(RulesExtractor().read(make_doc(text)))["procurement.sme_awarded"] == pytest.approx(276.32)
    parts = text.replace("。\n", "；在其他政府采购项目中，由中小企业供应商中标或成交的，采购金额4.79万元。\n")
    assert "procurement.sme_awarded" not in values(RulesExtractor().read(make_doc(parts)))  # parts


def test_a_project_scored_without_a_review_heading() -> None:
    text = (TITLE + "十、预算绩效管理情况\n2023年度本部门组织对2个项目开展绩效自评，情况如下：\n"
            "1、财政投资评审经费项目自评得分84.26分，全年预算数329.93万元，执行数283.44万元。\n"
            "2、法律顾问经费项目自评得分98分，全年预算数12.09万元，执行数12.08万元。\n")
    facts = RulesExtractor().read(make_doc(text))
    got = {(f.field, (f.key or {}).get("name")): f.value for f in facts if f.field.startswith("performance")}
    assert got[("performance_projects.score", "财政投资评审经费")] == 84.26
    assert got[("performance_projects.executed", "法律顾问经费")] == 12.08
    assert got[("performance_projects.budget", "财政投资评审经费")] == 329.93
