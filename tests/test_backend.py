"""OpenAICompatBackend and the retry policy against a real HTTP server on 127.0.0.1.

Nothing here mocks openai or httpx: every reply comes from :class:`FakeOpenAI` over
loopback, so timeouts, dropped connections and instructor's parsing are the real thing.
Timeouts and backoffs are shrunk through settings to keep the file fast.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import openai
import pytest
from pydantic import BaseModel, ConfigDict, SecretStr

from extractor.backends import OpenAICompatBackend, make_client
from extractor.backends.openai_compat import PLACEHOLDER_API_KEY
from extractor.core.errors import ConfigError, ModelError, TruncatedOutputError
from extractor.core.settings import ModelSettings
from extractor.core.types import Backend
from extractor.retry import (
    AttemptLog,
    RetryPolicy,
    call_with_retries,
    is_transient,
    retry_after_s,
)
from extractor.testing import FakeOpenAI, FaultPlan, Reply, Script, schema_responder


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    value: float


class Loose(BaseModel):
    """All optional: only wrongly typed values can make it fail."""

    note: str | None = None
    amounts: list[float] = []


GOOD = {"name": "收入合计", "value": 123.45}
MESSAGES = [{"role": "system", "content": "Extract the figure."},
            {"role": "user", "content": "收入合计 123.45 万元"}]
FAST: dict[str, Any] = {"timeout_s": 10.0, "backoff_max_s": 0.05, "max_retries": 2,
                        "max_reasks": 1}
MODES = ["tools", "json_schema", "json"]


async def _ask(settings: ModelSettings, model: type[BaseModel] = Answer,
               backend_out: list[OpenAICompatBackend] | None = None,
               ) -> tuple[BaseModel, dict[str, Any]]:
    backend = OpenAICompatBackend(make_client(settings), settings)
    if backend_out is not None:
        backend_out.append(backend)
    try:
        return await backend.complete(MESSAGES, model, max_tokens=256)
    finally:
        await backend.aclose()


def ask(srv: FakeOpenAI, model: type[BaseModel] = Answer, **overrides: Any,
        ) -> tuple[BaseModel, dict[str, Any]]:
    return asyncio.run(_ask(srv.settings(**{**FAST, **overrides}), model))


# --------------------------------------------------------------------------- happy path


@pytest.mark.parametrize("mode", MODES)
def test_valid_reply_parses_in_every_mode(mode: str) -> None:
    with FakeOpenAI([Reply.json(GOOD, usage=(50, 7))]) as srv:
        record, meta = ask(srv, mode=mode)
        body = srv.chat_requests()[0].body
    assert type(record) is Answer  # a plain instance, not instructor's dynamic subclass
    assert record == Answer(**GOOD)
    assert meta["tokens_in"] == 50 and meta["tokens_out"] == 7
    assert meta["attempts"] == 1 and meta["reasks"] == 0 and meta["retries"] == 0
    assert meta["model"] == "fake-model" and meta["mode"] == mode
    assert meta["finish_reason"] == ("tool_calls" if mode == "tools" else "stop")
    assert meta["latency_s"] > 0
    assert body["max_tokens"] == 256 and body["temperature"] == 0.0
    if mode == "tools":
        assert body["tool_choice"]["function"]["name"] == "Answer"
    elif mode == "json_schema":
        fmt = body["response_format"]
        assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "Answer"
        assert fmt["json_schema"]["schema"]["required"] == ["name", "value"]
    else:
        assert body["response_format"] == {"type": "json_object"}


def test_backend_satisfies_protocol_and_capabilities() -> None:
    settings = ModelSettings(base_url="http://127.0.0.1:9/v1", model="m")
    backend = OpenAICompatBackend.from_settings(settings)
    assert isinstance(backend, Backend)
    assert backend.model == "m" and backend.supports_json_schema and backend.supports_tools


# --------------------------------------------------------------------------- re-asks


@pytest.mark.parametrize("mode", MODES)
def test_invalid_json_then_valid_is_reasked_once(mode: str) -> None:
    with FakeOpenAI([Reply.invalid_json(), Reply.json(GOOD)]) as srv:
        record, meta = ask(srv, mode=mode)
        first, second = srv.chat_requests()
    assert record == Answer(**GOOD)
    assert srv.count() == 2 and meta["reasks"] == 1 and meta["attempts"] == 2
    # the re-ask shows the model its error: a new conversation, not a blind repeat
    assert srv.repeats() == 0
    assert len(second.body["messages"]) == len(first.body["messages"]) + 2
    assert "error" in str(second.body["messages"][-1]["content"]).lower()


@pytest.mark.parametrize(("mode", "reasks"), [("json", 1), ("tools", 2), ("json_schema", 0)])
def test_schema_violation_reasks_are_bounded(mode: str, reasks: int) -> None:
    script = Script([Reply.schema_violation()] * 5)
    with FakeOpenAI(script) as srv:
        with pytest.raises(ModelError, match="still invalid") as info:
            ask(srv, mode=mode, max_reasks=reasks)
        assert srv.count() == reasks + 1
    assert not isinstance(info.value, TruncatedOutputError)


def test_schema_violation_of_all_optional_model_is_caught() -> None:
    with FakeOpenAI([Reply.schema_violation(), Reply.json({"note": "ok"})]) as srv:
        record, meta = ask(srv, Loose, mode="json_schema")
    assert record == Loose(note="ok") and meta["reasks"] == 1


def test_custom_content_is_returned_as_is() -> None:
    """The backend validates shape, not truth: a wrong quote is the extractor's business."""
    with FakeOpenAI([Reply.json({"name": "不在原文中的引文", "value": "7"})]) as srv:
        record, _ = ask(srv, mode="tools")
    assert record == Answer(name="不在原文中的引文", value=7.0)


def test_text_instead_of_tool_call_is_a_model_error() -> None:
    with FakeOpenAI([Reply.plain(GOOD), Reply.json(GOOD)]) as srv:
        with pytest.raises(ModelError, match="instead of calling the tool"):
            ask(srv, mode="tools")
        assert srv.count() == 1


# --------------------------------------------------------------------------- truncation


@pytest.mark.parametrize("mode", MODES)
def test_truncated_output_is_not_reasked(mode: str) -> None:
    with FakeOpenAI([Reply.truncated(GOOD), Reply.json(GOOD)]) as srv:
        backends: list[OpenAICompatBackend] = []
        settings = srv.settings(**{**FAST, "mode": mode, "max_reasks": 3})
        with pytest.raises(TruncatedOutputError, match="max_tokens=256"):
            asyncio.run(_ask(settings, backend_out=backends))
        assert srv.count() == 1
    usage = backends[0].usage
    assert usage.failed_calls == 1 and usage.replies == 1 and usage.tokens_out > 0


# --------------------------------------------------------------------------- transport retries


def test_429_waits_for_retry_after_then_succeeds() -> None:
    with FakeOpenAI([Reply.rate_limited(1), Reply.json(GOOD)]) as srv:
        record, meta = ask(srv, backoff_max_s=2.0)
        assert len(srv.chat_requests()) == 2
    assert record == Answer(**GOOD)
    # the wait Retry-After asked for, as the client accounts it (no wall-clock reading: a busy
    # machine may stretch any real interval)
    assert meta["retries"] == 1 and meta["attempts"] == 2 and meta["waited_s"] == 1.0
    assert srv.repeats() == 1  # a transport retry resends the same conversation


def test_retry_after_is_capped_by_backoff_max() -> None:
    with FakeOpenAI([Reply.rate_limited(30, in_ms=True), Reply.json(GOOD)]) as srv:
        _, meta = ask(srv, backoff_max_s=0.1)
        assert srv.count() == 2
    assert meta["retries"] == 1 and meta["waited_s"] == pytest.approx(0.1)  # not the 30 s asked


def test_500_twice_then_ok() -> None:
    with FakeOpenAI([Reply.server_error(500), Reply.server_error(503), Reply.json(GOOD)]) as srv:
        record, meta = ask(srv)
        assert srv.count() == 3
    assert record == Answer(**GOOD) and meta["retries"] == 2


def test_500_forever_gives_model_error_after_max_retries() -> None:
    with FakeOpenAI(Script([], default=Reply.server_error(502))) as srv:
        with pytest.raises(ModelError, match="after 4 request"):
            ask(srv, max_retries=3)
        assert srv.count() == 4


def test_slow_reply_times_out_retries_then_fails() -> None:
    with FakeOpenAI(Script([], default=Reply.slow(5, Reply.json(GOOD)))) as srv:
        with pytest.raises(ModelError, match="APITimeoutError"):
            ask(srv, timeout_s=0.3, max_retries=2)
        assert srv.count() == 3  # max_retries + 1: each request timed out and was retried


def test_dropped_connection_is_retried() -> None:
    with FakeOpenAI([Reply.drop(), Reply.json(GOOD)]) as srv:
        record, meta = ask(srv)
        assert srv.count() == 2
    assert record == Answer(**GOOD) and meta["retries"] == 1


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_client_errors_are_not_retried(status: int) -> None:
    with FakeOpenAI([Reply.http_error(status, "nope"), Reply.json(GOOD)]) as srv:
        with pytest.raises(ModelError, match=f"HTTP {status}"):
            ask(srv, max_retries=4)
        assert srv.count() == 1


def test_sdk_retries_stay_off_even_if_the_client_asks_for_them() -> None:
    with FakeOpenAI(Script([], default=Reply.server_error(500))) as srv:
        settings = srv.settings(**{**FAST, "max_retries": 0})

        async def go() -> None:
            client = openai.AsyncOpenAI(base_url=srv.base_url, api_key="x", max_retries=5)
            backend = OpenAICompatBackend(client, settings)
            with pytest.raises(ModelError):
                await backend.complete(MESSAGES, Answer, max_tokens=10)
            await client.close()

        asyncio.run(go())
        assert srv.count() == 1


def test_reasks_and_retries_compose() -> None:
    replies = [Reply.server_error(), Reply.invalid_json(), Reply.drop(), Reply.json(GOOD)]
    with FakeOpenAI(replies) as srv:
        record, meta = ask(srv, mode="json_schema")
        assert srv.count() == 4
    assert record == Answer(**GOOD)
    assert meta["attempts"] == 4 and meta["retries"] == 2 and meta["reasks"] == 1


# --------------------------------------------------------------------------- concurrency, faults


def test_concurrent_calls_overlap() -> None:
    with FakeOpenAI(schema_responder, latency_s=0.3) as srv:
        settings = srv.settings(**{**FAST, "timeout_s": 5})

        async def go() -> None:
            backend = OpenAICompatBackend(make_client(settings), settings)
            results = await asyncio.gather(*(backend.complete(MESSAGES, Answer, max_tokens=64)
                                             for _ in range(8)))
            await backend.aclose()
            assert all(isinstance(r, Answer) for r, _ in results)
            assert backend.usage.calls == 8 and backend.usage.requests == 8

        asyncio.run(go())
        assert srv.max_in_flight >= 4  # overlap counted by the server, not guessed from a clock


def test_fault_soak_ends_in_records_or_model_errors() -> None:
    # the client timeout leaves a healthy reply ample time on a loaded machine; only the
    # "slow" faults (4 s) outlast it
    faults = FaultPlan(rate=0.4, seed=7, slow_s=4, retry_after_s=0.01)
    with FakeOpenAI(schema_responder, faults=faults) as srv:
        settings = srv.settings(**{**FAST, "timeout_s": 2.0, "max_retries": 3})

        async def go() -> list[Any]:
            backend = OpenAICompatBackend(make_client(settings), settings)
            outcomes = await asyncio.gather(
                *(backend.complete(MESSAGES, Answer, max_tokens=64) for _ in range(16)),
                return_exceptions=True)
            assert backend.usage.requests == srv.count()
            await backend.aclose()
            return list(outcomes)

        outcomes = asyncio.run(go())
        labels = {r.reply for r in srv.chat_requests()}
    assert any(label.startswith("fault:") for label in labels)
    for outcome in outcomes:
        assert isinstance(outcome, tuple | ModelError), outcome
    assert sum(isinstance(o, tuple) for o in outcomes) >= 8


# --------------------------------------------------------------------------- configuration


def test_make_client_uses_settings_and_placeholder_key() -> None:
    client = make_client(ModelSettings(base_url="http://127.0.0.1:1/v1", model="m"))
    assert client.api_key == PLACEHOLDER_API_KEY and client.max_retries == 0
    keyed = make_client(ModelSettings(base_url="http://127.0.0.1:1/v1", model="m",
                                      api_key=SecretStr("sk-secret"), timeout_s=3))
    assert keyed.api_key == "sk-secret" and keyed.timeout == 3
    with pytest.raises(ConfigError):
        make_client(ModelSettings(model="m"))
    with pytest.raises(ConfigError):
        OpenAICompatBackend(client, ModelSettings(base_url="http://127.0.0.1:1/v1"))


def test_api_key_is_sent_but_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    secret = "sk-very-secret-0123456789"
    with FakeOpenAI([Reply.server_error(), Reply.invalid_json(), Reply.json(GOOD)]) as srv:
        settings = srv.settings(**FAST, api_key=SecretStr(secret))
        with caplog.at_level(logging.DEBUG):
            asyncio.run(_ask(settings))
    assert secret not in caplog.text
    assert "retry 1/2" in caplog.text  # retries are logged, just not the key


# --------------------------------------------------------------------------- retry policy unit


def test_policy_from_settings_and_backoff_cap() -> None:
    policy = RetryPolicy.from_settings(ModelSettings(max_retries=3, backoff_max_s=2.0))
    assert policy.max_retries == 3 and policy.backoff_max_s == 2.0
    waits = [policy.backoff_s(n) for n in range(1, 10)]
    assert all(0 < w <= 2.0 for w in waits)
    assert 0.25 <= waits[0] <= 0.5 and waits[-1] >= 1.0  # grows, with jitter, to the cap
    steady = RetryPolicy(jitter=False, backoff_initial_s=0.5, backoff_max_s=3)
    assert [steady.backoff_s(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 3.0]


def test_call_with_retries_counts_attempts_and_stops_on_final_errors() -> None:
    policy = RetryPolicy(max_retries=3, backoff_initial_s=0.001, backoff_max_s=0.002)
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise httpx.ConnectError("refused")
        return "ok"

    log = AttemptLog()
    assert asyncio.run(call_with_retries(flaky, policy, log)) == "ok"
    assert (log.attempts, log.retries, len(log.errors)) == (3, 2, 2)

    async def truncated() -> str:
        raise TruncatedOutputError("cut")

    log = AttemptLog()
    with pytest.raises(TruncatedOutputError):
        asyncio.run(call_with_retries(truncated, policy, log))
    assert log.attempts == 1 and log.retries == 0


def test_classification_and_retry_after_from_real_responses() -> None:
    replies = [Reply.rate_limited(2), Reply.rate_limited(0.25, in_ms=True),
               Reply.server_error(503), Reply.http_error(400)]
    with FakeOpenAI(replies) as srv:
        errors: list[openai.APIStatusError] = []
        with openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=0) as client:
            for _ in replies:
                with pytest.raises(openai.APIStatusError) as info:
                    client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
                errors.append(info.value)
    assert [is_transient(e) for e in errors] == [True, True, True, False]
    assert [retry_after_s(e) for e in errors] == [2.0, 0.25, None, None]
    assert is_transient(openai.APITimeoutError(request=httpx.Request("POST", "http://x")))
    assert not is_transient(ModelError("final")) and not is_transient(ValueError("bug"))
