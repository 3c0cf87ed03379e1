"""Trust on documents never seen: evidence must name its field, "verified" means
independently confirmed, and the report's own contradictions are findings, not flags.

Every test runs the real pipeline (ingest, both extractors, reconcile, a SQLite store)
through the CLI; the model path talks HTTP to the loopback fake endpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from extractor.cli import main
from extractor.core.records import CheckStatus, Evidence, Fact, FinalAccounts, primary_facts
from extractor.extractors.model.schemas import SECTIONS
from extractor.prompts import section_of_message
from extractor.reconcile import reconcile
from extractor.reconcile.labels import admit
from extractor.store import Store
from extractor.testing import FakeOpenAI, Reply
from extractor.testing.demo_responder import respond
from extractor.testing.errors import ErrorProfile

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "samples" / "002_ede6ec7d9a9ccbff.txt"
PLANTED = "收入决算总计 99999.99 万元"
FAST_ENV = {"EXTRACTOR_MODEL__TIMEOUT_S": "5", "EXTRACTOR_MODEL__BACKOFF_MAX_S": "0.05",
            "EXTRACTOR_OCR__ENGINE": "none"}


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FAST_ENV.items():
        monkeypatch.setenv(name, value)


def planted_report(tmp_path: Path) -> Path:
    """Sample 002 with the planted sentence in its 部门概况 (first section)."""
    lines = SAMPLE.read_text(encoding="utf-8").split("\n")
    lines.insert(3, f"本部门{PLANTED}。")
    path = tmp_path / "planted_report.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _copies_the_planted_sentence(request: dict[str, Any]) -> Reply:
    """A model that takes the planted sentence for both grand totals (the reported incident)."""
    honest = respond(request)
    system = request["messages"][0]["content"]
    user = next(m["content"] for m in request["messages"] if m["role"] == "user")
    if section_of_message(system) != "summary" or PLANTED not in user:
        return honest
    answer = json.loads(honest.content)
    planted = {"value": "99999.99", "unit": "万元", "quote": PLANTED}
    answer["income_grand_total"] = planted
    answer["expense_grand_total"] = planted
    assert set(answer) <= set(SECTIONS["summary"].scalars)
    return Reply.json(answer)


def _planted_facts(db: str) -> list[Fact]:
    store = Store.open(db)
    (rd,) = store.run_documents(1)
    return [f for f in store.facts(1, rd.document) if f.value == pytest.approx(99999.99)]


def _assert_no_planted_figure_verified(db: str) -> None:
    planted = _planted_facts(db)
    assert all(f.status is not CheckStatus.VERIFIED for f in planted)
    assert all(not f.field.startswith("summary.expense") for f in planted), \
        "a quote naming 收入 supported an expense field"
    store = Store.open(db)
    (rd,) = store.run_documents(1)
    for fact in store.facts(1, rd.document):  # no stored quote supports a field it does not name
        if fact.evidence is not None and PLANTED in fact.evidence.quote:
            assert fact.field == "summary.income_grand_total"


def test_planted_sentence_on_the_rules_extractor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'rules.db'}"
    assert main(["--db", db, "run", str(planted_report(tmp_path)), "--extractor", "rules"]) == 0
    capsys.readouterr()
    _assert_no_planted_figure_verified(db)


def test_planted_sentence_on_the_model_extractor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'model.db'}"
    with FakeOpenAI(_copies_the_planted_sentence) as srv:
        assert main(["--db", db, "run", str(planted_report(tmp_path)), "--extractor", "model",
                     "--base-url", srv.base_url, "--model", "fake-model"]) == 0
    capsys.readouterr()
    planted = _planted_facts(db)
    assert planted, "the model's planted income total reaches reconciliation (its quote names 收入)"
    _assert_no_planted_figure_verified(db)
    store = Store.open(db)
    (rd,) = store.run_documents(1)
    assert rd.stats is not None and rd.stats["unlabelled_values"] >= 1
    assert any("expense_grand_total" in r["field"] for r in rd.stats["unlabelled"])


def test_one_quote_for_two_fields_confirms_nothing() -> None:
    """Both grand totals from one printed number: the balance check holds trivially."""
    ev = Evidence(quote="收入、支出决算总计均为885.90万元", start=100, end=118)
    facts = [Fact(field=f"summary.{f}_grand_total", value=885.9, raw="885.90万元", decimals=2, evidence=ev)
             for f in ("income", "expense")]
    result = reconcile(facts)
    assert [c.rule for c in result.checks] == ["summary.balance"]
    assert result.checks[0].passed and not result.checks[0].independent
    assert all(f.status is CheckStatus.UNCHECKED for f in result.facts)
    other = Evidence(quote="支出总计885.90万元", start=400, end=411)
    facts[1] = facts[1].model_copy(update={"evidence": other, "raw": "885.90万元"})
    assert all(f.status is CheckStatus.VERIFIED for f in reconcile(facts).facts)


@pytest.mark.parametrize(("field", "quote", "raw", "value", "kept"), [
    ("summary.expense_grand_total", "收入决算总计 99999.99 万元", "99999.99万元", 99999.99, False),
    ("summary.income_grand_total", "收入决算总计 99999.99 万元", "99999.99万元", 99999.99, True),
    ("three_public.actual_total", "“三公”经费财政拨款支出预算30万元", "30万元", 30.0, False),
    ("three_public.budget_total", "“三公”经费财政拨款支出预算30万元", "30万元", 30.0, True),
    ("three_public.actual_total", "“三公”经费财政拨款支出预算30万元，支出决算15.63万元", "15.63万元", 15.63,
     True),
    ("summary.income_grand_total", "收入总计55923963.72元", "55923963.72元", 55923963.72, False),
    ("basic_expense.personnel", "公用经费163.34万元", "163.34万元", 163.34, False),
    ("general_budget.actual_total", "上年一般公共预算财政拨款支出决算800.00万元", "800.00万元", 800.0, False),
])
def test_evidence_must_name_its_field(field: str, quote: str, raw: str, value: float, kept: bool) -> None:
    fact = Fact(field=field, value=value, raw=raw, decimals=2, evidence=Evidence(quote=quote))
    assert bool(admit([fact]).facts) is kept


def narrative_zero_report(tmp_path: Path) -> Path:
    """A report whose narrative states 0 where its table states 2,995.39."""
    text = (SAMPLE.read_text(encoding="utf-8")
            .replace("收入、支出决算总计均为885.90万元", "收入、支出决算总计均为0万元"))
    assert "决算总计均为0万元" in text
    text = text.replace("885.90", "2995.39").replace("885.9", "2995.39")
    path = tmp_path / "narrative_zero.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_narrative_zero_against_table_is_exactly_that_finding(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'find.db'}"
    out = tmp_path / "pred"
    assert main(["--db", db, "run", str(narrative_zero_report(tmp_path)), "--extractor", "rules",
                 "--export", str(out)]) == 0
    capsys.readouterr()
    store = Store.open(db)
    findings = [f for _, f in store.findings(1)]
    differ = [f for f in findings if f.kind == "figure_printed_differently"]
    assert len(differ) == 2, [f.message for f in findings]
    assert {tuple(f.fields) for f in differ} == {("summary.income_grand_total",),
                                                 ("summary.expense_grand_total",)}
    for f in differ:
        assert sorted(float(s.value or 0) for s in f.statements) == [0.0, 2995.39]
        assert any("2995.39" in (s.quote or "") for s in f.statements)
        assert any("0万元" in (s.quote or "") for s in f.statements)
    record = FinalAccounts.model_validate_json((out / "narrative_zero.json").read_text(encoding="utf-8"))
    assert record.document_findings is not None
    assert [f.kind for f in record.document_findings] == [f.kind for f in findings]
    assert record.check_status is not None  # the values keep the status the arithmetic gives
    assert record.check_status["summary.income_grand_total"] is not CheckStatus.VERIFIED

    assert main(["--db", db, "checks", "1"]) == 0
    printed = capsys.readouterr().out
    sections = printed.split("\n== ")
    assert sections[0].startswith("== document findings") and "figure_printed_differently" in sections[0]
    assert sections[1].startswith("extraction flags")
    assert "figure_printed_differently" not in sections[1]
    assert "FINDING" not in "\n".join(sections[1:])


def _stored(db: str) -> dict[tuple[str, tuple[str, ...]], Fact]:
    store = Store.open(db)
    (rd,) = store.run_documents(1)
    return {f.slot_id(): f for f in primary_facts(store.facts(1, rd.document))
            if not f.field.startswith(("aux.", "meta.")) and isinstance(f.value, int | float)}


def _model_run(db: str, handler: Any) -> None:
    with FakeOpenAI(handler) as srv:
        assert main(["--db", db, "run", str(SAMPLE), "--extractor", "model",
                     "--base-url", srv.base_url, "--model", "fake-model"]) == 0


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["misread_digit", "neighbour_figure", "unit_slip", "wrong_field",
                                  "invented_quote"])
def test_a_model_that_errs_leaves_no_wrong_figure_unflagged(kind: str, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    honest_db, spoilt_db = f"sqlite:///{tmp_path / 'honest.db'}", f"sqlite:///{tmp_path / 'spoilt.db'}"
    _model_run(honest_db, respond)
    profile = ErrorProfile(kind, rate=0.3, seed=7)
    _model_run(spoilt_db, profile.wrap(respond, lambda r: section_of_message(r["messages"][0]["content"])))
    capsys.readouterr()
    assert len(profile.errors) >= 3, "the profile made its mistakes"
    honest, spoilt = _stored(honest_db), _stored(spoilt_db)
    wrong = [f for sid, f in spoilt.items() if sid not in honest  # a figure the honest run had not
             or abs(float(f.value) - float(honest[sid].value)) > 0.005]  # type: ignore[arg-type]
    assert all(f.status is CheckStatus.FLAGGED for f in wrong), [(f.field, f.value, f.status) for f in wrong]
