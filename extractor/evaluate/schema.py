"""Reading gold and prediction files strictly against ``final_accounts/v1``.

Scoring a file that only half matches the contract would silently turn typos into
false negatives, so every file is validated strictly (JSON numbers, not numeric strings;
integer counts; no unknown keys) and the first problem is reported with the file, the
JSON path and what is wrong, so a labeller can fix it without reading a traceback.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from extractor.core.errors import ContractError
from extractor.core.records import FinalAccounts
from extractor.evaluate.results import InvalidFile

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "eval" / "final_accounts.schema.json"
"""Where the committed JSON Schema lives (``eval/final_accounts.schema.json``)."""

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_LISTED = 5


class DocIdMismatchWarning(UserWarning):
    """A file's name does not match the ``doc_id`` inside it (the content wins)."""


def json_path(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as a JSON path: ``$.general_budget.items[2].actual``."""
    out = "$"
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENT.match(part):
            out += f".{part}"
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out


def _problem(err: Any) -> str:
    text = str(err["msg"])
    if err.get("type") not in {"missing", "extra_forbidden"} and "input" in err:
        shown = json.dumps(err["input"], ensure_ascii=False, default=str)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        text += f" (got {shown})"
    return text


def parse_record(text: str, source: str) -> FinalAccounts:
    """Validate contract JSON text; ``source`` names the file in errors."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise ContractError(source, "$", f"invalid JSON at line {exc.lineno} column "
                                         f"{exc.colno}: {exc.msg}") from None
    try:
        return FinalAccounts.model_validate_json(text, strict=True)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        problem = _problem(first)
        rest = [f"{json_path(e['loc'])}: {_problem(e)}" for e in errors[1:]]
        if rest:
            more = "; ".join(rest[:_MAX_LISTED])
            if len(rest) > _MAX_LISTED:
                more += f"; … {len(rest) - _MAX_LISTED} more"
            problem += f" [also {len(rest)} more: {more}]"
        raise ContractError(source, json_path(first["loc"]), problem) from None


def load_record(path: str | Path) -> FinalAccounts:
    """Read and validate one gold or prediction file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError(str(file), "$", f"cannot read file: {exc}") from None
    return parse_record(text, str(file))


def load_dir(path: str | Path) -> dict[str, FinalAccounts]:
    """Every ``*.json`` directly in ``path``, keyed by the ``doc_id`` inside the file;
    the first invalid file raises :class:`ContractError` (see :func:`load_dir_lenient`).

    The content's ``doc_id`` is authoritative because outside evaluators may name files
    freely; a differing file stem only raises :class:`DocIdMismatchWarning`. Two files
    with the same ``doc_id`` are an error: one of them would otherwise be ignored.
    """
    records, errors = load_dir_lenient(path)
    if errors:
        raise errors[0]
    return records


def invalid_file(error: ContractError, side: Literal["gold", "pred"]) -> InvalidFile:
    """A load error as the report lists it."""
    return InvalidFile(side=side, file=error.file, reason=f"at {error.json_path}: {error.problem}")


def load_dir_lenient(path: str | Path) -> tuple[dict[str, FinalAccounts], list[ContractError]]:
    """Like :func:`load_dir` but a bad file does not stop the others: it is returned
    with its reason (unreadable, not JSON, not the contract, a doc_id used twice), so a
    batch of a thousand files is scored even when a few are broken."""
    folder = Path(path)
    if not folder.is_dir():
        raise ContractError(str(folder), "$", "not a directory")
    records: dict[str, FinalAccounts] = {}
    origin: dict[str, Path] = {}
    bad: list[ContractError] = []
    for file in sorted(folder.glob("*.json")):
        try:
            record = load_record(file)
        except ContractError as exc:
            bad.append(exc)
            continue
        if record.doc_id in records:
            bad.append(ContractError(str(file), "$.doc_id", f"doc_id {record.doc_id!r} also "
                                                            f"used by {origin[record.doc_id]}"))
            continue
        if file.stem != record.doc_id:
            warnings.warn(f"{file}: file name does not match doc_id {record.doc_id!r}; "
                          "using the doc_id", DocIdMismatchWarning, stacklevel=2)
        records[record.doc_id] = record
        origin[record.doc_id] = file
    return records, bad


def schema_text() -> str:
    """The contract's JSON Schema as committed (stable key order, trailing newline)."""
    schema: dict[str, Any] = {"$schema": "https://json-schema.org/draft/2020-12/schema"}
    schema.update(FinalAccounts.model_json_schema(by_alias=True))
    return json.dumps(schema, ensure_ascii=False, indent=2) + "\n"


def write_schema(path: str | Path = SCHEMA_PATH) -> Path:
    """Write the JSON Schema for outside evaluators; returns the path written."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(schema_text(), encoding="utf-8")
    return target


if __name__ == "__main__":
    print(write_schema())
