"""Which chunks each section is sent, and how they are packed into calls.

Sending the whole document once per section would cost sections x document tokens;
almost every figure of a section sits under one heading of the report's fixed outline
(二、收入决算情况说明, 公开07表 ...) or in a chunk using the section's own wording. So a
section gets the chunks whose heading path starts with one of its heading keywords, or
whose text has enough of its body keywords and holds figures, never glossary or
contact chunks. Each chunk goes to a section at most once; the routed chunks are packed
in document order into as few calls as fit :attr:`RoutingConfig.batch_tokens`, so
neighbouring chunks (a table and the narrative that names it) often share a call.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from extractor.core.types import ChunkData
from extractor.prompts import Routing

_ENUM = re.compile(r"^[\s\-*#•·]*(?:第[一二三四五六七八九十]+部分|[一二三四五六七八九十]{1,3}[、.．]"
                   r"|[（(]\s*[一二三四五六七八九十\d]{1,3}\s*[)）]|\d{1,2}[、.．])?\s*")
_NOISE = re.compile(r"[\s\"'“”‘’「」『』]")
_FIGURE = re.compile(r"\d")


@dataclass(frozen=True)
class RoutingConfig:
    """How routed chunks become calls.

    ``batch_tokens`` caps the chunk text of one call: large enough that a section costs a
    handful of calls (each repeats the prompt prefix), small enough that a list section's
    answer stays well under ``max_tokens``. ``whole_document`` sends every chunk to every
    section in one call each: the baseline the benchmark compares routing with.
    """

    batch_tokens: int = 3000
    whole_document: bool = False


def _key(text: str) -> str:
    return _NOISE.sub("", text)


def _heading_hits(routing: Routing, path: Sequence[str]) -> bool:
    levels = [_key(_ENUM.sub("", level, count=1)) for level in path]
    return any(level.startswith(_key(word)) for word in routing.headings for level in levels)


def _excluded(routing: Routing, path: Sequence[str]) -> bool:
    joined = _key("".join(path))
    return any(_key(word) in joined for word in routing.exclude)


def routed(routing: Routing, chunks: Sequence[ChunkData]) -> list[ChunkData]:
    """The chunks that can hold the section's values, in document order, each once."""
    out = []
    always = [_key(word) for word in routing.always]
    body_words = [_key(word) for word in routing.body]
    for position, chunk in enumerate(chunks):
        body = _key(chunk.text)
        if any(word in body for word in always):
            out.append(chunk)
            continue
        if routing.kinds and chunk.kind not in routing.kinds:
            continue
        if position < routing.first_chunks:
            out.append(chunk)
            continue
        if _excluded(routing, chunk.heading_path):
            continue
        if _heading_hits(routing, chunk.heading_path):
            out.append(chunk)
            continue
        if body_words and _FIGURE.search(chunk.text):
            hits = sum(word in body for word in body_words)
            if hits >= routing.min_body_hits:
                out.append(chunk)
    return out


def batches(chunks: Sequence[ChunkData], config: RoutingConfig) -> list[tuple[ChunkData, ...]]:
    """Consecutive routed chunks packed under the token cap (a bigger chunk goes alone)."""
    if config.whole_document:
        return [tuple(chunks)] if chunks else []
    out: list[tuple[ChunkData, ...]] = []
    current: list[ChunkData] = []
    used = 0
    for chunk in chunks:
        if current and used + chunk.tokens > config.batch_tokens:
            out.append(tuple(current))
            current, used = [], 0
        current.append(chunk)
        used += chunk.tokens
    if current:
        out.append(tuple(current))
    return out


def split(chunks: Sequence[ChunkData]) -> list[tuple[ChunkData, ...]]:
    """Halve a batch whose answer did not fit (by tokens, keeping document order)."""
    if len(chunks) < 2:
        return []
    total = sum(c.tokens for c in chunks)
    used = 0
    for cut in range(1, len(chunks)):
        used += chunks[cut - 1].tokens
        if used * 2 >= total:
            return [tuple(chunks[:cut]), tuple(chunks[cut:])]
    return [tuple(chunks[:-1]), tuple(chunks[-1:])]
