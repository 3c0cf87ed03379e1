"""The one parser for amounts, percentages and counts.

Every figure the project reads goes through here so that unit handling (元 / 万元 /
亿元 → 万元) and printed precision are decided once. Values are ``Decimal`` so that a
元 figure divided by 10000 keeps full precision (55923963.72 元 → 5592.396372 万元);
the raw string travels beside the value for evidence and for rounding-aware checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from extractor.core.errors import ExtractorError

UNIT_FACTORS: dict[str, Decimal] = {
    "元": Decimal("0.0001"),
    "万元": Decimal("1"),
    "亿元": Decimal("10000"),
}
"""Multiplier that takes a figure in the unit to 万元."""

MEASURE_WORDS = ("台（套）", "台(套)", "人次", "批次", "辆", "个", "台", "套", "人", "次", "批", "项")
"""Measure words of counts; longest first so 人次 wins over 人."""

NUMBER_RE = re.compile(r"[-−]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|[-−]?\d+(?:\.\d+)?")
_AMOUNT_RE = re.compile(rf"(?P<num>{NUMBER_RE.pattern})\s*(?P<unit>亿元|万元|元)")
_PERCENT_RE = re.compile(rf"(?P<num>{NUMBER_RE.pattern})\s*[%％]")
_COUNT_RE = re.compile(
    rf"(?P<num>\d+)\s*(?P<unit>{'|'.join(re.escape(m) for m in MEASURE_WORDS)})")


class NumberFormatError(ExtractorError):
    """A string that should hold a figure does not."""


@dataclass(frozen=True)
class Quantity:
    """A parsed figure: ``value`` in the canonical unit (万元, percent or count)."""

    value: Decimal
    kind: str
    """``amount``, ``percent`` or ``count``."""
    unit: str
    """The unit as printed (元, 万元, 亿元, %, 辆 …); ``""`` for a bare number."""
    raw: str
    decimals: int
    """Digits after the decimal point as printed: the figure's precision in its own unit."""

    @property
    def precision(self) -> Decimal:
        """Half a unit of the last printed digit, in the canonical unit (万元 for amounts)."""
        half = Decimal(5) * Decimal(10) ** -(self.decimals + 1)
        return half * UNIT_FACTORS.get(self.unit, Decimal(1))


def parse_decimal(text: str) -> tuple[Decimal, int]:
    """A plain number (thousands separators allowed) and its printed decimals."""
    cleaned = text.strip().replace(",", "").replace("−", "-")
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:
        raise NumberFormatError(f"not a number: {text!r}") from exc
    decimals = len(cleaned.split(".", 1)[1]) if "." in cleaned else 0
    return value, decimals


def parse_amount(text: str, default_unit: str = "万元") -> Quantity:
    """``1,723.66万元`` / ``55923963.72元`` / a bare number in ``default_unit`` → 万元."""
    match = _AMOUNT_RE.search(text)
    if match:
        num, unit = match["num"], match["unit"]
    else:
        bare = NUMBER_RE.search(text)
        if not bare:
            raise NumberFormatError(f"no amount in {text!r}")
        num, unit = bare.group(0), default_unit
    value, decimals = parse_decimal(num)
    return Quantity(value * UNIT_FACTORS[unit], "amount", unit, text.strip(), decimals)


def parse_percent(text: str) -> Quantity:
    """``68.32%`` → 68.32 (percent)."""
    match = _PERCENT_RE.search(text)
    if not match:
        raise NumberFormatError(f"no percentage in {text!r}")
    value, decimals = parse_decimal(match["num"])
    return Quantity(value, "percent", "%", text.strip(), decimals)


def parse_count(text: str) -> Quantity:
    """``8辆`` / ``12人次`` / ``3个`` → integer count with its measure word."""
    match = _COUNT_RE.search(text)
    if not match:
        bare = re.search(r"\d+", text)
        if not bare:
            raise NumberFormatError(f"no count in {text!r}")
        return Quantity(Decimal(bare.group(0)), "count", "", text.strip(), 0)
    return Quantity(Decimal(match["num"]), "count", match["unit"], text.strip(), 0)


def parse_quantity(text: str, default_unit: str = "万元") -> Quantity:
    """Whatever figure ``text`` holds, judged by its unit."""
    if _PERCENT_RE.search(text):
        return parse_percent(text)
    if _AMOUNT_RE.search(text):
        return parse_amount(text)
    if _COUNT_RE.search(text):
        return parse_count(text)
    return parse_amount(text, default_unit)


def to_float(value: Decimal) -> float:
    """Decimal → float for the contract's JSON numbers, without binary noise beyond 1e-9."""
    return float(value.normalize()) if value == value.to_integral() else float(value)
