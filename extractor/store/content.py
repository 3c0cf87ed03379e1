"""A document's text, stored once and compressed.

The normalized text, its offset map (runs), the raw text of every page and the chunks are
one LZMA-compressed JSON value in ``document.content``. The raw pages differ from the
normalized text in a few characters, so with a dictionary as large as the value they cost
almost nothing beside it (measured on the samples: normalized text alone 176 KB for ten
reports, everything 201 KB, against 2.1 MB as three plain copies). A chunk whose text is
exactly its span of the normalized text (most are) is stored as the span only.
"""

from __future__ import annotations

import json
import lzma
from dataclasses import dataclass
from typing import Any

from extractor.core.types import ChunkData, DocumentData, NormalizedText
from extractor.database import pack_offsets, unpack_offsets

FORMAT = 1
"""Version of the packed layout (``v`` in the value), so a later layout can read this one."""


def compress(data: bytes) -> bytes:
    """LZMA with a dictionary that covers the whole value (up to 16 MiB, about 120 MB of
    encoder memory), at preset 1: the raw copy of a text is found however far back the
    normalized one is, at a few milliseconds per report."""
    size = 1 << max(16, min(24, (len(data) - 1).bit_length()))
    return lzma.compress(data, format=lzma.FORMAT_XZ,
                         filters=[{"id": lzma.FILTER_LZMA2, "preset": 1, "dict_size": size}])


def decompress(blob: bytes) -> bytes:
    return lzma.decompress(blob)


def pack_json(value: Any) -> bytes:
    return compress(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def unpack_json(blob: bytes) -> Any:
    return json.loads(decompress(blob))


@dataclass
class Content:
    """What ``document.content`` holds, decoded."""

    text: str
    offsets: list[int]
    pages: list[str]
    chunks: list[ChunkData]


def pack(doc: DocumentData) -> bytes:
    """A document's text, offsets, raw pages and chunks as one compressed value."""
    text = doc.normalized.text
    return pack_json({
        "v": FORMAT, "text": text, "offsets": pack_offsets(doc.normalized.offsets),
        "pages": [p.raw for p in doc.pages],
        "chunks": [[c.index, c.heading_path, c.kind, c.page_start, c.page_end, c.start, c.end,
                    c.tokens, None if c.text == text[c.start:c.end] else c.text] for c in doc.chunks]})


def pack_parts(text: str, offsets: Any, pages: list[str], chunks: list[list[Any]]) -> bytes:
    """The same value from stored parts (the migration from separate columns): ``offsets``
    as runs or a plain list, ``chunks`` as rows in :func:`pack`'s order."""
    runs = pack_offsets(unpack_offsets(offsets)) if not isinstance(offsets, dict) else offsets["runs"]
    return pack_json({"v": FORMAT, "text": text, "offsets": runs, "pages": pages, "chunks": chunks})


def unpack(blob: bytes) -> Content:
    data = unpack_json(blob)
    text: str = data["text"]
    chunks = [ChunkData(index, list(path or []), kind, ps, pe, start, end,
                        text[start:end] if own is None else own, tokens)
              for index, path, kind, ps, pe, start, end, tokens, own in data["chunks"]]
    return Content(text, unpack_offsets({"runs": data["offsets"]}), list(data["pages"]), chunks)


def normalized(content: Content) -> NormalizedText:
    return NormalizedText(content.text, content.offsets)
