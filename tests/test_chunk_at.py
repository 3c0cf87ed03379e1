"""``FactSink.chunk_at`` by binary search picks the same chunk as a scan of every chunk."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from extractor.core.types import ChunkData, DocumentData, NormalizedText, PageText
from extractor.extractors.rules.patterns import FactSink


def _scan(chunks: list[ChunkData], offset: int) -> ChunkData | None:
    """The definition: the tightest chunk holding the offset (earliest on ties), else the next."""
    ordered = sorted(chunks, key=lambda c: (c.start, c.end))
    best = None
    for c in ordered:
        holds = c.start <= offset < max(c.end, c.start + 1)
        if holds and (best is None or c.end - c.start < best.end - best.start):
            best = c
    return best if best is not None else next((c for c in ordered if c.start > offset), None)


spans = st.lists(st.tuples(st.integers(0, 300), st.integers(0, 80)), min_size=0, max_size=25)


@settings(max_examples=300, deadline=None)
@given(spans, st.lists(st.integers(-5, 420), min_size=1, max_size=30))
def test_chunk_at_matches_a_scan_of_every_chunk(raw: list[tuple[int, int]], offsets: list[int]) -> None:
    text = "x" * 400
    chunks = [ChunkData(i, [f"h{i}"], "text", 1, 1, start, start + length, text[start:start + length], 1)
              for i, (start, length) in enumerate(raw)]  # overlapping, nested and empty chunks
    doc = DocumentData("d", "d.txt", "d", "text/plain", [PageText(1, text, "file")],
                       NormalizedText(text, list(range(len(text)))), [0], chunks=chunks)
    sink = FactSink(doc)
    for offset in offsets:
        assert sink.chunk_at(offset) is _scan(chunks, offset)
