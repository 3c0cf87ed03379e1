"""Ingest benchmark: our readers beside the bare libraries, and OCR quality on the scans.

Run from the repository root: ``python -m bench.ingest`` (needs the files written by
``scripts/make_sample_pdfs.py``). It prints

- text layer: pages/s of :func:`extractor.ingest.read_pages` on ``*_text.pdf`` beside raw
  PyMuPDF ``page.get_text()`` on the same files in the same run (open included in both);
- tables: pages/s of born-digital ingest with tables (:func:`extractor.ingest.read_document`:
  text, table grids, cell text, annotation, continuations) beside bare ``page.find_tables()``
  on the same pages, both as PyMuPDF ships it (layout model gating) and with
  ``use_layout=False`` (the call our reader makes), open included everywhere; ``--pdf``
  adds files (e.g. the real reports in ``../shared/extra``);
- OCR: s/page of our path beside the bare ``RapidOCR()(image)`` call on the same page
  images (``recognize`` adds line grouping; ``read_pages`` adds rendering too);
- OCR quality on ``*_scan.pdf`` against the lines drawn on those pages (``*_truth.json``):
  character error rate ignoring whitespace and character width (NFKC), share of numbers
  read exactly, and share of table rows read whole, in order, on one line.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymupdf

from extractor.core.settings import OcrSettings
from extractor.ingest import read_document, read_pages, render
from extractor.ocr import RapidOcrEngine, boxes_to_text

_pymupdf: Any = pymupdf  # untyped library: keep mypy --strict quiet about every call
ROOT = Path(__file__).resolve().parents[1]
PDF_DIR = ROOT / "data" / "samples" / "pdf"
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_SPLIT_DECIMAL = re.compile(r"(?<=\d)\s*([.,])\s*(?=\d)")


# --------------------------------------------------------------------------- metrics


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (unit costs), one row at a time."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def squash(text: str) -> str:
    """Text as compared: NFKC (full-width and half-width forms are the same character to
    every later step) and no whitespace (line breaks and cell gaps are judged separately)."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def numbers(text: str) -> Counter[str]:
    """Figures as written (``55,923,963.72`` stays one); a source that prints ``0. 29``
    counts as ``0.29``, since whitespace is not what OCR is judged on here."""
    return Counter(_NUMBER.findall(_SPLIT_DECIMAL.sub(r"\1", text)))


def rows_kept(truth_lines: list[str], ocr_text: str) -> tuple[int, int]:
    """(rows whose cells all appear, in order, within one OCR line; table rows)."""
    lines = [squash(line) for line in ocr_text.splitlines()]
    kept = total = 0
    for row in truth_lines:
        cells = [squash(c) for c in row.split("\t") if c.strip()]
        if len(cells) < 3:
            continue
        total += 1
        kept += any(_in_order(cells, line) for line in lines)
    return kept, total


def _in_order(cells: list[str], line: str) -> bool:
    pos = 0
    for cell in cells:
        found = line.find(cell, pos)
        if found < 0:
            return False
        pos = found + len(cell)
    return True


@dataclass
class Quality:
    errors: int = 0
    chars: int = 0
    numbers_right: int = 0
    numbers: int = 0
    rows_kept: int = 0
    rows: int = 0

    def add(self, truth_lines: list[str], ocr_text: str) -> None:
        truth = "\n".join(truth_lines)
        self.errors += edit_distance(squash(truth), squash(ocr_text))
        self.chars += len(squash(truth))
        want, got = numbers(truth), numbers(ocr_text)
        self.numbers += sum(want.values())
        self.numbers_right += sum(min(n, got[k]) for k, n in want.items())
        kept, total = rows_kept(truth_lines, ocr_text)
        self.rows_kept += kept
        self.rows += total

    def line(self) -> str:
        return (f"CER {100 * self.errors / max(self.chars, 1):.2f}% ({self.errors}/{self.chars} chars)"
                f" | numbers exact {100 * self.numbers_right / max(self.numbers, 1):.1f}%"
                f" ({self.numbers_right}/{self.numbers})"
                f" | table rows whole {self.rows_kept}/{self.rows}")


# --------------------------------------------------------------------------- runs


def bench_text_layer(files: list[Path], repeat: int) -> dict[str, float]:
    settings = OcrSettings()
    pages = 0
    start = time.perf_counter()
    for _ in range(repeat):
        for path in files:
            with _pymupdf.open(path) as doc:
                for page in doc:
                    page.get_text()
                    pages += 1
    raw = pages / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(repeat):
        for path in files:
            read_pages(path, settings, None)
    ours = pages / (time.perf_counter() - start)
    return {"pages": pages, "raw_pages_per_s": raw, "ours_pages_per_s": ours}


def _pages_per_s(files: list[Path], repeat: int, per_page: Any) -> float:
    pages = 0
    start = time.perf_counter()
    for _ in range(repeat):
        for path in files:
            with _pymupdf.open(path) as doc:
                for page in doc:
                    per_page(page)
                    pages += 1
    return pages / (time.perf_counter() - start)


def bench_tables(files: list[Path], repeat: int) -> dict[str, float]:
    """Ingest with tables against bare ``find_tables()`` on the same pages, same run.
    Every path is warmed up first (PyMuPDF loads its layout models on first use); the
    layout-gated call is about 25x slower, so it gets a quarter of the passes."""
    settings = OcrSettings(engine="none")
    pages = 0
    for path in files:
        with _pymupdf.open(path) as doc:
            pages += doc.page_count
    with _pymupdf.open(files[0]) as doc:
        doc[0].find_tables()
    read_document(files[0], settings)
    default = _pages_per_s(files, max(1, repeat // 4), lambda page: page.find_tables())
    lines_only = _pages_per_s(files, repeat, lambda page: page.find_tables(use_layout=False))
    tables = 0
    start = time.perf_counter()
    for _ in range(repeat):
        for path in files:
            tables += len(read_document(path, settings).tables)
    ours = pages * repeat / (time.perf_counter() - start)
    return {"pages": pages, "find_tables": default, "find_tables_lines": lines_only,
            "ours": ours, "tables": tables / repeat}


def bench_ocr(scans: list[Path], full_read: bool) -> dict[str, object]:
    """Each path gets its own engine: onnxruntime is slower on the first call with a new
    input shape, so timing two paths on one engine would favour whichever runs second.
    With one engine each, every timed call is a first sight of that page, as in real use."""
    settings = OcrSettings()
    bare_engine, our_engine, read_engine = RapidOcrEngine(), RapidOcrEngine(), RapidOcrEngine()
    tiny = render(_pymupdf.open(scans[0])[0], 72)
    load_start = time.perf_counter()
    bare_engine.raw(tiny)  # loads the models
    load_s = time.perf_counter() - load_start
    our_engine.raw(tiny)
    read_engine.raw(tiny)
    bare = ours = full = layout = 0.0
    count = 0
    by_kind: dict[str, Quality] = {}
    overall = Quality()
    confidences: list[float] = []
    for path in scans:
        truth = json.loads(path.with_name(path.name.replace("_scan.pdf", "_truth.json"))
                           .read_text(encoding="utf-8"))["scan_pdf"]
        with _pymupdf.open(path) as doc:
            images = [render(page, settings.dpi) for page in doc]
        for index, image in enumerate(images):
            start = time.perf_counter()
            bare_engine.raw(image)
            bare += time.perf_counter() - start
            start = time.perf_counter()
            result = our_engine.recognize(image)
            ours += time.perf_counter() - start
            start = time.perf_counter()
            boxes_to_text(result.boxes)
            layout += time.perf_counter() - start
            count += 1
            kind = truth["kinds"][index]
            by_kind.setdefault(kind, Quality()).add(truth["pages"][index], result.text)
            overall.add(truth["pages"][index], result.text)
            if result.confidence is not None:
                confidences.append(result.confidence)
        if full_read:
            start = time.perf_counter()
            read_pages(path, settings, read_engine)
            full += time.perf_counter() - start
    out: dict[str, object] = {
        "pages": count, "model_load_s": load_s, "bare_s_per_page": bare / count,
        "recognize_s_per_page": ours / count, "layout_s_per_page": layout / count,
        "quality": overall, "by_kind": by_kind,
        "mean_confidence": sum(confidences) / max(len(confidences), 1)}
    if full_read:
        out["read_pages_s_per_page"] = full / count
    return out


def tesseract_status() -> str:
    exe = shutil.which("tesseract")
    if exe is None:
        return "tesseract: not installed, skipped"
    langs = subprocess.run([exe, "--list-langs"], capture_output=True, text=True, check=False)
    if "chi_sim" not in langs.stdout:
        return "tesseract: installed without chi_sim, skipped"
    return "tesseract with chi_sim is installed: not benchmarked by this script"


def main() -> None:
    parser = argparse.ArgumentParser(description="ingest benchmark")
    parser.add_argument("--repeat", type=int, default=20, help="passes over the text PDFs")
    parser.add_argument("--no-ocr", action="store_true", help="skip the OCR part (slow)")
    parser.add_argument("--pdf", type=Path, nargs="*", default=[],
                        help="more born-digital PDFs for the tables part")
    parser.add_argument("--table-repeat", type=int, default=4,
                        help="passes over the PDFs in the tables part")
    parser.add_argument("--no-full-read", action="store_true",
                        help="skip timing read_pages on the scans (saves ~1/3 of the OCR time)")
    args = parser.parse_args()
    texts = sorted(PDF_DIR.glob("*_text.pdf"))
    scans = sorted(PDF_DIR.glob("*_scan.pdf"))
    if not texts or not scans:
        raise SystemExit(f"no sample PDFs in {PDF_DIR}: run scripts/make_sample_pdfs.py")

    tl = bench_text_layer(texts, args.repeat)
    print(f"text layer ({len(texts)} files, {tl['pages']:.0f} page reads):")
    print(f"  raw PyMuPDF get_text()   {tl['raw_pages_per_s']:8.0f} pages/s")
    print(f"  extractor read_pages     {tl['ours_pages_per_s']:8.0f} pages/s"
          f"   (ratio ours/raw {tl['ours_pages_per_s'] / tl['raw_pages_per_s']:.2f})")
    tb = bench_tables([*texts, *args.pdf], args.table_repeat)
    print(f"tables ({len(texts) + len(args.pdf)} files, {tb['pages']:.0f} pages, "
          f"{tb['tables']:.0f} tables after merging continuations):")
    print(f"  bare find_tables()                  {tb['find_tables']:8.1f} pages/s")
    print(f"  bare find_tables(use_layout=False)  {tb['find_tables_lines']:8.1f} pages/s")
    print(f"  extractor read_document (tables)    {tb['ours']:8.1f} pages/s"
          f"   (ratio ours/find_tables() {tb['ours'] / tb['find_tables']:.2f};"
          f" ours/find_tables(use_layout=False) {tb['ours'] / tb['find_tables_lines']:.2f})")
    if args.no_ocr:
        return
    ocr = bench_ocr(scans, not args.no_full_read)
    bare = float(str(ocr["bare_s_per_page"]))
    ours = float(str(ocr["recognize_s_per_page"]))
    print(f"OCR, rapidocr ({ocr['pages']} scan pages at {OcrSettings().dpi} dpi; "
          f"model load {float(str(ocr['model_load_s'])):.1f} s, once):")
    print(f"  bare RapidOCR()(image)   {bare:8.2f} s/page")
    print(f"  OcrEngine.recognize      {ours:8.2f} s/page   (ratio ours/bare {ours / bare:.2f})")
    print(f"    of which line grouping {1000 * float(str(ocr['layout_s_per_page'])):8.2f} ms/page")
    if "read_pages_s_per_page" in ocr:
        full = float(str(ocr["read_pages_s_per_page"]))
        print(f"  read_pages (render+OCR)  {full:8.2f} s/page   (ratio ours/bare {full / bare:.2f})")
    print(f"OCR quality: {ocr['quality'].line()}")  # type: ignore[attr-defined]
    for kind, quality in sorted(ocr["by_kind"].items()):  # type: ignore[attr-defined]
        print(f"  {kind:10s} {quality.line()}")
    print(f"  mean confidence {float(str(ocr['mean_confidence'])):.4f}")
    print(tesseract_status())


if __name__ == "__main__":
    main()
