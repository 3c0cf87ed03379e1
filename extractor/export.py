"""A run's figures as a table for pandas, R and DuckDB: JSON, CSV or Parquet.

Two shapes of the same stored facts (the primary fact of each contract slot, as in the
prediction files):

* **long**: one row per document and field, with ``document, field, value, unit, status,
  quote, page``, the shape for filtering, joining with gold, or counting statuses;
* **wide**: one row per document, one column per field path (values only), the shape a
  spreadsheet user expects.

Values keep their contract units (amounts in 万元, see ``unit``); names stay text, so the
``value`` column of the long form is text in CSV and Parquet (a column cannot hold both),
with ``number`` beside it as a float where the value is numeric.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Literal

from extractor.core.errors import ConfigError
from extractor.core.records import field_kind, slot_facts
from extractor.store import Store

Format = Literal["json", "csv", "parquet"]
Shape = Literal["long", "wide"]
LONG_COLUMNS = ("document", "field", "value", "number", "unit", "status", "quote", "page")
_UNITS = {"amount": "万元", "count": "count", "score": "score"}


def unit_of(path: str) -> str | None:
    """The unit a slot's value is in (contract conventions), or None for names and years."""
    return _UNITS.get(field_kind(path))


def long_rows(store: Store, run_id: int) -> list[dict[str, Any]]:
    """One row per document and filled slot of a run (failed documents have none)."""
    names = {d.sha256: d.doc_id for d in store.documents()}
    rows: list[dict[str, Any]] = []
    for rd in store.run_documents(run_id):
        if rd.status == "failed":
            continue
        for path, fact in slot_facts(store.facts(run_id, rd.document)).items():
            value = fact.value
            number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
            rows.append({"document": names.get(rd.document, rd.document), "field": path,
                         "value": None if value is None else str(value), "number": number,
                         "unit": unit_of(path), "status": fact.status.value,
                         "quote": fact.evidence.quote if fact.evidence else None,
                         "page": fact.evidence.page if fact.evidence else None})
    return rows


def wide_rows(long: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per document; columns ``document`` then every field path seen, in order."""
    by_doc: dict[str, dict[str, Any]] = {}
    for row in long:
        by_doc.setdefault(row["document"], {"document": row["document"]})[row["field"]] = (
            row["number"] if row["number"] is not None else row["value"])
    return list(by_doc.values())


def _columns(rows: list[dict[str, Any]], shape: Shape) -> list[str]:
    if shape == "long":
        return list(LONG_COLUMNS)
    seen: dict[str, None] = {"document": None}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def export_table(store: Store, run_id: int, out: Path, fmt: Format, shape: Shape = "long") -> int:
    """Write the run's table to ``out``; returns the number of rows written."""
    store.get_run(run_id)
    rows = long_rows(store, run_id)
    if shape == "wide":
        rows = wide_rows(rows)
    columns = _columns(rows, shape)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        out.write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    elif fmt == "csv":
        with out.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, restval="")
            writer.writeheader()
            writer.writerows(rows)
    elif fmt == "parquet":
        _write_parquet(rows, columns, shape, out)
    else:
        raise ConfigError(f"unknown export format {fmt!r}: choose json, csv or parquet")
    return len(rows)


def _write_parquet(rows: list[dict[str, Any]], columns: list[str], shape: Shape, out: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if shape == "long":
        schema = pa.schema([("document", pa.string()), ("field", pa.string()), ("value", pa.string()),
                            ("number", pa.float64()), ("unit", pa.string()), ("status", pa.string()),
                            ("quote", pa.string()), ("page", pa.int32())])
    else:  # numbers as float columns, names (department, list item labels) as text
        schema = pa.schema([(c, pa.string() if c == "document" or any(
            isinstance(r.get(c), str) for r in rows) else pa.float64()) for c in columns])
        rows = [{c: (str(r[c]) if schema.field(c).type == pa.string() and r.get(c) is not None
                     else r.get(c)) for c in columns} for r in rows]
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), out)
