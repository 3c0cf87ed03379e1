"""Document types as data: per type, its rule catalog (``rules.yaml``) and the labels
each contract field is printed under (``fields.yaml``).

Only paths live here; the loaders that validate the files belong to the steps that use
them (:class:`extractor.reconcile.catalog.Catalog`, :class:`extractor.reconcile.labels.FieldLabels`),
so a new document type is a new folder, not new code.
"""

from __future__ import annotations

from pathlib import Path

DOCTYPES_DIR = Path(__file__).resolve().parent

FINAL_ACCOUNTS = DOCTYPES_DIR / "final_accounts"
"""``final_accounts/v1`` (部门决算公开)."""
