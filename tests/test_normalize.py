"""Normalization: each rule on real noise from sample 003, and offsets that always map back."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from extractor.core.types import PageText
from extractor.normalize import equivalent, normalize, normalize_pages
from tests.conftest import sample_text

RAW_003 = sample_text("003_17aaca51ade6ba7f")


def _line_with(fragment: str) -> str:
    line = next(ln for ln in RAW_003.splitlines() if fragment in ln)
    return line


def test_letter_o_zeros_in_sample_003_become_digits() -> None:
    line = _line_with("使用非财政拨款结余和专用结余<u>O.OO</u>万元")
    clean = normalize(line).text
    assert "使用非财政拨款结余和专用结余0.00万元" in clean
    assert "增长 0%" in clean
    assert "O.OO" not in clean


def test_split_decimal_in_sample_003_is_joined() -> None:
    line = _line_with("0. 29")
    clean = normalize(line).text
    assert "0.29" in clean and "0. 29" not in clean
    table_line = _line_with("957. 15")
    assert "957.15" in normalize(table_line).text


def test_underlined_figure_in_sample_003_loses_markup() -> None:
    line = _line_with("3.年初结转和结余 <u>0.95</u>万元")
    clean = normalize(line).text
    assert "年初结转和结余 0.95万元" in clean
    assert "<u>" not in clean and "</u>" not in clean


def test_underscore_bold_and_thousands_separator() -> None:
    clean = normalize(_line_with("(一) 收入决算总计_1,724.62 万元")).text
    assert "收入决算总计1724.62 万元" in clean
    clean = normalize(_line_with("国有资本经营预算财政拨款收入_*O.OO*_万元")).text
    assert "国有资本经营预算财政拨款收入0.00万元,占0.00%" in clean


def test_text_outside_numbers_untouched_on_whole_sample() -> None:
    clean = normalize(RAW_003).text
    cjk = re.compile(r"[\u4e00-\u9fff]")
    assert cjk.findall(clean) == cjk.findall(RAW_003)
    # Latin words that are not figures keep their letters (e.g. 'VI' in a table cell).
    assert "VI 文化建设展" in clean


def test_letters_inside_words_are_not_digits() -> None:
    for text in ("OCR 识别", "Office 软件", "PPP 项目", "IO 设备", "VI 文化"):
        assert normalize(text).text == text


def test_full_width_digits_and_points() -> None:
    assert normalize("支出２３．５万元，占１２％").text == "支出23.5万元，占12%"


def test_list_number_before_year_is_not_joined() -> None:
    assert normalize("3. 2023年完成").text == "3. 2023年完成"
    assert normalize("1. 人大事务").text == "1. 人大事务"


def test_pages_are_joined_with_offsets_per_page() -> None:
    pages = [PageText(1, "收入<u>1,000.5</u>万元", "file"), PageText(2, "支出 O.OO 万元", "file")]
    norm, starts = normalize_pages(pages)
    assert norm.text == "收入1000.5万元\n支出 0.00 万元"
    assert starts == [0, len("收入1000.5万元") + 1]
    second = norm.text.index("0.00")
    assert pages[1].raw[norm.offsets[second]] == "O"


ALPHABET = st.sampled_from([*"0123456789Ool〇.,%％０１９．*_ \t\n万元占收入支出年辆个ABCVI<>/u",
                            "<u>", "</u>", "**"])


@settings(max_examples=400, deadline=None)
@given(st.lists(ALPHABET, max_size=60).map("".join))
def test_every_offset_maps_back_onto_its_raw_character(raw: str) -> None:
    norm = normalize(raw)
    assert len(norm.offsets) == len(norm.text) + 1
    assert norm.offsets[-1] == len(raw)
    assert all(a < b for a, b in zip(norm.offsets, norm.offsets[1:-1], strict=False))
    for i, ch in enumerate(norm.text):
        assert equivalent(raw[norm.offsets[i]], ch), (raw, norm.text, i)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=80))
def test_offsets_hold_for_arbitrary_text(raw: str) -> None:
    norm = normalize(raw)
    for i, ch in enumerate(norm.text):
        assert equivalent(raw[norm.offsets[i]], ch)
    start, end = norm.raw_span(0, len(norm.text))
    assert 0 <= start <= end <= len(raw)


def test_letter_zeros_in_a_table_cell_without_a_unit_are_figures() -> None:
    """A table row: ``O.OO`` stands alone in its cell, no 万元 after it (the unit is in
    the table's header), and is still the figure 0.00."""
    raw = "科目编码\t项目\t本年收入\t财政拨款\n2010301\t行政运行\tO.OO\tO.OO\n合计\t\t12.5O\tO.OO"
    clean = normalize(raw).text
    assert clean == "科目编码\t项目\t本年收入\t财政拨款\n2010301\t行政运行\t0.00\t0.00\n合计\t\t12.50\t0.00"
