"""Core types shared by every pipeline step: records, errors, settings and interfaces.

Nothing in ``extractor.core`` imports a pipeline step or a backend (checked by
import-linter), so the contract can be read and reused on its own.
"""
