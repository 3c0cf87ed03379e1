"""The extract step: choose the extractor a run uses and describe it for the run record.

``auto`` means the model extractor when an endpoint is configured and the rules extractor
otherwise, so the embedded default needs no key and no server.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from extractor.core.errors import ConfigError
from extractor.core.settings import Settings
from extractor.core.types import Extractor
from extractor.store import Store


@dataclass
class ExtractorChoice:
    extractor: Extractor
    prompt_hashes: dict[str, str] = field(default_factory=dict)


def choose_extractor(settings: Settings, store: Store, name: str | None = None) -> ExtractorChoice:
    """Build the named extractor (``rules``, ``model`` or ``auto``) from settings."""
    wanted = name or settings.extractor
    if wanted == "auto":
        wanted = "model" if settings.model.configured else "rules"
    if wanted == "rules":
        from extractor.extractors.rules import RulesExtractor

        return ExtractorChoice(RulesExtractor())
    if wanted == "model":
        if not settings.model.configured:
            raise ConfigError("the model extractor needs an endpoint: set EXTRACTOR_MODEL__BASE_URL "
                              "and EXTRACTOR_MODEL__MODEL (or --base-url / --model)")
        from extractor.backends.openai_compat import make_backend
        from extractor.extractors.model import ModelExtractor
        from extractor.prompts import load_prompts

        prompts = load_prompts(settings.prompts_dir)
        extractor = ModelExtractor(make_backend(settings.model), store, prompts, settings.model)
        return ExtractorChoice(extractor, {p.section: p.content_hash for p in prompts})
    raise ConfigError(f"unknown extractor {wanted!r}: choose rules, model or auto")
