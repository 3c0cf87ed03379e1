"""The model extractor: prompts routed to an OpenAI-compatible backend, answers checked
against their chunks (:mod:`.evidence`), calls cached and resumable (:mod:`.calls`).

:class:`ModelExtractor` is imported lazily: the prompt loader (``extractor.prompts``)
needs this package's reply schemas and evidence checks, and the extractor needs the
prompts, so an eager import here would make the two import each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from extractor.extractors.model.extractor import ModelExtractor

__all__ = ["ModelExtractor"]


def __getattr__(name: str) -> object:
    if name == "ModelExtractor":
        from extractor.extractors.model.extractor import ModelExtractor

        return ModelExtractor
    raise AttributeError(name)
