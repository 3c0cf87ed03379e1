"""Stored tables and cells: the table layer's output kept beside a document's pages.

A document's tables are read once at ingest; later runs, the ``tables`` command and the
review page read them back from here instead of re-reading the PDF. One ``doctable`` row
per table and one ``doccell`` row per grid cell (merged cells once). Boxes are four
float columns rather than JSON, and cells go in with one multi-row INSERT per document:
a report holds a few thousand cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Column, Text, insert
from sqlmodel import Field, Session, SQLModel, col, select

from extractor.core.types import BBox, Cell, Table


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


class DocCell(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    table_id: int = Field(foreign_key="doctable.id", index=True)
    row: int
    col: int
    row_span: int = 1
    col_span: int = 1
    text: str = Field(default="", sa_column=Column(Text))
    x0: float | None = None
    y0: float | None = None
    x1: float | None = None
    y1: float | None = None
    page: int | None = None
    start: int | None = None
    end: int | None = None
    is_header: bool = False
    header_path: list[str] | None = Field(default=None, sa_column=Column(JSON))
    row_label: str | None = None


def _box(bbox: BBox | None) -> dict[str, float | None]:
    x0, y0, x1, y1 = bbox if bbox is not None else (None, None, None, None)
    return {"x0": x0, "y0": y0, "x1": x1, "y1": y1}


def _bbox(row: DocTable | DocCell) -> BBox | None:
    if row.x0 is None or row.y0 is None or row.x1 is None or row.y1 is None:
        return None
    return (row.x0, row.y0, row.x1, row.y1)


def save_tables(s: Session, document: str, tables: Sequence[Table]) -> None:
    """Insert a document's tables and their cells within the caller's transaction."""
    if not tables:
        return
    rows = [DocTable.model_validate({
        "document": document, "index": t.index, "page": t.page, "pages": list(t.pages),
        "n_rows": t.n_rows, "n_cols": t.n_cols, "header_rows": t.header_rows, "title": t.title,
        "unit": t.unit, "source": t.source, "continued": t.continued, "start": t.start,
        "end": t.end, **_box(t.bbox)}) for t in tables]
    s.add_all(rows)
    s.flush()
    cells: list[dict[str, Any]] = []
    for row, table in zip(rows, tables, strict=True):
        cells.extend({"table_id": row.id, "row": c.row, "col": c.col, "row_span": c.row_span,
                      "col_span": c.col_span, "text": c.text, "page": c.page,
                      "start": c.start, "end": c.end,
                      "is_header": c.is_header, "header_path": list(c.header_path) or None,
                      "row_label": c.row_label or None, **_box(c.bbox)} for c in table.cells)
    if cells:
        s.execute(insert(DocCell), cells)


def load_tables(s: Session, document: str) -> list[Table]:
    """A document's tables with their cells, in document order."""
    rows = list(s.exec(select(DocTable).where(DocTable.document == document)
                       .order_by(col(DocTable.index))))
    if not rows:
        return []
    ids = [r.id for r in rows]
    by_table: dict[int, list[Cell]] = {}
    for c in s.exec(select(DocCell).where(col(DocCell.table_id).in_(ids))
                    .order_by(col(DocCell.table_id), col(DocCell.row), col(DocCell.col))):
        by_table.setdefault(c.table_id, []).append(Cell(
            row=c.row, col=c.col, text=c.text, bbox=_bbox(c), row_span=c.row_span,
            col_span=c.col_span, is_header=c.is_header, header_path=list(c.header_path or []),
            row_label=c.row_label or "", page=c.page, start=c.start, end=c.end))
    return [Table(index=r.index, page=r.page, cells=by_table.get(r.id or -1, []), n_rows=r.n_rows,
                  n_cols=r.n_cols, header_rows=r.header_rows, bbox=_bbox(r), title=r.title,
                  unit=r.unit, pages=list(r.pages or [r.page]), continued=r.continued,
                  source=r.source, start=r.start, end=r.end) for r in rows]
