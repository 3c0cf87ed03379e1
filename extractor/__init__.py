"""extractor: trustworthy figures from noisy OCR'd final-accounts reports."""

import sys

__version__ = "0.1.0"

# pymupdf 2 imports its ONNX layout model (``pymupdf.layout``) when it is imported: 0.57 s of
# CPU in every process that opens a PDF (each worker, server and CLI run; measured with
# ``time.process_time`` around ``import pymupdf``: 0.84 s with it, 0.27 s without).
# extractor never calls ``page.get_layout()`` and reads tables with
# ``find_tables(use_layout=False)``, so that import is skipped, unless some other code has
# already imported pymupdf (then nothing is changed).
if "pymupdf" not in sys.modules:
    sys.modules.setdefault("pymupdf.layout", None)  # type: ignore[arg-type]  # None: "no such module"
