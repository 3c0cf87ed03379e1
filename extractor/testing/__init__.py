"""Test doubles that are real programs: :mod:`extractor.testing.fake_openai` is an HTTP server.

Shipped inside the package (not under ``tests/``) so the CLI demo and the benchmark can
start the same server the tests use. Names are loaded on first use so that
``python -m extractor.testing.fake_openai`` does not import the module twice.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from extractor.testing.fake_openai import (
        FAULT_KINDS,
        FakeOpenAI,
        FaultPlan,
        RecordedRequest,
        Reply,
        ReplyKind,
        Script,
        schema_responder,
    )

__all__ = ["FAULT_KINDS", "FakeOpenAI", "FaultPlan", "RecordedRequest", "Reply", "ReplyKind",
           "Script", "schema_responder"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("extractor.testing.fake_openai"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
