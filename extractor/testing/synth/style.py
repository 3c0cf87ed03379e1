"""How one synthetic report looks: layout family plus per-seed variations.

Three families cover the layouts met in practice:

- ``national``: the Ministry of Finance style (``公开NN表`` markers, ``部门名称`` line, one
  7-digit code column, 行次 / 栏次, amounts often in 元);
- ``shanghai``: the Shanghai district style of the real Putuo report (mostly no markers, 类 / 款 / 项
  code columns, 万元, tables before the narrative);
- ``compact``: flattened one-row headers, code and name sometimes in one cell, only the
  classes with money, the 三公 table transposed, smaller type.

Everything else (fonts, sizes, column widths, zero printing, table order, optional tables,
repeated headers on continuation pages, 元 or 万元) varies per seed inside a family.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

FAMILIES = ("national", "shanghai", "compact")
RULINGS = ("grid", "horizontal", "none")

MANDATORY = ("summary", "income", "expense", "fiscal", "gb", "basic", "three", "gov_fund", "state_capital")


@dataclass(frozen=True)
class Style:
    family: str
    unit: str  # "万元" or "元"
    thousands: bool
    zero: str  # how a zero amount prints in a table cell: "" (blank) or "0.00"
    body_pt: float
    table_pt: float
    digit_font: str  # "cjk", "tiro" or "helv": the font digits and Latin letters are drawn in
    code_style: str  # "joined" (2010601), "split" (201 | 06 | 01), "with_name" (2010601 行政运行)
    flat_header: bool
    row_numbers: bool  # 行次 column and 栏次 row (national)
    markers: bool  # 公开NN表
    tables_first: bool
    tables: tuple[str, ...]  # the tables printed, in order
    repeat_header: bool
    table_per_page: bool  # every table starts on a new page
    page_numbers: str  # footer format ("- {n} -", "{n}", "第{n}页") or "" for none
    total_row_last: bool  # the general-budget table's 合计 row at the bottom
    all_classes: bool  # the summary tables list every class, not only those with money
    three_vertical: bool  # 三公 table as rows of items instead of one row of 12 columns
    project_table: bool  # performance projects as a table besides the narrative
    width_jitter: float
    cell_pad: float
    row_min: float  # minimum body row height in points
    line_width: float
    rulings: str = "grid"
    """Table rules: ``grid`` (every cell ruled), ``horizontal`` (rules between rows only, no
    vertical lines) or ``none`` (cells aligned, nothing drawn). Chosen only on request
    (:data:`RULINGS`), so the documents of a seed stay as they were."""

    @property
    def grain(self) -> int:
        """Cents per smallest printed step of a table amount."""
        return 10_000 if self.unit == "万元" else 1


def choose_style(rng: random.Random, family: str | None = None, unit: str | None = None) -> Style:
    """A style drawn from ``rng`` (``family`` / ``unit`` fixed when given)."""
    fam = family or rng.choice(FAMILIES)
    if fam not in FAMILIES:
        raise ValueError(f"unknown layout family {fam!r}; choose one of {', '.join(FAMILIES)}")
    national, shanghai = fam == "national", fam == "shanghai"
    if unit is None:
        unit = (
            rng.choice(["元", "元", "万元"])
            if national
            else ("万元" if shanghai else rng.choice(["元", "万元"]))
        )
    tables = list(MANDATORY)
    if not national and rng.random() < 0.3:  # some reports drop the fiscal summary table
        tables.remove("fiscal")
    if fam == "compact" and unit == "万元" and rng.random() < 0.3:
        tables.remove("basic")  # the narrative states personnel and public expense then
    if fam == "compact" and rng.random() < 0.5:
        tables.remove("state_capital")
    if not national and rng.random() < 0.4:  # provinces reorder the middle tables
        middle = [t for t in tables if t in {"fiscal", "gb", "basic", "three"}]
        rng.shuffle(middle)
        it = iter(middle)
        tables = [next(it) if t in {"fiscal", "gb", "basic", "three"} else t for t in tables]
    table_pt = rng.choice([7.5, 8.0, 8.5, 9.0]) if fam != "compact" else rng.choice([7.0, 7.5, 8.0])
    return Style(
        family=fam,
        unit=unit,
        thousands=rng.random() < (0.85 if unit == "万元" else 0.6),
        zero=rng.choice(["", "", "0.00"]) if fam != "shanghai" else "",
        body_pt=rng.choice([10.0, 10.5, 11.0, 12.0]),
        table_pt=table_pt,
        digit_font=rng.choice(["cjk", "tiro", "helv"])
        if not shanghai
        else rng.choice(["tiro", "tiro", "cjk"]),
        code_style=(
            "joined" if national else "split" if shanghai else rng.choice(["joined", "with_name", "split"])
        ),
        flat_header=fam == "compact",
        row_numbers=national and rng.random() < 0.8,
        markers=national or rng.random() < (0.25 if shanghai else 0.5),
        tables_first=rng.random() < (0.85 if not national else 0.7),
        tables=tuple(tables),
        repeat_header=rng.random() < 0.5,
        table_per_page=rng.random() < (0.8 if shanghai else 0.5),
        page_numbers=rng.choice(["", "- {n} -", "{n}", "第{n}页"]),
        total_row_last=rng.random() < 0.3,
        all_classes=fam != "compact",
        three_vertical=fam == "compact" and rng.random() < 0.6,
        project_table=rng.random() < 0.5,
        width_jitter=rng.uniform(0.0, 0.35),
        cell_pad=rng.uniform(2.5, 5.0),
        row_min=rng.uniform(13.0, 22.0) if fam != "compact" else rng.uniform(11.0, 15.0),
        line_width=rng.choice([0.5, 0.6, 0.8, 1.0]),
    )


def with_rulings(style: Style, rulings: str | None, seed: int) -> Style:
    """``style`` with its table rules: one of :data:`RULINGS`, or ``mixed`` for one chosen by
    ``seed`` (its own random stream: the rest of the document does not change)."""
    if rulings is None or rulings == style.rulings:
        return style
    if rulings == "mixed":
        rulings = random.Random(f"rulings:{seed}").choice(RULINGS)
    if rulings not in RULINGS:
        raise ValueError(f"unknown rulings {rulings!r}; choose one of {', '.join(RULINGS)} or mixed")
    return replace(style, rulings=rulings)
