"""Repair candidates: every OCR-style slip the reconciler may undo, and only those."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from extractor.reconcile.repair import (
    DIGIT_CONFUSIONS,
    Candidate,
    dedupe,
    ocr_candidates,
    printed_form,
)


def values(cands: list[Candidate]) -> set[float]:
    return {round(c.value, 9) for c in cands}


def source_of(cands: list[Candidate], value: float) -> str:
    return next(c.source for c in cands if abs(c.value - value) < 1e-9)


def test_confusions_are_symmetric() -> None:
    for digit, others in DIGIT_CONFUSIONS.items():
        assert digit not in others
        for other in others:
            assert digit in DIGIT_CONFUSIONS[other], (digit, other)


@pytest.mark.parametrize(("damaged", "true", "source"), [
    (835.90, 885.90, "digit"),      # 8 read as 3
    (885.09, 885.90, "swap"),       # 9 and 0 swapped
    (723.66, 1723.66, "split"),     # "1 723.66": the leading digit went astray
    (18885.9, 1885.9, "extra_digit"),
    (88590.0, 885.90, "decimal_point"),  # the point was dropped
    (8.859, 885.9, "decimal_point"),     # a stray point
    (8859000.0, 885.90, "unit"),         # a 万元 figure read as 元
    (885.90, 0.08859, "unit"),           # a 元 figure read as 万元
])
def test_each_slip_is_undone(damaged: float, true: float, source: str) -> None:
    cands = ocr_candidates(damaged, decimals=None)
    assert round(true, 9) in values(cands)
    assert source_of(cands, true) == source


def test_lost_or_extra_digits_keep_the_printed_decimals() -> None:
    cands = values(ocr_candidates(2.05, decimals=2))
    assert 12.05 in cands and 2.0 not in cands and 2.405 not in cands


def test_letters_read_for_digits_come_from_raw() -> None:
    cands = ocr_candidates(1.63, decimals=2, raw="1S.63万元")
    assert cands[0].source == "letter" and cands[0].value == 15.63


def test_digits_are_varied_as_printed_in_yuan() -> None:
    printed = printed_form(5592.396372, 2, "55,923,963.72元")
    assert (printed.text, printed.scale) == ("55923963.72", 1e-4)
    cands = ocr_candidates(5592.396372, decimals=2, raw="55,923,963.72元")
    fix = next(c for c in cands if c.detail.startswith("3→8 at position 5"))
    assert fix.value == pytest.approx(5592.896372) and fix.decimals == 6


def test_counts_stay_integers() -> None:
    cands = ocr_candidates(8, decimals=0, integer=True)
    assert values(cands) >= {0.0, 3.0, 6.0, 9.0}
    assert all(c.value == int(c.value) for c in cands)
    assert not any(c.source == "unit" for c in cands)


def test_small_figures_are_not_read_as_yuan() -> None:
    assert "unit" not in {c.source for c in ocr_candidates(8.0, decimals=2) if c.value < 1}


def test_dedupe_keeps_the_first_explanation_and_drops_the_current_value() -> None:
    a = Candidate(1.0, 2, "mention", "a")
    b = Candidate(1.0, 2, "digit", "b")
    c = Candidate(2.0, 2, "digit", "c")
    assert dedupe([a, b, c], exclude=2.0) == [a]
    assert 885.9 not in values(ocr_candidates(885.9))


def _slip(text: str, kind: str, at: int, alt: int) -> str | None:
    digits = [i for i, ch in enumerate(text) if ch.isdigit()]
    i = digits[at % len(digits)]
    if kind == "digit":
        options = DIGIT_CONFUSIONS[text[i]]
        return text[:i] + options[alt % len(options)] + text[i + 1:]
    if kind == "swap" and i + 1 < len(text) and text[i + 1].isdigit() and text[i] != text[i + 1]:
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]
    return None


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=10**9), st.sampled_from(["digit", "swap"]),
       st.integers(min_value=0, max_value=20), st.integers(min_value=0, max_value=3))
def test_any_single_slip_is_inverted(cents: int, kind: str, at: int, alt: int) -> None:
    text = f"{cents / 100:.2f}"
    slipped = _slip(text, kind, at, alt)
    if slipped is None or float(slipped) == float(text) or (slipped[:2].isdigit() and slipped[0] == "0"):
        return  # a leading digit read as 0 loses the figure's length: nothing to restore from
    assert round(float(text), 9) in values(ocr_candidates(float(slipped), decimals=2))
