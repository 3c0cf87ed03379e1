"""The model extractor: section prompts over routed chunks, every value proven by its quote.

Per document, each section prompt (``prompts/*.yaml``) is sent only the chunks that can
hold its fields (:mod:`extractor.extractors.model.routing`), packed into a few calls, so a
document costs about one pass over its relevant text rather than one pass per section.
Calls go through :class:`~extractor.extractors.model.calls.CallRunner` (cache, bounded
concurrency, truncation and budget handling, one stored row per call); replies become
facts only after :func:`~extractor.extractors.model.evidence.reply_facts` has found each
quote in its chunk and read the value from it.

The pipeline calls :meth:`ModelExtractor.prefetch` with every document of a run first, so
all their calls share one concurrent pass (wall time ≈ calls x latency / concurrency);
:meth:`ModelExtractor.extract` then assembles each document from those answers and sends
only what is still missing. Re-running an unchanged document sends nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from typing import Any

from extractor.core.errors import ConfigError, ModelError
from extractor.core.records import Fact
from extractor.core.settings import ModelSettings
from extractor.core.types import Backend, DocumentData, ExtractionResult
from extractor.extractors.model.batch import BatchRunner
from extractor.extractors.model.calls import CallOutcome, CallRunner, PlannedCall, planned_call
from extractor.extractors.model.evidence import Dropped, dedupe, reply_facts
from extractor.extractors.model.routing import RoutingConfig, batches, routed
from extractor.extractors.model.schemas import SECTIONS
from extractor.prompts import Prompt
from extractor.store import Store

MAX_DROPPED_LISTED = 50
"""Dropped values listed in a document's stats (all are counted)."""


class ModelExtractor:
    """:class:`~extractor.core.types.Extractor` backed by a chat model.

    ``run_id`` (set with :meth:`bind_run`) is written on every recorded call so that
    ``extractor runs show`` can account tokens, latency and cost per run and document.
    """

    name = "model"

    def __init__(self, backend: Backend, store: Store, prompts: Sequence[Prompt],
                 settings: ModelSettings, routing: RoutingConfig | None = None) -> None:
        if not prompts:
            raise ConfigError("the model extractor needs at least one section prompt")
        self.prompts = {p.section: p for p in prompts}
        self.settings = settings
        self.routing = routing or RoutingConfig()
        self.runner = CallRunner(backend, store, settings, self.prompts)
        self.batcher = BatchRunner(self.runner) if settings.batch else None
        self.dropped_values = 0
        self._outcomes: dict[str, CallOutcome] = {}
        self._batch_failed: dict[str, str] = {}
        """Calls that failed inside a batch (cache key → reason): not sent again by this process."""

    @property
    def prompt_hashes(self) -> dict[str, str]:
        return {section: p.content_hash for section, p in sorted(self.prompts.items())}

    def bind_run(self, run_id: int | None) -> None:
        """Attribute calls to a stored run (and count its earlier tokens against the budget)."""
        self.runner.bind_run(run_id)

    def close(self) -> None:
        """Release the event loop, HTTP connections and the store writer thread."""
        self.runner.close()

    # ------------------------------------------------------------------ planning
    def plan(self, doc: DocumentData) -> list[PlannedCall]:
        """Every call the document needs: per section, its routed chunks in token-capped batches."""
        calls = []
        for prompt in self.prompts.values():
            chunks = (list(doc.chunks) if self.routing.whole_document
                      else routed(prompt.spec.routing, doc.chunks))
            calls += [planned_call(prompt, self.settings, doc.sha256, batch)
                      for batch in batches(chunks, self.routing)]
        return calls

    def _unanswered(self, calls: Sequence[PlannedCall]) -> list[PlannedCall]:
        """Calls with neither an answer from this process nor a cached success, once each."""
        fresh = [c for c in calls if c.cache_key not in self._outcomes]
        replies = self.runner.cached_replies([c.cache_key for c in fresh])
        todo: dict[str, PlannedCall] = {}
        for call in fresh:
            if call.cache_key in self._outcomes or call.cache_key in todo:
                continue
            batched = self.batcher.answered.get(call.cache_key) if self.batcher else None
            if call.cache_key in replies and batched is not None:  # sent in this process's batch
                tokens_in, tokens_out, cost, model = batched
                self._outcomes[call.cache_key] = CallOutcome(
                    call, "ok", reply=replies[call.cache_key], tokens_in=tokens_in,
                    tokens_out=tokens_out, cost_usd=cost, attempts=1, model=model)
            elif call.cache_key in replies:
                self.runner.counters.cached += 1
                self._outcomes[call.cache_key] = CallOutcome(call, "ok", reply=replies[call.cache_key],
                                                             cached=True)
            elif call.cache_key in self._batch_failed:
                self._outcomes[call.cache_key] = CallOutcome(call, "failed", cached=True,
                                                             error=self._batch_failed[call.cache_key])
            else:
                todo[call.cache_key] = call
        return list(todo.values())

    # ------------------------------------------------------------------ running
    def prefetch_all(self, docs: Iterable[DocumentData]) -> None:
        """Batch mode: every call of every pending document, in as few batches as the API
        allows, waited for once; the documents are planned one at a time (no-op otherwise)."""
        if self.batcher is None:
            return
        self._batch_failed.update(self.batcher.run(c for doc in docs for c in self.plan(doc)))
        print(self.progress_line(), file=sys.stderr)

    def prefetch(self, docs: Sequence[DocumentData]) -> None:
        """Send the calls of all ``docs`` in one concurrent pass, filling the cache."""
        todo = self._unanswered([c for doc in docs for c in self.plan(doc)])
        self._outcomes.update(self.runner.run(todo, "model calls"))
        print(self.progress_line(), file=sys.stderr)

    def extract(self, doc: DocumentData) -> ExtractionResult:
        calls = self.plan(doc)
        todo = self._unanswered(calls)
        if todo:
            self._outcomes.update(self.runner.run(todo, f"model calls ({doc.doc_id})"))
        return self._result(doc, [self._outcomes[c.cache_key] for c in calls])

    def progress_line(self) -> str:
        c = self.runner.counters
        return (f"model calls: {c.sent} sent ({c.failed} failed, {c.truncated} truncated, "
                f"{c.skipped} skipped over budget), {c.cached} cached; tokens {c.tokens_in} in, "
                f"{c.tokens_out} out; ${c.cost_usd:.4f}")

    def run_stats(self) -> dict[str, Any]:
        """Totals of this process's work for the run record (the pipeline may merge them)."""
        stats = {**asdict(self.runner.counters), "dropped_values": self.dropped_values}
        if self.batcher is not None:
            stats["batches"] = list(self.batcher.batches)
        return stats

    # ------------------------------------------------------------------ assembling
    def _result(self, doc: DocumentData, outcomes: list[CallOutcome]) -> ExtractionResult:
        facts: list[Fact] = []
        dropped: list[Dropped] = []
        notes: list[str] = []
        leaves = [leaf for o in outcomes for leaf in o.leaves()]
        in_batch = [leaf for leaf in leaves if leaf.call.cache_key in self._batch_failed]
        if in_batch:  # a batch request that failed fails its document, with the reason
            reasons = "; ".join(dict.fromkeys(
                f"{leaf.call.section} (chunks {','.join(str(c.index) for c in leaf.call.chunks)}): "
                f"{leaf.error}" for leaf in in_batch))
            raise ModelError(f"{len(in_batch)} of {len(leaves)} model call(s) failed in the batch "
                             f"(a re-run submits them again): {reasons}")
        answered: dict[str, int] = {}
        for leaf in leaves:
            section = leaf.call.section
            if leaf.status != "ok" or leaf.reply is None:
                chunks = ",".join(str(c.index) for c in leaf.call.chunks)
                notes.append(f"{section} call (chunks {chunks}) {leaf.status}: {leaf.error}")
                continue
            answered[section] = answered.get(section, 0) + 1
            reply = SECTIONS[section].reply.model_validate(leaf.reply)
            found = reply_facts(section, reply, leaf.call.chunks, doc)
            facts += found.facts
            dropped += found.dropped
        planned_sections = {leaf.call.section for leaf in leaves}
        for section in sorted(planned_sections - set(answered)):
            notes.append(f"section {section}: no answer (every call failed; see the run's model calls)")
        if dropped:
            notes.append(f"{len(dropped)} value(s) dropped: quote not in chunk or value not in quote")
        self.dropped_values += len(dropped)
        return ExtractionResult(facts=dedupe(facts), notes=notes, stats=_stats(leaves, dropped))


def _stats(leaves: list[CallOutcome], dropped: list[Dropped]) -> dict[str, Any]:
    sent = [o for o in leaves if not o.cached]
    return {
        "model_calls": len(leaves),
        "cached_calls": sum(o.cached for o in leaves),
        "failed_calls": sum(o.status not in {"ok", "skipped"} for o in leaves),
        "skipped_calls": sum(o.status == "skipped" for o in leaves),
        "tokens_in": sum(o.tokens_in for o in sent),
        "tokens_out": sum(o.tokens_out for o in sent),
        "latency_s": round(sum(o.latency_s for o in sent), 3),
        "cost_usd": round(sum(o.cost_usd for o in sent), 6),
        "dropped_values": len(dropped),
        "dropped": [asdict(d) for d in dropped[:MAX_DROPPED_LISTED]],
    }
