"""The fake OpenAI server itself: wire format, scripting, faults, latency and the CLI.

Driven with the real OpenAI SDK and raw httpx over 127.0.0.1, because other tests trust
this server to behave like an OpenAI-compatible endpoint.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import openai
import pytest
from pydantic import BaseModel, ValidationError

from extractor.testing import FakeOpenAI, FaultPlan, Reply, Script, schema_responder
from extractor.testing.fake_openai import (
    load_handler,
    minimal_instance,
    request_schema,
    violating_instance,
)

MESSAGES = [{"role": "user", "content": "hello"}]


class Item(BaseModel):
    name: str
    amount: float | None = None


class Record(BaseModel):
    title: str
    year: int
    items: list[Item]
    flag: bool = False


def post(srv: FakeOpenAI, body: dict[str, Any], timeout: float = 5.0,
         client: httpx.Client | None = None) -> httpx.Response:
    if client is not None:
        return client.post(f"{srv.base_url}/chat/completions", json=body, timeout=timeout)
    return httpx.post(f"{srv.base_url}/chat/completions", json=body, timeout=timeout)


def chat(**extra: Any) -> dict[str, Any]:
    return {"model": "fake-model", "messages": MESSAGES, **extra}


def tools_body(name: str = "Record") -> dict[str, Any]:
    return chat(tools=[{"type": "function", "function": {
        "name": name, "parameters": Record.model_json_schema()}}],
        tool_choice={"type": "function", "function": {"name": name}})


def test_sdk_reads_a_content_reply_and_models_list() -> None:
    with FakeOpenAI([Reply.json({"a": 1}, usage=(11, 3))]) as srv, \
            openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=0) as client:
        completion = client.chat.completions.create(model="fake-model", messages=MESSAGES)  # type: ignore[arg-type]
        models = client.models.list()
    choice = completion.choices[0]
    assert choice.message.content == '{"a": 1}' and choice.finish_reason == "stop"
    assert choice.message.tool_calls is None and choice.message.role == "assistant"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens,
            completion.usage.total_tokens) == (11, 3, 14)
    assert completion.model == "fake-model" and completion.object == "chat.completion"
    assert [m.id for m in models.data] == ["fake-model"]


def test_tools_request_gets_a_tool_call_named_after_the_function() -> None:
    with FakeOpenAI([Reply.json({"x": 1}), Reply.truncated('{"title": "abcdef"}')]) as srv:
        full = post(srv, tools_body("Extract")).json()["choices"][0]
        cut = post(srv, tools_body("Extract")).json()["choices"][0]
    call = full["message"]["tool_calls"][0]
    assert full["finish_reason"] == "tool_calls" and full["message"]["content"] is None
    assert call["type"] == "function" and call["function"]["name"] == "Extract"
    assert json.loads(call["function"]["arguments"]) == {"x": 1}
    assert cut["finish_reason"] == "length"
    assert cut["message"]["tool_calls"][0]["function"]["arguments"] == '{"title":'


def test_script_is_consumed_in_order_and_exhaustion_is_loud() -> None:
    script = Script([Reply.json({"n": 1}), Reply.server_error(503)])
    with FakeOpenAI(script) as srv:
        first = post(srv, chat())
        second = post(srv, chat())
        third = post(srv, chat())
    assert first.status_code == 200
    assert json.loads(first.json()["choices"][0]["message"]["content"]) == {"n": 1}
    assert second.status_code == 503 and second.json()["error"]["type"] == "server_error"
    assert third.status_code == 400 and "exhausted" in third.json()["error"]["message"]
    assert script.remaining == 0
    assert [r.reply for r in srv.requests] == ["valid", "http_503", "http_400"]


def test_default_reply_after_script() -> None:
    with FakeOpenAI(Script([], default=Reply.json({"d": True}))) as srv:
        assert all(post(srv, chat()).status_code == 200 for _ in range(3))
        assert srv.count() == 3


def test_rate_limit_headers() -> None:
    with FakeOpenAI([Reply.rate_limited(1.5), Reply.rate_limited(0.2, in_ms=True),
                     Reply.rate_limited(None)]) as srv:
        seconds, millis, bare = (post(srv, chat()) for _ in range(3))
    assert seconds.status_code == 429 and seconds.headers["retry-after"] == "1.5"
    assert millis.headers["retry-after-ms"] == "200" and "retry-after" not in millis.headers
    assert bare.status_code == 429 and "retry-after" not in bare.headers
    assert seconds.json()["error"]["type"] == "rate_limit_error"


def test_malformed_requests_are_rejected_like_a_real_server() -> None:
    bad_schema = chat(response_format={"type": "json_schema", "json_schema": {"name": "x"}})
    with FakeOpenAI(Script([], default=Reply.json({}))) as srv:
        assert post(srv, {"messages": MESSAGES}).status_code == 400
        assert post(srv, {"model": "m", "messages": []}).status_code == 400
        assert post(srv, chat(response_format={"type": "yaml"})).status_code == 400
        assert post(srv, bad_schema).status_code == 400
        assert post(srv, chat(tools=[{"type": "function", "function": {}}])).status_code == 400
        missing = httpx.post(f"{srv.base_url}/completions", json=chat(), timeout=5)
    assert missing.status_code == 404


def test_drop_closes_without_response() -> None:
    with FakeOpenAI([Reply.drop(), Reply.json({})]) as srv:
        with pytest.raises(httpx.RemoteProtocolError):
            post(srv, chat())
        assert post(srv, chat()).status_code == 200


@pytest.mark.timeout(120)  # a liveness bound: the reply below would sleep for 10 minutes
def test_slow_reply_outlasts_client_timeout_and_stop_is_prompt() -> None:
    srv = FakeOpenAI([Reply.slow(600, Reply.json({}))]).start()
    with pytest.raises(httpx.ReadTimeout):
        post(srv, chat(), timeout=0.3)
    srv.stop()  # the sleeping reply wakes up on stop, or this hangs past the timeout
    assert srv.max_in_flight == 1


def test_records_hash_messages_and_count_repeats() -> None:
    other = {"model": "fake-model", "messages": [{"role": "user", "content": "bye"}]}
    with FakeOpenAI(Script([], default=Reply.json({}))) as srv:
        for body in (chat(), other, chat(), chat()):
            post(srv, body)
        httpx.get(f"{srv.base_url}/models", timeout=5)
        records = srv.chat_requests()
    assert len(srv.requests) == 5 and srv.count() == 4
    assert records[0].messages_hash == records[2].messages_hash != records[1].messages_hash
    assert srv.repeats() == 2
    assert records[0].body["messages"] == MESSAGES
    assert [r.time for r in records] == sorted(r.time for r in records)


def test_handler_errors_become_500_and_are_kept() -> None:
    def broken(request: dict[str, Any]) -> Reply:
        raise KeyError("oops")

    with FakeOpenAI(broken) as srv:
        response = post(srv, chat())
    assert response.status_code == 500 and srv.errors == ["KeyError: 'oops'"]


def test_latency_is_served_concurrently() -> None:
    with FakeOpenAI(Script([], default=Reply.json({})), latency_s=10.0, gate=4) as srv:
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda _: post(srv, chat()).status_code, range(8)))
        assert srv.max_in_flight >= 4  # overlap counted by the server, not guessed from a clock
    assert codes == [200] * 8


def test_fault_plan_is_seeded_and_bounded_to_its_kinds() -> None:
    def labels(seed: int) -> list[str]:
        plan = FaultPlan(rate=0.5, seed=seed, kinds=("http_500", "truncated", "invalid_json"))
        with FakeOpenAI(schema_responder, faults=plan) as srv, httpx.Client() as client:
            for _ in range(40):
                post(srv, tools_body(), client=client)
            return [r.reply for r in srv.requests]

    first, again, other = labels(3), labels(3), labels(4)
    assert first == again != other
    faults = [label for label in first if label.startswith("fault:")]
    assert 8 <= len(faults) <= 32
    assert set(faults) <= {"fault:http_500", "fault:truncated", "fault:invalid_json"}
    with pytest.raises(ValueError, match="unknown fault"):
        FaultPlan(rate=0.1, kinds=("meteor",))


def test_content_faults_corrupt_the_honest_reply() -> None:
    plan = FaultPlan(rate=1.0, kinds=("truncated",))
    with FakeOpenAI(schema_responder, faults=plan) as srv:
        choice = post(srv, tools_body()).json()["choices"][0]
    assert choice["finish_reason"] == "length"
    honest = json.dumps(minimal_instance(Record.model_json_schema(), {}))
    cut = choice["message"]["tool_calls"][0]["function"]["arguments"]
    assert honest.startswith(cut) and len(cut) < len(honest)


@pytest.mark.parametrize("style", ["tools", "json_schema", "json_object+schema", "prompt"])
def test_schema_responder_finds_the_schema_in_every_request_style(style: str) -> None:
    schema = Record.model_json_schema()
    body = {
        "tools": tools_body(),
        "json_schema": chat(response_format={"type": "json_schema",
                                             "json_schema": {"name": "Record", "schema": schema}}),
        "json_object+schema": chat(response_format={"type": "json_object", "schema": schema}),
        "prompt": {"model": "m", "messages": [
            {"role": "system", "content": "match the following json_schema:\n\n"
                                          f"{json.dumps(schema, indent=2)}\n\nMake sure..."},
            {"role": "user", "content": "hi"}]},
    }[style]
    assert request_schema(body) == schema
    record = Record.model_validate_json(schema_responder(body).content)
    assert record == Record(title="", year=0, items=[])
    with pytest.raises(ValidationError):
        Record.model_validate(violating_instance(request_schema(body)))


def test_schema_violation_fails_even_all_optional_models() -> None:
    class Loose(BaseModel):
        note: str | None = None
        values: list[float] = []

    bad = violating_instance(Loose.model_json_schema())
    assert set(bad) == {"note", "values"}
    with pytest.raises(ValidationError):
        Loose.model_validate(bad)
    with FakeOpenAI([Reply.schema_violation()]) as srv:
        content = post(srv, chat(response_format={
            "type": "json_schema",
            "json_schema": {"name": "Loose", "schema": Loose.model_json_schema()}})).json()
    with pytest.raises(ValidationError):
        Loose.model_validate_json(content["choices"][0]["message"]["content"])


def test_load_handler() -> None:
    assert load_handler("extractor.testing.fake_openai:schema_responder") is schema_responder
    with pytest.raises(SystemExit):
        load_handler("extractor.testing.fake_openai")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_cli_demo_serves_with_latency() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "extractor.testing.fake_openai", "--port", str(port),
         "--latency-ms", "200"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/v1" in banner
        base = f"http://127.0.0.1:{port}/v1"
        with openai.OpenAI(base_url=base, api_key="x", max_retries=0) as client:
            completion = client.chat.completions.create(
                model="demo", messages=MESSAGES,  # type: ignore[arg-type]
                tools=[{"type": "function", "function": {
                    "name": "Record", "parameters": Record.model_json_schema()}}])
        calls = completion.choices[0].message.tool_calls
        assert calls is not None
        Record.model_validate_json(calls[0].function.arguments)  # type: ignore[union-attr]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
