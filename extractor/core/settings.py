"""The one settings object and the only place that reads environment variables.

Every variable is ``EXTRACTOR_*`` (nested groups use ``__``: ``EXTRACTOR_MODEL__BASE_URL``).
CLI flags override by building a copy with :meth:`Settings.model_copy`, so nothing else
ever looks at ``os.environ``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from extractor.core.errors import ConfigError


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/extractor`` (``~/.local/share/extractor``): where the SQLite file lives."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "extractor"


def default_database_url() -> str:
    return f"sqlite:///{default_data_dir() / 'extractor.db'}"


class Price(BaseModel):
    """USD per million tokens."""

    input: float = 0.0
    output: float = 0.0


class ModelSettings(BaseModel):
    """The OpenAI-compatible endpoint. Unset ``base_url`` and ``model`` mean: no model path."""

    base_url: str | None = None
    model: str | None = None
    api_key: SecretStr | None = None
    mode: Literal["tools", "json_schema", "json"] = "json_schema"
    temperature: float = Field(default=0.0, ge=0)
    max_tokens: int = Field(default=2048, gt=0)
    timeout_s: float = Field(default=60.0, gt=0)
    max_concurrency: int = Field(default=4, gt=0)
    max_retries: int = Field(default=4, ge=0)
    max_reasks: int = Field(default=1, ge=0)
    backoff_max_s: float = Field(default=30.0, ge=0)
    run_token_budget: int = Field(default=2_000_000, gt=0)
    prices: dict[str, Price] = Field(default_factory=dict)
    batch: bool = False
    """Send a run's calls through the OpenAI Batch API (one uploaded file, polled until done,
    half price) instead of one request each; cache, resume and accounting stay the same."""
    batch_poll_s: float = Field(default=30.0, gt=0)
    """First wait between two status polls of a submitted batch; it doubles up to
    ``batch_poll_max_s``."""
    batch_poll_max_s: float = Field(default=600.0, gt=0)
    batch_timeout_s: float = Field(default=25 * 3600.0, gt=0)
    """How long one process waits for its batches (the API's window is 24 h); past it the
    run stops with the batch recorded, and a re-run resumes polling it."""
    batch_max_requests: int = Field(default=50_000, gt=0)
    """Requests per batch (the API's limit); more calls are split over several batches."""
    batch_price_factor: float = Field(default=0.5, ge=0)
    """Batch calls cost this share of ``prices`` (OpenAI bills batches at half price)."""

    @property
    def configured(self) -> bool:
        return bool(self.base_url and self.model)


class OcrSettings(BaseModel):
    engine: Literal["rapidocr", "tesseract", "none"] = "rapidocr"
    dpi: int = Field(default=300, gt=0)
    min_text_chars: int = Field(default=20, ge=0)
    """A PDF page with fewer usable characters in its text layer goes through OCR."""
    threads: int | None = Field(default=None, ge=1)
    """onnxruntime threads per engine; unset: its default, one per core. `run --workers 1`
    sets 1 (one worker is one core, as each pool worker is)."""
    cache_dir: Path | None = None
    """Keep each page's OCR boxes here, keyed by the page image's pixels: re-reading a
    document (after an upgrade of the table reader, or a kill in the middle of a long scan)
    then skips OCR, the slow part, for every page read before."""


class ChunkSettings(BaseModel):
    token_budget: int = Field(default=1200, gt=0)


class LimitSettings(BaseModel):
    """What one input may hold; a file beyond any limit is refused with one line, not read.

    Sized for a 2-core, 24 GB machine and for real reports, which run to 20-300 pages and
    under 400,000 characters. Ingest and chunking are linear (about 3 s and 30 MB per
    million characters, ``bench/large_text.py``), so the character cap keeps a file to
    seconds and a few hundred MB there, and extraction and reconciliation of the largest
    accepted file to about a minute; a 300-page scan takes 15-30 minutes of OCR, 500
    pages bound that.
    """

    max_file_bytes: int = Field(default=200_000_000, gt=0)
    """Largest file read (a 300-page scan at 300 dpi is about 150 MB)."""
    max_pages: int = Field(default=500, gt=0)
    max_chars: int = Field(default=2_000_000, gt=0)
    """Characters of text after reading (all pages); beyond this the file is refused."""


class ServiceSettings(BaseModel):
    """``extractor serve`` / ``extractor worker``: where to listen, who may call, what to accept.

    Without a ``token`` the API has no authentication, so the server refuses to listen on
    anything but loopback unless told to (``--allow-remote``).
    """

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    token: SecretStr | None = None
    """Bearer token every API call and page must carry (``EXTRACTOR_SERVICE__TOKEN``)."""
    max_upload_bytes: int | None = Field(default=None, gt=0)
    """Largest upload accepted (default: ``limits.max_file_bytes``, the CLI's limit); bigger
    bodies are cut off with 413 before they are stored."""
    blob_dir: Path | None = None
    """Uploaded originals, one folder per SHA-256 (default: ``<data dir>/blobs``)."""
    workers: int = Field(default=1, ge=0)
    """Job threads inside ``serve`` (0: only accept uploads; ``extractor worker`` runs jobs)."""
    lease_s: float = Field(default=60.0, gt=0)
    """A running job's claim expires this long after its last heartbeat, so the job of a
    killed process is taken up again by another."""
    poll_s: float = Field(default=1.0, gt=0)
    render_dpi: int = Field(default=110, ge=36, le=300)
    report_markers: list[str] = Field(default_factory=lambda: ["决算"])
    """An upload whose readable text contains none of these is refused as not a report."""

    @property
    def blobs(self) -> Path:
        return self.blob_dir or default_data_dir() / "blobs"


BATCH_PATIENCE = ("batch_poll_s", "batch_poll_max_s", "batch_timeout_s")
"""Model settings that change how long a run waits for a batch, never what it extracts."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EXTRACTOR_", env_nested_delimiter="__",
                                      extra="ignore")

    database_url: str = Field(default_factory=default_database_url)
    prompts_dir: Path = Path(__file__).resolve().parents[2] / "prompts"
    gold_dir: Path = Path("eval/gold")
    extractor: Literal["rules", "model", "auto"] = "auto"
    ocr: OcrSettings = Field(default_factory=OcrSettings)
    chunk: ChunkSettings = Field(default_factory=ChunkSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)

    def upload_limit(self) -> tuple[int, str]:
        """The largest upload the service takes, and the variable that sets it."""
        if self.service.max_upload_bytes is not None:
            return self.service.max_upload_bytes, "EXTRACTOR_SERVICE__MAX_UPLOAD_BYTES"
        return self.limits.max_file_bytes, "EXTRACTOR_LIMITS__MAX_FILE_BYTES"

    def redacted(self) -> dict[str, object]:
        """Settings as stored with a run: never the API key; not the service section, which
        does not change what a run extracts (a job and ``extractor run`` share runs), nor how
        patiently a batch is polled (a re-run that polls differently resumes the same run)."""
        data = self.model_dump(mode="json", exclude={"model": {"api_key", *BATCH_PATIENCE},
                                                     "service": True})
        data["model"]["api_key_set"] = self.model.api_key is not None
        return data


def load_settings(**overrides: object) -> Settings:
    """Environment first, then explicit overrides (CLI flags) on top.

    A value that does not parse or is out of range is a :class:`ConfigError` naming the
    environment variable and what is wrong with it, never a pydantic traceback.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(describe_invalid(exc)) from exc
    except SettingsError as exc:  # a JSON-valued variable that is not JSON
        cause = exc.__cause__
        raise ConfigError(f"{exc}{f': {cause}' if cause else ''}") from exc


def env_name(loc: tuple[int | str, ...]) -> str:
    """``("model", "timeout_s")`` → ``EXTRACTOR_MODEL__TIMEOUT_S``."""
    return "EXTRACTOR_" + "__".join(str(part).upper() for part in loc)


def describe_invalid(exc: ValidationError) -> str:
    """One line per bad setting: the variable, what is wrong, and the value given."""
    problems = []
    for error in exc.errors():
        loc = tuple(error.get("loc", ()))
        dotted = ".".join(str(part) for part in loc)
        given = error.get("input")
        shown = "" if isinstance(given, dict) else f" (got {str(given)[:60]!r})"
        problems.append(f"setting {env_name(loc)} ({dotted}): {error['msg']}{shown}")
    return "; ".join(problems)
