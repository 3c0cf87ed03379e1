"""Evaluation: load contract files, score predictions against gold, compare runs, report.

Everything works on loaded records and plain document texts handed in by the caller (no
settings, no database: the CLI looks those up), so the CLI, the benchmark and outside
evaluators call the same code. The one file read here is a stored document's original
PDF, when a cited cell box is checked.
"""

from extractor.evaluate.compare import (
    BootstrapConfig,
    Comparison,
    compare,
    comparison_json,
    format_comparison,
)
from extractor.evaluate.compare_html import write_comparison_html
from extractor.evaluate.evidence import DocumentText, EvidenceChecker, EvidenceCounts
from extractor.evaluate.report import render_html, write_html
from extractor.evaluate.schema import (
    SCHEMA_PATH,
    DocIdMismatchWarning,
    load_dir,
    load_dir_lenient,
    load_record,
    schema_text,
    write_schema,
)
from extractor.evaluate.score import (
    Counts,
    ScoreReport,
    SilentErrors,
    SlotResult,
    format_table,
    score_dirs,
    score_document,
)

__all__ = [
    "SCHEMA_PATH", "BootstrapConfig", "Comparison", "Counts", "DocIdMismatchWarning",
    "DocumentText", "EvidenceChecker", "EvidenceCounts", "ScoreReport", "SilentErrors",
    "SlotResult", "compare", "comparison_json", "format_comparison", "format_table",
    "load_dir", "load_dir_lenient", "load_record", "render_html", "schema_text",
    "score_dirs", "score_document", "write_comparison_html", "write_html", "write_schema",
]
