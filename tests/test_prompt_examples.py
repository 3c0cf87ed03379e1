"""Few-shot examples are not passages of the documents the gold set scores.

An example copied from a gold document shows the model the very text (and answer) it is
later scored on, inflating every model run's score. Examples are written for the prompts
(synthetic passages in the reports' OCR-noisy style); this test fails when any run of
``RUN`` characters of an example (its text, heading or a quote) occurs in a gold document.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from extractor.core.settings import Settings
from extractor.prompts import load_prompts
from tests.conftest import SAMPLES

RUN = 12


def _grams(text: str) -> set[str]:
    return {text[i:i + RUN] for i in range(len(text) - RUN + 1)}


def _gold_grams() -> set[str]:
    grams: set[str] = set()
    for path in sorted(SAMPLES.glob("*.txt")):
        grams |= _grams(path.read_text(encoding="utf-8"))
    return grams


def _quotes(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "quote" and isinstance(inner, str):
                yield inner
            else:
                yield from _quotes(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _quotes(inner)


def test_gold_documents_are_found() -> None:
    assert len(list(SAMPLES.glob("*.txt"))) == 3


@pytest.mark.parametrize("prompt", load_prompts(Settings().prompts_dir), ids=lambda p: p.section)
def test_no_example_text_occurs_in_a_gold_document(prompt: Any) -> None:
    gold = _gold_grams()
    for n, example in enumerate(prompt.spec.examples):
        for text in (example.input, example.heading, *_quotes(example.output)):
            shared = sorted(_grams(text) & gold)
            assert not shared, f"{prompt.section} example {n}: {shared[:3]} occur in a gold document"
        assert not example.source.startswith("data/samples"), example.source
