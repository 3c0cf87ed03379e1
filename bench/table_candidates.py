"""Table readers from PyPI, measured on real pages before choosing one.

Run from the repository root with an interpreter that has the candidates (they are not
project dependencies; install them in a separate venv)::

    python -m venv --system-site-packages /tmp/cand
    /tmp/cand/bin/pip install pdfplumber camelot-py img2table
    PYTHONPATH=$PWD /tmp/cand/bin/python -m bench.table_candidates

A candidate whose package is missing is skipped with a message. Each reader returns, per
page, its tables as grids of cell texts (a merged cell's text at its top-left position);
a cell counts as exact when its text (whitespace removed) equals the truth at the same
row and column. Truth: the figures-only fixture of the real PDF
(``eval/tables_extra/putuo_czj_2024_final.json``). Scanned: the same pages rendered at 200
dpi and degraded like a scan, structure from the candidate, text from RapidOCR boxes placed
by centre (so only the structure is compared; img2table has no RapidOCR binding).
On the national template (no figures to check) it prints tables found and grid shapes
beside the ruling grids drawn in the page's vector graphics, and seconds per page.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pymupdf

from bench.tables import PUTUO_FIXTURE, PUTUO_PDF, SCAN_DPI, ScanReader, Score, degrade, is_figure, norm
from extractor.ingest import render
from extractor.ocr import TextBox
from extractor.tables.scan import join_cell_text, read_scanned_tables

_pymupdf: Any = pymupdf
TEMPLATE = Path("/work/shared/extra/national_template_final_accounts.pdf")
Grid = list[list[str]]
PageGrids = dict[int, list[Grid]]
Candidate = Callable[[Path, Sequence[int]], PageGrids]


def _grid_from_rows(rows: Sequence[Sequence[Any]]) -> Grid:
    return [[norm(str(c)) if c is not None else "" for c in row] for row in rows]


# --------------------------------------------------------------------------- born-digital


def pymupdf_extract(path: Path, pages: Sequence[int]) -> PageGrids:
    """``page.find_tables()`` and its own ``Table.extract()``."""
    with _pymupdf.open(path) as doc:
        return {n: [_grid_from_rows(t.extract()) for t in doc[n - 1].find_tables().tables]
                for n in pages}


def pymupdf_words(path: Path, pages: Sequence[int]) -> PageGrids:
    """``find_tables()`` cells, each filled with the words whose centre lies inside."""
    out: PageGrids = {}
    with _pymupdf.open(path) as doc:
        for n in pages:
            page = doc[n - 1]
            words = page.get_text("words")
            grids = []
            for table in page.find_tables().tables:
                grid = []
                for row in table.rows:
                    cells = []
                    for cell in row.cells:
                        if cell is None:
                            cells.append("")
                            continue
                        x0, y0, x1, y1 = cell
                        inside = sorted((w for w in words if x0 <= (w[0] + w[2]) / 2 <= x1
                                         and y0 <= (w[1] + w[3]) / 2 <= y1),
                                        key=lambda w: (round((w[1] + w[3]) / 8), w[0]))
                        cells.append(norm("".join(w[4] for w in inside)))
                    grid.append(cells)
                grids.append(grid)
            out[n] = grids
    return out


_MD_ROW = re.compile(r"^\|(.*)\|\s*$")


def pymupdf4llm_markdown(path: Path, pages: Sequence[int]) -> PageGrids:
    """``pymupdf4llm.to_markdown(page_chunks=True)``: Markdown tables parsed back to rows."""
    pymupdf4llm = importlib.import_module("pymupdf4llm")
    out: PageGrids = {}
    chunks = pymupdf4llm.to_markdown(str(path), pages=[n - 1 for n in pages], page_chunks=True)
    for n, chunk in zip(pages, chunks, strict=True):
        grids: list[Grid] = []
        current: Grid | None = None
        for line in chunk["text"].splitlines():
            match = _MD_ROW.match(line.strip())
            if not match:
                current = None
                continue
            cells = [norm(c.replace("<br>", "")) for c in match.group(1).split("|")]
            if all(set(c) <= set("-:") for c in cells):
                continue  # the header separator row
            if current is None:
                current = []
                grids.append(current)
            current.append(cells)
        out[n] = grids
    return out


def pdfplumber_tables(path: Path, pages: Sequence[int]) -> PageGrids:
    pdfplumber = importlib.import_module("pdfplumber")
    with pdfplumber.open(str(path)) as pdf:
        return {n: [_grid_from_rows(t) for t in pdf.pages[n - 1].extract_tables()] for n in pages}


def camelot_lattice(path: Path, pages: Sequence[int]) -> PageGrids:
    camelot = importlib.import_module("camelot")
    out: PageGrids = {}
    for n in pages:
        tables = camelot.read_pdf(str(path), pages=str(n), flavor="lattice")
        out[n] = [_grid_from_rows(t.df.values.tolist()) for t in tables]
    return out


def _img2table_grid(table: Any) -> Grid:
    grid: Grid = []
    seen: set[int] = set()
    for row in table.content.values():
        cells = []
        for cell in row:
            key = id(cell)
            cells.append("" if key in seen or cell.value is None else norm(str(cell.value)))
            seen.add(key)
        grid.append(cells)
    return grid


def img2table_pdf(path: Path, pages: Sequence[int]) -> PageGrids:
    document = importlib.import_module("img2table.document")
    pdf = document.PDF(str(path), pages=[n - 1 for n in pages])
    found = pdf.extract_tables(ocr=None, implicit_rows=False, borderless_tables=False)
    return {n: [_img2table_grid(t) for t in found.get(n - 1, [])] for n in pages}


BORN_DIGITAL: dict[str, Candidate] = {
    "PyMuPDF find_tables + extract()": pymupdf_extract,
    "PyMuPDF find_tables + words in cell": pymupdf_words,
    "pymupdf4llm to_markdown": pymupdf4llm_markdown,
    "pdfplumber extract_tables": pdfplumber_tables,
    "camelot lattice": camelot_lattice,
    "img2table PDF (text layer)": img2table_pdf,
}


# --------------------------------------------------------------------------- scanned


def _fill(cells: list[tuple[int, int, tuple[float, float, float, float]]],
          boxes: Sequence[TextBox]) -> Grid:
    """A grid from cell rectangles (row, col, pixel bbox), OCR boxes placed by centre."""
    n_rows = max((r for r, _, _ in cells), default=-1) + 1
    n_cols = max((c for _, c, _ in cells), default=-1) + 1
    grid: Grid = [[""] * n_cols for _ in range(n_rows)]
    for r, c, (x0, y0, x1, y1) in cells:
        inside = [b for b in boxes
                  if x0 <= sum(p[0] for p in b.quad) / 4 <= x1 and y0 <= sum(p[1] for p in b.quad) / 4 <= y1]
        grid[r][c] = norm(join_cell_text(inside))
    return grid


def img2table_image(image: Any, boxes: Sequence[TextBox]) -> list[Grid]:
    document = importlib.import_module("img2table.document")
    cv2 = importlib.import_module("cv2")
    _, buf = cv2.imencode(".png", image)
    found = document.Image(buf.tobytes()).extract_tables(ocr=None, implicit_rows=False,
                                                         borderless_tables=False)
    grids = []
    for table in found:
        cells = []
        seen: set[int] = set()
        for r, row in enumerate(table.content.values()):
            for c, cell in enumerate(row):
                if id(cell) in seen:
                    continue
                seen.add(id(cell))
                b = cell.bbox
                cells.append((r, c, (b.x1, b.y1, b.x2, b.y2)))
        grids.append(_fill(cells, boxes))
    return grids


def ours_image(image: Any, boxes: Sequence[TextBox]) -> list[Grid]:
    grids = []
    for table in read_scanned_tables(image, boxes, 1, SCAN_DPI / 72):
        grid: Grid = [[""] * table.n_cols for _ in range(table.n_rows)]
        for cell in table.cells:
            grid[cell.row][cell.col] = norm(cell.text)
        grids.append(grid)
    return grids


SCANNED: dict[str, Callable[[Any, Sequence[TextBox]], list[Grid]]] = {
    "extractor.tables.scan (ours)": ours_image,
    "img2table Image (structure) + RapidOCR boxes": img2table_image,
}


# --------------------------------------------------------------------------- scoring


def score(fixture: dict[str, Any], grids: PageGrids) -> Score:
    total = Score()
    for entry in fixture["tables"]:
        tables = grids.get(entry["page"], [])
        grid = tables[entry["index"]] if entry["index"] < len(tables) else []
        wanted = {(r, c): norm(t) for r, c, t in entry["cells"]}
        total.total += len(wanted)
        for r, row in enumerate(grid):
            for c, text in enumerate(row):
                if wanted.get((r, c)) == text and text:
                    total.exact += 1
                elif (r, c) not in wanted and is_figure(text):
                    total.extra += 1
    return total


def _report(label: str, result: Score, pages: int, seconds: float) -> None:
    share = result.exact / result.total if result.total else float("nan")
    print(f"  {label:<46} {result.exact:>4}/{result.total:<4} {share:8.2%}  extra {result.extra:<4}"
          f" {seconds / max(pages, 1):7.3f} s/page")


def _available(name: str) -> bool:
    module = {"pdfplumber": "pdfplumber", "camelot": "camelot", "img2table": "img2table",
              "pymupdf4llm": "pymupdf4llm"}.get(name.split(maxsplit=1)[0])
    if module is None:
        return True
    try:
        importlib.import_module(module)
    except ImportError as exc:
        print(f"  {name:<46} skipped: {exc}")
        return False
    return True


def run_born_digital(fixture: dict[str, Any], pages: list[int]) -> None:
    print(f"born-digital, {PUTUO_PDF.name}: {len(pages)} table pages, "
          f"{sum(len(t['cells']) for t in fixture['tables'])} figure cells")
    for name, candidate in BORN_DIGITAL.items():
        if not _available(name):
            continue
        start = time.perf_counter()
        grids = candidate(PUTUO_PDF, pages)
        _report(name, score(fixture, grids), len(pages), time.perf_counter() - start)


def run_scanned(fixture: dict[str, Any], pages: list[int], cache: Path | None) -> None:
    ocr = ScanReader(SCAN_DPI, degraded=False, cache=cache)
    for degraded in (False, True):
        kind = "degraded (skew 0.5-1.5 deg, blur, noise, JPEG)" if degraded else "clean"
        images, ocr_s = {}, 0.0
        with _pymupdf.open(PUTUO_PDF) as doc:
            for n in pages:
                image = render(doc[n - 1], SCAN_DPI)
                if degraded:
                    image = degrade(image, seed=n)
                start = time.perf_counter()
                images[n] = (image, ocr.ocr(image))
                ocr_s += time.perf_counter() - start
        print(f"scanned at {SCAN_DPI} dpi, {kind}; RapidOCR boxes shared by both readers"
              f" ({ocr_s / len(pages):.2f} s/page, cached when --ocr-cache is given):")
        for name, reader in SCANNED.items():
            if name.startswith("img2table") and not _available("img2table"):
                continue
            start = time.perf_counter()
            grids = {n: reader(image, boxes) for n, (image, boxes) in images.items()}
            _report(name, score(fixture, grids), len(pages), time.perf_counter() - start)


def run_template() -> None:
    if not TEMPLATE.exists():
        print(f"template: {TEMPLATE} not found; skipped")
        return
    with _pymupdf.open(TEMPLATE) as doc:
        pages = [p.number + 1 for p in doc if p.get_drawings()]
    print(f"national template: {len(pages)} pages with vector drawings; grid shapes (rows x cols):")
    for name, candidate in BORN_DIGITAL.items():
        if not _available(name):
            continue
        start = time.perf_counter()
        grids = candidate(TEMPLATE, pages)
        seconds = time.perf_counter() - start
        shapes = ["x".join((str(len(g)), str(max((len(r) for r in g), default=0)))) for n in pages
                  for g in grids.get(n, [])]
        print(f"  {name:<46} {len(shapes):>3} tables {seconds / len(pages):7.3f} s/page  "
              f"{' '.join(shapes)}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--no-scan", action="store_true", help="skip the scanned comparison (OCR)")
    parser.add_argument("--ocr-cache", type=Path, metavar="DIR", help="keep OCR boxes here (reruns skip OCR)")
    args = parser.parse_args(argv)
    fixture = json.loads(PUTUO_FIXTURE.read_text(encoding="utf-8"))
    pages = sorted({t["page"] for t in fixture["tables"]})
    run_born_digital(fixture, pages)
    run_template()
    if not args.no_scan:
        run_scanned(fixture, pages, args.ocr_cache)


if __name__ == "__main__":
    main()
