"""Evaluation: load contract files, score predictions against gold, compare runs, report.

All functions are pure over loaded records (no settings, no database), so the CLI, the
benchmark and outside evaluators call the same code.
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
