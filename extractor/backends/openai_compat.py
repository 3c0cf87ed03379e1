"""The model backend for any OpenAI-compatible chat endpoint (OpenAI, vLLM, llama.cpp, Ollama...).

Everything provider-specific lives here: the SDK client, instructor's modes, the shape of
``response_format``, finish reasons and the SDK's exception classes. Callers see the
:class:`~extractor.core.types.Backend` protocol and :mod:`extractor.core.errors` only.

Three layers of "try again", each bounded and each in one place:

* transport (429, 5xx, timeouts, dropped connections): :func:`extractor.retry.call_with_retries`
  around every single HTTP request; the SDK's own retries are switched off;
* validation (the reply is not valid JSON or not the response model): instructor re-asks
  with the error shown to the model, at most ``settings.max_reasks`` times;
* truncation (``finish_reason == "length"``): never repeated; a
  :class:`~extractor.core.errors.TruncatedOutputError` tells the caller to split its input.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import httpx
import instructor
import openai
from instructor.exceptions import IncompleteOutputException
from instructor.process_response import (  # type: ignore[attr-defined]
    handle_response_model,
    process_response,
)
from instructor.retry import InstructorRetryException  # type: ignore[attr-defined]
from openai.types.chat import ChatCompletion
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from extractor.core.errors import ConfigError, ModelError, TruncatedOutputError
from extractor.core.settings import ModelSettings
from extractor.core.types import BatchState
from extractor.retry import AttemptLog, RetryPolicy, call_with_retries, describe, reask_controller

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
ReplyHook = Callable[[dict[str, Any]], Awaitable[None]]
"""Called with each completion as delivered (JSON), before instructor parses it."""

PLACEHOLDER_API_KEY = "sk-no-key-required"
"""Sent when no key is configured: local servers ignore it, the SDK refuses an empty one."""

_MODES: dict[str, instructor.Mode] = {
    "tools": instructor.Mode.TOOLS,
    "json_schema": instructor.Mode.JSON_SCHEMA,
    "json": instructor.Mode.JSON,
}


class _InstructorLogFix(logging.Filter):
    """instructor 1.3 calls ``logger.debug(f"Error response: {response}", e)``: an argument
    with no ``%s`` for it, so with debug logging on every re-ask prints a logging traceback
    (and pytest's log capture raises). Dropping the stray arguments keeps the message."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and "%" not in str(record.msg):
            record.args = ()
        return True


logging.getLogger("instructor").addFilter(_InstructorLogFix())


def make_client(settings: ModelSettings) -> openai.AsyncOpenAI:
    """An SDK client for ``settings`` with the SDK's retries off (see :mod:`extractor.retry`).

    The key comes from settings only (never the SDK's own environment lookup) and is never
    logged; the placeholder stands in when none is set.
    """
    if not settings.base_url:
        raise ConfigError("model.base_url is not set (EXTRACTOR_MODEL__BASE_URL)")
    key = settings.api_key.get_secret_value() if settings.api_key else PLACEHOLDER_API_KEY
    return openai.AsyncOpenAI(base_url=settings.base_url, api_key=key or PLACEHOLDER_API_KEY,
                              timeout=settings.timeout_s, max_retries=0)


@dataclass
class UsageTotals:
    """Running totals over every call of one backend, failed calls included.

    Failed and truncated calls still cost tokens, so a run's token budget is checked
    against these totals rather than against the metadata of successful calls.
    """

    calls: int = 0
    failed_calls: int = 0
    requests: int = 0
    """HTTP requests sent, failed ones included."""
    replies: int = 0
    """Completions received (each one billed)."""
    tokens_in: int = 0
    tokens_out: int = 0

    @property
    def total_tokens(self) -> int:
        return self.tokens_in + self.tokens_out


@dataclass
class _CallState:
    """Bookkeeping for one :meth:`OpenAICompatBackend.complete` call (all its requests)."""

    attempt_log: AttemptLog = field(default_factory=AttemptLog)
    asks: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    finish_reason: str | None = None
    served_model: str | None = None
    on_reply: ReplyHook | None = None


class OpenAICompatBackend:
    """:class:`~extractor.core.types.Backend` over an injected ``openai.AsyncOpenAI`` client.

    The client is passed in so tests and callers choose transport details (base URL,
    connection pool, proxies); this class only forces ``max_retries=0`` and the configured
    timeout on it. One instance may serve many concurrent :meth:`complete` calls; limiting
    concurrency is the caller's job (``settings.max_concurrency``).
    """

    name = "openai-compat"
    supports_json_schema: ClassVar[bool] = True
    supports_tools: ClassVar[bool] = True
    supports_json_mode: ClassVar[bool] = True
    stores_raw_replies: ClassVar[bool] = True
    """:meth:`complete` takes ``on_reply`` and :meth:`parse_stored` reads a stored reply."""

    def __init__(self, client: openai.AsyncOpenAI, settings: ModelSettings,
                 policy: RetryPolicy | None = None) -> None:
        if not settings.model:
            raise ConfigError("model.model is not set (EXTRACTOR_MODEL__MODEL)")
        self.model: str = settings.model
        self.mode = settings.mode
        self.settings = settings
        self.policy = policy or RetryPolicy.from_settings(settings)
        self.usage = UsageTotals()
        self._client = client.with_options(max_retries=0, timeout=settings.timeout_s)

    @classmethod
    def from_settings(cls, settings: ModelSettings) -> OpenAICompatBackend:
        return cls(make_client(settings), settings)

    async def aclose(self) -> None:
        """Close the HTTP connection pool (shared with the client that was passed in)."""
        await self._client.close()

    async def complete(self, messages: Sequence[dict[str, str]], response_model: type[M],
                       *, max_tokens: int, on_reply: ReplyHook | None = None,
                       ) -> tuple[M, dict[str, Any]]:
        """Ask once (plus bounded re-asks and retries); return the record and call metadata.

        ``on_reply`` is awaited with every completion the endpoint delivers, before it is
        checked or parsed: the caller stores it, so a billed reply survives a kill.
        Raises :class:`TruncatedOutputError` when the reply hit ``max_tokens``, and
        :class:`ModelError` when the endpoint keeps failing or the reply never validates.
        """
        state = _CallState(on_reply=on_reply)
        started = time.perf_counter()
        self.usage.calls += 1
        try:
            record = await self._complete(state, messages, response_model, max_tokens)
        except BaseException:
            self.usage.failed_calls += 1
            raise
        finally:
            self.usage.requests += state.attempt_log.attempts
        meta: dict[str, Any] = {
            "model": state.served_model or self.model,
            "mode": self.mode,
            "tokens_in": state.tokens_in,
            "tokens_out": state.tokens_out,
            "latency_s": round(time.perf_counter() - started, 4),
            "finish_reason": state.finish_reason,
            "attempts": state.attempt_log.attempts,
            "retries": state.attempt_log.retries,
            "reasks": max(0, state.asks - 1),
            "waited_s": round(state.attempt_log.waited_s, 4),
        }
        return record, meta

    async def _complete(self, state: _CallState, messages: Sequence[dict[str, str]],
                        response_model: type[M], max_tokens: int) -> M:
        mode = _MODES[self.mode]
        structured = instructor.AsyncInstructor(
            client=self._client, create=instructor.patch(create=self._create_fn(state, response_model),
                                                         mode=mode),
            mode=mode)
        try:
            parsed, _completion = await structured.create_with_completion(
                messages=[dict(m) for m in messages],  # type: ignore[misc]  # instructor extends it
                response_model=response_model,
                max_retries=reask_controller(self.settings.max_reasks, InstructorRetryException),
                strict=False,  # lax pydantic parsing: "12.5" for a float is a value, not an error
                model=self.model, temperature=self.settings.temperature, max_tokens=max_tokens)
        except InstructorRetryException as exc:
            raise ModelError(f"{response_model.__name__}: reply still invalid after "
                             f"{exc.n_attempts} ask(s): {_short(exc.args[0] if exc.args else exc)}"
                             ) from exc
        except IncompleteOutputException as exc:  # instructor's own check, kept as a backstop
            raise TruncatedOutputError(f"reply cut at max_tokens={max_tokens}") from exc
        except (openai.OpenAIError, httpx.HTTPError) as exc:
            log = state.attempt_log
            raise ModelError(f"model call failed after {log.attempts} request(s): "
                             f"{describe(exc)}") from exc
        except AssertionError as exc:  # instructor asserts the tool-call shape
            raise ModelError(f"reply does not follow the tool-call protocol: {exc}") from exc
        # instructor returns a dynamic subclass holding the raw completion; hand back a plain
        # instance so records can be stored, compared and pickled without dragging it along.
        return response_model.model_validate(parsed.model_dump(by_alias=True))

    def _create_fn(self, state: _CallState, response_model: type[BaseModel]) -> Any:
        """The ``create`` instructor calls once per ask: one request, retried at transport level."""
        json_schema = self.mode == "json_schema"

        async def create(**kwargs: Any) -> ChatCompletion:
            if json_schema:
                kwargs["response_format"] = _json_schema_format(response_model)
            state.asks += 1
            completion: ChatCompletion = await call_with_retries(
                lambda: self._client.chat.completions.create(**kwargs), self.policy,
                state.attempt_log)
            self._account(state, completion)
            if state.on_reply is not None:
                await state.on_reply(completion.model_dump(mode="json"))
            if not completion.choices:
                raise ModelError("the endpoint returned no choices")
            choice = completion.choices[0]
            if choice.finish_reason == "length":
                raise TruncatedOutputError(
                    f"reply cut at max_tokens={kwargs.get('max_tokens')} "
                    f"({state.tokens_out} completion tokens so far)")
            if self.mode == "tools" and not choice.message.tool_calls:
                raise ModelError("the model answered in text instead of calling the tool")
            return completion

        return create

    def parse_stored(self, raw: dict[str, Any], response_model: type[M]) -> M:
        """A stored completion (see ``on_reply``) parsed the way a live one is.

        Raises :class:`TruncatedOutputError` for a cut-off reply and :class:`ModelError`
        when it does not validate (the caller then asks the endpoint again).
        """
        try:
            completion = ChatCompletion.model_validate(raw)
        except PydanticValidationError as exc:
            raise ModelError(f"stored reply is not a chat completion: {_short(exc)}") from exc
        if not completion.choices:
            raise ModelError("stored reply has no choices")
        if completion.choices[0].finish_reason == "length":
            raise TruncatedOutputError("stored reply was cut at its token limit")
        mode = _MODES[self.mode]
        try:  # instructor's own wrapping and parsing, as for a live reply
            wrapped, _kwargs = handle_response_model(response_model, mode=mode,
                                                     messages=[{"role": "system", "content": ""}])
            parsed = process_response(completion, response_model=wrapped, stream=False,
                                      strict=False, mode=mode)
        except (PydanticValidationError, ValueError, AssertionError, KeyError, IndexError) as exc:
            raise ModelError(f"stored reply does not validate: {_short(exc)}") from exc
        return response_model.model_validate(parsed.model_dump(by_alias=True))

    # ------------------------------------------------------------------ Batch API
    # The same request body and the same parsing as :meth:`complete`: a batch line is what
    # instructor would have sent for these messages, and its reply goes through
    # :meth:`parse_stored`. Every HTTP request goes through :func:`call_with_retries`.

    def batch_line(self, custom_id: str, messages: Sequence[dict[str, str]],
                   response_model: type[BaseModel], *, max_tokens: int) -> dict[str, Any]:
        """One line of a batch input file: ``POST /v1/chat/completions`` with this call's body."""
        mode = _MODES[self.mode]
        _wrapped, body = handle_response_model(  # instructor adds tools / schema prompt per mode
            response_model, mode=mode, messages=[dict(m) for m in messages])
        body.update(model=self.model, temperature=self.settings.temperature, max_tokens=max_tokens)
        if self.mode == "json_schema":
            body["response_format"] = _json_schema_format(response_model)
        return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
                "body": body}

    async def upload_batch_file(self, data: bytes, name: str) -> str:
        """Upload a JSONL input file (``purpose="batch"``); returns its file id."""
        uploaded = await self._batch_request(
            lambda: self._client.files.create(file=(name, data, "application/jsonl"), purpose="batch"),
            "upload the batch input file")
        return str(uploaded.id)

    async def create_batch(self, input_file_id: str, metadata: dict[str, str]) -> BatchState:
        batch = await self._batch_request(
            lambda: self._client.batches.create(input_file_id=input_file_id,
                                                endpoint="/v1/chat/completions",
                                                completion_window="24h", metadata=metadata),
            f"create a batch for file {input_file_id}")
        return _batch_state(batch)

    async def find_batch(self, input_file_id: str) -> BatchState | None:
        """The batch made from ``input_file_id``, if one was created (a kill may have come
        between its creation and our record of it); newest batches are listed first."""
        page = await self._batch_request(lambda: self._client.batches.list(limit=100),
                                         "list batches")
        for batch in page.data:
            if batch.input_file_id == input_file_id:
                return _batch_state(batch)
        return None

    async def batch_state(self, batch_id: str) -> BatchState:
        batch = await self._batch_request(lambda: self._client.batches.retrieve(batch_id),
                                          f"poll batch {batch_id}")
        return _batch_state(batch)

    async def file_text(self, file_id: str) -> str:
        content = await self._batch_request(lambda: self._client.files.content(file_id),
                                            f"download file {file_id}")
        return content.text

    async def _batch_request(self, fn: Callable[[], Awaitable[T]], what: str) -> T:
        log = AttemptLog()
        self.usage.requests += 1
        try:
            return await call_with_retries(fn, self.policy, log)
        except (openai.OpenAIError, httpx.HTTPError) as exc:
            raise ModelError(f"could not {what} after {log.attempts} request(s): "
                             f"{describe(exc)}") from exc

    def _account(self, state: _CallState, completion: ChatCompletion) -> None:
        usage = completion.usage
        tokens_in = usage.prompt_tokens if usage else 0
        tokens_out = usage.completion_tokens if usage else 0
        state.tokens_in += tokens_in
        state.tokens_out += tokens_out
        state.finish_reason = completion.choices[0].finish_reason if completion.choices else None
        state.served_model = completion.model or state.served_model
        self.usage.replies += 1
        self.usage.tokens_in += tokens_in
        self.usage.tokens_out += tokens_out


def _json_schema_format(response_model: type[BaseModel]) -> dict[str, Any]:
    """OpenAI's structured-output ``response_format``, understood by vLLM, llama.cpp and Ollama.

    instructor 1.3 sends ``{"type": "json_object", "schema": ...}`` (an Anyscale/Together
    dialect) that OpenAI itself rejects. ``strict`` stays off: pydantic schemas with
    optional fields do not meet OpenAI's strict-mode rules.
    """
    name = re.sub(r"[^A-Za-z0-9_-]", "_", response_model.__name__)[:64] or "response"
    return {"type": "json_schema",
            "json_schema": {"name": name, "schema": response_model.model_json_schema(),
                            "strict": False}}


def _batch_state(batch: Any) -> BatchState:
    errors = getattr(getattr(batch, "errors", None), "data", None) or []
    return BatchState(batch_id=str(batch.id), status=str(batch.status),
                      input_file_id=str(batch.input_file_id or ""),
                      output_file_id=batch.output_file_id, error_file_id=batch.error_file_id,
                      errors=tuple(f"{e.code or 'error'}: {e.message or ''}"
                                   + (f" (line {e.line})" if e.line else "") for e in errors))


def _short(exc: object, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def make_backend(settings: ModelSettings) -> OpenAICompatBackend:
    """The backend the extract step uses: endpoint, model, key and mode all from ``settings``."""
    return OpenAICompatBackend(make_client(settings), settings)
