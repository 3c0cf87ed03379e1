"""A real OpenAI-compatible HTTP server for tests and demos, scriptable reply by reply.

Why a server and not a mock: the retry policy, timeouts, dropped connections and
instructor's parsing only show their real behaviour when the OpenAI SDK talks HTTP to
something. This server listens on 127.0.0.1 (ephemeral port by default), answers
``POST /v1/chat/completions`` and ``GET /v1/models`` the way the SDK expects, and records
every request so a test can count calls and spot repeats.

Each request is answered by a *handler* (request JSON -> :class:`Reply`): a
:class:`Script` of replies consumed in order, or any function. A :class:`FaultPlan`
replaces a seeded fraction of replies with faults, and ``latency_s`` delays every reply
(requests are served concurrently, one thread each, so a benchmark sees real overlap).

CLI demo: ``python -m extractor.testing.fake_openai --port 8765 --latency-ms 300``
(``--handler module:function`` plugs in a responder; the default fills the requested
JSON schema with minimal values).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import json
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from extractor.chunk import count_tokens
from extractor.core.settings import ModelSettings
from extractor.testing.fake_batches import BatchDesk
from extractor.testing.replies import (
    FAULT_KINDS,
    FaultPlan,
    Handler,
    Reply,
    ReplyKind,
    Script,
)
from extractor.testing.schemas import (
    minimal_instance,
    request_schema,
    schema_responder,
    violating_instance,
)

__all__ = ["FAULT_KINDS", "FakeOpenAI", "FaultPlan", "Handler", "RecordedRequest", "Reply",
           "ReplyKind", "Script", "completion_body", "load_handler", "main", "messages_hash",
           "minimal_instance", "request_schema", "schema_responder", "violating_instance"]


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    body: dict[str, Any]
    time: float
    """``time.monotonic()`` when the request arrived."""
    messages_hash: str
    reply: str
    """Label of the reply chosen (``valid``, ``rate_limited``, ``fault:drop``...)."""
    method: str = "POST"


def messages_hash(body: dict[str, Any]) -> str:
    """Stable hash of the conversation, so repeated identical requests are easy to spot."""
    blob = json.dumps(body.get("messages"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _request_problem(body: dict[str, Any]) -> str | None:
    """What a real server would reject with 400; keeps the client honest in tests."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "'model' is required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty list"
    if any(not isinstance(m, dict) or "role" not in m for m in messages):
        return "every message needs a 'role'"
    fmt = body.get("response_format")
    if fmt is not None:
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        if kind not in {"text", "json_object", "json_schema"}:
            return f"unsupported response_format type {kind!r}"
        spec = fmt.get("json_schema")
        if kind == "json_schema" and not (isinstance(spec, dict) and spec.get("name")
                                          and isinstance(spec.get("schema"), dict)):
            return "response_format.json_schema needs 'name' and 'schema'"
    for tool in body.get("tools") or []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or tool.get("type") != "function" \
                or not function.get("name"):
            return "every tool needs type 'function' and a function name"
    return None


def _tool_name(body: dict[str, Any]) -> str | None:
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("function", {}).get("name"):
        return str(choice["function"]["name"])
    tools = body.get("tools") or []
    return str(tools[0]["function"]["name"]) if tools else None


def completion_body(request: dict[str, Any], reply: Reply, serial: int) -> dict[str, Any]:
    """The chat.completion JSON for a content or truncated reply."""
    truncated = reply.kind is ReplyKind.TRUNCATED
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    finish = "length" if truncated else "stop"
    name = _tool_name(request) if reply.tool_call else None
    if name is not None:
        message["content"] = None
        message["tool_calls"] = [{"id": f"call_{serial}", "type": "function",
                                  "function": {"name": name, "arguments": reply.content}}]
        finish = "length" if truncated else "tool_calls"
    prompt = json.dumps(request.get("messages"), ensure_ascii=False)
    p_tok, c_tok = reply.usage or (max(1, count_tokens(prompt)), max(1, count_tokens(reply.content)))
    return {"id": f"chatcmpl-fake-{serial}", "object": "chat.completion",
            "created": int(time.time()), "model": request.get("model", "fake-model"),
            "system_fingerprint": "fake_openai",
            "choices": [{"index": 0, "message": message, "finish_reason": finish,
                         "logprobs": None}],
            "usage": {"prompt_tokens": p_tok, "completion_tokens": c_tok,
                      "total_tokens": p_tok + c_tok}}


class FakeOpenAI:
    """The server. Use as a context manager (``with FakeOpenAI(Script([...])) as srv:``).

    ``handler`` may be a :class:`Script`, a list of replies (wrapped in one) or any
    ``request JSON -> Reply`` function; called from server threads, so it must be thread
    safe. Handler exceptions become HTTP 500 and are kept in :attr:`errors`.
    """

    def __init__(self, handler: Handler | Sequence[Reply] | None = None, *,
                 latency_s: float = 0.0, faults: FaultPlan | None = None,
                 host: str = "127.0.0.1", port: int = 0, gate: int = 0) -> None:
        if handler is None:
            handler = schema_responder
        self.handler: Handler = Script(handler) if isinstance(handler, Sequence) else handler
        self.latency_s = latency_s
        self.gate = gate
        """When set, the first requests are held until ``gate`` of them are in flight at once
        (or ``latency_s`` has passed); after that the gate stays open. Overlap is then forced
        by the server, not hoped for from a clock, so a test of bounded concurrency holds on
        a machine too busy to start requests promptly."""
        self.faults = faults
        self.errors: list[str] = []
        self.max_in_flight = 0
        self._host, self._port = host, port
        self._records: list[RecordedRequest] = []
        self._lock = threading.RLock()  # re-entered by wait_for conditions that read records
        self._filled = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._in_flight = 0
        self._serial = 0
        self._sockets: set[socket.socket] = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.batch_lines: list[RecordedRequest] = []
        """Chat requests that arrived as lines of a batch (answered like ``/chat/completions``)."""
        self.batches = BatchDesk(self._answer_line, self._render)
        """The Batch API's files and batches (``batches.hold`` keeps batches running)."""

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> FakeOpenAI:
        self._server = _Server((self._host, self._port), _RequestHandler, self)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-openai",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; sleeping replies wake up and idle keep-alive sockets are closed."""
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        with self._lock:
            for sock in list(self._sockets):
                _hard_close(sock)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Block until interrupted (the CLI)."""
        try:
            while not self._stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    # ----------------------------------------------------------------- info
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}/v1"

    def settings(self, **overrides: Any) -> ModelSettings:
        """:class:`ModelSettings` pointing at this server (``model="fake-model"``)."""
        values: dict[str, Any] = {"base_url": self.base_url, "model": "fake-model"}
        values.update(overrides)
        return ModelSettings(**values)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._records)

    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def count(self) -> int:
        """Chat completion requests received so far."""
        return len(self.chat_requests())

    def endpoint_counts(self) -> Counter[str]:
        """Requests per endpoint, ids folded: ``{"POST /v1/batches": 1,
        "GET /v1/batches/{id}": 3, ...}`` (batch lines are in :attr:`batch_lines`)."""
        return Counter(f"{r.method} {_ID.sub('/{id}', r.path.split('?')[0].rstrip('/'))}"
                       for r in self.requests)

    def wait_for(self, condition: Callable[[], bool], timeout_s: float = 60.0) -> bool:
        """Block until ``condition()`` holds (checked as each request is recorded)."""
        with self._filled:
            return self._filled.wait_for(condition, timeout=timeout_s)

    def repeats(self) -> int:
        """Chat requests whose messages equal an earlier request's (blind retries)."""
        seen: set[str] = set()
        repeated = 0
        for rec in self.chat_requests():
            repeated += rec.messages_hash in seen
            seen.add(rec.messages_hash)
        return repeated

    # ----------------------------------------------------------------- serving
    def _choose(self, body: dict[str, Any]) -> Reply:
        faults = self.faults
        try:
            problem = _request_problem(body)
            if problem is not None:
                return Reply.http_error(400, problem)
            fault = faults.draw() if faults is not None else None
            if faults is not None and fault is not None:
                faulted = faults.apply(fault, lambda: self.handler(body))
                return replace(faulted, label=f"fault:{fault}")
            return self.handler(body)
        except Exception as exc:  # a broken handler is a test bug: make it visible
            with self._lock:
                self.errors.append(f"{type(exc).__name__}: {exc}")
            return Reply.http_error(500, f"fake_openai handler failed: {exc}")

    def _record(self, path: str, body: dict[str, Any], reply: str, arrived: float,
                method: str = "POST") -> int:
        with self._lock:
            self._serial += 1
            self._records.append(RecordedRequest(path, body, arrived, messages_hash(body), reply,
                                                 method))
            self._filled.notify_all()
            return self._serial

    def _answer_line(self, body: dict[str, Any]) -> tuple[Reply, int]:
        """A batch line: the reply the chat endpoint would give, recorded apart."""
        reply = self._choose(body)
        with self._lock:
            self._serial += 1
            self.batch_lines.append(RecordedRequest("batch:/v1/chat/completions", body,
                                                    time.monotonic(), messages_hash(body), reply.label))
            return reply, self._serial

    @staticmethod
    def _render(body: dict[str, Any], reply: Reply, serial: int) -> dict[str, Any]:
        if reply.from_schema:
            reply = replace(reply, content=json.dumps(violating_instance(request_schema(body))))
        return completion_body(body, reply, serial)

    def _enter(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _leave(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)

    def _busy(self, delta: int) -> None:
        with self._lock:
            self._in_flight += delta
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            self._filled.notify_all()

    def _hold(self) -> bool:
        """Wait for the gate (or the latency); True when the server is stopping."""
        if not self.gate:
            return bool(self.latency_s) and self._stop.wait(self.latency_s)
        with self._filled:
            self._filled.wait_for(lambda: self.max_in_flight >= self.gate or self._stop.is_set(),
                                  timeout=self.latency_s or None)
        return self._stop.is_set()


_ID = re.compile(r"/(?:file|batch)-[A-Za-z0-9_-]+")


def _hard_close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 fake: FakeOpenAI) -> None:
        self.fake = fake
        super().__init__(address, handler)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real server behind the SDK's pool
    # Headers and body go out as two writes; with Nagle on, delayed ACKs add ~40 ms per
    # reply on a kept-alive connection, which would swamp latency benchmarks.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and benchmarks should not print one line per request."""

    def setup(self) -> None:
        super().setup()
        self.server.fake._enter(self.connection)

    def finish(self) -> None:
        self.server.fake._leave(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        fake = self.server.fake
        path = self.path.split("?")[0].rstrip("/")
        fake._record(path, {}, "models" if path == "/v1/models" else "get", time.monotonic(), "GET")
        answer = fake.batches.get(path)
        if path == "/v1/models":
            self._send_json(200, {"object": "list", "data": [
                {"id": "fake-model", "object": "model", "created": 0, "owned_by": "fake_openai"}]})
        elif answer is None:
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})
        elif isinstance(payload := answer[1], bytes):
            self._send(answer[0], payload, "application/octet-stream")
        else:
            self._send_json(answer[0], payload)

    def do_POST(self) -> None:
        fake = self.server.fake
        arrived = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?")[0].rstrip("/")
        if path == "/v1/files":
            fake._record(path, {}, "upload", arrived)
            self._send_json(*fake.batches.upload(self.headers.get("Content-Type", ""), raw))
            return
        if path == "/v1/batches":
            request = _json_object(raw)
            fake._record(path, request, "create", arrived)
            status, payload = fake.batches.create(request)
            while not fake.batches.answer_create.wait(0.05):
                if fake._stop.is_set():
                    return
            self._send_json(status, payload)
            return
        if path != "/v1/chat/completions":
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})
            return
        body = _json_object(raw)
        fake._busy(+1)
        try:
            reply = fake._choose(body)
            serial = fake._record(self.path, body, reply.label, arrived)
            if fake._hold():
                return
            self._answer(body, reply, serial)
        finally:
            fake._busy(-1)

    def _answer(self, body: dict[str, Any], reply: Reply, serial: int) -> None:
        fake = self.server.fake
        while reply.kind is ReplyKind.SLOW:
            if fake._stop.wait(reply.delay_s):
                return
            reply = reply.then or Reply.json({})
        if reply.kind is ReplyKind.DROP:
            self.close_connection = True
            _hard_close(self.connection)
            return
        if reply.kind is ReplyKind.HTTP_ERROR:
            kind = "rate_limit_error" if reply.status == 429 else "server_error"
            if 400 <= reply.status < 500 and reply.status != 429:
                kind = "invalid_request_error"
            self._send_json(reply.status, {"error": {"message": reply.content, "type": kind,
                                                     "param": None, "code": None}},
                            reply.headers)
            return
        if reply.from_schema:
            reply = replace(reply, content=json.dumps(violating_instance(request_schema(body))))
        self._send_json(200, completion_body(body, reply, serial))

    def _send_json(self, status: int, payload: dict[str, Any],
                   headers: Sequence[tuple[str, str]] = ()) -> None:
        self._send(status, json.dumps(payload, ensure_ascii=False).encode(), "application/json", headers)

    def _send(self, status: int, data: bytes, content_type: str,
              headers: Sequence[tuple[str, str]] = ()) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the client gave up (timeout) before we answered
            self.close_connection = True


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"{}")
    except json.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


# --------------------------------------------------------------------------- CLI


def load_handler(spec: str) -> Handler:
    """``package.module:function`` -> the handler it names."""
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise SystemExit(f"--handler must look like module:function, got {spec!r}")
    handler = getattr(importlib.import_module(module_name), attr)
    if not callable(handler):
        raise SystemExit(f"{spec} is not callable")
    return handler  # type: ignore[no-any-return]


def main(argv: Sequence[str] | None = None, *, default_handler: Handler | None = None,
         prog: str = "python -m extractor.testing.fake_openai", label: str = "fake OpenAI API") -> None:
    """Serve on loopback until Ctrl-C; ``default_handler`` is what answers without --handler."""
    parser = argparse.ArgumentParser(prog=prog, description=f"Serve a {label} on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--handler", help="module:function taking request JSON, returning Reply")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--fault-seed", type=int, default=0)
    parser.add_argument("--slow-s", type=float, default=30.0,
                        help="how long a 'slow' fault stalls")
    args = parser.parse_args(argv)
    handler = load_handler(args.handler) if args.handler else (default_handler or schema_responder)
    faults = (FaultPlan(args.fault_rate, seed=args.fault_seed, slow_s=args.slow_s)
              if args.fault_rate > 0 else None)
    fake = FakeOpenAI(handler, latency_s=args.latency_ms / 1000.0, faults=faults,
                      host=args.host, port=args.port).start()
    print(f"{label} at {fake.base_url} (latency {args.latency_ms:g} ms, "
          f"fault rate {args.fault_rate:g}); Ctrl-C to stop", flush=True)
    fake.serve_forever()


if __name__ == "__main__":
    main()
