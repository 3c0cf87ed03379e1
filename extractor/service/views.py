"""Server-rendered pages: the run list, a run's overview and a document's review page.

Templates and their CSS/JS live in ``templates/`` as data; everything a page needs is
inlined into it (no CDN, no extra request but the page images), so it works offline and
behind a firewall. Jinja2 escapes every value; the review data travels as JSON inside a
``<script type="application/json">`` block.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from extractor.core.errors import ContractError
from extractor.evaluate.schema import load_dir
from extractor.evaluate.score import score_dirs
from extractor.ingest import MEDIA_TYPES
from extractor.pipeline import predictions
from extractor.service import data, review
from extractor.service.models import Job
from extractor.service.queue import JobQueue
from extractor.store import Document, Store
from extractor.summary import finding_counts

TEMPLATES = Path(__file__).parent / "templates"


@cache
def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    env.globals["asset"] = lambda name: Markup((TEMPLATES / name).read_text(encoding="utf-8"))
    return env


def _json_script(value: Any) -> Markup:
    """JSON safe inside ``<script>``: no ``</script>`` or ``<!--`` can end the block."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def index_page(store: Store, queue: JobQueue) -> str:
    runs = []
    for run in reversed(store.runs()):
        assert run.id is not None
        docs = store.run_documents(run.id)
        runs.append({"id": run.id, "extractor": run.extractor, "status": run.status,
                     "created": run.created.strftime("%Y-%m-%d %H:%M"), "documents": len(docs),
                     "failed": sum(d.status == "failed" for d in docs)})
    jobs: list[Job] = list(reversed(queue.jobs()))[:50]
    return _env().get_template("index.html").render(runs=runs, jobs=jobs, accept=",".join(MEDIA_TYPES))


def run_page(store: Store, run_id: int, gold_dir: Path) -> str:
    run = store.get_run(run_id)
    names = {d.sha256: d for d in store.documents()}
    records = data.run_records(store, run_id)
    rows = []
    for rd in store.run_documents(run_id):
        doc = names.get(rd.document)
        counts = finding_counts(store.facts(run_id, rd.document))
        record = records.get(doc.doc_id, {}) if doc else {}
        state = data.review_state(store, rd.document)
        rows.append({"sha": rd.document, "doc_id": doc.doc_id if doc else rd.document[:12],
                     "status": rd.status, "counts": counts,
                     "findings": len(data.findings_of(record)),
                     "failing": sum(not c.passed for c in store.checks(run_id, rd.document)),
                     "corrections": len(data.corrections(store, rd.document)),
                     "reviewed": bool(state and state.reviewed), "f1": None,
                     "notes": "; ".join(rd.notes or [])[:120]})
    score = _score(store, run_id, gold_dir, rows)
    return _env().get_template("run.html").render(run=run, rows=rows, score=score,
                                                   gold_dir=str(gold_dir))


def _score(store: Store, run_id: int, gold_dir: Path, rows: list[dict[str, Any]]) -> Any:
    """The run's score against the gold documents it has (``None`` when it has none)."""
    if not gold_dir.is_dir():
        return None
    try:
        gold = load_dir(gold_dir)
    except ContractError:
        return None
    pred = predictions(store, run_id)
    shared = {k: v for k, v in gold.items() if k in pred}
    if not shared:
        return None
    report = score_dirs(shared, {k: v for k, v in pred.items() if k in shared})
    for row in rows:
        counts = report.by_document.get(row["doc_id"])
        row["f1"] = counts.f1 if counts is not None else None
    return report


def review_page(store: Store, doc: Document, run_id: int, blobs: Path) -> str:
    payload = review.build(store, doc, run_id, blobs)
    sections: dict[str, list[dict[str, Any]]] = {}
    for field in payload["fields"]:
        sections.setdefault(field["section"], []).append(field)
    return _env().get_template("review.html").render(
        doc=doc, run_id=run_id, payload=payload, sections=sections,
        data_json=_json_script(payload))
