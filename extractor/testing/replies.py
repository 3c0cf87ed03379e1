"""Scripted replies for :mod:`extractor.testing.fake_openai`: what the fake server says next.

A :class:`Reply` is one answer (content, truncation, HTTP error, stall or dropped
connection); a handler maps each request to one. :class:`Script` plays replies in order and
:class:`FaultPlan` swaps a seeded fraction of honest replies for faults.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class ReplyKind(StrEnum):
    CONTENT = "content"
    TRUNCATED = "truncated"
    HTTP_ERROR = "http_error"
    SLOW = "slow"
    DROP = "drop"


@dataclass(frozen=True)
class Reply:
    """One scripted answer. Build it with the class methods; ``label`` names it in records.

    Content replies go out as message content, or as a tool call when the request offered
    tools (OpenAI ``tools`` mode), named after the requested function.
    """

    kind: ReplyKind
    label: str
    content: str = ""
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0
    then: Reply | None = None
    usage: tuple[int, int] | None = None
    """(prompt_tokens, completion_tokens); estimated from text length when ``None``."""
    tool_call: bool = True
    """Answer as a tool call when the request offered tools."""
    from_schema: bool = False
    """Content is derived from the request's schema when answering (schema violations)."""

    @classmethod
    def json(cls, value: Any, label: str = "valid", usage: tuple[int, int] | None = None,
             ) -> Reply:
        """Content as given: a string verbatim, anything else JSON-encoded (any custom content)."""
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return cls(ReplyKind.CONTENT, label, content=text, usage=usage)

    @classmethod
    def plain(cls, value: Any) -> Reply:
        """Message content even when the request offered tools (a model ignoring tool_choice)."""
        return replace(cls.json(value, label="plain"), tool_call=False)

    @classmethod
    def invalid_json(cls, text: str = '{"answer": 1, "oops": ') -> Reply:
        return cls(ReplyKind.CONTENT, "invalid_json", content=text)

    @classmethod
    def schema_violation(cls, value: Any = None) -> Reply:
        """Well-formed JSON that fails validation: ``value`` if given, else built at answer
        time from the request's schema with every property set to a wrongly typed value."""
        if value is None:
            return cls(ReplyKind.CONTENT, "schema_violation", from_schema=True)
        return cls(ReplyKind.CONTENT, "schema_violation", content=json.dumps(value))

    @classmethod
    def truncated(cls, value: Any, keep: float = 0.5) -> Reply:
        """``finish_reason="length"`` with the content cut to ``keep`` of its length."""
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return cls(ReplyKind.TRUNCATED, "truncated", content=text[: max(1, int(len(text) * keep))])

    @classmethod
    def rate_limited(cls, retry_after_s: float | None = 1.0, *, in_ms: bool = False) -> Reply:
        """429; ``Retry-After`` in seconds, or ``retry-after-ms`` when ``in_ms``."""
        headers: tuple[tuple[str, str], ...] = ()
        if retry_after_s is not None:
            headers = ((("retry-after-ms", f"{retry_after_s * 1000:g}"),) if in_ms
                       else (("Retry-After", f"{retry_after_s:g}"),))
        return cls(ReplyKind.HTTP_ERROR, "rate_limited", status=429, headers=headers,
                   content="Rate limit reached")

    @classmethod
    def server_error(cls, status: int = 500) -> Reply:
        return cls(ReplyKind.HTTP_ERROR, f"http_{status}", status=status,
                   content="The server had an error while processing your request")

    @classmethod
    def http_error(cls, status: int, message: str = "Bad request") -> Reply:
        return cls(ReplyKind.HTTP_ERROR, f"http_{status}", status=status, content=message)

    @classmethod
    def slow(cls, delay_s: float, then: Reply | None = None) -> Reply:
        """Wait ``delay_s`` (meant to pass the client's timeout), then send ``then``."""
        return cls(ReplyKind.SLOW, "slow", delay_s=delay_s, then=then or cls.json({}))

    @classmethod
    def drop(cls) -> Reply:
        """Close the connection without sending any response."""
        return cls(ReplyKind.DROP, "drop")


Handler = Callable[[dict[str, Any]], Reply]


class Script:
    """Replies consumed in order, one per chat request; thread safe.

    When the script runs out, ``default`` answers; without one the request gets HTTP 400
    (not retried), so a test that makes more calls than it scripted fails loudly.
    """

    def __init__(self, replies: Sequence[Reply], default: Reply | None = None) -> None:
        self._replies = list(replies)
        self._default = default
        self._lock = threading.Lock()
        self.used = 0

    def __call__(self, request: dict[str, Any]) -> Reply:
        with self._lock:
            if self.used < len(self._replies):
                self.used += 1
                return self._replies[self.used - 1]
        return self._default or Reply.http_error(400, "fake_openai: script exhausted")

    @property
    def remaining(self) -> int:
        return len(self._replies) - self.used


FAULT_KINDS = ("invalid_json", "schema_violation", "truncated", "rate_limited", "http_500",
               "slow", "drop")


@dataclass
class FaultPlan:
    """Replace a seeded fraction ``rate`` of replies with a fault drawn from ``kinds``.

    Content faults (``invalid_json``, ``truncated``) corrupt what the handler would have
    said, so they stay realistic; ``slow`` waits ``slow_s`` before answering properly.
    """

    rate: float
    seed: int = 0
    kinds: tuple[str, ...] = FAULT_KINDS
    slow_s: float = 30.0
    retry_after_s: float = 1.0
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        self._rng = random.Random(self.seed)

    def draw(self) -> str | None:
        """The fault for the next request, or ``None`` to answer normally."""
        with self._lock:
            if self._rng.random() >= self.rate:
                return None
            return self._rng.choice(self.kinds)

    def apply(self, kind: str, honest: Callable[[], Reply]) -> Reply:
        if kind == "rate_limited":
            return Reply.rate_limited(self.retry_after_s)
        if kind == "http_500":
            return Reply.server_error(500)
        if kind == "drop":
            return Reply.drop()
        if kind == "schema_violation":
            return Reply.schema_violation()
        if kind == "slow":
            return Reply.slow(self.slow_s, honest())
        text = honest().content or "{}"
        if kind == "truncated":
            return Reply.truncated(text)
        return Reply.invalid_json(text[: max(1, len(text) // 2)])
