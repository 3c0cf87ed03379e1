"""The one error hierarchy.

Every failure a user can act on is an ``ExtractorError``; the CLI catches this root
and prints one line, so anything else escaping is a bug, not an expected condition.
Names avoid shadowing library names (pydantic's ``ValidationError`` in particular).
"""

from __future__ import annotations


class ExtractorError(Exception):
    """Root of every error the package raises on purpose."""


class ConfigError(ExtractorError):
    """Settings are missing or contradictory (no endpoint, bad URL, unknown extractor)."""


class IngestError(ExtractorError):
    """A file could not be turned into pages; ``path`` and ``reason`` say which and why."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class UnsupportedFileError(IngestError):
    """The file type has no reader."""


class EmptyFileError(IngestError):
    """The file has no bytes, or no text on any page."""


class CorruptFileError(IngestError):
    """The file is damaged or is not what its extension claims."""


class EncryptedFileError(IngestError):
    """The PDF needs a password."""


class ContractError(ExtractorError):
    """A gold or prediction file does not match ``final_accounts/v1``."""

    def __init__(self, file: str, json_path: str, problem: str) -> None:
        super().__init__(f"{file}: at {json_path}: {problem}")
        self.file = file
        self.json_path = json_path
        self.problem = problem


class StoreError(ExtractorError):
    """The database cannot be reached or holds something unexpected."""


class NotFoundError(StoreError):
    """A document, run or chunk named by the user does not exist."""


class PromptError(ExtractorError):
    """A prompt file under ``prompts/`` is malformed."""


class ModelError(ExtractorError):
    """A model call failed for good (after the retries the policy allows)."""


class TruncatedOutputError(ModelError):
    """The model stopped at its token limit; re-asking the same way would truncate again."""


class BudgetExceededError(ModelError):
    """The run's token budget is spent; remaining calls are skipped, not attempted."""


class EvidenceError(ExtractorError):
    """A returned value's quote is not in its chunk, or the value cannot be read from it."""
