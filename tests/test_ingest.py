"""Ingest with the real PyMuPDF and the real RapidOCR on the sample PDFs and made-up files."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pymupdf
import pytest

from extractor.core.errors import (
    ConfigError,
    CorruptFileError,
    EmptyFileError,
    EncryptedFileError,
    IngestError,
    UnsupportedFileError,
)
from extractor.core.settings import OcrSettings
from extractor.ingest import iter_input_files, read_pages, render, sha256_of, usable_chars
from extractor.ocr import RapidOcrEngine, shared_engine

_pymupdf: Any = pymupdf
ROOT = Path(__file__).resolve().parents[1]
PDFS = ROOT / "data" / "samples" / "pdf"
SAMPLES = ROOT / "data" / "samples"
DOC = "004_4a020ba0f11f1338"
SETTINGS = OcrSettings()
NO_OCR = OcrSettings(engine="none")


def truth(doc_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PDFS / f"{doc_id}_truth.json").read_text(encoding="utf-8"))
    return data


def cells(line: str) -> str:
    """A line as a reader can know it: empty table cells leave no trace on the page."""
    return re.sub(r"\t+", "\t", line).strip("\t")


def make_pdf(path: Path, lines: list[str], **save: Any) -> Path:
    doc = _pymupdf.open()
    page = doc.new_page()
    for i, line in enumerate(lines):
        page.insert_text((50, 60 + 20 * i), line, fontname="china-s", fontsize=11)
    doc.save(path, **save)
    return path


def expect(error: type[IngestError], path: Path, settings: OcrSettings = NO_OCR) -> IngestError:
    with pytest.raises(IngestError) as info:
        read_pages(path, settings, None)
    assert type(info.value) is error
    assert str(path) in str(info.value) and info.value.path == str(path)
    assert "\n" not in str(info.value)
    return info.value


# --------------------------------------------------------------------------- text layer


@pytest.mark.parametrize("doc_id", ["002_ede6ec7d9a9ccbff", "003_17aaca51ade6ba7f", DOC])
def test_text_layer_pages_read_line_for_line(doc_id: str) -> None:
    engine = RapidOcrEngine()
    pages, media_type = read_pages(PDFS / f"{doc_id}_text.pdf", SETTINGS, engine)
    assert media_type == "application/pdf"
    expected = truth(doc_id)["text_pdf"]["pages"]
    assert [p.number for p in pages] == list(range(1, len(expected) + 1))
    for page, lines in zip(pages, expected, strict=True):
        assert page.source == "text-layer" and page.confidence is None
        assert [cells(x) for x in page.raw.split("\n")] == [cells(x) for x in lines]
    assert not engine.loaded  # no page needed OCR, so the models were never loaded


def test_table_rows_keep_label_and_figures_on_one_line() -> None:
    """A table is rendered from its grid: one line per row, every column a field (a
    blank cell is an empty field, a merged cell stands at its first column)."""
    pages, _ = read_pages(PDFS / f"{DOC}_text.pdf", SETTINGS, None)
    lines = [line for p in pages for line in p.raw.split("\n")]
    assert "合计\t\t55923963.72\t17066325.46\t38857638.26\t\t\t" in lines
    assert "2010301\t行政运行\t10971410.92\t10914325.92\t57085.00\t\t\t" in lines


def test_rotated_text_reads_in_order(tmp_path: Path) -> None:
    doc = _pymupdf.open()
    page = doc.new_page()
    for x, label, value in ((100, "收入合计", "123.45"), (130, "支出合计", "678.90")):
        page.insert_text((x, 700), label, fontname="china-s", rotate=90)
        page.insert_text((x, 300), value, rotate=90)
    page.insert_text((160, 700), "rotated landscape table page", rotate=90)
    doc.save(tmp_path / "rot.pdf")
    pages, _ = read_pages(tmp_path / "rot.pdf", SETTINGS, None)
    assert pages[0].raw.split("\n") == ["收入合计\t123.45", "支出合计\t678.90",
                                        "rotated landscape table page"]


# --------------------------------------------------------------------------- OCR


@pytest.mark.slow
def test_image_only_page_goes_through_ocr(tmp_path: Path) -> None:
    """A text-layer page and a scanned table page in one file: one read each way."""
    doc = _pymupdf.open(PDFS / f"{DOC}_text.pdf")
    doc.select([0])
    with _pymupdf.open(PDFS / f"{DOC}_scan.pdf") as scan:
        doc.insert_pdf(scan, from_page=0, to_page=0)
    doc.save(tmp_path / "mixed.pdf")
    seen: list[tuple[int, int]] = []
    pages, _ = read_pages(tmp_path / "mixed.pdf", SETTINGS, shared_engine(SETTINGS),
                          progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 2), (2, 2)]
    assert [p.source for p in pages] == ["text-layer", "ocr:rapidocr"]
    scanned = pages[1]
    assert scanned.confidence is not None and scanned.confidence > 0.9
    lines = scanned.raw.split("\n")
    # the rendered page is the 支出决算表, read as a table: every grid row one line, every
    # cell in its column (blank cells empty), exactly the lines drawn on the page
    assert "合计\t\t55923963.72\t17066325.46\t38857638.26" in lines[3]
    expected = truth(DOC)["scan_pdf"]["pages"][0]
    assert [line.rstrip("\t") for line in lines] == expected


def test_scan_without_ocr_is_empty_and_says_why() -> None:
    err = expect(EmptyFileError, PDFS / f"{DOC}_scan.pdf", NO_OCR)
    assert "OCR is off" in err.reason


def test_unavailable_engine_is_reported_only_when_a_page_needs_it() -> None:
    tesseract = OcrSettings(engine="tesseract")
    pages, _ = read_pages(PDFS / f"{DOC}_text.pdf", tesseract, None)
    assert len(pages) == 4
    with pytest.raises(ConfigError, match="tesseract"):
        read_pages(PDFS / f"{DOC}_scan.pdf", tesseract, None)


def test_sparse_text_layer_is_kept_when_ocr_is_off(tmp_path: Path) -> None:
    """A page number alone is below min_text_chars; with OCR off it is kept as read."""
    path = make_pdf(tmp_path / "sparse.pdf", ["第 3 页"])
    pages, _ = read_pages(path, OcrSettings(engine="none", min_text_chars=20), None)
    assert pages[0].raw.split() == ["第", "3", "页"] and pages[0].source == "text-layer"
    assert usable_chars(pages[0].raw) == 3


# --------------------------------------------------------------------------- text files


def test_text_file_is_one_page_unless_form_feeds(tmp_path: Path) -> None:
    pages, media_type = read_pages(SAMPLES / f"{DOC}.txt", SETTINGS, None)
    assert media_type == "text/plain" and len(pages) == 1
    assert pages[0].raw == (SAMPLES / f"{DOC}.txt").read_text(encoding="utf-8")
    assert pages[0].source == "file" and pages[0].confidence is None

    path = tmp_path / "paged.md"
    path.write_bytes("\ufeff# 第一页\n收入 1.00\f第二页\r\n\f\f第四页\n\f".encode())
    pages, media_type = read_pages(path, SETTINGS, None)
    assert media_type == "text/markdown"
    assert [p.raw for p in pages] == ["# 第一页\n收入 1.00", "第二页\r\n", "", "第四页\n"]
    assert [p.number for p in pages] == [1, 2, 3, 4]


def test_gb18030_text_is_refused_and_named(tmp_path: Path) -> None:
    path = tmp_path / "gbk.txt"
    path.write_bytes("部门决算 收入合计 885.90 万元".encode("gb18030"))
    err = expect(UnsupportedFileError, path)
    assert "not UTF-8" in err.reason and "GB18030" in err.reason


def test_binary_and_utf16_text_are_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_bytes(b"abc\x80\xff\xfe def")
    assert "not UTF-8" in expect(CorruptFileError, junk).reason
    utf16 = tmp_path / "utf16.txt"
    utf16.write_bytes("收入合计".encode("utf-16"))
    assert "UTF-16" in expect(UnsupportedFileError, utf16).reason


# --------------------------------------------------------------------------- bad input


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert "no such file" in expect(IngestError, tmp_path / "nope.pdf").reason
    expect(IngestError, tmp_path)


def test_unsupported_extension(tmp_path: Path) -> None:
    path = tmp_path / "report.docx"
    path.write_bytes(b"PK\x03\x04")
    assert ".docx" in expect(UnsupportedFileError, path).reason


@pytest.mark.parametrize("name", ["empty.pdf", "empty.txt", "empty.md"])
def test_zero_byte_files(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.touch()
    assert "0 bytes" in expect(EmptyFileError, path).reason


def test_files_without_text(tmp_path: Path) -> None:
    blank = tmp_path / "blank.txt"
    blank.write_text(" \n\t\f \n", encoding="utf-8")
    expect(EmptyFileError, blank)
    doc = _pymupdf.open()
    doc.new_page()
    doc.save(tmp_path / "blank.pdf")
    expect(EmptyFileError, tmp_path / "blank.pdf")


def test_blank_pdf_with_ocr_is_empty(tmp_path: Path) -> None:
    doc = _pymupdf.open()
    doc.new_page(width=200, height=200)
    doc.save(tmp_path / "blank.pdf")
    err = expect(EmptyFileError, tmp_path / "blank.pdf", SETTINGS)
    assert "no text on any of its 1 pages" in err.reason


def test_encrypted_pdf(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "locked.pdf", ["收入合计 885.90 万元，占比 100.00%。"],
                    encryption=_pymupdf.PDF_ENCRYPT_AES_256, user_pw="secret", owner_pw="owner")
    assert "password" in expect(EncryptedFileError, path).reason


def test_owner_password_only_pdf_is_readable(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "perm.pdf", ["收入合计 885.90 万元，支出合计 885.90 万元。"],
                    encryption=_pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner", permissions=0)
    pages, _ = read_pages(path, NO_OCR, None)
    assert "885.90" in pages[0].raw


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.7, 0.9, 0.99])
def test_truncated_pdf_is_corrupt_not_partial(tmp_path: Path, fraction: float) -> None:
    data = (PDFS / f"{DOC}_text.pdf").read_bytes()
    path = tmp_path / "cut.pdf"
    path.write_bytes(data[: int(len(data) * fraction)])
    expect(CorruptFileError, path)


def test_repaired_but_complete_pdf_is_read(tmp_path: Path) -> None:
    """Shifted offsets make MuPDF rebuild the xref; the file is whole, so it is read."""
    data = (PDFS / f"{DOC}_text.pdf").read_bytes()
    path = tmp_path / "shifted.pdf"
    path.write_bytes(data.replace(b"\n", b"\n%padding\n", 1))
    with _pymupdf.open(path) as doc:
        assert doc.is_repaired
    pages, _ = read_pages(path, NO_OCR, None)
    assert len(pages) == 4 and all(p.source == "text-layer" for p in pages)


@pytest.mark.parametrize("content", [b"hello, not a pdf", b"\x89PNG\r\n\x1a\n" + b"\0" * 64,
                                     b"%PDF-1.7\n garbage"])
def test_not_a_pdf(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "fake.pdf"
    path.write_bytes(content)
    expect(CorruptFileError, path)


# --------------------------------------------------------------------------- file lists


def test_iter_input_files(tmp_path: Path) -> None:
    for name in ["b/z.pdf", "b/a.TXT", "a.md", "notes.docx", ".hidden/x.txt", "b/.y.md"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")
    found = iter_input_files([tmp_path, tmp_path / "a.md"])
    assert found == [tmp_path / "a.md", tmp_path / "b" / "a.TXT", tmp_path / "b" / "z.pdf"]

    with pytest.raises(UnsupportedFileError) as info:
        iter_input_files([tmp_path, tmp_path / "notes.docx"])
    assert str(tmp_path / "notes.docx") in str(info.value)
    with pytest.raises(IngestError, match="no such file"):
        iter_input_files([tmp_path / "missing.pdf"])
    assert iter_input_files([tmp_path / ".hidden" / "x.txt"]) == [tmp_path / ".hidden" / "x.txt"]
    assert iter_input_files([]) == []


def test_sha256_of(tmp_path: Path) -> None:
    path = PDFS / f"{DOC}_scan.pdf"
    assert sha256_of(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(IngestError):
        sha256_of(tmp_path / "missing.pdf")


@pytest.mark.parametrize(("scan_dpi", "expected_dpi"), [(150, 200), (200, 200), (240, 240), (400, 300)])
def test_scans_render_at_their_own_resolution(tmp_path: Path, scan_dpi: int, expected_dpi: int) -> None:
    """A scan is rendered at its own resolution (never above the configured 300 dpi, never
    below 200): more pixels than the scan holds only make OCR slower."""
    width_pt, height_pt = 595.0, 842.0
    pix = _pymupdf.Pixmap(_pymupdf.csRGB, _pymupdf.IRect(0, 0, round(width_pt / 72 * scan_dpi),
                                                       round(height_pt / 72 * scan_dpi)), False)
    pix.clear_with(255)
    doc = _pymupdf.open()
    page = doc.new_page(width=width_pt, height=height_pt)
    page.insert_image(page.rect, pixmap=pix)
    text_page = doc.new_page(width=width_pt, height=height_pt)
    text_page.insert_text((72, 72), "一般公共服务支出", fontname="china-s")
    image = render(doc[0], 300)
    assert abs(image.shape[1] - width_pt / 72 * expected_dpi) <= 1
    assert abs(render(doc[1], 300).shape[1] - width_pt / 72 * 300) <= 1  # no scan: the setting


def test_reading_a_pdf_does_not_load_pymupdf_layout_models() -> None:
    """pymupdf 2 would import its ONNX layout model with itself: 0.6 s of CPU in every
    worker and CLI process, for a feature extractor never uses."""
    code = ("import sys; from extractor.ingest import read_pages; "
            "from extractor.core.settings import OcrSettings; "
            f"pages, _ = read_pages(__import__('pathlib').Path({str(PDFS / f'{DOC}_text.pdf')!r}), "
            "OcrSettings(engine='none'), None); "
            "assert pages and sys.modules.get('pymupdf.layout') is None, sorted(sys.modules)[:0]; "
            "print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.stdout.strip() == "ok", done.stderr
