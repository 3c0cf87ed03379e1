"""Stored document findings: what is wrong with a report itself (its statements disagree,
a total is not its parts, a mandatory table is missing), kept per run and document apart
from the checks, which are about our reading."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Column, Text, delete
from sqlmodel import Field, Session, SQLModel, col, select

from extractor.core.records import DocumentFinding, FindingStatement


class DocumentFindingRow(SQLModel, table=True):
    """One finding about a report (``DocumentFinding``), as of one run."""

    __tablename__ = "document_finding"
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    document: str = Field(foreign_key="document.sha256")
    kind: str
    fields: list[str] | None = Field(default=None, sa_column=Column(JSON))
    statements: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    message: str = Field(sa_column=Column(Text))


def save_findings(session: Session, run_id: int, document: str, findings: Sequence[DocumentFinding]) -> None:
    session.execute(delete(DocumentFindingRow).where(col(DocumentFindingRow.run_id) == run_id,
                                                     col(DocumentFindingRow.document) == document))
    session.add_all(DocumentFindingRow(run_id=run_id, document=document, kind=f.kind, fields=f.fields,
                                       statements=[st.model_dump(mode="json") for st in f.statements],
                                       message=f.message) for f in findings)


def load_findings(session: Session, run_id: int, document: str | None = None
                  ) -> list[tuple[str, DocumentFinding]]:
    query = select(DocumentFindingRow).where(DocumentFindingRow.run_id == run_id)
    if document:
        query = query.where(DocumentFindingRow.document == document)
    rows = list(session.exec(query.order_by(col(DocumentFindingRow.id))))
    return [(r.document, DocumentFinding(kind=r.kind, fields=list(r.fields or []),
                                         statements=[FindingStatement.model_validate(st)
                                                     for st in r.statements or []],
                                         message=r.message)) for r in rows]
