"""Stored tables and cells: the table layer's output kept beside a document's pages.

A document's tables are read once at ingest; later runs, the ``tables`` command and the
review page read them back from here instead of re-reading the PDF. One ``doctable`` row
per table (title, unit, pages, box: what one may query) with its grid cells (merged cells
once) as one compressed value: a report holds a few thousand cells, which as one row each
were more than half of a born-digital report's database (114 bytes a cell plus an index).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary
from sqlmodel import Field, Session, SQLModel, col, select

from extractor.core.types import BBox, Cell, Table
from extractor.store.content import pack_json, unpack_json


class DocTable(SQLModel, table=True):
    """One table of a document (continued parts merged: ``pages`` lists them all)."""

    id: int | None = Field(default=None, primary_key=True)
    document: str = Field(foreign_key="document.sha256", index=True)
    index: int
    page: int
    pages: list[int] | None = Field(default=None, sa_column=Column(JSON))
    n_rows: int
    n_cols: int
    header_rows: int = 0
    x0: float | None = None
    y0: float | None = None
    x1: float | None = None
    y1: float | None = None
    title: str | None = None
    unit: str | None = None
    source: str = "text-layer"
    continued: bool = False
    start: int | None = None
    end: int | None = None
    cells: int = 0
    grid: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    """The cells, compressed (:func:`pack_cells`)."""


def _box(bbox: BBox | None) -> dict[str, float | None]:
    x0, y0, x1, y1 = bbox if bbox is not None else (None, None, None, None)
    return {"x0": x0, "y0": y0, "x1": x1, "y1": y1}


def _bbox(row: DocTable) -> BBox | None:
    if row.x0 is None or row.y0 is None or row.x1 is None or row.y1 is None:
        return None
    return (row.x0, row.y0, row.x1, row.y1)


CELL_FIELDS = ("row", "col", "row_span", "col_span", "text", "bbox", "page", "start", "end",
               "is_header", "header_path", "row_label")
"""A packed cell is a list of these, in this order (the names once, not per cell)."""


def pack_cells(cells: Sequence[dict[str, Any]]) -> bytes:
    """Cells given as dicts of :data:`CELL_FIELDS`, as one compressed value."""
    return pack_json({"fields": CELL_FIELDS, "cells": [[c[k] for k in CELL_FIELDS] for c in cells]})


def _cells(blob: bytes) -> list[Cell]:
    data = unpack_json(blob)
    out = []
    for values in data["cells"]:
        c = dict(zip(data["fields"], values, strict=True))
        box = c["bbox"]
        out.append(Cell(row=c["row"], col=c["col"], text=c["text"],
                        bbox=(box[0], box[1], box[2], box[3]) if box else None,
                        row_span=c["row_span"], col_span=c["col_span"], is_header=c["is_header"],
                        header_path=list(c["header_path"] or []), row_label=c["row_label"] or "",
                        page=c["page"], start=c["start"], end=c["end"]))
    return out


def save_tables(s: Session, document: str, tables: Sequence[Table]) -> None:
    """Insert a document's tables with their cells within the caller's transaction."""
    if not tables:
        return
    s.add_all(DocTable.model_validate({
        "document": document, "index": t.index, "page": t.page, "pages": list(t.pages),
        "n_rows": t.n_rows, "n_cols": t.n_cols, "header_rows": t.header_rows, "title": t.title,
        "unit": t.unit, "source": t.source, "continued": t.continued, "start": t.start,
        "end": t.end, "cells": len(t.cells), **_box(t.bbox),
        "grid": pack_cells([{"row": c.row, "col": c.col, "row_span": c.row_span,
                             "col_span": c.col_span, "text": c.text,
                             "bbox": list(c.bbox) if c.bbox else None, "page": c.page,
                             "start": c.start, "end": c.end, "is_header": c.is_header,
                             "header_path": list(c.header_path) or None,
                             "row_label": c.row_label or None} for c in t.cells])})
        for t in tables)


def load_tables(s: Session, document: str) -> list[Table]:
    """A document's tables with their cells, in document order."""
    rows = list(s.exec(select(DocTable).where(DocTable.document == document)
                       .order_by(col(DocTable.index))))
    return [Table(index=r.index, page=r.page, cells=_cells(r.grid), n_rows=r.n_rows,
                  n_cols=r.n_cols, header_rows=r.header_rows, bbox=_bbox(r), title=r.title,
                  unit=r.unit, pages=list(r.pages or [r.page]), continued=r.continued,
                  source=r.source, start=r.start, end=r.end) for r in rows]
