"""Retry policy for model calls: the single place that decides what is retried and how long to wait.

Why one module: the OpenAI SDK, instructor and our own code could each retry, and stacked
retries multiply (4 SDK retries x 3 re-asks x 4 of ours = 48 requests for one chunk). So the
SDK client runs with ``max_retries=0``, instructor only re-asks on validation errors (through
:func:`reask_controller`), and every transport-level retry happens in
:func:`call_with_retries`. All tenacity use in the project lives here.

What is transient: 429, 5xx, timeouts and dropped connections. A 4xx other than 429 is our
request's fault and a retry would fail the same way; a truncated output
(:class:`~extractor.core.errors.TruncatedOutputError`) would be truncated again.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import openai
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    retry_if_exception,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
)

from extractor.core.errors import ExtractorError, ModelError
from extractor.core.settings import ModelSettings

T = TypeVar("T")

log = logging.getLogger(__name__)

_BACKOFF_INITIAL_S = 0.5


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a model call is retried.

    ``max_retries`` counts retries, not attempts: a call is made at most ``max_retries + 1``
    times. Waits grow as ``backoff_initial_s * 2**n`` with jitter (so concurrent callers
    hit by the same outage do not come back in lockstep) and never exceed ``backoff_max_s``;
    a server's ``Retry-After`` replaces the computed wait, under the same cap.
    """

    max_retries: int = 4
    backoff_initial_s: float = _BACKOFF_INITIAL_S
    backoff_max_s: float = 30.0
    jitter: bool = True

    @classmethod
    def from_settings(cls, settings: ModelSettings) -> RetryPolicy:
        return cls(max_retries=max(0, settings.max_retries),
                   backoff_initial_s=min(_BACKOFF_INITIAL_S, settings.backoff_max_s),
                   backoff_max_s=max(0.0, settings.backoff_max_s))

    def backoff_s(self, retry_number: int, exc: BaseException | None = None) -> float:
        """Wait before retry ``retry_number`` (1-based) after ``exc``."""
        hinted = retry_after_s(exc) if exc is not None else None
        if hinted is not None:
            return min(max(hinted, 0.0), self.backoff_max_s)
        base = min(self.backoff_max_s, self.backoff_initial_s * 2 ** (retry_number - 1))
        # "Equal jitter": keeps at least half the backoff, so a retry never comes back at once.
        return random.uniform(base / 2, base) if self.jitter else base


@dataclass
class AttemptLog:
    """What :func:`call_with_retries` did, for accounting and run notes.

    Pass one in to read it back; one log may be shared by several calls (counts add up).
    """

    attempts: int = 0
    retries: int = 0
    waited_s: float = 0.0
    errors: list[str] = field(default_factory=list)
    """One short line per failed attempt (exception class and message, no secrets)."""


def is_transient(exc: BaseException) -> bool:
    """Whether another identical request could succeed."""
    if isinstance(exc, ExtractorError):
        return False  # our own verdicts (truncation, budget, bad evidence) are final
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code == 429 or exc.status_code >= 500
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    return isinstance(exc, httpx.TransportError | TimeoutError | ConnectionError)


def retry_after_s(exc: BaseException) -> float | None:
    """The server's own wait hint (``retry-after-ms``, then ``retry-after``), if any."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    ms = _to_float(headers.get("retry-after-ms"))
    if ms is not None:
        return ms / 1000.0
    raw = headers.get("retry-after")
    if raw is None:
        return None
    seconds = _to_float(raw)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _to_float(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def describe(exc: BaseException) -> str:
    """One line for logs and notes; status errors keep their status, bodies are cut short."""
    status = getattr(exc, "status_code", None)
    text = str(exc).replace("\n", " ")[:200]
    prefix = f"HTTP {status} " if isinstance(status, int) else ""
    cause = exc.__cause__ or exc.__context__
    if cause is not None and str(cause) and str(cause) not in text:  # "Connection error." says little
        text += f" ({type(cause).__name__}: {str(cause).splitlines()[0][:200]})"
    return f"{prefix}{type(exc).__name__}: {text}"


async def call_with_retries(fn: Callable[[], Awaitable[T]], policy: RetryPolicy,
                            attempt_log: AttemptLog | None = None) -> T:
    """Await ``fn()`` until it succeeds, fails for good, or the policy's retries are spent.

    ``fn`` must build a fresh request each time it is called. The last exception is
    re-raised unchanged (the caller maps it onto its own error type); ``attempt_log``
    records attempts, retries and time spent waiting.
    """
    alog = attempt_log if attempt_log is not None else AttemptLog()

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        return policy.backoff_s(state.attempt_number, exc)

    def before_sleep(state: RetryCallState) -> None:
        seconds = state.next_action.sleep if state.next_action is not None else 0.0
        alog.retries += 1
        alog.waited_s += seconds
        log.warning("model call failed (%s); retry %d/%d in %.2fs", alog.errors[-1],
                    state.attempt_number, policy.max_retries, seconds)

    retrying = AsyncRetrying(stop=stop_after_attempt(policy.max_retries + 1), wait=wait,
                             retry=retry_if_exception(is_transient), before_sleep=before_sleep,
                             reraise=True)
    async for attempt in retrying:
        with attempt:
            alog.attempts += 1
            started = time.perf_counter()
            try:
                return await fn()
            except BaseException as exc:
                if isinstance(exc, Exception):
                    elapsed = time.perf_counter() - started
                    alog.errors.append(f"{describe(exc)} after {elapsed:.2f}s")
                raise
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover


def reask_controller(max_reasks: int, retry_on: type[BaseException]) -> Any:
    """The retry object instructor's ``max_retries`` takes, limited to validation re-asks.

    instructor's own default retries *every* exception; handing it this object means only
    ``retry_on`` (its validation-failure exception) triggers a re-ask, at most
    ``max_reasks`` times, while transport errors and truncation reach our code at once.
    """
    return AsyncRetrying(stop=stop_after_attempt(max(0, max_reasks) + 1),
                         retry=retry_if_exception_type(retry_on), reraise=True)


async def poll_until(fetch: Callable[[], Awaitable[T]], done: Callable[[T], bool], *,
                     first_s: float, max_s: float, timeout_s: float, what: str) -> T:
    """Await ``fetch()`` until ``done`` holds for its result, waiting ``first_s``, then twice
    as long each time up to ``max_s`` between calls (a batch that takes hours is polled
    a few dozen times, not thousands). ``fetch`` does its own transport retries.

    Raises :class:`ModelError` naming ``what`` once ``timeout_s`` has passed.
    """
    polling = AsyncRetrying(retry=retry_if_result(lambda value: not done(value)),
                            wait=wait_exponential(multiplier=first_s, min=first_s, max=max_s),
                            stop=stop_after_delay(timeout_s), reraise=True)
    try:
        return await polling(fetch)
    except RetryError as exc:
        last = exc.last_attempt.result() if not exc.last_attempt.failed else None
        raise ModelError(f"{what}: not finished after {timeout_s:g} s (last seen: {last}); "
                         "re-run to keep waiting") from None
