"""The generator's data: functional and economic classification codes, departments, projects.

Kept as validated data (``catalog.yaml``) rather than code so that adding a section, an
agency or a region never touches the generator.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, field_validator

CATALOG_PATH = Path(__file__).with_name("catalog.yaml")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Section(_Model):
    """A 款 of the functional classification with its 项."""

    name: str
    items: dict[str, str]
    gov_fund: bool = False

    @field_validator("items")
    @classmethod
    def _seven_digits(cls, items: dict[str, str]) -> dict[str, str]:
        bad = [code for code in items if len(code) != 7 or not code.isdigit()]
        if bad:
            raise ValueError(f"item codes must have 7 digits: {bad}")
        return items


class Agency(_Model):
    name: str
    sections: list[str]
    gov_fund_sections: list[str] = []


class Catalog(_Model):
    expense_classes: list[tuple[int, str]]
    sections: dict[str, Section]
    common_sections: list[str]
    agencies: list[Agency]
    regions: list[str]
    economic: dict[str, dict[str, tuple[str, dict[str, str]]]]
    projects: list[str]

    def class_name(self, code: str) -> str:
        """``"201"`` → ``一般公共服务支出``."""
        for number, name in self.expense_classes:
            if str(number) == code:
                return name
        raise KeyError(code)

    def class_code(self, name: str) -> str | None:
        """``一般公共服务支出`` (or ``一般公共服务``, as some gold files name it) → ``"201"``."""
        for number, printed in self.expense_classes:
            if name in (printed, printed.removesuffix("支出")):
                return str(number)
        return None


@lru_cache(maxsize=1)
def load_catalog(path: Path = CATALOG_PATH) -> Catalog:
    """Load and validate the catalog; every section an agency names must exist."""
    catalog = Catalog.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    known = set(catalog.sections)
    for agency in catalog.agencies:
        missing = [s for s in [*agency.sections, *agency.gov_fund_sections] if s not in known]
        if missing:
            raise ValueError(f"{path}: agency {agency.name} names unknown sections {missing}")
    for code in catalog.sections:
        catalog.class_name(code[:3])  # every section belongs to a listed class
    return catalog
