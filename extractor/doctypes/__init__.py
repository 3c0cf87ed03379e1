"""Document types as data: what each kind of report prints and how it maps to the contract.

One sub-package per contract (``final_accounts``): validated YAML for its table shapes and
synonyms (``tables.yaml``), its rule catalog (``rules.yaml``) and the labels each contract
field is printed under (``fields.yaml``). The loaders that validate the files belong to the
steps that use them (the rules extractor's table reader,
:class:`extractor.reconcile.catalog.Catalog`, :class:`extractor.reconcile.labels.FieldLabels`),
so a new template or document type is an edit of data, not of code.
"""

from __future__ import annotations

from pathlib import Path

DOCTYPES_DIR = Path(__file__).resolve().parent

FINAL_ACCOUNTS = DOCTYPES_DIR / "final_accounts"
"""``final_accounts/v1`` (部门决算公开)."""
