"""The ``final_accounts/v1`` document type: its standard tables as validated data.

``tables.yaml`` describes each mandatory table of the national template (titles, header
signature, row-label and column-header synonyms → contract fields). It is loaded once into
the Pydantic models below; a pattern that does not compile or a field the contract does
not have fails the load with the entry named, so a bad edit never reaches a run.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from extractor.core.errors import ConfigError
from extractor.core.records import AUX_PREFIX, LIST_KEYS, FinalAccounts

TABLES_FILE = Path(__file__).with_name("tables.yaml")


def _compile_all(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        for part in pattern.split("&"):
            try:
                re.compile(part)
            except re.error as exc:
                raise ValueError(f"pattern {part!r} does not compile: {exc}") from exc
    return patterns


def _contract_fields() -> set[str]:
    """Every slot field of the contract (``summary.income_grand_total``,
    ``general_budget.items.actual`` …)."""
    out: set[str] = set()

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, info in model.model_fields.items():
            key = info.alias or name
            ann = info.annotation
            inner = getattr(ann, "__args__", (None,))[0] if getattr(ann, "__origin__", None) is list else None
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                walk(ann, f"{prefix}{key}.")
            elif isinstance(inner, type) and issubclass(inner, BaseModel):
                walk(inner, f"{prefix}{key}.")
            else:
                out.add(f"{prefix}{key}")

    walk(FinalAccounts, "")
    return out


def _check_field(name: str) -> str:
    base = name.split(".", 2)[2] if name.startswith(AUX_PREFIX) else name
    if name.startswith(AUX_PREFIX) or base in _contract_fields():
        return name
    raise ValueError(f"{name!r} is not a field of the final_accounts/v1 contract")


class CellRule(BaseModel):
    """One value of a table: row label x column header → a contract field."""

    model_config = ConfigDict(extra="forbid")

    field: str
    row: list[str]
    """Row-label patterns (full match); empty = the table's first data row."""
    col: list[str] = Field(default_factory=list)
    """Column-header patterns, ``A&B`` = both in the header path; empty = the first value
    column right of the label."""
    side: int | None = None
    """Which label column of a row with several label/value pairs (0 = leftmost)."""
    position: int | None = None
    of: int | None = None
    """Template place among ``of`` value columns, for tables whose header cannot be read."""
    section: str | None = None
    """The table section (see :attr:`TableShape.sections`) the row must stand in."""
    count: bool = False
    """The value is a count (vehicles, devices), not an amount."""
    sum: bool = False
    """Several matching rows add up to the value (when no row states the total)."""

    _v_field = field_validator("field")(classmethod(lambda cls, v: _check_field(v)))
    _v_row = field_validator("row", "col")(classmethod(lambda cls, v: _compile_all(v)))

    @model_validator(mode="after")
    def _position_pair(self) -> CellRule:
        if (self.position is None) != (self.of is None):
            raise ValueError(f"{self.field}: position and of go together")
        if self.position is not None and self.of is not None and not 0 <= self.position < self.of:
            raise ValueError(f"{self.field}: position {self.position} outside 0..{self.of - 1}")
        return self


class CodeRule(BaseModel):
    """Rows keyed by the functional-classification code (类 3 digits, 款 5, 项 7)."""

    model_config = ConfigDict(extra="forbid")

    col: list[str]
    budget_col: list[str] = Field(default_factory=list)
    class_field: str
    item_field: str
    item_budget_field: str | None = None

    _v_cols = field_validator("col", "budget_col")(classmethod(lambda cls, v: _compile_all(v)))

    @field_validator("class_field", "item_field", "item_budget_field")
    @classmethod
    def _listed(cls, v: str | None) -> str | None:
        if v is not None and (_check_field(v).rsplit(".", 1)[0] not in LIST_KEYS):
            raise ValueError(f"{v!r} is not a field of a list section")
        return v


class ListCell(BaseModel):
    """A column of a list table: the field of each row's item it holds."""

    model_config = ConfigDict(extra="forbid")

    field: str
    col: list[str] = Field(min_length=1)

    _v_field = field_validator("field")(classmethod(lambda cls, v: _check_field(v)))
    _v_col = field_validator("col")(classmethod(lambda cls, v: _compile_all(v)))


class ListRule(BaseModel):
    """A table with one list item per row (a summary of project self-evaluations), keyed by
    the row's label."""

    model_config = ConfigDict(extra="forbid")

    list_path: str
    key: str
    cells: list[ListCell] = Field(min_length=1)

    @model_validator(mode="after")
    def _known(self) -> ListRule:
        if self.list_path not in LIST_KEYS or self.key not in LIST_KEYS[self.list_path]:
            raise ValueError(f"{self.list_path}.{self.key} is not a list key of the contract")
        for cell in self.cells:
            if cell.field.rsplit(".", 1)[0] != self.list_path:
                raise ValueError(f"{cell.field} is not a field of {self.list_path}")
        return self


class TableShape(BaseModel):
    """One standard table: how to recognise it and what its cells mean."""

    model_config = ConfigDict(extra="forbid")

    id: str
    titles: list[str]
    not_titles: list[str] = Field(default_factory=list)
    signature: list[str] = Field(min_length=1)
    not_signature: list[str] = Field(default_factory=list)
    sections: list[str] = Field(default_factory=list)
    """Headings inside the table (a label row without values) that scope ``section`` rules."""
    cells: list[CellRule] = Field(default_factory=list)
    codes: CodeRule | None = None
    rows: ListRule | None = None

    _v_patterns = field_validator("titles", "not_titles", "signature", "not_signature", "sections")(
        classmethod(lambda cls, v: _compile_all(v)))

    def title_matches(self, title: str) -> bool:
        return any(re.search(p, title) for p in self.titles) and not any(
            re.search(p, title) for p in self.not_titles)

    def signature_matches(self, text: str) -> bool:
        return all(re.search(p, text) for p in self.signature) and not any(
            re.search(p, text) for p in self.not_signature)


class TableShapes(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tables: list[TableShape]

    @model_validator(mode="after")
    def _unique(self) -> TableShapes:
        ids = [t.id for t in self.tables]
        if len(ids) != len(set(ids)):
            raise ValueError(f"table ids repeat: {ids}")
        return self


def parse_shapes(text: str, source: str = "tables.yaml") -> TableShapes:
    """Validate table shapes from YAML text; a bad entry is a :class:`ConfigError` naming it."""
    try:
        return TableShapes.model_validate(yaml.safe_load(text))
    except (ValidationError, yaml.YAMLError) as exc:
        raise ConfigError(f"{source}: invalid table shapes: {exc}") from exc


@functools.cache
def table_shapes() -> TableShapes:
    """The shapes shipped with the project (loaded once)."""
    return parse_shapes(TABLES_FILE.read_text(encoding="utf-8"), str(TABLES_FILE))
