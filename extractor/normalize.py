"""A clean view of OCR'd text for parsers and prompts, with an offset map back to the raw.

OCR damage concentrates in figures: ``O.OO`` for 0.00, ``26. 11`` for 26.11, markup such
as ``<u>0.95</u>`` or ``_**1,723.66**_`` wrapped round them, full-width digits. Parsers
and prompts want the clean figure, while evidence must point at the raw page. Every pass
here only deletes characters or substitutes one character for one, so each output
character keeps the index of the raw character it came from; text outside numbers is
never altered (Chinese wording, names and punctuation stay exactly as printed).
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Callable

from extractor.core.types import NormalizedText, PageText

_View = tuple[str, "array[int]"]
"""The working form: the text, and for each of its characters the raw index it came from
(an ``array`` of machine integers: a Python list of tuples cost ~100 bytes a character,
several GB for a 50 MB file)."""

_FULL_DIGITS = {chr(0xFF10 + i): str(i) for i in range(10)}
_FULL_DIGITS_TABLE = str.maketrans(_FULL_DIGITS)
_CONFUSABLE = {"O": "0", "o": "0", "〇": "0", "D": "0", "l": "1", "I": "1", "|": "1"}
"""Letters OCR reads for digits; only ever replaced inside a numeric token."""

_TAG_RE = re.compile(r"</?(?:u|b|i|em|strong|sup|sub|span|font|br)\b[^>\n]{0,80}>", re.I)
_BOLD_RE = re.compile(r"\*{2,}")
_NUMERIC_NEIGHBOUR = set("0123456789.%") | set(_FULL_DIGITS) | {"〇", "．", "％"}
_UNIT_AFTER = re.compile(r"\s*(?:亿元|万元|元|%|％|辆|个|人次|人|批次|批|台|套|项|次|分)")
_TOKEN_RE = re.compile(r"(?<![A-Za-z])[0-9Oo〇DlI|.]+(?![A-Za-z])")
_DECIMAL_SHAPE = re.compile(r"^[0-9Oo〇D]+\.[0-9Oo〇D]+$")
_BROKEN_DECIMAL = re.compile(r"(?<![\d.])(\d+)( *)\.( *)(\d+)(?![\d.])")
_THOUSANDS = re.compile(r"(?<![\d,.])\d{1,3}(?:,\d{3})+(?![\d,])")
_FULL_STOP_IN_FIGURE = re.compile(r"(?<=[0-9])[．％]")


def _delete_spans(view: _View, spans: list[tuple[int, int]]) -> _View:
    """Drop the characters of ``spans`` (in any order, possibly overlapping), in one pass
    of slices: linear in the text, whatever the number of spans."""
    if not spans:
        return view
    text, idx = view
    pieces: list[str] = []
    kept = array("q")
    pos = 0
    for start, end in sorted(spans):
        if start > pos:
            pieces.append(text[pos:start])
            kept.extend(idx[pos:start])
        pos = max(pos, end)
    pieces.append(text[pos:])
    kept.extend(idx[pos:])
    return "".join(pieces), kept


def _substitute(view: _View, changes: dict[int, str]) -> _View:
    """Replace single characters at positions (one for one: offsets are unchanged)."""
    if not changes:
        return view
    text, idx = view
    pieces: list[str] = []
    pos = 0
    for at in sorted(changes):
        pieces += (text[pos:at], changes[at])
        pos = at + 1
    pieces.append(text[pos:])
    return "".join(pieces), idx


def _strip_tags(view: _View) -> _View:
    """HTML-ish emphasis tags that OCR-to-markdown tools wrap round figures."""
    return _delete_spans(view, [m.span() for m in _TAG_RE.finditer(view[0])])


def _strip_emphasis(view: _View) -> _View:
    """``**`` anywhere; single ``*`` / ``_`` runs only where they touch a figure."""
    view = _delete_spans(view, [m.span() for m in _BOLD_RE.finditer(view[0])])
    text = view[0]
    spans = []
    for m in re.finditer(r"[*_]+", text):
        before = text[m.start() - 1] if m.start() > 0 else ""
        after = text[m.end():m.end() + 3].lstrip()[:1]  # a fill-in blank may end a line
        if before in _NUMERIC_NEIGHBOUR or after in _NUMERIC_NEIGHBOUR or after in _CONFUSABLE \
                or before in _CONFUSABLE or text.startswith("万元", m.end()):
            spans.append(m.span())
    return _delete_spans(view, spans)


def _full_width(view: _View) -> _View:
    """Full-width digits everywhere; full-width ．％ only where they sit in a figure."""
    text = view[0].translate(_FULL_DIGITS_TABLE)
    text = _FULL_STOP_IN_FIGURE.sub(lambda m: "." if m.group(0) == "．" else "%", text)
    return text, view[1]


def _digit_confusions(view: _View) -> _View:
    """``O.OO`` → ``0.00``, ``2O23`` → ``2023``, ``O%`` → ``0%``; letters elsewhere untouched."""
    text = view[0]
    changes: dict[int, str] = {}
    for m in _TOKEN_RE.finditer(text):
        token = m.group(0)
        if not any(c in _CONFUSABLE for c in token) or token.strip(".") == "":
            continue
        has_digit = any(c.isdigit() for c in token)
        letters_only = all(c in _CONFUSABLE or c == "." for c in token)
        numeric = (
            _DECIMAL_SHAPE.match(token) is not None
            or (has_digit and not token.startswith(".") and not token.endswith("."))
            or (letters_only and _UNIT_AFTER.match(text, m.end()) is not None
                and token.strip(".") == token and len(token) <= 6)
        )
        if not numeric:
            continue
        for offset, ch in enumerate(token):
            if ch in _CONFUSABLE:
                changes[m.start() + offset] = _CONFUSABLE[ch]
    return _substitute(view, changes)


def _broken_numbers(view: _View) -> _View:
    """``26. 11`` / ``791 . 16`` → one figure; ``1,723.66`` → ``1723.66``."""
    text = view[0]
    spans = []
    for m in _BROKEN_DECIMAL.finditer(text):
        if not (m.group(2) or m.group(3)):
            continue
        tail = text[m.end(): m.end() + 2].lstrip()
        if len(m.group(4)) == 4 and tail.startswith("年"):
            continue  # "1. 2023年" is a list number before a year
        spans.append(m.span(2))
        spans.append(m.span(3))
    view = _delete_spans(view, spans)
    text = view[0]
    commas = [(m.start() + i, m.start() + i + 1)
              for m in _THOUSANDS.finditer(text) for i, c in enumerate(m.group(0)) if c == ","]
    return _delete_spans(view, commas)


PASSES: tuple[Callable[[_View], _View], ...] = (
    _strip_tags, _strip_emphasis, _full_width, _digit_confusions, _broken_numbers,
)


def normalize(raw: str) -> NormalizedText:
    """Run every pass; the result maps each character back to its raw index."""
    view: _View = (raw, array("q", range(len(raw))))
    for step in PASSES:
        view = step(view)
    text, idx = view
    idx.append(len(raw))
    return NormalizedText(text=text, offsets=idx.tolist())


def equivalent(raw_char: str, clean_char: str) -> bool:
    """Whether normalization may have turned ``raw_char`` into ``clean_char``."""
    return (raw_char == clean_char or _FULL_DIGITS.get(raw_char) == clean_char
            or _CONFUSABLE.get(raw_char) == clean_char
            or (raw_char, clean_char) in {("．", "."), ("％", "%")})


def normalize_pages(pages: list[PageText]) -> tuple[NormalizedText, list[int]]:
    """Normalize each page and join them with ``\\n``.

    Offsets in the joined text map to ``(page, raw index)``: the returned offsets are
    raw indices *within each page*, and ``page_starts`` says where each page begins in
    the joined normalized text, so evidence can point at the exact raw characters.
    """
    texts: list[str] = []
    offsets: list[int] = []
    page_starts: list[int] = []
    pos = 0
    for page in pages:
        norm = normalize(page.raw)
        page_starts.append(pos)
        texts.append(norm.text)
        offsets.extend(norm.offsets[:-1])
        offsets.append(len(page.raw))  # the joining newline maps to the page end
        pos += len(norm.text) + 1
    text = "\n".join(texts)
    offsets = [*offsets[:len(text)], offsets[-1] if offsets else 0]
    return NormalizedText(text=text, offsets=offsets), page_starts
