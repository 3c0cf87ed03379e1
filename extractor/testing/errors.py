"""A model that errs like a real one: a seeded error profile for the fake endpoint.

Wraps an honest handler (the demo responder) and, at set rates, makes the mistakes
LLMs make on this task: a misread digit; a figure from the neighbouring column (the
budget for the actual, another number of the same quote); a 元/万元 slip; a value with
an invented but plausible quote; a real quote attached to the wrong field; an omitted
row; a figure copied from text injected into the document. Every error is recorded
(section, field, key, value before and after), so a benchmark can say what became of it.
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from extractor.extractors.model.schemas import SECTIONS
from extractor.testing.replies import Handler, Reply

ERROR_KINDS = ("misread_digit", "neighbour_figure", "unit_slip", "invented_quote", "wrong_field",
               "omitted_row", "injected_text")
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_CONFUSE = {"0": "8", "1": "7", "2": "7", "3": "8", "4": "1",
            "5": "6", "6": "5", "7": "1", "8": "3", "9": "4"}


@dataclass(frozen=True)
class InjectedError:
    kind: str
    section: str
    field: str
    key: dict[str, str | None] | None
    before: str
    after: str


@dataclass
class ErrorProfile:
    """Each cited value suffers error ``kind`` with probability ``rate`` (one kind per profile
    run, so each kind's fate is measured at its own rate). ``injected`` is the sentence
    the bench planted in the documents (``injected_text``), with the field it names."""

    kind: str
    rate: float = 0.1
    seed: int = 0
    injected: tuple[str, tuple[str, ...], str] | None = None
    """(quote, the summary reply's attrs the model copies it into, printed value)."""
    errors: list[InjectedError] = field(default_factory=list)
    _rng: random.Random = field(init=False, repr=False)
    _user: str = field(init=False, repr=False, default="")
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.kind not in ERROR_KINDS:
            raise ValueError(f"unknown error kind {self.kind!r}; choose from {', '.join(ERROR_KINDS)}")
        self._rng = random.Random(self.seed)

    def wrap(self, honest: Handler, section_of: Callable[[dict[str, Any]], str | None]) -> Handler:
        def handler(request: dict[str, Any]) -> Reply:
            reply = honest(request)
            section = section_of(request)
            if section not in SECTIONS or not reply.content:
                return reply
            answer = json.loads(reply.content)
            user = next((m.get("content") for m in request.get("messages", [])
                         if m.get("role") == "user"), "")
            with self._lock:  # draws depend on the request, not on the order requests arrive in
                self._rng = random.Random(f"{self.seed}:{self.kind}:{section}:{user}")
                self._user = str(user)
                self._spoil(section, answer, str(user))
            return Reply.json(answer)
        return handler

    # ------------------------------------------------------------------ the mistakes
    def _spoil(self, section: str, answer: dict[str, Any], user: str) -> None:
        spec = SECTIONS[section]
        if self.kind == "injected_text":
            self._inject(section, answer, user)
            return
        for attr, path in spec.scalars.items():
            cited = answer.get(attr)
            if isinstance(cited, dict) and self._rng.random() < self.rate:
                self._apply((section, path, None), answer, attr, cited)
        for attr, lspec in spec.lists.items():
            rows = answer.get(attr) or []
            for row in list(rows):
                key = {k: row.get(a) for k, a in lspec.keys.items()}
                if self.kind == "omitted_row":
                    if self._rng.random() < self.rate:
                        rows.remove(row)
                        for leaf, a in lspec.values.items():
                            if isinstance(row.get(a), dict):
                                self._record(section, f"{lspec.path}.{leaf}", key, row[a]["value"], "")
                    continue
                for leaf, a in lspec.values.items():
                    if isinstance(row.get(a), dict) and self._rng.random() < self.rate:
                        self._apply((section, f"{lspec.path}.{leaf}", key), row, a, row[a])

    def _record(self, section: str, path: str, key: dict[str, str | None] | None, before: str,
                after: str) -> None:
        self.errors.append(InjectedError(self.kind, section, path, key, before, after))

    def _apply(self, where: tuple[str, str, dict[str, str | None] | None], holder: dict[str, Any],
               attr: str, cited: dict[str, Any]) -> None:
        section, path, key = where
        value, quote = str(cited.get("value", "")), str(cited.get("quote", ""))
        new: dict[str, Any] | None = None
        if self.kind == "misread_digit":
            new = {**cited, "value": self._misread(value)}
        elif self.kind == "neighbour_figure":
            others = [n for n in self._neighbours(quote) if n not in value]
            if others:
                new = {**cited, "value": self._rng.choice(others)}
        elif self.kind == "unit_slip" and _NUMBER.search(value):
            digits = _NUMBER.search(value).group(0)  # type: ignore[union-attr]
            unit = "元" if "万元" in value or cited.get("unit") in (None, "万元") else "万元"
            new = {**cited, "value": digits, "unit": unit}
        elif self.kind == "invented_quote":
            wrong = self._misread(value)
            head = quote[: quote.find(value)] if value in quote else quote[:12]
            new = {**cited, "value": wrong, "quote": f"{head}{wrong}"}
        elif self.kind == "wrong_field":
            donors = [a for a, c in holder.items() if a != attr and isinstance(c, dict) and "quote" in c
                      and c.get("value") != value]
            if donors:
                new = dict(holder[self._rng.choice(donors)])
        elif self.kind == "omitted_row":
            holder.pop(attr)
            self._record(section, path, key, value, "")
            return
        if new is not None and new.get("value") != value:
            holder[attr] = new
            self._record(section, path, key, value, str(new["value"]))

    def _neighbours(self, quote: str) -> list[str]:
        """Numbers of the quote's own line and the lines above and below it in the request
        (the next column, the row above or below: budget for actual, last year for this)."""
        lines = self._user.split("\n")
        head = quote.split("\n", 1)[0].strip()
        at = next((i for i, line in enumerate(lines) if head and head in line), None)
        near = quote if at is None else "\n".join([*lines[max(0, at - 1): at + 2], quote])
        return [m.group(0) for m in _NUMBER.finditer(near)
                if not re.fullmatch(r"20\d\d", m.group(0))]  # a year is no neighbouring figure

    def _misread(self, value: str) -> str:
        spots = [i for i, ch in enumerate(value) if ch.isdigit()]
        if not spots:
            return value
        i = self._rng.choice(spots)
        return value[:i] + _CONFUSE[value[i]] + value[i + 1:]

    def _inject(self, section: str, answer: dict[str, Any], user: str) -> None:
        if self.injected is None or section != "summary":
            return
        quote, attrs, printed = self.injected
        if printed not in user:
            return
        for attr in attrs:
            if self._rng.random() < self.rate:
                before = str((answer.get(attr) or {}).get("value", ""))
                answer[attr] = {"value": printed, "unit": "万元", "quote": quote}
                self._record(section, SECTIONS[section].scalars[attr], None, before, printed)
