"""The model extractor against a real HTTP endpoint on 127.0.0.1 (FakeOpenAI) and SQLite.

The endpoint answers with the demo responder (the rules extractor reading the chunks it
was sent), or with scripted corruptions of that answer, so every test goes through the
real SDK, instructor, retries, cache and evidence checks. Nothing below is mocked.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlmodel import col, select

from extractor.backends.openai_compat import make_backend
from extractor.core.settings import ModelSettings, Price, Settings
from extractor.core.types import ChunkData, DocumentData
from extractor.extractors.model import ModelExtractor
from extractor.extractors.model.calls import planned_call
from extractor.extractors.model.evidence import (
    clean_name,
    locate,
    name_in,
    read_value,
    readable,
)
from extractor.extractors.model.schemas import SECTIONS, Cited, schema_hash
from extractor.prompts import Prompt, load_prompts, section_of_message, user_message
from extractor.store import ModelCall, Store
from extractor.testing import FAULT_KINDS, FakeOpenAI, FaultPlan, Reply
from extractor.testing.demo_responder import respond
from tests.conftest import SAMPLE_IDS, text_document

Handler = Callable[[dict[str, Any]], Reply]
FAST: dict[str, Any] = {"timeout_s": 10.0, "backoff_max_s": 0.05, "max_retries": 2, "max_reasks": 1}


@pytest.fixture(scope="module")
def prompts() -> list[Prompt]:
    return load_prompts(Settings().prompts_dir)


@pytest.fixture(scope="module")
def docs() -> dict[str, DocumentData]:
    return {doc_id: text_document(doc_id) for doc_id in SAMPLE_IDS}


@pytest.fixture
def store(sqlite_url: str) -> Store:
    return Store.open(sqlite_url)


class Harness:
    """A server, a store and extractors bound to them; closes what it opened."""

    def __init__(self, srv: FakeOpenAI, store: Store, prompts: list[Prompt]) -> None:
        self.srv, self.store, self.prompts = srv, store, prompts
        self.opened: list[ModelExtractor] = []

    def extractor(self, **overrides: Any) -> ModelExtractor:
        settings = self.srv.settings(**{**FAST, **overrides})
        extractor = ModelExtractor(make_backend(settings), self.store, self.prompts, settings)
        self.opened.append(extractor)
        return extractor

    def calls(self) -> list[ModelCall]:
        with self.store.session() as s:
            return list(s.exec(select(ModelCall).order_by(col(ModelCall.id))))


@pytest.fixture
def serve(store: Store, prompts: list[Prompt]) -> Iterator[Callable[..., Harness]]:
    """``serve(handler, latency_s=...)`` starts an endpoint; everything stops at teardown."""
    started: list[tuple[FakeOpenAI, Harness]] = []

    def start(handler: Handler = respond, latency_s: float = 0.0, gate: int = 0) -> Harness:
        srv = FakeOpenAI(handler, latency_s=latency_s, gate=gate).start()
        h = Harness(srv, store, prompts)
        started.append((srv, h))
        return h

    yield start
    for srv, h in started:
        for extractor in h.opened:
            extractor.close()
        srv.stop()
        assert not srv.errors, srv.errors


@pytest.fixture
def harness(serve: Callable[..., Harness]) -> Harness:
    return serve()


def section_of(request: dict[str, Any]) -> str | None:
    return section_of_message(request["messages"][0]["content"])


# --------------------------------------------------------------------------- end to end


def test_every_value_comes_with_evidence_that_points_at_the_document(
        harness: Harness, docs: dict[str, DocumentData]) -> None:
    doc = docs["002_ede6ec7d9a9ccbff"]
    extractor = harness.extractor()
    planned = extractor.plan(doc)
    result = extractor.extract(doc)
    assert harness.srv.count() == len(planned) == 8
    assert len(result.facts) > 60
    for fact in result.facts:
        ev = fact.evidence
        assert ev is not None and ev.start is not None and ev.end is not None
        assert doc.normalized.text[ev.start:ev.end] == ev.quote
        assert ev.chunk_index is not None and ev.page == 1 and fact.extractor == "model"
    by_field = {f.field: f.value for f in result.facts if f.key is None}
    assert by_field["summary.income_grand_total"] == 885.90
    assert by_field["three_public.vehicles_held"] == 8
    assert by_field["meta.department"] == "赤峰市松山区人民政府办公室"
    rows = harness.calls()
    assert {r.status for r in rows} == {"ok"} and len(rows) == 8
    hashes = {p.section: p.content_hash for p in harness.prompts}
    for row in rows:
        assert row.prompt_hash == hashes[row.section]
        assert row.schema_hash == schema_hash(SECTIONS[row.section].reply)
        assert row.endpoint == harness.srv.base_url and row.model == "fake-model"
        assert row.tokens_in > 0 and row.tokens_out > 0 and row.attempts == 1
    assert result.stats["tokens_in"] == sum(r.tokens_in for r in rows)
    assert result.stats["dropped_values"] == 0 and result.stats["cached_calls"] == 0


def test_amounts_in_yuan_are_converted_in_code_at_full_precision(
        harness: Harness, docs: dict[str, DocumentData]) -> None:
    result = harness.extractor().extract(docs["004_4a020ba0f11f1338"])
    values = {f.field: f for f in result.facts if f.key is None}
    assert values["summary.income_grand_total"].value == 5592.396372
    assert values["procurement.total"].value == 4408.38249
    assert values["procurement.total"].raw == "44083824.90"


def test_unchanged_documents_make_zero_calls(harness: Harness, docs: dict[str, DocumentData]) -> None:
    first = harness.extractor()
    first.prefetch(list(docs.values()))
    sent = harness.srv.count()
    before = {d: first.extract(doc).facts for d, doc in docs.items()}
    assert harness.srv.count() == sent
    again = harness.extractor()  # a new process: only the database remembers
    again.prefetch(list(docs.values()))
    after = {d: again.extract(doc) for d, doc in docs.items()}
    assert harness.srv.count() == sent
    assert {d: r.facts for d, r in after.items()} == before
    assert all(r.stats["cached_calls"] == r.stats["model_calls"] for r in after.values())
    assert again.runner.counters.sent == 0


def test_cache_key_covers_endpoint_model_prompt_schema_chunks_and_parameters(
        prompts: list[Prompt], docs: dict[str, DocumentData]) -> None:
    prompt = prompts[0]
    chunks = docs[SAMPLE_IDS[0]].chunks[8:10]
    base = ModelSettings(base_url="http://127.0.0.1:1/v1", model="m")

    def key(settings: ModelSettings = base, p: Prompt = prompt,
            sent: list[ChunkData] = chunks) -> str:
        return planned_call(p, settings, "doc", sent).cache_key

    assert key() == key()
    variants = [key(base.model_copy(update={"base_url": "http://127.0.0.1:2/v1"})),
                key(base.model_copy(update={"model": "other"})),
                key(base.model_copy(update={"temperature": 0.5})),
                key(base.model_copy(update={"max_tokens": 100})),
                key(base.model_copy(update={"mode": "tools"})),
                key(p=prompts[1]), key(sent=chunks[:1])]
    assert len({key(), *variants}) == len(variants) + 1
    assert key(base.model_copy(update={"max_concurrency": 9, "timeout_s": 1})) == key()


def test_editing_a_prompt_changes_its_calls_cache_keys(prompts: list[Prompt],
                                                       docs: dict[str, DocumentData]) -> None:
    """Same section, schema, chunks and settings; only the prompt's wording differs: a
    cached answer to the old wording must not be served for the new one."""
    import dataclasses

    prompt = prompts[0]
    edited = dataclasses.replace(prompt, spec=prompt.spec.model_copy(
        update={"instructions": prompt.spec.instructions + "\n数值保留原文小数位。"}))
    assert edited.section == prompt.section and edited.content_hash != prompt.content_hash
    settings = ModelSettings(base_url="http://127.0.0.1:1/v1", model="m")
    chunks = docs[SAMPLE_IDS[0]].chunks[8:10]
    old, new = (planned_call(p, settings, "doc", chunks) for p in (prompt, edited))
    assert old.schema_hash == new.schema_hash and old.messages[1] == new.messages[1]
    assert old.cache_key != new.cache_key


# --------------------------------------------------------------------------- evidence


def _corrupt_expense_uses(request: dict[str, Any]) -> Reply:
    """A model that misquotes: one fabricated quote, one value its quote does not hold."""
    if section_of(request) != "expense_uses":
        return respond(request)
    answer = json.loads(respond(request).content)
    answer["project"]["quote"] = "本年项目支出99.99万元"
    answer["remit_to_superior"]["value"] = "12.5万元"
    return Reply.json(answer)


def test_values_whose_quote_is_not_in_the_chunk_are_dropped_and_counted(
        serve: Callable[..., Harness], docs: dict[str, DocumentData]) -> None:
    extractor = serve(_corrupt_expense_uses).extractor()
    result = extractor.extract(docs["002_ede6ec7d9a9ccbff"])
    fields = {f.field for f in result.facts}
    assert "expense_uses.basic" in fields
    assert "expense_uses.project" not in fields and "expense_uses.remit_to_superior" not in fields
    assert result.stats["dropped_values"] == 2
    reasons = {d["path"]: d["reason"] for d in result.stats["dropped"]}
    assert reasons == {"expense_uses.project": "quote not in chunk",
                       "expense_uses.remit_to_superior": "value not in quote"}
    assert any("2 value(s) dropped" in n for n in result.notes)
    assert extractor.run_stats()["dropped_values"] == 2


def _chunk(text: str, heading: list[str] | None = None, index: int = 3) -> ChunkData:
    return ChunkData(index, heading or [], "text", 1, 1, 0, len(text), text, len(text))


def test_locate_forgives_spacing_and_width_but_nothing_else() -> None:
    chunks = [_chunk("本年收入决算合计 1723.66 万元。\n一、一般公共预算财政拨款收入\t1.00\t55923963.72",
                     ["（一）收入决算总计1724.62 万元。包括:"])]
    for quote in ("本年收入决算合计 1723.66 万元", "本年收入决算合计1723.66万元"):
        found = locate(quote, chunks)
        assert found is not None and found.quote == "本年收入决算合计 1723.66 万元"
    table = locate("一、一般公共预算财政拨款收入 1.00 55923963.72", chunks)
    assert table is not None and table.quote == "一、一般公共预算财政拨款收入\t1.00\t55923963.72"
    assert locate("<u>1723.66</u> 万元", chunks) is not None  # normalized like the chunk was
    heading = locate("(一)收入决算总计1724.62 万元", chunks)
    assert heading is not None and heading.in_heading
    assert locate("本年收入决算合计 1723.67 万元", chunks) is None
    assert locate("本年收入合计 1723.66 万元", chunks) is None
    assert locate("   ", chunks) is None


@pytest.mark.parametrize(("path", "cited", "expected"), [
    ("summary.income_grand_total", Cited(value="55923963.72", unit="元", quote="q"), 5592.396372),
    ("summary.income_grand_total", Cited(value="55,923,963.72元", quote="q"), 5592.396372),
    ("summary.income_grand_total", Cited(value="885.90万元", unit="元", quote="q"), 885.9),
    ("summary.income_grand_total", Cited(value="1.2亿元", quote="q"), 12000.0),
    ("summary.income_grand_total", Cited(value="O.OO", quote="q"), 0.0),
    ("three_public.vehicles_held", Cited(value="8辆", quote="q"), 8),
    ("meta.fiscal_year", Cited(value="2024年度", quote="q"), 2024),
    ("performance_projects.score", Cited(value="92.8分", quote="q"), 92.8),
    ("meta.department", Cited(value="“某某局（部门）”", quote="q"), "某某局（部门）"),
])
def test_values_are_read_as_printed_and_converted_in_code(path: str, cited: Cited,
                                                          expected: object) -> None:
    assert read_value(path, cited).value == expected


@pytest.mark.parametrize(("path", "value", "quote", "ok"), [
    ("summary.income_grand_total", "885.9万元", "收入决算总计885.90万元", True),
    ("summary.income_grand_total", "885.91万元", "收入决算总计885.90万元", False),
    ("summary.income_grand_total", "2024", "2024年度收入决算总计885.90万元", False),
    ("expense_uses.basic", "89.82", "本年基本支出 795.75万元，占 89.82%", False),
    ("three_public.vehicles_held", "15.63", "公务用车运行维护费支出15.63万元", False),
    ("gov_fund_expense", "0", "本年度无此项支出。", True),
    ("gov_fund_expense", "5", "本年度无此项支出。", False),
    ("three_public.vehicles_held", "8辆", "公务用车保有量为8辆", True),
    ("meta.fiscal_year", "2024", "2024年度部门决算", True),
    ("meta.fiscal_year", "2023", "2024年度部门决算", False),
    ("meta.department", "忻州市行政审批服务管理局", "部门名称：忻州市行政审批服务管理局", True),
    ("meta.department", "忻州市财政局", "部门名称：忻州市行政审批服务管理局", False),
])
def test_a_value_must_be_readable_from_its_quote(path: str, value: str, quote: str, ok: bool) -> None:
    assert (readable(path, Cited(value=value, quote=quote), quote) is None) is ok


def test_names_are_cleaned_and_matched_with_the_contracts_leniency() -> None:
    assert clean_name("一般公共服务（类）") == "一般公共服务"
    assert clean_name(" “互联网+政务服务”平台技术服务费") == "互联网+政务服务”平台技术服务费"
    assert name_in("一般公共服务支出", "一般公共服务（类）决算数为 721.17万元")
    assert name_in("政府办公厅(室)及相关机构事务", "政府办公厅（室）及相关机构事务（款）")
    assert not name_in("卫生健康支出", "一般公共服务（类）决算数为 721.17万元")


# --------------------------------------------------------------------------- failures


def _truncate_first(section: str) -> Handler:
    """Cut off the first answer for ``section`` (finish_reason=length), answer the rest."""
    lock, state = threading.Lock(), {"done": False}

    def handler(request: dict[str, Any]) -> Reply:
        honest = respond(request)
        with lock:
            if section_of(request) == section and not state["done"]:
                state["done"] = True
                return Reply.truncated(honest.content)
        return honest

    return handler


def test_a_truncated_batch_is_split_not_asked_again(serve: Callable[..., Harness],
                                                   docs: dict[str, DocumentData]) -> None:
    harness = serve(_truncate_first("general_budget"))
    doc = docs["002_ede6ec7d9a9ccbff"]
    result = harness.extractor().extract(doc)
    gb = [r for r in harness.srv.chat_requests() if section_of(r.body) == "general_budget"]
    assert len(gb) == 3 and harness.srv.repeats() == 0
    statuses = sorted(c.status for c in harness.calls() if c.section == "general_budget")
    assert statuses == ["ok", "ok", "truncated"]
    assert sum(f.field == "general_budget.classes.actual" for f in result.facts) == 4
    # a re-run goes straight to the halves: the truncated call is never sent again
    harness.extractor().extract(doc)
    assert harness.srv.count() == 7 + 3


def _always_truncate_expense_uses(request: dict[str, Any]) -> Reply:
    honest = respond(request)
    return Reply.truncated(honest.content) if section_of(request) == "expense_uses" else honest


def test_a_single_chunk_gets_more_room_once_then_fails_on_record(
        serve: Callable[..., Harness], docs: dict[str, DocumentData]) -> None:
    harness = serve(_always_truncate_expense_uses)
    result = harness.extractor().extract(docs["002_ede6ec7d9a9ccbff"])
    sent = [r.body["max_tokens"] for r in harness.srv.chat_requests() if section_of(r.body) == "expense_uses"]
    assert sent == [2048, 4096]
    assert any(n.startswith("section expense_uses: no answer") for n in result.notes)
    assert any("truncated at max_tokens=4096" in n for n in result.notes)
    assert any(f.field == "summary.income_grand_total" for f in result.facts)  # the run went on


def _reject_three_public(request: dict[str, Any]) -> Reply:
    if section_of(request) == "three_public":
        return Reply.http_error(400, "context length exceeded")
    return respond(request)


def test_a_call_that_fails_for_good_is_recorded_with_its_reason(
        serve: Callable[..., Harness], docs: dict[str, DocumentData]) -> None:
    harness = serve(_reject_three_public)
    result = harness.extractor().extract(docs["002_ede6ec7d9a9ccbff"])
    failed = [c for c in harness.calls() if c.status == "failed"]
    assert [c.section for c in failed] == ["three_public"]
    assert "HTTP 400" in (failed[0].error or "") and failed[0].response is None
    assert result.stats["failed_calls"] == 1
    assert not any(f.field.startswith("three_public.") for f in result.facts)
    assert any(f.field.startswith("summary.") for f in result.facts)


def test_the_token_budget_skips_calls_and_a_later_run_sends_only_those(
        harness: Harness, docs: dict[str, DocumentData]) -> None:
    doc = docs["002_ede6ec7d9a9ccbff"]
    result = harness.extractor(run_token_budget=1, max_concurrency=1).extract(doc)
    assert harness.srv.count() == 1
    rows = harness.calls()
    assert sorted(r.status for r in rows) == ["ok"] + ["skipped"] * 7
    assert all("token budget" in (r.error or "") for r in rows if r.status == "skipped")
    assert result.stats["skipped_calls"] == 7
    harness.extractor().extract(doc)
    assert harness.srv.count() == 8 and harness.srv.repeats() == 0


def test_prices_give_each_call_its_cost(harness: Harness, docs: dict[str, DocumentData]) -> None:
    prices = {"fake-model": Price(input=2.0, output=8.0)}
    result = harness.extractor(prices=prices).extract(docs["002_ede6ec7d9a9ccbff"])
    for row in harness.calls():
        assert row.cost_usd == pytest.approx((row.tokens_in * 2 + row.tokens_out * 8) / 1e6)
    assert result.stats["cost_usd"] == pytest.approx(sum(r.cost_usd for r in harness.calls()), abs=1e-6)


def test_calls_of_all_documents_share_one_bounded_concurrent_pass(
        serve: Callable[..., Harness], docs: dict[str, DocumentData]) -> None:
    harness = serve(respond, latency_s=5.0, gate=4)  # held until 4 overlap (5 s at most)
    extractor = harness.extractor(max_concurrency=4)
    extractor.prefetch(list(docs.values()))
    assert harness.srv.max_in_flight == 4  # bounded, and overlapping: counted by the server
    assert harness.srv.count() == 25 and harness.srv.repeats() == 0


def test_thirty_percent_faults_of_every_kind_leave_every_call_answered_or_recorded(
        store: Store, prompts: list[Prompt], docs: dict[str, DocumentData]) -> None:
    """Seed 10 draws every fault kind within the first 22 requests (fewer than the 25 calls)."""
    faults = FaultPlan(0.3, seed=10, slow_s=6.0, retry_after_s=0.05)  # slow: outlasts the timeout
    with FakeOpenAI(respond, faults=faults) as srv:
        settings = srv.settings(timeout_s=3.0, backoff_max_s=0.05, max_retries=1, max_reasks=1,
                                max_concurrency=6)
        extractor = ModelExtractor(make_backend(settings), store, prompts, settings)
        try:
            extractor.prefetch(list(docs.values()))
            results = {d: extractor.extract(doc) for d, doc in docs.items()}
            plans = {d: extractor.plan(doc) for d, doc in docs.items()}
        finally:
            extractor.close()
        requests = srv.count()
        labels = {r.reply for r in srv.chat_requests()}
    with store.session() as s:
        rows = list(s.exec(select(ModelCall)))
    assert {f"fault:{kind}" for kind in FAULT_KINDS} <= labels
    statuses: dict[str, list[str]] = {}
    for row in rows:
        statuses.setdefault(row.cache_key, []).append(row.status)
    assert all(len(v) == 1 for v in statuses.values())  # one row per call: no duplicates
    assert {c.cache_key for calls in plans.values() for c in calls} <= set(statuses)
    assert all(r.error for r in rows if r.status != "ok")
    assert requests <= len(rows) * (settings.max_retries + 1) * (settings.max_reasks + 1)
    for doc_id, result in results.items():
        sections = {c.section for c in plans[doc_id]}
        answered = {f.field.split(".")[0] for f in result.facts}
        for section in sections:  # every section: values stored, or its failure on record
            failed = any(note.startswith(f"{section} call") for note in result.notes)
            assert failed or any(SECTIONS[section].paths[0].startswith(a) for a in answered), \
                (doc_id, section)
        ids = [(f.slot_id(), f.value, f.evidence.start if f.evidence else None) for f in result.facts]
        assert len(ids) == len(set(ids))


# --------------------------------------------------------------------------- demo responder


def test_demo_responder_answers_a_section_prompt_in_the_reply_shape(
        prompts: list[Prompt], docs: dict[str, DocumentData]) -> None:
    prompt = next(p for p in prompts if p.section == "three_public")
    chunks = docs["002_ede6ec7d9a9ccbff"].chunks[22:24]
    reply = respond({"messages": [{"role": "system", "content": prompt.system_message},
                                  {"role": "user", "content": user_message(chunks)}]})
    answer = SECTIONS["three_public"].reply.model_validate_json(reply.content)
    held = answer.vehicles_held  # type: ignore[attr-defined]
    assert held is not None and held.value.startswith("8") and held.quote in chunks[1].text
    bad = respond({"messages": [{"role": "user", "content": "hello"}]})
    assert bad.status == 400


def test_progress_line_and_stats_account_for_the_run(harness: Harness,
                                                     docs: dict[str, DocumentData],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    extractor = harness.extractor()
    extractor.prefetch([docs["003_17aaca51ade6ba7f"]])
    err = capsys.readouterr().err
    assert "model calls: 8 sent (0 failed, 0 truncated, 0 skipped over budget), 0 cached" in err
    stats = extractor.run_stats()
    assert stats["sent"] == 8 and stats["tokens_in"] > 0
