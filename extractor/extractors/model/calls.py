"""Model calls as units of work: planned, cached, sent concurrently, recorded one by one.

A :class:`PlannedCall` is fully determined before anything is sent: its messages and its
cache key (endpoint, model, prompt hash, schema hash, hash of the chunks sent, and the
parameters that change the answer). :class:`CallRunner` sends the calls that have no
successful cached answer through one asyncio loop, at most ``max_concurrency`` at a time,
and writes each call to the store the moment it finishes, in its own transaction, so a
killed run loses only the calls that were in flight and a re-run sends nothing twice.

What happens when a call goes wrong is decided here and nowhere else:

* transport errors and invalid replies are retried / re-asked inside the backend
  (:mod:`extractor.retry`), bounded; what still fails is recorded with its reason;
* a truncated reply (``finish_reason=length``) is not asked again as is: a batch of
  several chunks is split in two, a single chunk is asked once more with twice the
  output room, and anything beyond that is recorded as failed;
* once the run's token budget is spent, the remaining calls are recorded as skipped;
* a reply is stored (status ``delivered``, the completion in ``raw``) the moment it
  arrives, before it is parsed or validated: a process killed between delivery and
  parsing leaves the billed reply in the database, and the re-run parses it there
  instead of sending the call again (backends with ``stores_raw_replies``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import col, select
from tqdm import tqdm

from extractor.core.errors import ExtractorError, TruncatedOutputError
from extractor.core.settings import ModelSettings
from extractor.core.types import Backend, ChunkData
from extractor.extractors.model.routing import split
from extractor.extractors.model.schemas import SECTIONS, schema_hash
from extractor.progress import progress_bar
from extractor.prompts import Prompt, user_message
from extractor.store import ModelCall, Store

TRUNCATED = "truncated"
_KEYS_PER_QUERY = 500
"""Cache keys per ``IN (...)`` lookup: well under every database's parameter limit."""


@dataclass(frozen=True)
class PlannedCall:
    document: str
    """SHA-256 of the document the chunks belong to."""
    section: str
    chunks: tuple[ChunkData, ...]
    messages: tuple[tuple[str, str], ...]
    """(role, content) pairs: the prompt's system message first, the chunks last."""
    max_tokens: int
    prompt_hash: str
    schema_hash: str
    cache_key: str

    def message_dicts(self) -> list[dict[str, str]]:
        return [{"role": role, "content": content} for role, content in self.messages]


@dataclass
class CallOutcome:
    """What became of one planned call (``parts`` hold the calls a truncated one was split into)."""

    call: PlannedCall
    status: str
    """``ok``, ``failed``, ``skipped`` or ``split``."""
    reply: dict[str, Any] | None = None
    error: str | None = None
    cached: bool = False
    tokens_in: int = 0
    tokens_out: int = 0
    latency_s: float = 0.0
    cost_usd: float = 0.0
    attempts: int = 0
    """HTTP requests the backend made for a successful call (retries and re-asks included)."""
    model: str | None = None
    """The model that answered, as the endpoint named it."""
    parts: list[CallOutcome] = field(default_factory=list)

    def leaves(self) -> Iterator[CallOutcome]:
        """This outcome, or the outcomes of the calls it was split into."""
        if not self.parts:
            yield self
            return
        for part in self.parts:
            yield from part.leaves()


def planned_call(prompt: Prompt, settings: ModelSettings, document: str,
                 chunks: Sequence[ChunkData], max_tokens: int | None = None) -> PlannedCall:
    """The call that sends ``chunks`` to ``prompt``'s section, with its cache key."""
    user = user_message(chunks)
    limit = max_tokens or settings.max_tokens
    reply = SECTIONS[prompt.section].reply
    s_hash = schema_hash(reply)
    key_parts = {
        "endpoint": settings.base_url or "", "model": settings.model or "",
        "prompt": prompt.content_hash, "schema": s_hash,
        "chunks": hashlib.sha256(user.encode()).hexdigest(),
        "params": {"temperature": settings.temperature, "max_tokens": limit, "mode": settings.mode},
    }
    key = hashlib.sha256(json.dumps(key_parts, sort_keys=True).encode()).hexdigest()
    return PlannedCall(document=document, section=prompt.section, chunks=tuple(chunks),
                       messages=(("system", prompt.system_message), ("user", user)),
                       max_tokens=limit, prompt_hash=prompt.content_hash, schema_hash=s_hash,
                       cache_key=key)


def cost_usd(settings: ModelSettings, model: str, tokens_in: int, tokens_out: int) -> float:
    """Cost from the settings' price table (USD per million tokens); 0 for unpriced models."""
    price = settings.prices.get(model) or settings.prices.get(settings.model or "")
    if price is None:
        return 0.0
    return round((tokens_in * price.input + tokens_out * price.output) / 1_000_000, 8)


@dataclass
class RunCounters:
    """Totals of one process's work for a run, for the final progress line and run stats."""

    sent: int = 0
    cached: int = 0
    failed: int = 0
    skipped: int = 0
    truncated: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0


class CallRunner:
    """Sends planned calls concurrently and records every one; see the module docstring.

    One event loop serves the runner's whole life, so the backend's HTTP connection pool
    (bound to the loop that first used it) is reused across documents.
    """

    def __init__(self, backend: Backend, store: Store, settings: ModelSettings,
                 prompts: dict[str, Prompt]) -> None:
        self.backend = backend
        self.store = store
        self.settings = settings
        self.prompts = prompts
        self.run_id: int | None = None
        self.counters = RunCounters()
        self._prior_tokens = 0
        self._backend_baseline = self._backend_tokens()
        self._truncated: set[str] = set()
        self._delivered: dict[str, ModelCall] = {}
        """Rows of replies stored on delivery, by cache key; the outcome updates them."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-calls-db")

    # ------------------------------------------------------------------ lifecycle
    def bind_run(self, run_id: int | None) -> None:
        """Record calls under ``run_id``; tokens it already spent count against the budget."""
        self.run_id = run_id
        self._prior_tokens = 0 if run_id is None else sum(
            c.tokens_in + c.tokens_out for c in self.store.calls(run_id))

    def close(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            aclose = getattr(self.backend, "aclose", None)
            if callable(aclose):
                self._loop.run_until_complete(aclose())
            self._loop.close()
        self._writer.shutdown(wait=True)

    def loop(self) -> asyncio.AbstractEventLoop:
        """The runner's one event loop (the batch runner awaits its requests on it too)."""
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
        return self._loop

    # ------------------------------------------------------------------ cache
    def cached(self, call: PlannedCall) -> CallOutcome | None:
        row = self.store.cached_call(call.cache_key)
        if row is None:
            return None
        return CallOutcome(call, "ok", reply=row.response, cached=True)

    def _stored(self, keys: Sequence[str], status: str) -> dict[str, Any]:
        """Stored responses with ``status`` for many keys, in a few ``IN (...)`` queries."""
        found: dict[str, Any] = {}
        unique = list(dict.fromkeys(keys))
        with self.store.session() as s:
            for start in range(0, len(unique), _KEYS_PER_QUERY):
                part = unique[start:start + _KEYS_PER_QUERY]
                rows = s.exec(select(ModelCall.cache_key, ModelCall.response).where(
                    col(ModelCall.cache_key).in_(part), ModelCall.status == status))
                found.update(dict(rows.all()))
        return found

    def cached_replies(self, keys: Sequence[str]) -> dict[str, Any]:
        """Successful stored replies by cache key (a run plans hundreds of calls).

        Replies that were delivered but never parsed (the process died in between) are
        parsed now and count as cached: they were paid for, they are not sent again.
        """
        found = self._stored(keys, "ok")
        parse = getattr(self.backend, "parse_stored", None)
        if not callable(parse) or not getattr(self.backend, "stores_raw_replies", False):
            return found
        for key, row in self.store.delivered_calls([k for k in keys if k not in found]).items():
            try:
                record = parse(row.raw, SECTIONS[row.section].reply)
            except ExtractorError:
                continue  # unusable (cut off, invalid): asked again like any failed call
            row.status, row.response = "ok", record.model_dump(mode="json")
            self.store.save_call(row)
            found[key] = row.response
        return found

    def _load_truncated(self, calls: Sequence[PlannedCall]) -> None:
        """Calls cut off in an earlier attempt: asking them again as is would be cut off again."""
        self._truncated.update(self._stored([c.cache_key for c in calls], TRUNCATED).keys())

    # ------------------------------------------------------------------ running
    def run(self, calls: Sequence[PlannedCall], label: str) -> dict[str, CallOutcome]:
        """Send ``calls`` (none of them cached) and return each one's outcome by cache key."""
        if not calls:
            return {}
        loop = self.loop()
        self._load_truncated(calls)
        bar = progress_bar(len(calls), label, "call")
        try:
            outcomes = loop.run_until_complete(self._run_all(calls, bar))
        finally:
            bar.close()
        return {o.call.cache_key: o for o in outcomes}

    async def _run_all(self, calls: Sequence[PlannedCall], bar: tqdm[Any]) -> list[CallOutcome]:
        gate = asyncio.Semaphore(max(1, self.settings.max_concurrency))
        return list(await asyncio.gather(*(self._run_one(c, gate, bar) for c in calls)))

    async def _run_one(self, call: PlannedCall, gate: asyncio.Semaphore, bar: tqdm[Any]) -> CallOutcome:
        if call.cache_key in self._truncated:
            outcome = CallOutcome(call, TRUNCATED, error="truncated in an earlier attempt")
        else:
            async with gate:
                outcome = await self._send(call)
            await self._record(outcome)
        if outcome.status == TRUNCATED:
            outcome = await self._after_truncation(outcome, gate, bar)
        bar.update(1)
        return outcome

    async def _after_truncation(self, outcome: CallOutcome, gate: asyncio.Semaphore,
                                bar: tqdm[Any]) -> CallOutcome:
        call = outcome.call
        prompt = self.prompts[call.section]
        halves = split(call.chunks)
        if halves:
            parts = [planned_call(prompt, self.settings, call.document, h, call.max_tokens)
                     for h in halves]
        elif call.max_tokens < 2 * self.settings.max_tokens:
            parts = [planned_call(prompt, self.settings, call.document, call.chunks,
                                  2 * self.settings.max_tokens)]
        else:
            self.counters.failed += 1
            return CallOutcome(call, "failed", error=f"reply truncated at max_tokens={call.max_tokens} "
                                                     "for a single chunk")
        self._load_truncated(parts)
        bar.total = (bar.total or 0) + len(parts)
        bar.refresh()
        results = []
        for part in parts:
            hit = self.cached(part)
            if hit is not None:
                self.counters.cached += 1
                bar.update(1)
                results.append(hit)
            else:
                results.append(await self._run_one(part, gate, bar))
        return CallOutcome(call, "split", error=outcome.error, parts=results)

    def _backend_tokens(self) -> int:
        """Tokens the backend was billed so far, failed calls included, where it tells."""
        usage = getattr(self.backend, "usage", None)
        total = getattr(usage, "total_tokens", None)
        return total if isinstance(total, int) else 0

    def _tokens_spent(self) -> int:
        """This run's tokens: before this process (resume) plus this process's, failed calls too."""
        own = self.counters.tokens_in + self.counters.tokens_out
        return self._prior_tokens + max(own, self._backend_tokens() - self._backend_baseline)

    async def _send(self, call: PlannedCall) -> CallOutcome:
        """One call through the backend (or not at all, over budget); recording is the caller's."""
        budget = self.settings.run_token_budget
        if self._tokens_spent() >= budget:
            self.counters.skipped += 1
            return CallOutcome(call, "skipped", error=f"run token budget of {budget} tokens spent "
                                                       f"({self._tokens_spent()} used)")
        reply_model = SECTIONS[call.section].reply
        started = time.perf_counter()
        self.counters.sent += 1
        kwargs: dict[str, Any] = {"max_tokens": call.max_tokens}
        if getattr(self.backend, "stores_raw_replies", False):
            kwargs["on_reply"] = lambda raw: self._store_delivery(call, raw)
        try:
            record, meta = await self.backend.complete(call.message_dicts(), reply_model, **kwargs)
        except TruncatedOutputError as exc:
            self.counters.truncated += 1
            return CallOutcome(call, TRUNCATED, error=f"{exc}; not re-asked as is",
                               latency_s=time.perf_counter() - started)
        except ExtractorError as exc:
            self.counters.failed += 1
            return CallOutcome(call, "failed", error=str(exc), latency_s=time.perf_counter() - started)
        except Exception as exc:  # the boundary to an external system: record it, keep the run going
            self.counters.failed += 1
            return CallOutcome(call, "failed", error=f"unexpected {type(exc).__name__}: {exc}",
                               latency_s=time.perf_counter() - started)
        tokens_in, tokens_out = int(meta.get("tokens_in", 0)), int(meta.get("tokens_out", 0))
        model = str(meta.get("model") or self.settings.model or "")
        outcome = CallOutcome(call, "ok", reply=record.model_dump(mode="json"),
                              tokens_in=tokens_in, tokens_out=tokens_out,
                              latency_s=float(meta.get("latency_s", time.perf_counter() - started)),
                              cost_usd=cost_usd(self.settings, model, tokens_in, tokens_out),
                              attempts=int(meta.get("attempts", 1)), model=model)
        self.counters.tokens_in += tokens_in
        self.counters.tokens_out += tokens_out
        self.counters.cost_usd += outcome.cost_usd
        return outcome

    async def _store_delivery(self, call: PlannedCall, raw: dict[str, Any]) -> None:
        """Write a delivered reply before anything parses it (a re-ask updates the same row)."""
        row = self._delivered.get(call.cache_key) or ModelCall(
            cache_key=call.cache_key, run_id=self.run_id, document=call.document,
            section=call.section, chunk_index=call.chunks[0].index if call.chunks else None,
            model=self.settings.model or "", endpoint=self.settings.base_url or "",
            prompt_hash=call.prompt_hash, schema_hash=call.schema_hash, status="delivered")
        row.raw = raw
        loop = asyncio.get_running_loop()
        self._delivered[call.cache_key] = await loop.run_in_executor(
            self._writer, self.store.save_delivery, row)

    async def _record(self, outcome: CallOutcome) -> None:
        """One call, one transaction, written off the event loop.

        The caller has already given back its concurrency slot: the next request goes out
        while this one is being committed, instead of waiting for the disk.
        """
        call = outcome.call
        row = ModelCall(cache_key=call.cache_key, run_id=self.run_id, document=call.document,
                        section=call.section, chunk_index=call.chunks[0].index if call.chunks else None,
                        model=outcome.model or self.settings.model or "",
                        endpoint=self.settings.base_url or "",
                        prompt_hash=call.prompt_hash, schema_hash=call.schema_hash,
                        status=outcome.status, error=outcome.error, response=outcome.reply,
                        tokens_in=outcome.tokens_in, tokens_out=outcome.tokens_out,
                        latency_s=round(outcome.latency_s, 4), cost_usd=outcome.cost_usd,
                        attempts=outcome.attempts)
        delivered = self._delivered.pop(call.cache_key, None)
        if delivered is not None:  # the row written on delivery becomes the call's record
            row.id, row.raw, row.created = delivered.id, delivered.raw, delivered.created
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._writer, self.store.save_call, row)
