"""The FastAPI application: the JSON API under ``/v1``, the review and overview pages.

Every error leaves as ``{"error": "<one clear line>"}`` with a fitting status. Job threads
(``service.workers``) start and stop with the application; they claim jobs from the same
database queue as ``extractor worker`` processes.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from extractor.core.errors import ConfigError, ExtractorError, NotFoundError, StoreError
from extractor.core.records import slot_facts
from extractor.core.settings import Settings
from extractor.evaluate.schema import load_dir
from extractor.evaluate.score import score_dirs
from extractor.pipeline import predictions
from extractor.service import data, gold, pages, review, views
from extractor.service.auth import TokenAuth, UploadLimit, login_cookie_header
from extractor.service.models import Correction, Job, Review
from extractor.service.queue import JobQueue
from extractor.service.uploads import UploadError, receive
from extractor.service.worker import Worker, job_settings
from extractor.store import Store

log = logging.getLogger("extractor.service")


class JobView(BaseModel):
    job_id: int
    document_id: str
    filename: str
    status: str
    stage: str | None
    progress: float
    reason: str | None
    run_id: int | None
    attempts: int
    created: str
    finished: str | None


class Accepted(BaseModel):
    document_id: str
    job_id: int
    status: str


class CorrectionIn(BaseModel):
    slot: str = Field(description="slot path, e.g. basic_expense.total or general_budget.items[3].actual")
    action: str = Field(pattern="^(accept|correct)$")
    value: str | float | int | None = None
    note: str | None = None
    author: str = Field(min_length=1, max_length=100)


class ReviewIn(BaseModel):
    reviewed: bool = True
    author: str = Field(min_length=1, max_length=100)
    run_id: int | None = None


def job_view(job: Job) -> JobView:
    assert job.id is not None
    return JobView(job_id=job.id, document_id=job.document, filename=job.filename,
                   status=job.status, stage=job.stage, progress=round(job.progress, 3),
                   reason=job.reason, run_id=job.run_id, attempts=job.attempts,
                   created=job.created.isoformat(timespec="seconds"),
                   finished=job.finished.isoformat(timespec="seconds") if job.finished else None)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(settings: Settings, store: Store | None = None) -> FastAPI:
    """The application over ``settings.database_url`` (or a given store)."""
    store = store or Store.open(settings.database_url)
    queue = JobQueue(store, settings.service.lease_s)
    svc = settings.service
    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        threads = [threading.Thread(target=Worker(store, settings, f"{Worker.host_pid()}:serve-{i}").run,
                                    args=(stop,), name=f"job-worker-{i}", daemon=True)
                   for i in range(svc.workers)]
        for t in threads:
            t.start()
        yield
        stop.set()
        for t in threads:
            t.join(timeout=5)

    app = FastAPI(title="extractor", version="1", lifespan=lifespan, docs_url=None,
                  redoc_url=None,
                  description="Upload final-accounts reports, follow their jobs, read their "
                              "records, review and correct them.")
    _error_handlers(app)
    _document_routes(app, store, queue, settings)
    _review_routes(app, store, settings)
    _run_routes(app, store, settings)
    _page_routes(app, store, queue, settings)
    token = svc.token.get_secret_value() if svc.token else None
    limit, limit_name = settings.upload_limit()
    app.add_middleware(UploadLimit, limit=limit, setting=limit_name)
    app.add_middleware(TokenAuth, token=token)  # added last: runs first
    return app


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ExtractorError)
    async def _extractor_error(_: Request, exc: ExtractorError) -> JSONResponse:
        if isinstance(exc, UploadError):
            return _error(exc.status, str(exc))
        if isinstance(exc, NotFoundError):
            return _error(404, str(exc))
        if isinstance(exc, StoreError):
            return _error(503, str(exc))
        return _error(422, str(exc))

    @app.exception_handler(StarletteHTTPException)  # routing's 404/405 as well as ours
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return _error(422, f"{where or 'request'}: {first.get('msg', 'invalid')}")




def _document_routes(app: FastAPI, store: Store, queue: JobQueue, settings: Settings) -> None:
    svc = settings.service

    @app.post("/v1/documents", status_code=202, response_model=Accepted,
              summary="Upload a report (PDF or UTF-8 text); returns its document and job")
    def upload(file: Annotated[UploadFile, File(description="the report")],
               extractor: Annotated[str | None, Form(pattern="^(rules|model|auto)$")] = None,
               settings_json: Annotated[str | None, Form(alias="settings",
                                                         description="JSON of setting overrides")]
               = None) -> Accepted:
        overrides = _overrides(settings_json)
        effective = job_settings(settings, overrides)
        wanted = extractor or effective.extractor
        if wanted == "model" and not effective.model.configured:
            raise ConfigError("the model extractor needs an endpoint configured on the server "
                              "(EXTRACTOR_MODEL__BASE_URL and EXTRACTOR_MODEL__MODEL)")
        stored = receive(file.file, file.filename or "", settings)
        options: dict[str, Any] = {"extractor": extractor, "settings": overrides}
        job = queue.enqueue(stored.sha256, stored.filename, str(stored.path), options)
        assert job.id is not None
        return Accepted(document_id=stored.sha256, job_id=job.id, status=job.status)

    @app.get("/v1/jobs/{job_id}", response_model=JobView, summary="A job's status and progress")
    def get_job(job_id: int) -> JobView:
        return job_view(queue.get(job_id))

    @app.get("/v1/jobs", response_model=list[JobView], summary="All jobs, oldest first")
    def list_jobs(document: str | None = None) -> list[JobView]:
        return [job_view(j) for j in queue.jobs(document)]

    @app.get("/v1/documents", summary="Stored documents")
    def list_documents() -> list[dict[str, Any]]:
        return [{"document_id": d.sha256, "doc_id": d.doc_id, "media_type": d.media_type,
                 "pages": d.pages, "ocr_pages": d.ocr_pages} for d in store.documents()]

    @app.get("/v1/documents/{document_id}/record",
             summary="The final_accounts/v1 record of a document's latest run (or ?run=N)")
    def get_record(document_id: str, run: int | None = None) -> dict[str, Any]:
        doc = data.document(store, document_id)
        run_id = data.latest_run(store, doc.sha256, run)
        facts = store.facts(run_id, doc.sha256)
        record = data.record_json(store, run_id, doc)
        return {"document_id": doc.sha256, "doc_id": doc.doc_id, "run_id": run_id,
                "record": record, "evidence": data.evidence_json(facts),
                "document_findings": data.findings_of(record)}

    @app.get("/v1/documents/{document_id}/pages/{number}.png", response_class=Response,
             responses={200: {"content": {"image/png": {}}}},
             summary="A page rendered from the stored original (text pages are typeset)")
    def page_png(document_id: str, number: int) -> Response:
        doc = data.document(store, document_id)
        original = pages.original_path(doc, svc.blobs)
        text = None
        if not pages.is_visual(doc, original):
            text = next((p.raw for p in store.load_document(doc.sha256).pages if p.number == number),
                        None)
        png = pages.render_png(doc, original, number, text, svc.render_dpi)
        return Response(png, media_type="image/png", headers={"Cache-Control": "max-age=3600"})



def _review_routes(app: FastAPI, store: Store, settings: Settings) -> None:
    blobs = settings.service.blobs

    @app.get("/v1/documents/{document_id}/corrections", summary="A document's corrections")
    def list_corrections(document_id: str) -> list[dict[str, Any]]:
        doc = data.document(store, document_id)
        return [c.model_dump(mode="json") for c in data.corrections(store, doc.sha256)]

    @app.post("/v1/documents/{document_id}/corrections", status_code=201,
              summary="Accept a value or correct it (stored beside the extraction)")
    def post_correction(document_id: str, body: CorrectionIn) -> dict[str, Any]:
        doc = data.document(store, document_id)
        run_id = data.latest_run(store, doc.sha256)
        facts = slot_facts(store.facts(run_id, doc.sha256))
        fact = facts.get(body.slot)
        field = fact.field if fact is not None else body.slot
        if fact is None and "[" in body.slot:
            raise NotFoundError(f"no list item {body.slot} in run {run_id}")
        if fact is None and body.slot not in data.scalar_paths(doc.doc_id):
            raise NotFoundError(f"{body.slot} is not a slot of final_accounts/v1")
        value = fact.value if fact is not None else None
        if body.action == "correct":
            value = gold.parse_value(field, body.value)
        row = data.add_correction(store, Correction(
            document=doc.sha256, run_id=run_id, slot=body.slot, field=field,
            key=fact.key if fact is not None else None, action=body.action,
            before=fact.value if fact is not None else None, value=value, note=body.note,
            author=body.author))
        return row.model_dump(mode="json")

    @app.get("/v1/documents/{document_id}/review",
             summary="What the review page shows: every slot with its box, checks, repair, corrections")
    def get_review(document_id: str, run: int | None = None) -> dict[str, Any]:
        doc = data.document(store, document_id)
        return review.build(store, doc, data.latest_run(store, doc.sha256, run), blobs)

    @app.get("/v1/documents/{document_id}/pages/{number}/boxes",
             summary="Boxes of the values on a scanned page, found by OCR (first call: seconds)")
    def scanned_boxes(document_id: str, number: int, run: int | None = None) -> dict[str, Any]:
        doc = data.document(store, document_id)
        run_id = data.latest_run(store, doc.sha256, run)
        return {"page": number, "run_id": run_id,
                "boxes": review.scanned_page_boxes(store, doc, run_id, number, settings)}

    @app.post("/v1/documents/{document_id}/review", status_code=201,
              summary="Mark a document reviewed (or not); export-gold writes reviewed ones")
    def post_review(document_id: str, body: ReviewIn) -> dict[str, Any]:
        doc = data.document(store, document_id)
        run_id = data.latest_run(store, doc.sha256, body.run_id)
        row = data.mark_reviewed(store, Review(document=doc.sha256, run_id=run_id,
                                               reviewed=body.reviewed, author=body.author))
        return row.model_dump(mode="json")



def _run_routes(app: FastAPI, store: Store, settings: Settings) -> None:
    @app.get("/v1/runs", summary="Stored runs, newest first")
    def list_runs() -> list[dict[str, Any]]:
        return [{"run_id": r.id, "extractor": r.extractor, "status": r.status,
                 "code_version": r.code_version, "created": r.created.isoformat(timespec="seconds"),
                 "finished": r.finished.isoformat(timespec="seconds") if r.finished else None,
                 "stats": r.stats} for r in reversed(store.runs())]

    @app.get("/v1/runs/{run_id}/score", summary="Score a run against a gold folder on the server")
    def run_score(run_id: int, gold: str | None = None) -> dict[str, Any]:
        store.get_run(run_id)
        gold_dir = Path(gold) if gold else settings.gold_dir
        if not gold_dir.is_dir():
            raise ConfigError(f"gold folder {gold_dir} does not exist on the server")
        report = score_dirs(load_dir(gold_dir), predictions(store, run_id))
        return report.model_dump(mode="json")

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}



def _page_routes(app: FastAPI, store: Store, queue: JobQueue, settings: Settings) -> None:
    svc = settings.service

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(views.index_page(store, queue))

    @app.get("/runs/{run_id}", response_class=HTMLResponse, include_in_schema=False)
    def run_page(run_id: int, gold: str | None = None) -> HTMLResponse:
        return HTMLResponse(views.run_page(store, run_id, Path(gold) if gold else settings.gold_dir))

    @app.get("/review/{document_id}", response_class=HTMLResponse, include_in_schema=False)
    def review_page(document_id: str, run: int | None = None) -> HTMLResponse:
        doc = data.document(store, document_id)
        run_id = data.latest_run(store, doc.sha256, run)
        return HTMLResponse(views.review_page(store, doc, run_id, svc.blobs))

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await request.form()
        expected = svc.token.get_secret_value() if svc.token else ""
        given = str(form.get("token", ""))
        target = str(form.get("next") or "/")
        if not target.startswith("/") or target.startswith("//"):
            target = "/"
        if expected and not hmac.compare_digest(given.encode(), expected.encode()):
            return _error(401, "wrong token")
        response = RedirectResponse(target, status_code=303)
        if expected:
            response.headers["set-cookie"] = login_cookie_header(expected)
        return response


def _overrides(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"settings: not JSON ({exc.msg} at character {exc.pos})") from exc
    if not isinstance(value, dict):
        raise ConfigError("settings: must be a JSON object such as {\"ocr\": {\"dpi\": 200}}")
    return value
