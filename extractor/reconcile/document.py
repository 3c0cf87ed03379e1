"""One document's reconciliation, as the pipeline runs it: the arithmetic over its facts,
the checks its text supports, and the findings about the report itself."""

from __future__ import annotations

from dataclasses import dataclass

from extractor.core.records import CheckStatus, DocumentFinding, Fact, FindingStatement, primary_facts
from extractor.core.types import DocumentData
from extractor.reconcile.book import slot_label
from extractor.reconcile.catalog import Catalog
from extractor.reconcile.engine import reconcile
from extractor.reconcile.findings import document_findings
from extractor.reconcile.labels import FieldLabels, default_labels
from extractor.reconcile.models import ReconcileOptions, ReconcileResult
from extractor.reconcile.textchecks import apply_text_checks, text_checks


@dataclass
class DocumentReconciliation:
    result: ReconcileResult
    """Facts with their status, every check (arithmetic and text) and the repairs."""
    findings: list[DocumentFinding]


def reconcile_document(doc: DocumentData, facts: list[Fact], *, alternates: list[Fact] | None = None,
                       catalog: Catalog | None = None, labels: FieldLabels | None = None,
                       options: ReconcileOptions | None = None) -> DocumentReconciliation:
    spec = labels or default_labels()
    result = reconcile(facts, alternates=alternates, options=options, catalog=catalog)
    extra = text_checks(result.facts, doc, spec)
    verified = {slot_label(f.slot_id()) for f in primary_facts(result.facts)
                if f.status is CheckStatus.VERIFIED}
    stated: list[DocumentFinding] = []
    for check in extra:  # a printed change at odds with a figure the arithmetic proved: the report's
        if check.rule == "text.stated_change" and not check.passed and check.figures[0].slot in verified:
            check.blamed = []
            ref = check.figures[0]
            stated.append(DocumentFinding(
                kind="wording_contradicts_figures", fields=[ref.field],
                statements=[FindingStatement(quote=ref.quote, page=ref.page, value=ref.value)],
                message=f"the change printed beside {ref.slot} does not match it: {check.summary}"))
    apply_text_checks(result.facts, extra, options)
    result.checks += extra
    department = next((str(f.value) for f in result.facts if f.field == "meta.department" and f.value), None)
    findings = document_findings(result, doc, department=department, labels=spec)
    return DocumentReconciliation(result, findings + stated)
