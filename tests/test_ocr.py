"""OCR line layout on synthetic boxes, and the real RapidOCR engine on a rendered image."""

from __future__ import annotations

import itertools
import math
import sys
from typing import Any

import numpy as np
import pymupdf
import pytest

from extractor.core.errors import ConfigError
from extractor.core.settings import OcrSettings
from extractor.ocr import (
    OCR_JOIN,
    TEXT_LAYER_JOIN,
    CachedOcrEngine,
    OcrEngine,
    RapidOcrEngine,
    TextBox,
    boxes_to_text,
    char_weighted_confidence,
    group_lines,
    join_line,
    make_engine,
    shared_engine,
    skew_slope,
)

_pymupdf: Any = pymupdf


def rotated_box(text: str, rect: tuple[float, float, float, float], angle_deg: float) -> TextBox:
    """An upright box ``(x, y, width, height)`` rotated about the image origin, as a
    skewed scan shows it."""
    x, y, width, height = rect
    a = math.radians(angle_deg)

    def rot(px: float, py: float) -> tuple[float, float]:
        return px * math.cos(a) - py * math.sin(a), px * math.sin(a) + py * math.cos(a)

    corners = (rot(x, y), rot(x + width, y), rot(x + width, y + height), rot(x, y + height))
    return TextBox(text, corners, 0.99)


TABLE = [
    ["一般公共服务支出", "32464209.41", "14274966.59", "18189242.82"],
    ["社会保障和就业支出", "1184368.32", "1184368.32", "0.00"],
    ["卫生健康支出", "518161.14", "518161.14", "0.00"],
]


def skewed_table(angle: float) -> list[TextBox]:
    boxes = []
    for r, row in enumerate(TABLE):
        for c, cell in enumerate(row):
            # cells 500 px apart, rows 45 px apart, 30 px tall: at 1.2 degrees the last
            # column sits 31 px lower than the first, more than half a row apart
            boxes.append(rotated_box(cell, (100 + 500 * c, 200 + 45 * r, 30 * len(cell), 30), angle))
    return boxes


def test_skewed_table_rows_stay_whole_and_in_order() -> None:
    boxes = skewed_table(1.2)
    shuffled = boxes[::-1]  # engines return boxes in their own order
    assert skew_slope(shuffled) == pytest.approx(math.tan(math.radians(1.2)), rel=1e-6)
    lines = boxes_to_text(shuffled).split("\n")
    assert lines == ["\t".join(row) for row in TABLE]


def test_without_deskew_the_same_rows_would_break() -> None:
    """The synthetic skew is strong enough to matter: grouping the raw centres with the
    same tolerance (half a box height) does not find the three rows."""
    centres = sorted(sum(y for _, y in b.quad) / 4 for b in skewed_table(1.2))
    naive_rows = 1 + sum(1 for a, b in itertools.pairwise(centres) if b - a > 15)
    assert naive_rows != 3
    assert len(group_lines(skewed_table(1.2))) == 3


def test_counter_clockwise_skew_too() -> None:
    assert boxes_to_text(skewed_table(-0.9)).split("\n") == ["\t".join(row) for row in TABLE]


def test_join_rules() -> None:
    h = 30.0

    def box(text: str, x0: float, x1: float) -> TextBox:
        return TextBox.from_rect(text, (x0, 100, x1, 100 + h))

    # touching CJK pieces join; touching figures in adjacent cells never fuse
    assert join_line([box("财政拨款", 0, 120), box("收入", 120, 180)]) == "财政拨款收入"
    assert join_line([box("0.29", 0, 60), box("0.29", 60, 120)]) == "0.29 0.29"
    # a clear gap is a cell boundary
    assert join_line([box("合计", 0, 60), box("885.90", 300, 390)]) == "合计\t885.90"
    # text layer: a word space stays a space, a cell gap becomes a tab
    words = [box("决算合计", 0, 120), box("885.90", 126, 216), box("万元", 400, 460)]
    assert join_line(words, TEXT_LAYER_JOIN) == "决算合计 885.90\t万元"
    assert join_line(words, OCR_JOIN) == "决算合计\t885.90\t万元"
    assert join_line([]) == ""


def test_lines_do_not_merge_at_normal_leading() -> None:
    boxes = [TextBox.from_rect(t, (0, y, 400, y + 30)) for t, y in
             [("第三行", 110), ("第一行", 30), ("第二行", 70)]]
    assert boxes_to_text(boxes) == "第一行\n第二行\n第三行"
    assert boxes_to_text([]) == ""
    assert boxes_to_text([TextBox.from_rect("  ", (0, 0, 10, 10))]) == ""


def test_confidence_is_weighted_by_characters() -> None:
    boxes = [TextBox.from_rect("一二三四五六七八九", (0, 0, 1, 1), 1.0),
             TextBox.from_rect("x", (0, 0, 1, 1), 0.5)]
    assert char_weighted_confidence(boxes) == pytest.approx((9 * 1.0 + 0.5) / 10)
    assert char_weighted_confidence([]) is None


def test_engine_choice() -> None:
    assert make_engine(OcrSettings(engine="none")) is None
    assert isinstance(make_engine(OcrSettings(engine="rapidocr")), RapidOcrEngine)
    with pytest.raises(ConfigError, match="tesseract"):
        make_engine(OcrSettings(engine="tesseract"))
    first = shared_engine(OcrSettings())
    assert first is shared_engine(OcrSettings()) and isinstance(first, OcrEngine)


def test_missing_rapidocr_is_a_config_error_with_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rapidocr", None)  # makes `import rapidocr` fail
    engine = RapidOcrEngine()
    with pytest.raises(ConfigError, match="pip install rapidocr onnxruntime"):
        engine.recognize(np.full((40, 40, 3), 255, dtype=np.uint8))
    assert not engine.loaded


def rendered_table_image() -> bytes:
    doc = _pymupdf.open()
    page = doc.new_page(width=420, height=110)
    page.insert_font(fontname="cs", fontbuffer=_pymupdf.Font("china-s").buffer)
    rows = [("项目", "决算数", "占比"), ("一般公共服务支出", "32464209.41", "58.05%"),
            ("住房保障支出", "1088829.41", "1.95%")]
    for r, row in enumerate(rows):
        for x, cell in zip((20, 200, 330), row, strict=True):
            page.insert_text((x, 30 + 28 * r), cell, fontname="cs", fontsize=11)
    page.insert_text((20, 100), "本年收入合计885.90万元。", fontname="cs", fontsize=11)
    png: bytes = page.get_pixmap(dpi=300).tobytes("png")
    return png


def test_rapidocr_reads_a_rendered_table_row_by_row() -> None:
    engine = shared_engine(OcrSettings())
    assert engine is not None
    page = engine.recognize(rendered_table_image())
    lines = page.text.split("\n")
    assert len(lines) == 4
    assert len(lines[0].split("\t")) == 3  # header cells (the model may read 决 as 決)
    assert lines[1].split("\t") == ["一般公共服务支出", "32464209.41", "58.05%"]
    assert lines[2].split("\t") == ["住房保障支出", "1088829.41", "1.95%"]
    assert "885.90" in lines[3]
    assert page.confidence is not None and page.confidence > 0.9
    assert len(page.boxes) >= 10


def test_rapidocr_blank_image_gives_empty_page() -> None:
    engine = shared_engine(OcrSettings())
    assert engine is not None
    page = engine.recognize(np.full((300, 300, 3), 255, dtype=np.uint8))
    assert page.text == "" and page.confidence is None


class CountingEngine:
    """The real engine, with its calls counted (to see which pages the cache answered)."""

    def __init__(self) -> None:
        self.inner = shared_engine(OcrSettings(cache_dir=None))
        assert self.inner is not None
        self.name = self.inner.name
        self.calls = 0

    def recognize(self, image: bytes | np.ndarray[Any, np.dtype[np.uint8]]) -> Any:
        self.calls += 1
        assert self.inner is not None
        return self.inner.recognize(image)


def test_ocr_cache_answers_a_page_read_before(tmp_path: Any) -> None:
    counting = CountingEngine()
    cached = CachedOcrEngine(counting, tmp_path / "ocr")
    image = rendered_table_image()
    first = cached.recognize(image)
    again = CachedOcrEngine(counting, tmp_path / "ocr").recognize(image)  # a new process's view
    assert counting.calls == 1
    assert again.text == first.text and again.confidence == pytest.approx(first.confidence)
    assert [b.text for b in again.boxes] == [b.text for b in first.boxes]
    # other pixels are another page
    blank = np.full((300, 300, 3), 255, dtype=np.uint8)
    assert cached.recognize(blank).text == "" and counting.calls == 2
    # a damaged entry is read again, not trusted
    for entry in (tmp_path / "ocr").rglob("*.json"):
        entry.write_text("{not json", encoding="utf-8")
    assert cached.recognize(image).text == first.text and counting.calls == 3


def test_settings_cache_dir_puts_the_shared_engine_behind_the_cache(tmp_path: Any) -> None:
    engine = shared_engine(OcrSettings(cache_dir=tmp_path))
    assert isinstance(engine, CachedOcrEngine) and engine.directory == tmp_path
    assert not isinstance(shared_engine(OcrSettings()), CachedOcrEngine)
