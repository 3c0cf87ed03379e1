"""extractor: trustworthy figures from noisy OCR'd final-accounts reports."""

__version__ = "0.1.0"
