"""Extractors: turn a prepared document into evidence-carrying facts."""

from extractor.extractors.rules import RulesExtractor

__all__ = ["RulesExtractor"]
