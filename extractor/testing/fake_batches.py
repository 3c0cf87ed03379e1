"""The Batch API half of :mod:`extractor.testing.fake_openai`: files and batches on loopback.

``POST /v1/files`` (multipart, ``purpose=batch``), ``POST /v1/batches``, ``GET /v1/batches``,
``GET /v1/batches/{id}`` and ``GET /v1/files/{id}/content`` behave as OpenAI's do, in
memory. A batch moves one step per status poll (``validating`` → ``in_progress`` →
``completed``); when it completes, each input line is answered by the server's chat
reply logic (handler, scripts, fault plan), so a batch and the synchronous endpoint give
the same answers. Successful replies go to the output file, failed ones (HTTP errors,
dropped or stalled requests) to the error file, as the real API sorts them.

``hold`` (an event) keeps every batch ``in_progress`` until it is set, and
``answer_create`` holds back the reply to ``POST /v1/batches`` (the batch exists, the client
does not know its id yet): a test can kill a client at either point, with no clock involved.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from extractor.testing.replies import Reply, ReplyKind

Answer = Callable[[dict[str, Any]], tuple[Reply, int]]
"""Chooses and records the reply to one chat request body; returns it with its serial."""
Render = Callable[[dict[str, Any], Reply, int], dict[str, Any]]
"""A content reply as a chat.completion body."""

STEPS = ("validating", "in_progress", "completed")


@dataclass
class _Batch:
    id: str
    input_file_id: str
    endpoint: str
    metadata: dict[str, Any]
    created_at: int
    step: int = 0
    running: bool = False
    output_file_id: str | None = None
    error_file_id: str | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"total": 0, "completed": 0, "failed": 0})
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "failed" if self.errors else STEPS[self.step]

    def body(self) -> dict[str, Any]:
        return {"id": self.id, "object": "batch", "endpoint": self.endpoint,
                "input_file_id": self.input_file_id, "completion_window": "24h",
                "status": self.status, "created_at": self.created_at,
                "output_file_id": self.output_file_id, "error_file_id": self.error_file_id,
                "metadata": self.metadata, "request_counts": dict(self.counts),
                "errors": {"object": "list", "data": self.errors} if self.errors else None}


class BatchDesk:
    """Files and batches of one fake server; thread safe (requests arrive on many threads)."""

    def __init__(self, answer: Answer, render: Render) -> None:
        self._answer = answer
        self._render = render
        self.hold = threading.Event()
        self.hold.set()
        self.answer_create = threading.Event()
        self.answer_create.set()
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, _Batch] = {}
        self._lock = threading.Lock()
        self._serial = 0

    def _next(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}-fake-{self._serial}"

    def get(self, path: str) -> tuple[int, dict[str, Any] | bytes] | None:
        """The answer to ``GET path`` (JSON, or a file's bytes); None: not a Batch API route."""
        if path == "/v1/batches":
            return 200, self.listing()
        if path.startswith("/v1/batches/"):
            return self.poll(path.removeprefix("/v1/batches/"))
        if path.startswith("/v1/files/") and path.endswith("/content"):
            data = self.content(path.removeprefix("/v1/files/").removesuffix("/content"))
            return (404, _error(f"no file at {path}")) if data is None else (200, data)
        return None

    # ----------------------------------------------------------------- files
    def upload(self, content_type: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        form = _multipart(content_type, raw)
        data, purpose = form.get("file"), form.get("purpose", b"").decode()
        if data is None:
            return 400, _error("'file' is required")
        if purpose != "batch":
            return 400, _error(f"purpose must be 'batch' here, got {purpose!r}")
        with self._lock:
            file_id = self._next("file")
            self.files[file_id] = data
        return 200, {"id": file_id, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                     "filename": "input.jsonl", "purpose": "batch", "status": "processed"}

    def content(self, file_id: str) -> bytes | None:
        with self._lock:
            return self.files.get(file_id)

    # ----------------------------------------------------------------- batches
    def create(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        file_id = str(body.get("input_file_id", ""))
        if body.get("endpoint") != "/v1/chat/completions":
            return 400, _error(f"unsupported endpoint {body.get('endpoint')!r}")
        if body.get("completion_window") != "24h":
            return 400, _error("completion_window must be '24h'")
        with self._lock:
            if file_id not in self.files:
                return 404, _error(f"no file {file_id!r}")
            batch = _Batch(self._next("batch"), file_id, "/v1/chat/completions",
                           dict(body.get("metadata") or {}), int(time.time()))
            self.batches[batch.id] = batch
        return 200, batch.body()

    def listing(self) -> dict[str, Any]:
        with self._lock:
            data = [b.body() for b in reversed(self.batches.values())]
        return {"object": "list", "data": data, "has_more": False,
                "first_id": data[0]["id"] if data else None, "last_id": data[-1]["id"] if data else None}

    def poll(self, batch_id: str) -> tuple[int, dict[str, Any]]:
        """The batch, one step further (``completed`` only while ``hold`` is set)."""
        with self._lock:
            batch = self.batches.get(batch_id)
            if batch is None:
                return 404, _error(f"no batch {batch_id!r}")
            finishing = batch.status == "in_progress" and self.hold.is_set() and not batch.running
            batch.running = batch.running or finishing
            if batch.status == "validating":
                batch.step = 1
            data = self.files[batch.input_file_id] if finishing else b""
        if finishing:
            self._run(batch, data)
        with self._lock:
            return 200, batch.body()

    def _run(self, batch: _Batch, data: bytes) -> None:
        """Answer every input line as the chat endpoint would; sort replies into two files."""
        out: list[str] = []
        errors: list[str] = []
        lines = [ln for ln in data.decode().splitlines() if ln.strip()]
        for number, text in enumerate(lines, 1):
            try:
                line = json.loads(text)
                custom_id, body = str(line["custom_id"]), line["body"]
            except (ValueError, KeyError, TypeError):
                batch.errors.append({"code": "invalid_json_line", "message": "not a request",
                                     "line": number, "param": None})
                continue
            reply, serial = self._answer(body)
            ok, result = self._result(body, reply, serial)
            entry = {"id": f"batch_req_{serial}", "custom_id": custom_id, **result}
            (out if ok else errors).append(json.dumps(entry, ensure_ascii=False))
        with self._lock:
            if batch.errors:  # the input file as a whole is refused, as the real API does
                return
            batch.counts = {"total": len(lines), "completed": len(out), "failed": len(errors)}
            if out:
                batch.output_file_id = self._next("file")
                self.files[batch.output_file_id] = ("\n".join(out) + "\n").encode()
            if errors:
                batch.error_file_id = self._next("file")
                self.files[batch.error_file_id] = ("\n".join(errors) + "\n").encode()
            batch.step = 2

    def _result(self, body: dict[str, Any], reply: Reply, serial: int) -> tuple[bool, dict[str, Any]]:
        while reply.kind is ReplyKind.SLOW:  # a stalled request: the batch just waits for it
            reply = reply.then or Reply.json({})
        if reply.kind is ReplyKind.DROP:
            return False, {"response": None,
                           "error": {"code": "server_error", "message": "the request was dropped"}}
        if reply.kind is ReplyKind.HTTP_ERROR:
            return False, {"response": {"status_code": reply.status, "request_id": f"req_{serial}",
                                        "body": _error(reply.content)}, "error": None}
        return True, {"response": {"status_code": 200, "request_id": f"req_{serial}",
                                   "body": self._render(body, reply, serial)}, "error": None}


def _error(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}


def _multipart(content_type: str, raw: bytes) -> dict[str, bytes]:
    """Form fields of a ``multipart/form-data`` body (the SDK's file upload)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + raw)
    fields: dict[str, bytes] = {}
    if not message.is_multipart():
        return fields
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload
    return fields
