"""The table half of the rules extractor: the 公开01–10 statistical tables (the performance
self-evaluation tables are in :mod:`extractor.extractors.rules_perf`).

Which table a block is comes from its title line; what a column holds comes from its
header, matched by position (see :mod:`extractor.extractors.rules_layout` for reading the
layouts). A labelled row whose amount cell is blank is a stated zero (the templates print
zero as an empty cell), read at a low priority so any printed figure outranks it.
"""

from __future__ import annotations

import re
from decimal import Decimal

from extractor.extractors.rules_layout import (
    TITLE_REACH,
    Cell,
    Table,
    clean_label,
    code_rows,
    is_column_numbers,
    segments,
    stacked,
    total_row,
)
from extractor.extractors.rules_patterns import (
    BLANK_ZERO,
    STATED_NONE,
    TABLE,
    FactSink,
    FactSpec,
    zero_quantity,
)
from extractor.numbers import parse_amount, parse_count, to_float


def _amount(sink: FactSink, fld: str, cell: Cell, unit: str, *, span_from: int | None = None,
            key: dict[str, str | None] | None = None) -> None:
    q = parse_amount(cell.text, default_unit=unit)
    start = span_from if span_from is not None and span_from <= cell.start else cell.start
    sink.quantity(fld, q, (start, cell.end), TABLE, key=key)


def _blank(sink: FactSink, fld: str, label: Cell) -> None:
    sink.quantity(fld, zero_quantity(label.text), (label.start, label.end), BLANK_ZERO,
                  note="blank cell in a labelled table row read as 0")


_OVERVIEW_INCOME = (
    (r"^一般公共预算财政拨款(?:收入)?$", "income_sources.general_budget_appropriation"),
    (r"^政府性基金预算财政拨款(?:收入)?$", "income_sources.gov_fund_appropriation"),
    (r"^国有资本经营预算财政拨款(?:收入)?$", "income_sources.state_capital_appropriation"),
    (r"^上级补助收入$", "income_sources.superior_subsidy"),
    (r"^事业收入$", "income_sources.business_income"),
    (r"^经营收入$", "income_sources.operating_income"),
    (r"^附属单位上缴收入$", "income_sources.affiliate_remittance"),
    (r"^其他收入$", "income_sources.other_income"),
    (r"^本年收入合计$", "summary.income_current_year"),
    (r"^使用非财政拨款结余", "summary.income_nonfiscal_surplus_used"),
    (r"^年初结转[和及]结余$", "summary.income_carryover_begin"),
    (r"^收入总计$", "summary.income_grand_total"),
    (r"^本年支出合计$", "summary.expense_current_year"),
    (r"^结余分配$", "summary.expense_surplus_distribution"),
    (r"^年末结转[和及]结余$", "summary.expense_carryover_end"),
    (r"^支出总计$", "summary.expense_grand_total"),
)


def _overview(sink: FactSink, table: Table) -> None:
    has_line_no = any("行次" in h for h in table.header.values())
    for row in table.rows:
        segs = segments(row, has_line_no)
        for n, (label, value) in enumerate(segs):
            name = clean_label(label.text)
            if name == "总计":
                name = "收入总计" if (n == 0 and len(segs) > 1) or label.start - row.start < 8 else "支出总计"
            fld = next((f for rx, f in _OVERVIEW_INCOME if re.search(rx, name)), None)
            if fld is None:
                continue
            if value is None:
                _blank(sink, fld, label)
            else:
                _amount(sink, fld, value, table.unit, span_from=label.start)


_COLUMN_FIELDS = {
    "income": ((r"本年收入合计|^收入合计", "summary.income_current_year"),
               (r"上级补助", "income_sources.superior_subsidy"),
               (r"事业收入", "income_sources.business_income"),
               (r"经营收入", "income_sources.operating_income"),
               (r"附属单位上缴", "income_sources.affiliate_remittance"),
               (r"其他收入", "income_sources.other_income")),
    "expense": ((r"本年支出合计|^支出合计", "summary.expense_current_year"),
                (r"基本支出", "expense_uses.basic"),
                (r"项目支出", "expense_uses.project"),
                (r"上缴上级", "expense_uses.remit_to_superior"),
                (r"经营支出", "expense_uses.operating"),
                (r"对附属单位补助", "expense_uses.affiliate_subsidy")),
    "gb": ((r"合计|小计", "general_budget.actual_total"),
           (r"基本支出", "basic_expense.total"),
           (r"项目支出", "project_expense_total")),
}


def _column_map(table: Table) -> dict[int, str]:
    out: dict[int, str] = {}
    used: set[str] = set()
    for idx in sorted(table.header):
        words = table.header[idx]
        for rx, fld in _COLUMN_FIELDS.get(table.kind, ()):
            if fld not in used and re.search(rx, words):
                out[idx] = fld
                used.add(fld)
                break
    return out


def _by_columns(sink: FactSink, table: Table) -> None:
    """公开02/03 (and the 合计 row of 05): the 合计 row read column by column (tab layout)."""
    row = total_row(table)
    if row is None or table.layout == "space":
        return
    label = row.cells[0]
    for idx, fld in _column_map(table).items():
        if idx >= len(row.cells):
            continue
        cell = row.cells[idx]
        if cell.is_num:
            near = cell.start - label.start < _ROW_SPAN
            _amount(sink, fld, cell, table.unit, span_from=label.start if near else None)
        elif not cell.text:
            _blank(sink, fld, label)


_ROW_SPAN = 200
"""A quote runs from the row label to the figure only when both sit on one short row."""
_NO_DATA = re.compile(r"本表无数据|无此项(?:收入|支出|收支)?|本表为空|无相关数据")


def _gb(sink: FactSink, table: Table) -> None:
    """公开05: class (3-digit), 款 (5) and 项 (7-digit) rows, and the 合计 row."""
    cls: str | None = None
    section: str | None = None
    for code, name, anchor, figures, crow in code_rows(table, sink.text):
        total = figures[0] if figures and figures[0].is_num else None
        if table.layout != "space":
            idx = next((i for i, f in _column_map(table).items() if f == "general_budget.actual_total"), None)
            if idx is not None and idx < len(crow.cells):
                total = crow.cells[idx] if crow.cells[idx].is_num else None
        if len(code) == 3:
            cls, section = name, None
            if total:
                _amount(sink, "general_budget.classes.actual", total, table.unit, span_from=anchor.start,
                        key={"name": name})
        elif len(code) == 5:
            section = name
        elif total:
            key: dict[str, str | None] = {"class": cls, "section": section, "item": name, "code": code}
            _amount(sink, "general_budget.items.actual", total, table.unit, span_from=anchor.start, key=key)
    row = total_row(table)
    if row is None:
        return
    if table.layout != "space":
        _by_columns(sink, table)
        return
    nums = row.numbers()
    fields = (("general_budget.actual_total", "basic_expense.total", "project_expense_total")
              if len(nums) == 3 else ("general_budget.actual_total",))
    for fld, cell in zip(fields, nums, strict=False):
        _amount(sink, fld, cell, table.unit, span_from=row.cells[0].start)


def _gb_basic(sink: FactSink, table: Table) -> None:
    """公开06: 人员经费合计 / 公用经费合计, the 基本支出 figure (the last of the pair)."""
    for label, figs in stacked(table.rows):
        name = clean_label(label.text)
        fld = ("basic_expense.personnel" if re.fullmatch(r"人员经费(?:合计)?", name) else
               "basic_expense.public" if re.fullmatch(r"(?:日常)?公用经费(?:合计)?", name) else None)
        if fld and figs:
            _amount(sink, fld, figs[-1], table.unit, span_from=label.start)


_TP_PURCHASE_BUDGET = "aux.amount.three_public.vehicle_purchase_budget"


_TP_OPERATION_BUDGET = "aux.amount.three_public.vehicle_operation_budget"


_TP_BLOCKS = ("three_public.budget_total", "three_public.overseas_budget", "three_public.vehicle_budget",
              _TP_PURCHASE_BUDGET, _TP_OPERATION_BUDGET, "three_public.reception_budget",
              "three_public.actual_total", "three_public.overseas_actual", "three_public.vehicle_actual",
              "three_public.vehicle_purchase_actual", "three_public.vehicle_operation_actual",
              "three_public.reception_actual")
"""公开07 columns when all budgets come first, then all actuals (the 财政部 template)."""


_TP_PAIRS = ("three_public.budget_total", "three_public.actual_total",
             "three_public.overseas_budget", "three_public.overseas_actual",
             "three_public.vehicle_budget", "three_public.vehicle_actual",
             _TP_PURCHASE_BUDGET, "three_public.vehicle_purchase_actual",
             _TP_OPERATION_BUDGET, "three_public.vehicle_operation_actual",
             "three_public.reception_budget", "three_public.reception_actual")
"""公开07 columns when each part has its 预算数/决算数 pair side by side."""


def _three_public(sink: FactSink, table: Table) -> None:
    header_lines = [*table.intro.split("\n")[-TITLE_REACH:], *(r.line for r in table.rows)]
    pair_header = next((ln for ln in header_lines if len(re.findall(r"[预决]算数?", ln)) >= 12), None)
    data = [r for r in table.rows if r.is_data and not is_column_numbers(r)]
    if not data:
        return
    row = data[0]
    if pair_header is not None and table.layout == "space" and len(row.numbers()) != 12:
        heads = [(m.start() + m.end()) / 2 for m in re.finditer(r"[预决]算数?", pair_header)]
        cols: dict[int, Cell] = {}
        for num in row.numbers():
            x = (num.start - row.start + num.end - row.start) / 2
            cols.setdefault(min(range(len(heads)), key=lambda i: abs(heads[i] - x)), num)
        layout: tuple[str, ...] = _TP_PAIRS
        cells: list[Cell | None] = [cols.get(i) for i in range(12)]
    else:
        layout = _TP_PAIRS if pair_header is not None else _TP_BLOCKS
        raw = row.cells if table.layout != "space" else row.numbers()
        if not 11 <= len(raw) <= 13:
            return
        cells = [c if c.is_num else None for c in raw[:12]]
    whole_row = Cell(sink.text[row.start:row.end], row.start, row.end)
    for fld, cell in zip(layout, cells, strict=False):
        if cell is None:
            _blank(sink, fld, whole_row)
        else:
            _amount(sink, fld, cell, table.unit)


def _fund(sink: FactSink, table: Table, fld: str) -> None:
    """公开08/09: "本表无数据" is a stated zero; else the 合计 row's 本年支出."""
    note = _NO_DATA.search(sink.text, table.start, table.tail_end)
    if note:
        sink.quantity(fld, zero_quantity(note.group(0)), note.span(), STATED_NONE,
                      note="table stated to have no data")
        return
    row = total_row(table)
    if row is None or table.layout == "space":
        return
    idx = next((i for i, h in sorted(table.header.items()) if re.search(r"本年支出|小计|合计", h)
                and i > 1), None)
    if idx is not None and idx < len(row.cells) and row.cells[idx].is_num:
        _amount(sink, fld, row.cells[idx], table.unit, span_from=row.cells[0].start)


def _info(sink: FactSink, table: Table) -> None:
    """公开10: 政府采购 (合计/货物/工程/服务), 机关运行经费, 车辆 and 100万元以上设备 counts."""
    has_line_no = any("行次" in h for h in table.header.values()) or any(
        "行次" in c.text for r in table.rows for c in r.cells)
    section = ""
    running: list[tuple[Cell, Cell | None]] = []
    for row in table.rows:
        for label, value in segments(row, has_line_no):
            name = clean_label(label.text)
            if re.search(r"政府采购", name):
                section = "proc"
            elif re.search(r"运行经费", name):
                section = "run"
            elif re.search(r"国有资产|资产占用", name):
                section = "assets"
            fld = None
            if section == "proc":
                fld = {"合计": "procurement.total", "货物": "procurement.goods", "工程": "procurement.works",
                       "服务": "procurement.services"}.get(name)
                if re.search(r"授予中小企业合同金额", name):
                    fld = "procurement.sme_awarded"
            elif section == "run" and value is not None and re.search(r"行政单位|事业单位|运行经费", name):
                running.append((label, value))
            if re.search(r"车辆(?:数)?(?:合计|总数)", name):
                fld = "assets.vehicles"
            elif re.search(r"单价.{0,4}100万元.{0,6}以上(?:的)?设备", name):
                fld = "assets.equipment_over_1m"
            if fld is None:
                continue
            if fld.startswith("assets."):
                if value is None:
                    sink.count(fld, "0", (label.start, label.end), BLANK_ZERO, note="blank cell read as 0")
                else:
                    sink.count(fld, str(int(parse_count(value.text).value)), (label.start, value.end), TABLE)
            elif value is None:
                _blank(sink, fld, label)
            else:
                _amount(sink, fld, value, table.unit, span_from=label.start)
    _running_costs(sink, table, running)


def _running_costs(sink: FactSink, table: Table, rows: list[tuple[Cell, Cell | None]]) -> None:
    """A 机关运行经费 total row if printed, else 行政单位 + 参照公务员法管理事业单位."""
    rows = [(label, value) for label, value in rows if value is not None]
    total_row = next(((lab, v) for lab, v in rows if "运行经费" in lab.text), None)
    parts = [(lab, v) for lab, v in rows if "运行经费" not in lab.text]
    if total_row is not None or len(parts) == 1:
        label, value = total_row or parts[0]
        if value is not None:
            _amount(sink, "operating_costs", value, table.unit, span_from=label.start)
        return
    values = [v for _, v in parts if v is not None]
    if not values:
        return
    total = sum((parse_amount(v.text, default_unit=table.unit).value for v in values), Decimal(0))
    sink.add(FactSpec("operating_costs", to_float(total), TABLE, raw=" + ".join(v.text for v in values),
                      note="sum of the table's 机关运行经费 rows"), (parts[0][0].start, values[-1].end))


def read_tables(sink: FactSink, blocks: list[Table]) -> None:
    """Every recognised statistical table among the document's table blocks (the 绩效自评表
    are :mod:`extractor.extractors.rules_perf`'s)."""
    for table in blocks:
        if table.kind == "overview":
            _overview(sink, table)
        elif table.kind in {"income", "expense"}:
            _by_columns(sink, table)
        elif table.kind == "gb":
            _gb(sink, table)
        elif table.kind == "gb_basic":
            _gb_basic(sink, table)
        elif table.kind == "three_public":
            _three_public(sink, table)
        elif table.kind == "gov_fund":
            _fund(sink, table, "gov_fund_expense")
        elif table.kind == "state_capital":
            _fund(sink, table, "state_capital_expense")
        elif table.kind == "info":
            _info(sink, table)
