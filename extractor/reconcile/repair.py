"""Repair candidates: the values a damaged figure could really have been.

The reconciler only ever chooses among these, so a repair is always explained by a
concrete mechanism — another copy of the figure in the document, another extractor's
reading, an OCR confusion of the printed digits, or a 元/万元 slip — and never by
arithmetic alone (solving a sum for its missing part would "repair" anything).

Confusions are applied to the figure *as printed*: when the fact's ``raw`` holds the
printed number (possibly in 元), variants are made on those digits and scaled back to
万元, which is where OCR actually went wrong.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from extractor.core.records import Evidence

DIGIT_CONFUSIONS: dict[str, str] = {
    "0": "689", "1": "47", "2": "7", "3": "58", "4": "19", "5": "36",
    "6": "058", "7": "12", "8": "0369", "9": "048",
}
"""Digits OCR mistakes for one another (symmetric; checked in tests)."""

LETTER_DIGITS: dict[str, str] = {
    "O": "0", "o": "0", "D": "0", "Q": "0", "l": "1", "I": "1", "i": "1", "|": "1",
    "S": "5", "s": "5", "B": "8", "Z": "2", "z": "2", "G": "6", "b": "6", "g": "9", "q": "9",
}
"""Letters OCR puts where a digit was printed (``O.OO``, ``1S.63``, ``B8``)."""

UNIT_FACTOR = 10000.0
"""元 per 万元: the size of a unit slip."""

UNIT_FLOOR = 50.0
"""Smallest figure worth reading as 元 (50 元 = 0.005 万元, half a printed cent of 万元)."""

_TOKEN = re.compile(r"[-−]?[0-9OoDQlIi|SsBZzGbgq][0-9OoDQlIi|SsBZzGbgq,，.．\s]*")


@dataclass(frozen=True)
class Candidate:
    """A value a figure may really have, and why."""

    value: float
    decimals: int | None
    source: str
    """``mention``, ``alternate``, ``letter``, ``digit``, ``swap``, ``split``, ``extra_digit``,
    ``decimal_point`` or ``unit``."""
    detail: str
    evidence: Evidence | None = None


@dataclass(frozen=True)
class Printed:
    """The digits of a figure as printed and the factor that takes them to the fact's unit."""

    text: str
    """Digits with at most one ``.``, no sign."""
    scale: float
    negative: bool = False


def _decimals_of(text: str) -> int:
    return len(text.split(".", 1)[1]) if "." in text else 0


def _value_places(value: float) -> int:
    text = f"{abs(value):.8f}".rstrip("0")
    return len(text.split(".", 1)[1]) if "." in text else 0


def _scale_decimals(scale: float) -> int:
    return max(0, round(-math.log10(scale))) if scale > 0 else 0


def printed_form(value: float, decimals: int | None, raw: str | None) -> Printed:
    """How the figure was most likely printed: from ``raw`` when it parses to the value
    up to a power of ten (元 tables), else the value at its printed decimals."""
    if raw:
        printed = _from_raw(value, raw)
        if printed is not None:
            return printed
    places = decimals if decimals is not None else 2
    text = f"{abs(value):.{max(places, 0)}f}"
    return Printed(text, 1.0, value < 0)


def _from_raw(value: float, raw: str) -> Printed | None:
    text = unicodedata.normalize("NFKC", raw)
    for match in _TOKEN.finditer(text):
        token = match.group(0).strip()
        fixed = "".join(LETTER_DIGITS.get(ch, ch) for ch in token)
        digits = re.sub(r"[,\s]", "", fixed).replace("−", "-")
        negative = digits.startswith("-")
        digits = digits.lstrip("-")
        if not re.fullmatch(r"\d+(\.\d+)?", digits):
            continue
        number = float(digits)
        if number == 0:
            if value == 0:
                return Printed(digits, 1.0, False)
            continue
        ratio = abs(value) / number if value else 0.0
        if ratio == 0:
            continue
        power = round(math.log10(ratio))
        if abs(ratio / 10.0 ** power - 1) < 1e-6 and power in (-8, -4, 0, 4):
            return Printed(digits, 10.0 ** power, negative)
    return None


def letter_candidates(raw: str | None) -> list[Candidate]:
    """The numbers in ``raw`` with letters read back as digits (``1S.63万元`` → 15.63), in
    万元 by the unit ``raw`` names: whatever the parser made of the letters, this is
    what was printed."""
    if not raw:
        return []
    text = unicodedata.normalize("NFKC", raw)
    scale = 1e4 if "亿元" in text else 1e-4 if "元" in text.replace("万元", "") else 1.0
    out = []
    for match in _TOKEN.finditer(text):
        token = match.group(0).strip()
        if not any(ch in LETTER_DIGITS for ch in token):
            continue
        digits = re.sub(r"[,，\s]", "", "".join(LETTER_DIGITS.get(ch, ch) for ch in token)).replace("．", ".")
        if re.fullmatch(r"-?\d+(\.\d+)?", digits):
            places = _decimals_of(digits) + _scale_decimals(scale)
            out.append(Candidate(round(float(digits) * scale, 10), places, "letter",
                                 f"letters read as digits in {token!r}"))
    return out


def _variants(text: str) -> Iterator[tuple[str, str, str]]:
    """(new text, source, detail) for every single OCR-style change of ``text``."""
    for i, ch in enumerate(text):
        for alt in DIGIT_CONFUSIONS.get(ch, ""):
            yield text[:i] + alt + text[i + 1:], "digit", f"{ch}→{alt} at position {i + 1} of {text!r}"
    for i in range(len(text) - 1):
        a, b = text[i], text[i + 1]
        if a != b and a.isdigit() and b.isdigit():
            yield text[:i] + b + a + text[i + 2:], "swap", f"swapped {a}{b} at position {i + 1} of {text!r}"
    whole = text.find(".") if "." in text else len(text)  # a lost or extra digit keeps the
    for i in range(whole):                                   # printed decimals (the format shows them)
        yield text[:i] + text[i + 1:], "extra_digit", f"dropped {text[i]} at position {i + 1} of {text!r}"
    for i in range(whole + 1):
        for d in "0123456789":
            yield text[:i] + d + text[i:], "split", f"restored a lost {d} at position {i + 1} of {text!r}"
    bare = text.replace(".", "")
    for i in range(1, len(bare) + 1):
        moved = bare[:i] + ("." + bare[i:] if i < len(bare) else "")
        yield moved, "decimal_point", f"decimal point of {text!r} placed as {moved!r}"


def ocr_candidates(value: float, *, decimals: int | None = None, raw: str | None = None,
                   integer: bool = False) -> list[Candidate]:
    """Every value one OCR-style slip away from ``value`` (deduplicated, current value excluded)."""
    places = decimals if decimals is not None else (0 if integer else max(2, _value_places(value)))
    printed = printed_form(value, places, raw)
    sign = -1.0 if printed.negative else 1.0
    out: list[Candidate] = []
    out += letter_candidates(raw)
    if value and not integer:  # a point moved by exactly four places is a unit slip
        if abs(value) >= UNIT_FLOOR:  # a 元 figure of a few 元 is not a plausible amount here
            out.append(Candidate(value / UNIT_FACTOR, places + 4, "unit", "a 元 figure read as 万元"))
        out.append(Candidate(value * UNIT_FACTOR, max(places - 4, 0), "unit", "a 万元 figure read as 元"))
    for text, source, detail in _variants(printed.text):
        if not re.fullmatch(r"\d+(\.\d+)?", text) or (integer and "." in text):
            continue
        out.append(Candidate(round(sign * float(text) * printed.scale, 10),
                             _decimals_of(text) + _scale_decimals(printed.scale), source, detail))
    return dedupe(out, exclude=value)


def dedupe(candidates: Iterable[Candidate], *, exclude: float | None = None) -> list[Candidate]:
    """First candidate per distinct value (values equal to 1e-9), ``exclude`` dropped."""
    seen: set[float] = set() if exclude is None else {round(exclude, 9)}
    out: list[Candidate] = []
    for cand in candidates:
        if not math.isfinite(cand.value):
            continue
        marker = round(cand.value, 9)
        if marker in seen:
            continue
        seen.add(marker)
        out.append(cand)
    return out
