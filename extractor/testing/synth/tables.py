"""The mandatory tables of a final-accounts report, as grids of printed strings.

Each builder turns the :class:`Ledger` into a :class:`TableSpec`: a header given as a tree
of column labels (turned into spanning header cells, or flattened to one row in the
``compact`` family), body rows of strings exactly as they will be printed, and the kind of
each column (code / name / amount) that decides alignment and wrapping. Nothing here
knows about pages; :mod:`layout` draws the specs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from extractor.testing.synth.catalog import load_catalog
from extractor.testing.synth.ledger import Ledger, Line
from extractor.testing.synth.style import Style

Tree = list[tuple[str, "Tree"]]
"""Column header tree: (label, children); a leaf has no children."""

TITLES = {
    "summary": "收入支出决算总表",
    "income": "收入决算表",
    "expense": "支出决算表",
    "fiscal": "财政拨款收入支出决算总表",
    "gb": "一般公共预算财政拨款支出决算表",
    "basic": "一般公共预算财政拨款基本支出决算表",
    "three": "财政拨款“三公”经费支出决算表",
    "gov_fund": "政府性基金预算财政拨款收入支出决算表",
    "state_capital": "国有资本经营预算财政拨款收入支出决算表",
    "projects": "项目支出绩效自评结果表",
}
NUMERALS = "一二三四五六七八九十"


def numeral(n: int) -> str:
    """1 → 一, 12 → 十二, 26 → 二十六 (order numbers of the summary rows)."""
    if n <= 10:
        return NUMERALS[n - 1]
    tens, ones = divmod(n, 10)
    head = "" if tens == 1 else NUMERALS[tens - 1]
    return head + "十" + (NUMERALS[ones - 1] if ones else "")


@dataclass
class HeaderCell:
    text: str
    row: int
    col: int
    row_span: int = 1
    col_span: int = 1


@dataclass
class TableSpec:
    key: str
    title: str
    header: list[HeaderCell]
    header_rows: int
    body: list[list[str]]
    kinds: list[str]  # per column: "code", "name", "amount", "label"
    note: str | None = None
    marker: str | None = None
    unit: str | None = None
    """The unit line's unit when it differs from the report's (the projects table: 万元)."""
    heavy_rows: set[int] = field(default_factory=set)

    @property
    def n_cols(self) -> int:
        return len(self.kinds)


def _depth(tree: Tree) -> int:
    return 1 + max((_depth(children) for _, children in tree if children), default=0)


def _leaves(tree: Tree) -> int:
    return sum(_leaves(children) if children else 1 for _, children in tree)


def header_cells(tree: Tree, flat: bool) -> tuple[list[HeaderCell], int]:
    """Spanning header cells from a tree; ``flat`` joins each leaf's path into one row."""
    if flat:
        cells: list[HeaderCell] = []

        def walk_flat(nodes: Tree, prefix: str) -> None:
            for label, children in nodes:
                if children:
                    keep = "" if label in {"项目", "收入", "支出", "决算数", "财政拨款“三公”经费"} else label
                    walk_flat(children, prefix + keep)
                else:
                    text = label if label in {"类", "款", "项"} else prefix + label
                    cells.append(HeaderCell(text, 0, len(cells)))

        walk_flat(tree, "")
        return cells, 1
    depth = _depth(tree)
    out: list[HeaderCell] = []

    def walk(nodes: Tree, row: int, col: int) -> int:
        for label, children in nodes:
            if children:
                span = _leaves(children)
                out.append(HeaderCell(label, row, col, 1, span))
                walk(children, row + 1, col)
                col += span
            else:
                out.append(HeaderCell(label, row, col, depth - row, 1))
                col += 1
        return col

    walk(tree, 0, 0)
    return out, depth


class Builder:
    """Builds every table of one report in one style."""

    def __init__(self, ledger: Ledger, style: Style) -> None:
        self.ledger = ledger
        self.style = style
        self.catalog = load_catalog()

    # ------------------------------------------------------------------ formatting

    def amount(self, cents: int | None, *, zero: str | None = None) -> str:
        if cents is None:
            return ""
        if cents == 0:
            return self.style.zero if zero is None else zero
        value = cents / 100 if self.style.unit == "元" else cents / 1_000_000
        return f"{value:,.2f}" if self.style.thousands else f"{value:.2f}"

    def get(self, path: str) -> str:
        return self.amount(self.ledger.get(path))

    def marker(self, n: int) -> str | None:
        return f"公开{n:02d}表" if self.style.markers else None

    # ------------------------------------------------------------------ code columns

    def stub_tree(self) -> Tree:
        s = self.style
        if s.code_style == "split":
            return [
                ("项目", [("支出功能分类科目编码", [("类", []), ("款", []), ("项", [])]), ("科目名称", [])])
            ]
        if s.code_style == "with_name":
            return [("项目（科目编码 科目名称）", [])]
        return [("项目", [("功能分类科目编码", []), ("科目名称", [])])]

    def stub_kinds(self) -> list[str]:
        return {"split": ["code", "code", "code", "name"], "with_name": ["name"]}.get(
            self.style.code_style, ["code", "name"]
        )

    def stub(self, code: str | None, name: str) -> list[str]:
        s = self.style.code_style
        if s == "split":
            if code is None:
                return ["", "", "", name]
            return [code[:3], code[3:5], code[5:7], name]
        if s == "with_name":
            return [f"{code} {name}" if code else name]
        return [code or "", name]

    def total_stub(self, label: str = "合计") -> list[str]:
        width = len(self.stub_kinds())
        return ([label] + [""] * (width - 1)) if self.style.code_style != "split" else ["", "", "", label]

    def hierarchy(self, lines: list[Line]) -> list[tuple[str | None, str, list[Line]]]:
        """(code, name, lines under it) for each class, section and item row, in code order."""
        rows: list[tuple[str | None, str, list[Line]]] = []
        seen: set[str] = set()
        for line in lines:
            code = line.code
            cls_code = code[:3] if code else self.catalog.class_code(line.class_name)
            sec_code = code[:5] if code else None
            cls_key = f"c:{line.class_name}"
            if cls_key not in seen:
                seen.add(cls_key)
                rows.append(
                    (cls_code, line.class_name, [x for x in lines if x.class_name == line.class_name])
                )
            sec_key = f"s:{line.class_name}:{line.section}"
            if sec_key not in seen:
                seen.add(sec_key)
                rows.append(
                    (
                        sec_code,
                        line.section,
                        [x for x in lines if x.class_name == line.class_name and x.section == line.section],
                    )
                )
            rows.append((code, line.item, [line]))
        return rows

    def column_numbers(self, n_amounts: int) -> list[str]:
        """The national template's 栏次 row under the header."""
        return [*self.total_stub("栏次"), *(str(i + 1) for i in range(n_amounts))]
