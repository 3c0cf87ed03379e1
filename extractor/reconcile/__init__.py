"""Reconciliation: check every figure against the document's own arithmetic and other
statements, repair what the checks prove, flag what they cannot, and tell the report's
own inconsistencies (document findings) apart from doubts about our reading.

- :mod:`.catalog`: the rule catalog as validated data (one per document type) and its
  instantiation over a document's slots;
- :mod:`.evaluation`: one check's verdict with rounding-aware tolerance;
- :mod:`.repair`: the values a damaged figure could really have been;
- :mod:`.book`, :mod:`.sources`: current figures, their statements and where each was printed;
- :mod:`.engine`: repair rounds and per-value status;
- :mod:`.labels`: whether a quote or a table cell names the field its value was taken for;
- :mod:`.textchecks`: what the text supports beyond arithmetic (year, department, item
  codes, printed changes against last year);
- :mod:`.findings`: document findings (the report disagrees with itself);
- :mod:`.document`: all of it for one document, as the pipeline runs it;
- :mod:`.coverage`: which values no check and no second reading touches.
"""

from __future__ import annotations

from extractor.reconcile.book import slot_label
from extractor.reconcile.catalog import Catalog
from extractor.reconcile.engine import default_catalog, implied_aux_facts, reconcile, reconcile_record
from extractor.reconcile.models import (
    CheckResult,
    FigureRef,
    ReconcileOptions,
    ReconcileResult,
    Repair,
    format_checks,
)

__all__ = ["Catalog", "CheckResult", "FigureRef", "ReconcileOptions", "ReconcileResult", "Repair",
           "default_catalog", "format_checks", "implied_aux_facts", "reconcile", "reconcile_record",
           "slot_label"]
