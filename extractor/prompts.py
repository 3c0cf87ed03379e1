"""Prompts as data: one YAML file per contract section under ``prompts/``, checked on load.

A prompt file says which contract fields its section fills, which chunks can hold them
(routing), what the model is told, and few-shot examples written in the
reports' OCR-noisy style (never passages of the documents the gold set scores).
Loading validates all of it (:class:`PromptSpec`), and more: the fields must be exactly
the ones the section's response model fills, and every example answer must pass the
same evidence checks a live answer does, so an example can never teach the model to
cite text that is not there.

Each prompt's :attr:`Prompt.content_hash` (SHA-256 of the canonical content of the
section file plus the shared file) goes into every model call's cache key and into the
run record: editing a prompt invalidates exactly the calls that used it, while
reformatting the YAML or its comments does not.

Message layout (:func:`system_message`, :func:`user_message`): instructions, field guide
and examples first and the same for every call of a section, the chunks last, so
endpoints with prefix caching reuse the prefix.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from extractor.chunk import count_tokens
from extractor.core.errors import PromptError
from extractor.core.types import ChunkData, DocumentData, NormalizedText, PageText
from extractor.extractors.model.evidence import reply_facts
from extractor.extractors.model.schemas import SECTIONS
from extractor.normalize import normalize

SHARED_FILE = "_shared.yaml"
SECTION_MARKER = "[section: {section}]"
_MARKER_RE = re.compile(r"\[section: ([a-z_]+)\]")
CHUNK_HEADER = "=== 片段 {n} ==="
_CHUNK_HEADER_RE = re.compile(r"^=== 片段 \d+ ===$", re.M)
PATH_PREFIX = "位置："
KIND_PREFIX = "类型："


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Routing(_Strict):
    """Which chunks a section is sent: heading path or body wording, minus exclusions."""

    headings: list[str] = Field(min_length=1)
    """A chunk whose heading path contains any of these is sent."""
    body: list[str] = Field(default_factory=list)
    """A chunk with figures whose text contains ``min_body_hits`` of these is sent too."""
    min_body_hits: int = Field(default=1, ge=1)
    exclude: list[str] = Field(default_factory=list)
    """A chunk whose heading path contains any of these is never sent (glossary, contacts)."""
    always: list[str] = Field(default_factory=list)
    """A chunk whose text contains any of these is sent whatever its heading or kind (wording
    that only this section uses, e.g. 项目自评综述 inside a table block)."""
    kinds: list[Literal["text", "table"]] = Field(default_factory=list)
    """Only chunks of these kinds (all kinds when empty)."""
    first_chunks: int = Field(default=0, ge=0)
    """The document's first chunks are sent too (a title page names department and year)."""


class Example(_Strict):
    source: str = Field(min_length=1)
    """Where the input comes from (``synthetic: …`` for passages written for the prompt)."""
    heading: str = ""
    """The chunk's heading path as the router sees it (`` > `` between levels)."""
    input: str = Field(min_length=1)
    """The chunk text as OCR produced it, noise included."""
    output: dict[str, Any]


class PromptSpec(_Strict):
    section: str
    title: str = Field(min_length=1)
    fields: dict[str, str]
    """Contract field path -> the wording that states it in these documents."""
    routing: Routing
    instructions: str = Field(min_length=1)
    examples: list[Example] = Field(min_length=1)

    @field_validator("section")
    @classmethod
    def _known_section(cls, value: str) -> str:
        if value not in SECTIONS:
            raise ValueError(f"unknown section {value!r}; known: {sorted(SECTIONS)}")
        return value


class SharedSpec(_Strict):
    preamble: str = Field(min_length=1)
    """Rules every section shares (what a value and a quote are, nulls, zeros)."""


@dataclass(frozen=True)
class Prompt:
    """A loaded, validated section prompt."""

    spec: PromptSpec
    shared: SharedSpec
    path: Path

    @property
    def section(self) -> str:
        return self.spec.section

    @property
    def reply_model(self) -> type[BaseModel]:
        return SECTIONS[self.section].reply

    @cached_property
    def content_hash(self) -> str:
        blob = json.dumps({"shared": self.shared.model_dump(), "prompt": self.spec.model_dump()},
                          sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    @cached_property
    def system_message(self) -> str:
        return system_message(self)


def example_chunk(example: Example) -> ChunkData:
    """An example input as the pipeline would present it: normalized, one chunk."""
    text = normalize(example.input.strip("\n")).text
    path = [p.strip() for p in normalize(example.heading).text.split(">") if p.strip()]
    return ChunkData(index=0, heading_path=path, kind="table" if "\t" in text else "text",
                     page_start=1, page_end=1, start=0, end=len(text), text=text,
                     tokens=count_tokens(text))


def user_message(chunks: Sequence[ChunkData]) -> str:
    """The chunks of one call, each with its heading path, in document order."""
    parts = [f"以下是文档片段（共 {len(chunks)} 段）。只从这些片段读取数值，引用必须逐字来自片段。"]
    for n, chunk in enumerate(chunks, 1):
        parts.append(f"{CHUNK_HEADER.format(n=n)}\n{PATH_PREFIX}{' > '.join(chunk.heading_path)}\n"
                     f"{KIND_PREFIX}{'表格' if chunk.kind == 'table' else '正文'}\n{chunk.text}")
    return "\n".join(parts)


@dataclass(frozen=True)
class SentChunk:
    heading_path: list[str]
    text: str


def parse_user_message(text: str) -> list[SentChunk]:
    """The inverse of :func:`user_message` (used by the demo endpoint to read requests)."""
    out = []
    pieces = _CHUNK_HEADER_RE.split(text)[1:]
    for n, piece in enumerate(pieces):
        # drop the newline user_message puts before the next chunk header
        body_text = piece[:-1] if n < len(pieces) - 1 and piece.endswith("\n") else piece
        lines = body_text.lstrip("\n").split("\n")
        path_line = lines[0] if lines and lines[0].startswith(PATH_PREFIX) else PATH_PREFIX
        body = lines[1:]
        if body and body[0].startswith(KIND_PREFIX):
            body = body[1:]
        path = [p.strip() for p in path_line[len(PATH_PREFIX):].split(">") if p.strip()]
        out.append(SentChunk(path, "\n".join(body)))
    return out


def section_of_message(system_text: str) -> str | None:
    """The section a system message was written for (its first-line marker)."""
    match = _MARKER_RE.search(system_text)
    return match.group(1) if match else None


def system_message(prompt: Prompt) -> str:
    spec = prompt.spec
    section = SECTIONS[spec.section]
    reply_names = {path: attr for attr, path in section.scalars.items()}
    for list_attr, lspec in section.lists.items():
        reply_names.update({f"{lspec.path}.{leaf}": f"{list_attr}[].{row_attr}"
                            for leaf, row_attr in lspec.values.items()})
    guide = [f"- {reply_names[path]}: {text.strip()}" for path, text in spec.fields.items()]
    parts = [SECTION_MARKER.format(section=spec.section) + f" {spec.title}",
             prompt.shared.preamble.strip(), "## 本节任务", spec.instructions.strip(),
             "## 字段与原文措辞", "\n".join(guide), "## 示例"]
    for n, example in enumerate(spec.examples, 1):
        answer = prompt.reply_model.model_validate(example.output).model_dump(exclude_none=True,
                                                                              exclude_defaults=True)
        parts.append(f"### 示例 {n} 输入\n{user_message([example_chunk(example)])}\n"
                     f"### 示例 {n} 输出\n{json.dumps(answer, ensure_ascii=False)}")
    return "\n\n".join(parts)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PromptError(f"{path}: cannot read: {exc}") from exc


def _check_examples(prompt: Prompt) -> None:
    """Each example answer must validate and pass the evidence checks in full."""
    for n, example in enumerate(prompt.spec.examples, 1):
        chunk = example_chunk(example)
        try:
            reply = prompt.reply_model.model_validate(example.output)
        except ValidationError as exc:
            raise PromptError(f"{prompt.path}: example {n}: output does not match "
                              f"{prompt.reply_model.__name__}: {exc.errors()[0]['msg']} "
                              f"at {exc.errors()[0]['loc']}") from exc
        checked = reply_facts(prompt.section, reply, [chunk], _example_document(chunk))
        if checked.dropped:
            bad = checked.dropped[0]
            raise PromptError(f"{prompt.path}: example {n}: {bad.path} = {bad.value!r} fails the "
                              f"evidence check ({bad.reason}; quote {bad.quote!r})")
        if not checked.facts:
            raise PromptError(f"{prompt.path}: example {n}: output cites no value")


def _example_document(chunk: ChunkData) -> DocumentData:
    """A one-chunk document around an example, so examples go through :func:`reply_facts`."""
    return DocumentData(doc_id="example", path="example", sha256="example", media_type="text/plain",
                        pages=[PageText(1, chunk.text, "file")],
                        normalized=NormalizedText(chunk.text, list(range(len(chunk.text) + 1))),
                        page_starts=[0], chunks=[chunk])


def load_prompt(path: Path, shared: SharedSpec) -> Prompt:
    """One section file, fully checked (schema, fields, examples)."""
    try:
        spec = PromptSpec.model_validate(_read_yaml(path))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise PromptError(f"{path}: {first['msg']} at {'.'.join(str(p) for p in first['loc'])}") from exc
    expected = SECTIONS[spec.section].paths
    if set(spec.fields) != set(expected):
        missing = sorted(set(expected) - set(spec.fields))
        extra = sorted(set(spec.fields) - set(expected))
        raise PromptError(f"{path}: fields do not match section {spec.section!r}: "
                          f"missing {missing}, unknown {extra}")
    prompt = Prompt(spec, shared, path)
    _check_examples(prompt)
    return prompt


def load_prompts(prompts_dir: Path) -> list[Prompt]:
    """Every section prompt under ``prompts_dir``, one per section, sorted by section."""
    shared_path = prompts_dir / SHARED_FILE
    if not shared_path.is_file():
        raise PromptError(f"{shared_path}: missing (shared rules for every prompt)")
    try:
        shared = SharedSpec.model_validate(_read_yaml(shared_path))
    except ValidationError as exc:
        raise PromptError(f"{shared_path}: {exc.errors()[0]['msg']}") from exc
    prompts = [load_prompt(p, shared) for p in sorted(prompts_dir.glob("*.yaml"))
               if not p.name.startswith("_")]
    seen: dict[str, Path] = {}
    for prompt in prompts:
        if prompt.section in seen:
            raise PromptError(f"{prompt.path}: section {prompt.section!r} is also defined in "
                              f"{seen[prompt.section]}")
        seen[prompt.section] = prompt.path
    missing = sorted(set(SECTIONS) - set(seen))
    if missing:
        raise PromptError(f"{prompts_dir}: no prompt for section(s) {missing}")
    return sorted(prompts, key=lambda p: p.section)
