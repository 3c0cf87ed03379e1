"""Reconciliation's data and text checks: the rule catalog and the field labels are
validated data another document type can replace; the report's text yields checks
(year, department, item codes, printed changes) and findings (a missing template table,
wording that contradicts its figures); coverage says what nothing touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from extractor.chunk import chunk_document
from extractor.cli import main
from extractor.core.errors import ConfigError
from extractor.core.records import CheckStatus, Evidence, Fact
from extractor.core.types import DocumentData, PageText
from extractor.normalize import normalize_pages
from extractor.reconcile import Catalog, reconcile
from extractor.reconcile.coverage import coverage
from extractor.reconcile.document import reconcile_document
from extractor.reconcile.labels import FieldLabels, admit, default_labels, hints
from extractor.reconcile.sources import source_of

ROOT = Path(__file__).resolve().parents[1]


def document(text: str) -> DocumentData:
    pages = [PageText(1, text, "file")]
    norm, starts = normalize_pages(pages)
    doc = DocumentData("t", "t.txt", "t", "text/plain", pages, norm, starts)
    doc.chunks = chunk_document(doc, 1200)
    return doc


def fact(field: str, value: float, quote: str, start: int, **kw: object) -> Fact:
    return Fact(field=field, value=value, raw=f"{value:.2f}万元", decimals=2,
                evidence=Evidence(quote=quote, start=start, end=start + len(quote)), **kw)  # type: ignore[arg-type]


def test_another_document_type_brings_its_own_catalog(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n- {id: toy.sum, name_zh: 收入 = 支出, kind: sum,"
                    " lhs: summary.income_grand_total, rhs: [summary.expense_grand_total]}\n",
                    encoding="utf-8")
    toy = Catalog.load(path)
    facts = [fact("summary.income_grand_total", 10.0, "收入总计10.00万元", 0),
             fact("summary.expense_grand_total", 12.0, "支出总计12.00万元", 50),
             fact("summary.income_current_year", 10.0, "本年收入合计10.00万元", 90)]
    checks = reconcile(facts, catalog=toy).checks
    assert [c.rule for c in checks] == ["toy.sum"] and not checks[0].passed
    assert {c.rule for c in reconcile(facts).checks} >= {"summary.balance"}  # the default catalog


@pytest.mark.parametrize(("text", "reason"), [
    ("rules:\n- {id: a, name_zh: x, kind: ratio, lhs: aux.pct.a, rhs: [b]}\n", "ratio rule needs"),
    ("rules:\n- {id: a, name_zh: x, kind: sum, lhs: a, when: [nope]}\n", "unknown condition"),
    ("rules:\n- {id: a, name_zh: x, kind: sum, lhs: 'a[?]'}\n", "malformed reference"),
    ("conditions: []\n", "rules"),
])
def test_a_bad_catalog_is_one_clear_error_naming_the_file(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=str(path)) as err:
        Catalog.load(path)
    assert reason in str(err.value)


def test_bad_field_labels_are_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "fields.yaml"
    path.write_text("budget_words: [预算]\nactual_words: [决算]\nfields:\n  a: {measure: sometimes}\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError, match=r"fields\.yaml: invalid field labels"):
        FieldLabels.load(path)
    assert "summary.expense_grand_total" in default_labels().fields


def test_an_item_coded_outside_its_class_is_flagged() -> None:
    doc = document("一般公共预算财政拨款支出决算表\n科目编码 科目名称 决算数\n2080501 行政单位离退休 5.00\n")
    key = {"class": "一般公共服务", "section": "行政事业单位养老", "item": "行政单位离退休",
           "code": "2080501"}
    item = fact("general_budget.items.actual", 5.0, "2080501 行政单位离退休 5.00", 30, key=key)
    done = reconcile_document(doc, [item])
    (check,) = [c for c in done.result.checks if c.rule == "text.item_code"]
    assert not check.passed and "201" in check.summary
    assert done.result.facts[0].status is CheckStatus.FLAGGED


def test_fiscal_years_that_disagree_are_a_finding_and_agreeing_ones_a_check() -> None:
    text = "某某局2024年度部门决算\n目录\n某某局2024年度部门决算表\n某某局2023年度部门决算公开说明\n"
    year = Fact(field="meta.fiscal_year", value=2024, raw="2024", decimals=0,
                evidence=Evidence(quote="2024", start=3, end=7))
    done = reconcile_document(document(text), [year])
    kinds = [f.kind for f in done.findings]
    assert kinds.count("year_inconsistent") == 1
    (check,) = [c for c in done.result.checks if c.rule == "text.fiscal_year"]
    assert not check.passed and done.result.facts[0].status is CheckStatus.FLAGGED
    agreeing = reconcile_document(document(text.replace("2023年度", "2024年度")), [year])
    assert not [f for f in agreeing.findings if f.kind == "year_inconsistent"]
    assert agreeing.result.facts[0].status is CheckStatus.VERIFIED


def test_a_missing_template_table_and_contradicting_wording_are_findings() -> None:
    titles = ["收入支出决算总表", "收入决算表", "支出决算表", "财政拨款收入支出决算总表",
              "一般公共预算财政拨款支出决算表", "一般公共预算财政拨款基本支出决算表",
              "政府性基金预算财政拨款收入支出决算表", "国有资本经营预算财政拨款收入支出决算表"]
    text = "\n".join(titles) + ("\n公务接待费年初预算为10.00万元，决算为8.00万元，决算数大于预算数，"
                                "主要原因是接待任务增加。\n")
    done = reconcile_document(document(text), [])
    missing = [f for f in done.findings if f.kind == "mandatory_table_missing"]
    assert [f.message for f in missing] == ["the national template's table 财政拨款“三公”经费支出决算表 "
                                            "is not in the report"]
    (wording,) = [f for f in done.findings if f.kind == "wording_contradicts_figures"]
    assert "大于" in wording.message and wording.statements[0].quote
    assert not reconcile_document(document(text.replace("大于", "小于")), []).findings[1:]


def test_a_printed_change_that_pins_a_figure_verifies_it() -> None:
    text = "本年收入合计12.00万元。与上年相比，增加2.00万元，增长20.00%。\n"
    income = fact("summary.income_current_year", 12.0, "本年收入合计12.00万元", 0)
    done = reconcile_document(document(text), [income])
    (check,) = [c for c in done.result.checks if c.rule == "text.stated_change"]
    assert check.passed and done.result.facts[0].status is CheckStatus.VERIFIED
    wrong = reconcile_document(document(text.replace("20.00%", "25.00%")), [income])
    assert wrong.result.facts[0].status is CheckStatus.FLAGGED
    big = "本年收入合计1200.00万元。与上年相比，增加200.00万元，增长20.00%。\n"  # 0.01% of 1000万元
    loose = reconcile_document(document(big), [fact("summary.income_current_year", 1200.0,
                                                    "本年收入合计1200.00万元", 0)])
    assert loose.result.checks[-1].passed and loose.result.facts[0].status is CheckStatus.UNCHECKED


def test_coverage_counts_values_no_independent_check_touches() -> None:
    ev = Evidence(quote="收入、支出决算总计均为885.90万元", start=100, end=118)
    facts = [Fact(field=f"summary.{f}_grand_total", value=885.9, raw="885.90万元", decimals=2, evidence=ev)
             for f in ("income", "expense")]
    facts.append(fact("assets.equipment_over_1m", 0, "单价100万元以上设备0台", 300))
    result = reconcile(facts)
    rows = {r.field: r for r in coverage(result.facts, [c.model_dump() for c in result.checks])}
    assert rows["summary.income_grand_total"].untouched == 1  # the balance check read one number twice
    assert rows["assets.equipment_over_1m"].share == 1.0


def test_checks_coverage_prints_a_row_per_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    sample = ROOT / "data" / "samples" / "002_ede6ec7d9a9ccbff.txt"
    assert main(["--db", db, "run", str(sample), "--extractor", "rules"]) == 0
    capsys.readouterr()
    assert main(["--db", db, "checks", "1", "--coverage"]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split() for line in out[2:]}
    assert rows["summary.income_grand_total"][1:3] == ["1", "0"]
    assert rows["meta.fiscal_year"][2] == "0"  # the title years agree: touched by text.fiscal_year
    assert out[-1].startswith("all fields")


def test_two_copies_of_the_same_digits_in_one_quote_are_two_statements() -> None:
    quote = "国内公务接待支出0万元，接待0批次，0人次"
    batches = Fact(field="three_public.reception_batches", value=0, raw="0", decimals=0,
                   evidence=Evidence(quote=quote, start=10, end=10 + len(quote)))
    persons = batches.model_copy(update={"field": "three_public.reception_persons"})
    result = reconcile([batches, persons])
    (check,) = [c for c in result.checks if c.rule == "three_public.batches_le_persons"]
    assert check.independent
    both = "“三公”经费全年预算6.04万元，支出决算6.04万元"
    budget = fact("three_public.budget_total", 6.04, both, 50)
    actual = fact("three_public.actual_total", 6.04, both, 50)
    assert admit([budget, actual]).rejected == []  # each names its own copy: 预算 / 决算
    labels = default_labels()
    assert source_of(budget, hints(budget.field, labels)) != source_of(actual, hints(actual.field, labels))


def test_a_unit_printed_after_the_quote_still_decides() -> None:
    text = "行政运行（项）。年初预算为1560.05万元，支出决算为1511.89万\n元。\n"  # 万 | 元 across lines
    doc = document(text)
    quote = "年初预算为1560.05万元，支出决算为1511.89"
    start = doc.normalized.text.index(quote)

    def read(value: float) -> Fact:
        return Fact(field="general_budget.items.actual", key={"item": "行政运行"}, value=value, raw="1511.89",
                    decimals=2, evidence=Evidence(quote=quote, start=start, end=start + len(quote)))

    assert admit([read(1511.89)], doc).rejected == []
    (slip,) = admit([read(0.151189)], doc).rejected
    assert "万元" in slip.reason


def cell(field: str, value: float, row: str, column: str, box: tuple[float, float, float, float]) -> Fact:
    """A value read from a table cell: quote = the cell text, labels = its row and column."""
    return Fact(field=field, value=value, raw=f"{value:.2f}", decimals=2, priority=20,
                evidence=Evidence(quote=f"{value:,.2f}", page=5, bbox=box, row_label=row,
                                  column_header=column))


def test_a_table_cell_supports_the_field_its_row_and_column_name() -> None:
    box = (100.0, 200.0, 160.0, 212.0)
    income = cell("income_sources.general_budget_appropriation", 2940.05, "一、一般公共预算财政拨款收入",
                  "决算数", box)
    assert admit([income]).rejected == []
    as_expense = income.model_copy(update={"field": "general_budget.actual_total"})
    assert "收入" in admit([as_expense]).rejected[0].reason
    budget_col = cell("general_budget.items.actual", 838.9, "行政运行", "年初预算数", box)
    assert "预算" in admit([budget_col]).rejected[0].reason
    as_budget = budget_col.model_copy(update={"field": "general_budget.items.budget_at_start"})
    assert admit([as_budget]).rejected == []


def test_one_cell_read_for_two_fields_confirms_nothing() -> None:
    box = (300.0, 400.0, 360.0, 412.0)
    total = cell("summary.income_grand_total", 2995.39, "总计", "决算数", box)
    twice = cell("summary.expense_grand_total", 2995.39, "总计", "决算数", box)
    result = reconcile([total, twice])
    assert result.checks[0].passed and not result.checks[0].independent
    assert all(f.status is CheckStatus.UNCHECKED for f in result.facts)
    other = cell("summary.expense_grand_total", 2995.39, "总计", "决算数", (500.0, 400.0, 560.0, 412.0))
    assert all(f.status is CheckStatus.VERIFIED for f in reconcile([total, other]).facts)


def test_a_printed_share_its_proven_figures_contradict_is_a_finding() -> None:
    text = ("一般公共预算财政拨款支出100.00万元。一般公共服务支出（类）60.00万元，占70.00%；"
            "教育支出（类）40.00万元，占40.00%。\n")
    doc = document(text)

    def at(quote: str) -> int:
        return doc.normalized.text.index(quote)

    def pct(name: str, value: float, quote: str) -> Fact:
        return Fact(field="aux.pct.general_budget.classes.actual", key={"name": name}, value=value,
                    raw=f"{value:.2f}%", decimals=2, evidence=Evidence(quote=quote, start=at(quote)))

    total = "一般公共预算财政拨款支出100.00万元"
    public, education = "一般公共服务支出（类）60.00万元", "教育支出（类）40.00万元"
    facts = [fact("general_budget.actual_total", 100.0, total, at(total)),
             fact("general_budget.classes.actual", 60.0, public, at(public), key={"name": "一般公共服务"}),
             fact("general_budget.classes.actual", 40.0, education, at(education), key={"name": "教育"}),
             pct("一般公共服务", 70.0, public + "，占70.00%"), pct("教育", 40.0, education + "，占40.00%")]
    done = reconcile_document(doc, facts)
    (finding,) = [f for f in done.findings if f.kind == "wording_contradicts_figures"]
    assert "70.00%" in finding.message and "60.00%" in finding.message
    assert {f.status for f in done.result.facts if not f.field.startswith("aux.")} == {CheckStatus.VERIFIED}
