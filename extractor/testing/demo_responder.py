"""A demo "model" for :class:`~extractor.testing.fake_openai.FakeOpenAI`: it answers section
prompts the way a competent model would, by reading the chunks it was sent with the rules
extractor.

Why: the model path (routing, prompts, caching, evidence checks, accounting) can then run
end to end with no model and no network, in tests, in the benchmark and as the README's
demo endpoint::

    python -m extractor.testing.demo_responder --port 8765 --latency-ms 300
    extractor run data/samples --extractor model --base-url http://127.0.0.1:8765/v1 --model demo

The responder knows only what is in the request: the section (the marker on the system
prompt's first line) and the chunks (the first user message, in the layout
:func:`extractor.prompts.user_message` writes). It answers with figures as printed and
verbatim quotes, exactly the shape the response model asks for, so everything downstream
is exercised for real; it never sees the gold files.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from extractor.chunk import chunk_document
from extractor.core.records import Fact, field_kind, primary_facts
from extractor.core.types import DocumentData, PageText
from extractor.extractors.model.evidence import ZERO_PHRASES
from extractor.extractors.model.schemas import SECTIONS
from extractor.extractors.rules import RulesExtractor
from extractor.normalize import normalize_pages
from extractor.numbers import NUMBER_RE, UNIT_FACTORS, parse_decimal
from extractor.prompts import parse_user_message, section_of_message
from extractor.testing.fake_openai import Reply
from extractor.testing.fake_openai import main as fake_main

_CHUNK_BUDGET = 100_000
"""The request's text is already one call's worth: keep it as one chunk."""


def respond(request: dict[str, Any]) -> Reply:
    """The :data:`~extractor.testing.fake_openai.Handler` to serve: request JSON -> reply."""
    messages = request.get("messages") or []
    system = next((m.get("content") for m in messages if m.get("role") == "system"), None)
    # the chunks are in the prompt's user message; a re-ask appends instructor's own after it
    user = next((m.get("content") for m in messages if m.get("role") == "user"), None)
    section = section_of_message(system) if isinstance(system, str) else None
    if section not in SECTIONS or not isinstance(user, str):
        return Reply.http_error(400, "demo responder: not a section prompt of this project")
    return Reply.json(answer(section, read_facts(request_document(user))))


def request_document(user_text: str) -> DocumentData:
    """The chunks of a request as a small document (each under its heading lines)."""
    lines: list[str] = []
    previous: list[str] = []
    for sent in parse_user_message(user_text):
        depth = 0
        while depth < min(len(previous), len(sent.heading_path)) and \
                previous[depth] == sent.heading_path[depth]:
            depth += 1
        lines += sent.heading_path[depth:]
        lines.append(sent.text)
        previous = sent.heading_path
    text = "\n".join(lines)
    pages = [PageText(1, text, "file")]
    norm, starts = normalize_pages(pages)
    doc = DocumentData("request", "request", "request", "text/plain", pages, norm, starts)
    doc.chunks = chunk_document(doc, _CHUNK_BUDGET)
    return doc


def read_facts(doc: DocumentData) -> list[Fact]:
    """The rules extractor's readings, without its whole-document gate (a request holds
    only a few chunks, too few for it to recognise a final-accounts report)."""
    return RulesExtractor().read(doc)


def _cited(fact: Fact) -> dict[str, Any] | None:
    """A fact as the model would cite it: the figure as printed, its unit, the quote."""
    if fact.evidence is None:
        return None
    quote = fact.evidence.quote
    raw = (fact.raw or "").strip()
    if field_kind(fact.field) == "name":
        return {"value": str(fact.value), "quote": quote}
    number = NUMBER_RE.search(raw)
    if number is None:
        stated_zero = fact.value == 0 and any(p in quote for p in ZERO_PHRASES)
        return {"value": "0", "quote": quote} if stated_zero else None
    cited: dict[str, Any] = {"value": raw, "quote": quote}
    if field_kind(fact.field) == "amount" and not re.search(r"[元]", raw[number.end():]):
        cited["unit"] = _unit(parse_decimal(number.group(0))[0], fact.value)
    return cited


def _unit(printed: Decimal, value: object) -> str | None:
    """The unit that turns the printed figure into the fact's 万元 value."""
    if not isinstance(value, int | float):
        return None
    for unit, factor in UNIT_FACTORS.items():
        if abs(float(printed * factor) - float(value)) <= 1e-6 * max(1.0, abs(float(value))):
            return unit
    return None


def answer(section: str, facts: Sequence[Fact]) -> dict[str, Any]:
    """The reply for ``section``: the best-supported fact per slot, shaped as the schema."""
    spec = SECTIONS[section]
    usable = [f for f in facts if not f.field.startswith("aux.") and _cited(f) is not None]
    best = primary_facts(usable)
    reply: dict[str, Any] = {}
    for attr, path in spec.scalars.items():
        fact = next((f for f in best if f.field == path and f.key is None), None)
        if fact is not None:
            reply[attr] = _cited(fact)
    for attr, lspec in spec.lists.items():
        rows: dict[tuple[str, ...], dict[str, Any]] = {}
        for fact in best:
            if fact.list_path != lspec.path or fact.key is None:
                continue
            row = rows.setdefault(fact.item_key(), {a: fact.key.get(k) for k, a in lspec.keys.items()})
            leaf = fact.field.rsplit(".", 1)[1]
            if leaf in lspec.values:
                row[lspec.values[leaf]] = _cited(fact)
        reply[attr] = list(rows.values())
    return spec.reply.model_validate(reply).model_dump(mode="json", exclude_none=True)


def main(argv: Sequence[str] | None = None) -> None:
    """The demo endpoint: the fake server answering through :func:`respond`."""
    fake_main(argv, default_handler=respond, prog="python -m extractor.testing.demo_responder",
              label="demo model (any model name)")


if __name__ == "__main__":
    main()
