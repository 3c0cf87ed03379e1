"""Table benchmark: cell accuracy of the table readers, born-digital and scanned.

Run from the repository root: ``python -m bench.tables`` (``--help`` for the parts). A cell
counts as exact when its text (whitespace removed) equals the truth *and* it stands in the
right row and column. It prints, per input set:

- **putuo** (the real PDF in ``/work/shared/extra``) against the figures-only fixture
  ``eval/tables_extra/putuo_czj_2024_final.json`` (every number and code cell of every
  ruled table, by page, table, row, column): born-digital through
  :func:`extractor.tables.pdf.read_pdf_tables`, and the same pages rendered at 200 dpi and
  read by RapidOCR + :func:`extractor.tables.scan.read_scanned_tables`, once clean and once
  degraded like a real scan (skew, blur, noise, JPEG; ``--no-degraded`` skips that);
- **samples** (``data/samples/pdf``: born-digital ``*_text.pdf`` and image-only
  ``*_scan.pdf`` with the drawn lines in ``*_truth.json``, table cells tab-separated): truth
  rows are aligned to the readers' grid rows in page order (a monotone alignment, so a cell
  in the wrong row cannot count), a cell is exact at the same column index;
- **generated** documents from :mod:`extractor.testing.synth` with their cell truth
  (``--generated N``), born-digital and scanned at 200 dpi.

Speeds are printed beside a baseline from the same run: the table reader's seconds per page
beside OCR's (scans) or bare ``find_tables()`` (born-digital).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pymupdf

from extractor.core.types import Table
from extractor.ingest import render
from extractor.ocr import CachedOcrEngine, OcrEngine, RapidOcrEngine, TextBox
from extractor.tables.scan import read_scanned_tables

_pymupdf: Any = pymupdf  # untyped library: keep mypy --strict quiet about every call
_pymupdf.no_recommend_layout()  # its layout models are left out on purpose (extractor/__init__.py)
ROOT = Path(__file__).resolve().parents[1]
PUTUO_PDF = Path("/work/shared/extra/putuo_czj_2024_final.pdf")
PUTUO_FIXTURE = ROOT / "eval" / "tables_extra" / "putuo_czj_2024_final.json"
SAMPLES = ROOT / "data" / "samples" / "pdf"
SCAN_DPI = 200

PageTables = dict[int, list[Table]]
Reader = Callable[[Path, Sequence[int]], PageTables]


@dataclass
class Score:
    """Cells exact of cells in the truth; ``extra`` counts figure cells the reader put where
    the truth has none (a fixture that lists figures only cannot count other misreads)."""

    exact: int = 0
    total: int = 0
    extra: int = 0
    pages: int = 0
    read_s: float = 0.0
    base_s: float = 0.0

    def add(self, other: Score) -> None:
        for name in ("exact", "total", "extra", "pages", "read_s", "base_s"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def line(self, label: str, base: str) -> str:
        share = self.exact / self.total if self.total else float("nan")
        per_page = self.read_s / max(self.pages, 1)
        ratio = f"{self.base_s / self.read_s:.2f}x" if self.read_s else "-"
        return (f"{label:<34} {self.exact:>6}/{self.total:<6} {share:8.2%}  extra {self.extra:<4}"
                f" {per_page:6.3f} s/page  ({base} {self.base_s / max(self.pages, 1):.3f} s/page,"
                f" reader/base speed {ratio})")


def norm(text: str) -> str:
    return "".join(text.split())


def is_figure(text: str) -> bool:
    """Numbers and codes: what the figures-only fixture lists."""
    t = norm(text).lstrip("-−")
    return bool(t) and all(ch.isdigit() or ch in ",.%" for ch in t) and any(ch.isdigit() for ch in t)


# --------------------------------------------------------------------------- degrading


def degrade(image: np.ndarray[Any, np.dtype[np.uint8]], seed: int) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """A page image as a poor scanner leaves it: rotated 0.5-1.5 degrees either way,
    blurred, grain noise, JPEG quality 45-70 (the "hard200" setting of the OCR notes)."""
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    angle = float(rng.uniform(0.5, 1.5) * rng.choice([-1, 1]))
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    out = cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=(255, 255, 255))
    out = cv2.GaussianBlur(out, (0, 0), float(rng.uniform(0.6, 1.1)))
    noisy = out.astype(np.float32) + rng.normal(0, float(rng.uniform(4, 10)), out.shape)
    out = np.clip(noisy, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(45, 71))])
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else out
    return np.asarray(decoded, dtype=np.uint8)


# --------------------------------------------------------------------------- readers


def born_digital_reader() -> Callable[[Path, Sequence[int]], tuple[PageTables, float, float]] | None:
    """The text-layer reader (helper "tables"' module), or ``None`` while it is missing."""
    try:
        module = importlib.import_module("extractor.tables.pdf")
    except ImportError as exc:
        print(f"born-digital: extractor.tables.pdf not importable ({exc}); skipped")
        return None
    read_pdf_tables = module.read_pdf_tables

    def read(path: Path, pages: Sequence[int]) -> tuple[PageTables, float, float]:
        out: PageTables = {}
        read_s = base_s = 0.0
        with _pymupdf.open(path) as doc:
            for number in pages:
                page = doc[number - 1]
                start = time.perf_counter()
                page.find_tables()
                base_s += time.perf_counter() - start
                page = doc.reload_page(page)
                start = time.perf_counter()
                out[number] = list(read_pdf_tables(page, number))
                read_s += time.perf_counter() - start
        return out, read_s, base_s

    return read


class ScanReader:
    """Pages rendered at ``dpi`` (optionally degraded), OCR'd, tables read from the image."""

    def __init__(self, dpi: int, degraded: bool, cache: Path | None = None) -> None:
        self.dpi = dpi
        self.degraded = degraded
        inner = RapidOcrEngine()
        # the pipeline's own page cache (ocr.cache_dir): a rerun, or `bench.generated
        # --ocr-cache` on the same documents, skips the hour of OCR
        self.engine: OcrEngine = CachedOcrEngine(inner, cache) if cache is not None else inner

    def ocr(self, image: np.ndarray[Any, np.dtype[np.uint8]]) -> tuple[TextBox, ...]:
        return self.engine.recognize(image).boxes

    def __call__(self, path: Path, pages: Sequence[int]) -> tuple[PageTables, float, float]:
        out: PageTables = {}
        read_s = ocr_s = 0.0
        with _pymupdf.open(path) as doc:
            for number in pages:
                image = render(doc[number - 1], self.dpi)
                if self.degraded:
                    image = degrade(image, seed=number)
                start = time.perf_counter()
                boxes = self.ocr(image)
                ocr_s += time.perf_counter() - start
                start = time.perf_counter()
                out[number] = read_scanned_tables(image, boxes, number, self.dpi / 72)
                read_s += time.perf_counter() - start
        return out, read_s, ocr_s


# --------------------------------------------------------------------------- scoring


def score_cells(truth: Iterable[tuple[int, int, str]], table: Table | None,
                figures_only: bool) -> Score:
    """Truth cells ``(row, col, text)`` against one read table, positions compared exactly."""
    score = Score()
    wanted = {(r, c): norm(t) for r, c, t in truth}
    score.total = len(wanted)
    if table is None:
        return score
    for cell in table.cells:
        text = norm(cell.text)
        expected = wanted.get((cell.row, cell.col))
        if expected is not None and text == expected:
            score.exact += 1
        elif expected is None and text and (not figures_only or is_figure(text)):
            score.extra += 1
    return score


def score_fixture(fixture: dict[str, Any], read: PageTables) -> Score:
    total = Score()
    for entry in fixture["tables"]:
        tables = read.get(entry["page"], [])
        table = tables[entry["index"]] if entry["index"] < len(tables) else None
        total.add(score_cells([tuple(c) for c in entry["cells"]], table, figures_only=True))
    return total


def grid_rows(tables: Sequence[Table]) -> list[list[str]]:
    """Every grid row of the tables in order; a merged cell's text at its top-left position."""
    rows: list[list[str]] = []
    for table in tables:
        grid = [[""] * table.n_cols for _ in range(table.n_rows)]
        for cell in table.cells:
            if 0 <= cell.row < table.n_rows and 0 <= cell.col < table.n_cols:
                grid[cell.row][cell.col] = norm(cell.text)
        rows.extend(grid)
    return rows


def score_rows(truth: Sequence[Sequence[str]], tables: Sequence[Table]) -> Score:
    """Truth rows aligned to the grid rows in order (dynamic programming: the alignment that
    keeps the most cells exact, never crossing), a cell exact at the same column index."""
    predicted = grid_rows(tables)
    want = [[norm(t) for t in row] for row in truth]

    def match(a: Sequence[str], b: Sequence[str]) -> int:
        return sum(1 for i, t in enumerate(a) if t and i < len(b) and b[i] == t)

    n, m = len(want), len(predicted)
    best = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            best[i][j] = max(best[i + 1][j], best[i][j + 1],
                             match(want[i], predicted[j]) + best[i + 1][j + 1])
    return Score(exact=best[0][0] if n and m else 0, total=sum(1 for row in want for t in row if t))


# --------------------------------------------------------------------------- input sets


def run_putuo(degraded: bool, scans: bool, cache: Path | None) -> None:
    if not PUTUO_PDF.exists():
        print(f"putuo: {PUTUO_PDF} not found; skipped")
        return
    fixture = json.loads(PUTUO_FIXTURE.read_text(encoding="utf-8"))
    pages = sorted({t["page"] for t in fixture["tables"]})
    print(f"putuo: {len(fixture['tables'])} tables on {len(pages)} pages, "
          f"{sum(len(t['cells']) for t in fixture['tables'])} figure cells")
    born = born_digital_reader()
    if born is not None:
        read, read_s, base_s = born(PUTUO_PDF, pages)
        score = score_fixture(fixture, read)
        score.pages, score.read_s, score.base_s = len(pages), read_s, base_s
        print(score.line("  born-digital", "find_tables"))
    for label, hard in (("clean", False), ("degraded", True))[: (2 if degraded else 1) if scans else 0]:
        read, read_s, ocr_s = ScanReader(SCAN_DPI, hard, cache)(PUTUO_PDF, pages)
        score = score_fixture(fixture, read)
        score.pages, score.read_s, score.base_s = len(pages), read_s, ocr_s
        print(score.line(f"  scanned {SCAN_DPI} dpi {label}", "OCR"))


def sample_truth(path: Path, kind: str) -> dict[int, list[list[str]]]:
    """Table rows (lines with a tab, on pages where some line has three cells or more) of
    each page of a sample PDF, from its truth file (``pages[i]`` is the PDF's page ``i + 1``,
    which shows the report's ``layout_pages[i]``)."""
    data = json.loads(path.read_text(encoding="utf-8"))[kind]
    pages: dict[int, list[list[str]]] = {}
    for number, lines in enumerate(data["pages"], 1):
        rows = [line.split("\t") for line in lines if "\t" in line]
        if any(len(row) >= 3 for row in rows):  # a contents page (title, page number) is no table
            pages[number] = rows
    return pages


def run_samples(scans: bool, cache: Path | None) -> None:
    born = born_digital_reader()
    scan = ScanReader(SCAN_DPI, degraded=False, cache=cache) if scans else None
    totals = {"born-digital": Score(), f"scanned ({SCAN_DPI} dpi render of *_scan.pdf)": Score()}
    for truth_file in sorted(SAMPLES.glob("*_truth.json")):
        stem = truth_file.name.removesuffix("_truth.json")
        for kind, pdf, reader, label in (
                ("text_pdf", SAMPLES / f"{stem}_text.pdf", born, "born-digital"),
                ("scan_pdf", SAMPLES / f"{stem}_scan.pdf", scan,
                 f"scanned ({SCAN_DPI} dpi render of *_scan.pdf)")):
            if reader is None or not pdf.exists():
                continue
            truth = sample_truth(truth_file, kind)
            read, read_s, base_s = reader(pdf, sorted(truth))
            for number, rows in truth.items():
                score = score_rows(rows, read.get(number, []))
                totals[label].add(score)
            totals[label].pages += len(truth)
            totals[label].read_s += read_s
            totals[label].base_s += base_s
    print("samples (data/samples/pdf, table rows of the layout pages):")
    for label, score in totals.items():
        if score.total:
            print(score.line(f"  {label}", "find_tables" if label == "born-digital" else "OCR"))


def truth_parts(cells_json: dict[str, Any]) -> dict[int, list[list[tuple[int, int, str]]]]:
    """Generated cell truth as per-page table parts with page-local rows, as a page reader
    sees them: a table broken across pages is one part per page, its rows renumbered from
    0 on each page (a repeated header first), parts ordered top to bottom."""
    parts: dict[int, list[tuple[float, list[tuple[int, int, str]]]]] = {}
    for table in cells_json["tables"]:
        for page in table["pages"]:
            on_page = [c for c in table["cells"] if c["page"] == page]
            if not on_page:
                continue
            rows = sorted({(not c.get("repeat", False), r) for c in on_page
                           for r in range(c["row"], c["row"] + c.get("row_span", 1))})
            local = {key: i for i, key in enumerate(rows)}
            cells = [(local[(not c.get("repeat", False), c["row"])], c["col"], c["text"])
                     for c in on_page]
            top = min(c["bbox"][1] for c in on_page)
            parts.setdefault(page, []).append((top, cells))
    return {page: [cells for _, cells in sorted(found)] for page, found in parts.items()}


def run_generated(count: int, cache: Path | None, scans: bool, first_seed: int = 0) -> None:
    try:
        synth = importlib.import_module("extractor.testing.synth")
    except ImportError as exc:
        print(f"generated: extractor.testing.synth not importable ({exc}); skipped")
        return
    born = born_digital_reader()
    scan = ScanReader(SCAN_DPI, degraded=False, cache=cache) if scans else None
    families: dict[tuple[str, str], Score] = {}
    for n, seed in enumerate(range(first_seed, first_seed + count)):
        family = synth.FAMILIES[n % len(synth.FAMILIES)]
        for label, reader, scanned in (("born-digital", born, False),
                                       (f"scanned {SCAN_DPI} dpi", scan, True)):
            if reader is None:
                continue
            rendered = synth.generate(seed, family=family, scan=scanned)
            truth = truth_parts(rendered.cells)
            with tempfile.TemporaryDirectory() as tmp:
                pdf = Path(tmp) / f"{rendered.doc_id}.pdf"
                pdf.write_bytes(rendered.pdf)
                read, read_s, base_s = reader(pdf, sorted(truth))
            score = families.setdefault((label, family), Score())
            for page, parts in truth.items():
                tables = read.get(page, [])
                for i, cells in enumerate(parts):
                    score.add(score_cells(cells, tables[i] if i < len(tables) else None,
                                          figures_only=False))
            score.pages += len(truth)
            score.read_s += read_s
            score.base_s += base_s
            print(f"  seed {seed} {label} {family}: {score.exact}/{score.total} so far for the family",
                  file=sys.stderr, flush=True)
    print(f"generated ({count} documents, seeds {first_seed}..{first_seed + count - 1}, "
          "every cell of every table, blank cells included):")
    for label in ("born-digital", f"scanned {SCAN_DPI} dpi"):
        total = Score()
        for (kind, family), score in sorted(families.items()):
            if kind == label:
                print(score.line(f"  {label} {family}", "find_tables" if label == "born-digital" else "OCR"))
                total.add(score)
        if total.total:
            print(total.line(f"  {label} all", "find_tables" if label == "born-digital" else "OCR"))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--only", choices=["putuo", "samples", "generated"], action="append",
                        help="run only these input sets (repeatable; default: all)")
    parser.add_argument("--generated", type=int, default=50, metavar="N",
                        help="number of generated documents (default 50)")
    parser.add_argument("--seed", type=int, default=0,
                        help="first seed of the generated documents (default 0)")
    parser.add_argument("--no-degraded", action="store_true",
                        help="skip the degraded scan of the real PDF")
    parser.add_argument("--no-scan", action="store_true", help="born-digital only (no OCR)")
    parser.add_argument("--ocr-cache", type=Path, metavar="DIR",
                        help="keep OCR boxes of scanned pages here (reruns skip OCR)")
    args = parser.parse_args(argv)
    parts = args.only or ["putuo", "samples", "generated"]
    if "putuo" in parts:
        run_putuo(degraded=not args.no_degraded, scans=not args.no_scan, cache=args.ocr_cache)
    if "samples" in parts:
        run_samples(scans=not args.no_scan, cache=args.ocr_cache)
    if "generated" in parts:
        run_generated(args.generated, args.ocr_cache, scans=not args.no_scan, first_seed=args.seed)


if __name__ == "__main__":
    main()
