"""The one settings object and the only place that reads environment variables.

Every variable is ``EXTRACTOR_*`` (nested groups use ``__``: ``EXTRACTOR_MODEL__BASE_URL``).
CLI flags override by building a copy with :meth:`Settings.model_copy`, so nothing else
ever looks at ``os.environ``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    temperature: float = 0.0
    max_tokens: int = 2048
    timeout_s: float = 60.0
    max_concurrency: int = 4
    max_retries: int = 4
    max_reasks: int = 1
    backoff_max_s: float = 30.0
    run_token_budget: int = 2_000_000
    prices: dict[str, Price] = Field(default_factory=dict)

    @property
    def configured(self) -> bool:
        return bool(self.base_url and self.model)


class OcrSettings(BaseModel):
    engine: Literal["rapidocr", "tesseract", "none"] = "rapidocr"
    dpi: int = 300
    min_text_chars: int = 20
    """A PDF page with fewer usable characters in its text layer goes through OCR."""


class ChunkSettings(BaseModel):
    token_budget: int = 1200


class ServiceSettings(BaseModel):
    """``extractor serve`` / ``extractor worker``: where to listen, who may call, what to accept.

    Without a ``token`` the API has no authentication, so the server refuses to listen on
    anything but loopback unless told to (``--allow-remote``).
    """

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    token: SecretStr | None = None
    """Bearer token every API call and page must carry (``EXTRACTOR_SERVICE__TOKEN``)."""
    max_upload_bytes: int = Field(default=200 * 1024 * 1024, gt=0)
    """Largest upload accepted; bigger bodies are cut off with 413 before they are stored."""
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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EXTRACTOR_", env_nested_delimiter="__",
                                      extra="ignore")

    database_url: str = Field(default_factory=default_database_url)
    prompts_dir: Path = Path(__file__).resolve().parents[2] / "prompts"
    gold_dir: Path = Path("eval/gold")
    extractor: Literal["rules", "model", "auto"] = "auto"
    ocr: OcrSettings = Field(default_factory=OcrSettings)
    chunk: ChunkSettings = Field(default_factory=ChunkSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)

    def redacted(self) -> dict[str, object]:
        """Settings as stored with a run: never the API key; not the service section, which
        does not change what a run extracts (a job and ``extractor run`` share runs)."""
        data = self.model_dump(mode="json", exclude={"model": {"api_key"}, "service": True})
        data["model"]["api_key_set"] = self.model.api_key is not None
        return data


def load_settings(**overrides: object) -> Settings:
    """Environment first, then explicit overrides (CLI flags) on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
