"""Model backends: each implements :class:`extractor.core.types.Backend` for one API family."""

from extractor.backends.openai_compat import OpenAICompatBackend, UsageTotals, make_client

__all__ = ["OpenAICompatBackend", "UsageTotals", "make_client"]
