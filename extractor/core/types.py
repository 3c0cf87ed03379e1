"""Pipeline data and the two small interfaces: :class:`Extractor` and :class:`Backend`.

Pipeline steps pass these plain dataclasses; the store persists them. Interfaces are
Protocols so backends and extractors need not inherit from anything of ours.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

from extractor.core.records import Fact

M = TypeVar("M", bound=BaseModel)


@dataclass
class PageText:
    """One page as read: raw text, where it came from and how sure the reader was."""

    number: int
    raw: str
    source: str
    """``text-layer``, ``ocr:rapidocr``, ``ocr:tesseract`` or ``file``."""
    confidence: float | None = None


@dataclass
class NormalizedText:
    """A clean view of raw text. ``offsets[i]`` is the raw index of ``text[i]``;
    ``offsets`` has one extra entry (the raw length) so spans map with ``offsets[end]``."""

    text: str
    offsets: list[int]

    def raw_span(self, start: int, end: int) -> tuple[int, int]:
        """Raw ``[start, end)`` covering normalized ``[start, end)``."""
        if end <= start:
            return self.offsets[start], self.offsets[start]
        return self.offsets[start], self.offsets[end - 1] + 1


@dataclass
class ChunkData:
    """A piece of a document cut along its own structure.

    ``start``/``end`` index the document's normalized text (pages joined by ``\\n``).
    ``kind`` is ``text`` or ``table``; a table chunk repeats its header rows when a long
    table is split, so ``text`` may hold lines that also appear in a sibling chunk.
    """

    index: int
    heading_path: list[str]
    kind: str
    page_start: int
    page_end: int
    start: int
    end: int
    text: str
    tokens: int


BBox = tuple[float, float, float, float]
"""``(x0, y0, x1, y1)`` in PDF points on the page, origin top-left (PyMuPDF's convention).
Scanned pages and images use the same space: pixel boxes are divided by ``dpi / 72``."""


@dataclass
class Cell:
    """One cell of a table grid, as printed.

    ``row``/``col`` are 0-based grid positions of the cell's top-left corner; a merged cell
    spans ``row_span`` x ``col_span`` grid positions and appears once. ``text`` is the
    cell's whole text (a name wrapped over two lines is one cell: lines joined without a
    separator for CJK). ``header_path`` lists the column headers above the cell from the
    outermost down (``["本年支出", "基本支出"]``); ``row_label`` is the label of its row
    (the left-most non-numeric cells, joined). Both are filled by the table layer so a
    value can be read by meaning: row label x column header.
    """

    row: int
    col: int
    text: str
    bbox: BBox | None = None
    row_span: int = 1
    col_span: int = 1
    is_header: bool = False
    header_path: list[str] = field(default_factory=list)
    row_label: str = ""
    start: int | None = None
    end: int | None = None
    """Where the cell's text lies in the document's normalized text, when known (plain-text
    tables always; PDF tables when the table layer maps them), so evidence can cite offsets."""
    page: int | None = None
    """The page this cell is printed on, where it differs from the table's first page
    (rows of a table continued across pages); ``None`` means :attr:`Table.page`."""


@dataclass
class Table:
    """A table as printed: its grid of cells, where it stands and what it is called.

    ``page`` is the 1-based page of its first row; a table broken across pages is one
    :class:`Table` whose ``pages`` lists every page it covers (``continued`` marks a part
    that continues the previous page's table when the parts are kept apart). ``title`` is
    the line printed above it (``收入支出决算总表``), ``unit`` the unit line (``万元``/``元``).
    ``source`` is ``text-layer``, ``ocr`` or ``text`` (rows of a plain-text input), or
    ``text-layout`` (space-aligned plain text: a cell's column is its place in its row).
    ``start``/``end`` index the document's normalized text where the table's text lies,
    when known, so facts read from cells can also cite offsets.
    """

    index: int
    page: int
    cells: list[Cell]
    n_rows: int
    n_cols: int
    header_rows: int = 0
    bbox: BBox | None = None
    title: str | None = None
    unit: str | None = None
    pages: list[int] = field(default_factory=list)
    continued: bool = False
    source: str = "text-layer"
    start: int | None = None
    end: int | None = None

    def cell(self, row: int, col: int) -> Cell | None:
        """The cell covering grid position ``(row, col)``, spans included."""
        for c in self.cells:
            if c.row <= row < c.row + c.row_span and c.col <= col < c.col + c.col_span:
                return c
        return None

    def rows(self) -> list[list[Cell]]:
        """Cells grouped by their top row, left to right."""
        out: list[list[Cell]] = [[] for _ in range(self.n_rows)]
        for c in self.cells:
            if 0 <= c.row < self.n_rows:
                out[c.row].append(c)
        for r in out:
            r.sort(key=lambda c: c.col)
        return out


@dataclass
class DocumentData:
    """Everything ingest and chunking know about one document, before it is stored."""

    doc_id: str
    path: str
    sha256: str
    media_type: str
    pages: list[PageText]
    normalized: NormalizedText
    page_starts: list[int]
    """Normalized-text offset where each page begins."""
    chunks: list[ChunkData] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    """Tables read by the table layer (ingest); empty until it has run."""

    def page_at(self, offset: int) -> int:
        """1-based page number holding a normalized-text offset (a binary search: chunking
        asks once per chunk, and a long document has thousands of both)."""
        return max(1, bisect.bisect_right(self.page_starts, offset))


@dataclass
class ExtractionResult:
    """What an extractor returns for one document."""

    facts: list[Fact]
    notes: list[str] = field(default_factory=list)
    """Human-readable remarks (not a report, calls that failed, values dropped)."""
    stats: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Extractor(Protocol):
    """Chunks in, evidence-carrying facts out. ``name`` goes into every stored run."""

    name: str

    def extract(self, doc: DocumentData) -> ExtractionResult: ...


@runtime_checkable
class Backend(Protocol):
    """A model behind one call: messages and a response model in, a validated record out.

    Capabilities are attributes, not methods, so callers can plan without probing.
    """

    name: str
    model: str
    supports_json_schema: ClassVar[bool]

    async def complete(self, messages: Sequence[dict[str, str]], response_model: type[M],
                       *, max_tokens: int) -> tuple[M, dict[str, Any]]:
        """Return the record and call metadata (tokens in/out, finish reason, latency)."""
        ...


@dataclass(frozen=True)
class BatchState:
    """Where a submitted batch (OpenAI Batch API) stands, as the endpoint reports it."""

    batch_id: str
    status: str
    """``validating``, ``in_progress``, ``finalizing``, ``completed``, ``failed``,
    ``expired``, ``cancelling`` or ``cancelled``."""
    input_file_id: str = ""
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: tuple[str, ...] = ()
    """Why the batch as a whole failed (validation of the input file), one line each."""

    @property
    def finished(self) -> bool:
        return self.status in {"completed", "failed", "expired", "cancelled"}


@runtime_checkable
class BatchBackend(Protocol):
    """A backend that can also send many calls as one asynchronous batch (file in, file out).

    Each request line is built from the same messages and response model as
    :meth:`Backend.complete` and each reply is parsed by ``parse_stored``, so a batch
    gives the records the synchronous path gives.
    """

    def batch_line(self, custom_id: str, messages: Sequence[dict[str, str]],
                   response_model: type[BaseModel], *, max_tokens: int) -> dict[str, Any]: ...

    async def upload_batch_file(self, data: bytes, name: str) -> str: ...

    async def create_batch(self, input_file_id: str, metadata: dict[str, str]) -> BatchState: ...

    async def find_batch(self, input_file_id: str) -> BatchState | None: ...

    async def batch_state(self, batch_id: str) -> BatchState: ...

    async def file_text(self, file_id: str) -> str: ...

    def parse_stored(self, raw: dict[str, Any], response_model: type[M]) -> M: ...
