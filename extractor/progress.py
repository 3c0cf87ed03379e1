"""Progress bars for terminals only: ingest (files and pages), extraction, model calls.

A bar is drawn on stderr when it is a terminal and is silent otherwise (piped, redirected,
captured by tests or a service), so logs and machine-readable output never carry bar
fragments. One factory, so every step's bar looks and behaves the same.
"""

from __future__ import annotations

import shutil
import sys
from typing import Any

from tqdm import tqdm


def progress_bar(total: int, desc: str, unit: str) -> tqdm[Any]:
    """A bar of ``total`` steps; ``total`` may grow later (``bar.total = n``)."""
    width = shutil.get_terminal_size().columns or 80  # a fresh pseudo-terminal reports 0 columns
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False, ncols=min(width, 120),
                disable=not sys.stderr.isatty())
