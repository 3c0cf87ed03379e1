"""Page-parallel ingest: the pages of one scanned document are read across the pool (real
OCR engine, real PDF library) and put back together into the same document as one
process reads, byte for byte in the export."""

from __future__ import annotations

import importlib.util
from collections import deque
from pathlib import Path
from typing import Any

import pytest

from extractor.cli import main
from extractor.cli.runs import per_worker_settings
from extractor.core.settings import OcrSettings, Settings
from extractor.ingest_pages import page_count
from extractor.ocr import RapidOcrEngine, make_engine
from extractor.stages import PageTask, PrepareTask, _units, prepare_pooled, prepare_stage
from extractor.store import Store
from extractor.workers import Pool

PAGES = [
    ["某某区财政局2023年度部门决算", "第一部分 部门概况", "收入支出决算总体情况说明"],
    ["2023年度收入、支出决算总计均为", "1,234.56万元。", "（一）收入决算总计1,234.56万元。",
     "（二）支出决算总计1,234.56万元。"],
]
"""Two short scanned pages (OCR is seconds a page): a report's title, then its totals."""


def _mupdf() -> Any:
    """PyMuPDF, untyped (its calls carry no annotations)."""
    import pymupdf

    return pymupdf


def scanned_pdf(path: Path, pages: list[list[str]] = PAGES) -> Path:
    """Short pages of Chinese text, rendered to images and stored as an image-only PDF."""
    pymupdf = _mupdf()
    out = pymupdf.open()
    for lines in pages:
        source = pymupdf.open()
        drawn = source.new_page(width=420, height=40 + 30 * len(lines))
        for i, line in enumerate(lines):
            drawn.insert_text((20, 40 + 30 * i), line, fontname="china-s", fontsize=14)
        pixmap = drawn.get_pixmap(dpi=200)
        page = out.new_page(width=drawn.rect.width, height=drawn.rect.height)
        page.insert_image(page.rect, pixmap=pixmap)
    out.save(path)
    return path


def _run(tmp_path: Path, pdf: Path, name: str, workers: int) -> tuple[dict[str, bytes], Any]:
    out = tmp_path / f"export-{name}"
    url = f"sqlite:///{tmp_path / f'{name}.db'}"
    code = main(["--db", url, "run", str(pdf), "--extractor", "rules", "--export", str(out),
                 "--gold", str(tmp_path / "no-gold"), "--workers", str(workers)])
    assert code in (0, 1)
    store = Store.open(url)
    (stored,) = store.documents()
    doc = store.load_document(stored.sha256)
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}, doc


@pytest.mark.slow
def test_a_scanned_document_read_by_two_workers_is_the_one_read_by_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXTRACTOR_OCR__CACHE_DIR", raising=False)  # both runs really OCR
    pdf = scanned_pdf(tmp_path / "scan.pdf")
    one, doc_one = _run(tmp_path, pdf, "one", 1)
    two, doc_two = _run(tmp_path, pdf, "two", 2)
    assert [p.source for p in doc_one.pages] == ["ocr:rapidocr", "ocr:rapidocr"]
    assert [(p.number, p.raw, p.confidence) for p in doc_two.pages] == \
        [(p.number, p.raw, p.confidence) for p in doc_one.pages]
    assert doc_two.normalized.text == doc_one.normalized.text
    assert "支出决算总计" in doc_one.normalized.text, "page 2 read"
    assert b'"fiscal_year": 2023' in one["scan.json"], "the rules extractor read page 1's title"
    assert two == one


def test_a_multi_page_pdf_goes_out_one_page_a_task_and_a_text_file_whole(tmp_path: Path) -> None:
    pymupdf = _mupdf()
    pdf = tmp_path / "three.pdf"
    doc = pymupdf.open()
    for _ in range(3):
        doc.new_page().insert_text((72, 72), "page")
    doc.save(pdf)
    text = tmp_path / "a.txt"
    text.write_text("某某局2023年度部门决算", encoding="utf-8")
    settings = Settings()
    tasks = [PrepareTask(text, "a", settings), PrepareTask(pdf, "b", settings)]
    units = list(_units(tasks, deque()))
    assert units[0] is tasks[0]
    assert [(u.index, u.count) for u in units[1:] if isinstance(u, PageTask)] == [(0, 3), (1, 3), (2, 3)]
    assert page_count(pdf, settings.ocr, max_pages=2) is None, "over the page limit: read whole"


def test_pages_read_apart_make_the_same_document_and_failures_keep_their_reason(
        tmp_path: Path) -> None:
    """Born-digital pages (no OCR): the page-parallel read equals the whole read, and a
    damaged PDF still fails with the whole read's one-line reason."""
    pymupdf = _mupdf()
    pdf = tmp_path / "text.pdf"
    doc = pymupdf.open()
    for n in range(3):
        page = doc.new_page()
        for i in range(6):
            page.insert_text((50, 60 + 20 * i), f"第{n + 1}页 第{i + 1}行 收入{100 + n * 10 + i}.00万元",
                             fontname="china-s", fontsize=11)
    doc.save(pdf)
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"not a pdf at all")
    settings = Settings()
    tasks = [PrepareTask(pdf, "x", settings), PrepareTask(bad, "y", settings)]

    def crashed(task: PrepareTask, reason: str) -> Any:
        raise AssertionError(reason)

    whole = [prepare_stage(PrepareTask(pdf, "x", settings))]
    pool = Pool(2)
    try:
        apart = list(prepare_pooled(pool, tasks, crashed))
    finally:
        pool.close()
    assert len(whole) == 1 and whole[0].doc is not None
    assert apart[0].doc is not None
    assert apart[0].doc.normalized.text == whole[0].doc.normalized.text
    assert [p.raw for p in apart[0].doc.pages] == [p.raw for p in whole[0].doc.pages]
    assert apart[1].doc is None and apart[1].reason == "not a PDF (no '%PDF-' header)"


def _engine_threads(_: int) -> Any:
    from extractor.ocr import RapidOcrEngine

    return RapidOcrEngine()._params.get("EngineConfig.onnxruntime.intra_op_num_threads")


def test_pool_workers_run_ocr_on_one_thread_and_one_process_keeps_the_default() -> None:
    pool = Pool(2)
    try:
        assert list(pool.map(_engine_threads, range(2))) == [1, 1]
    finally:
        pool.close()
    assert _engine_threads(0) is None  # this process: onnxruntime's default
    # the setting `run --workers 1` uses reaches the engine the pipeline builds
    engine = make_engine(OcrSettings(threads=1))
    assert isinstance(engine, RapidOcrEngine)
    assert engine._params.get("EngineConfig.onnxruntime.intra_op_num_threads") == 1
    assert make_engine(OcrSettings()) is not None


def test_one_worker_asks_for_one_ocr_thread() -> None:
    """`run --workers 1` is one core, as each pool worker is: its OCR engines get one thread;
    an explicit ocr.threads and a pool keep what they say."""
    settings = Settings()
    assert per_worker_settings(settings, 1).ocr.threads == 1
    assert per_worker_settings(settings, 2).ocr.threads is None
    explicit = Settings.model_validate({"ocr": {"threads": 2}})
    assert per_worker_settings(explicit, 1).ocr.threads == 2
    assert settings.ocr.threads is None  # the caller's settings are not changed


@pytest.mark.slow
def test_ray_workers_run_ocr_on_one_thread_too() -> None:
    if importlib.util.find_spec("ray") is None:
        pytest.skip("ray is not installed (pip install 'extractor[ray]')")
    from extractor.workers import RayExecutor

    def threads(_: int) -> Any:  # nested: Ray ships it by value (tests are no package)
        from extractor.ocr import RapidOcrEngine

        return RapidOcrEngine()._params.get("EngineConfig.onnxruntime.intra_op_num_threads")

    ray = RayExecutor(None, num_cpus=2)
    try:
        assert list(ray.map(threads, range(2))) == [1, 1]
    finally:
        ray.close()
