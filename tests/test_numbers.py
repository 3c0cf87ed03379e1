"""The shared number parser: units to 万元 at full precision, percentages, counts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from extractor.numbers import NumberFormatError, parse_amount, parse_count, parse_percent, parse_quantity


@pytest.mark.parametrize(("text", "value", "unit", "decimals"), [
    ("1723.66万元", Decimal("1723.66"), "万元", 2),
    ("1,723.66 万元", Decimal("1723.66"), "万元", 2),
    ("55923963.72元", Decimal("5592.396372"), "元", 2),
    ("1.5亿元", Decimal("15000.0"), "亿元", 1),
    ("0.00万元", Decimal("0"), "万元", 2),
])
def test_amounts_are_in_wan_yuan_with_printed_precision(text: str, value: Decimal, unit: str,
                                                        decimals: int) -> None:
    q = parse_amount(text)
    assert q.value == value
    assert q.unit == unit
    assert q.decimals == decimals
    assert q.raw == text


def test_yuan_precision_is_tiny_in_wan_yuan() -> None:
    assert parse_amount("55923963.72元").precision == Decimal("0.0000005")
    assert parse_amount("885.90万元").precision == Decimal("0.005")


def test_bare_number_takes_the_default_unit() -> None:
    assert parse_amount("3078181.57", default_unit="元").value == Decimal("307.818157")


def test_percent_and_counts_with_measure_words() -> None:
    assert parse_percent("占68.32%").value == Decimal("68.32")
    assert parse_count("公务用车保有量为8辆").value == 8
    q = parse_count("接待12人次")
    assert (q.value, q.unit) == (12, "人次")
    assert parse_count("购置2台（套）").unit == "台（套）"


def test_quantity_dispatches_on_unit() -> None:
    assert parse_quantity("占100.00%").kind == "percent"
    assert parse_quantity("6.04万元").kind == "amount"
    assert parse_quantity("1批次").kind == "count"


def test_garbage_is_a_clear_error() -> None:
    with pytest.raises(NumberFormatError):
        parse_amount("无此项")
