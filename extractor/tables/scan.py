"""Tables of a scanned page (owner: helper "scan"; this placeholder is replaced there).

Until the scanned-page reader lands, scanned pages yield no tables and their text stays
the OCR line layout of :mod:`extractor.ocr`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from extractor.core.types import Table
from extractor.ocr import TextBox

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


def read_scanned_tables(image: NDArray[np.uint8], boxes: Sequence[TextBox], page_number: int,
                        scale: float) -> list[Table]:
    """Raw table grids of a scanned page (none yet: see the module docstring)."""
    del image, boxes, page_number, scale
    return []
