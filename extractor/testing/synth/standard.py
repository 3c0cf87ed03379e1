"""Builders of the national template's tables (公开01表 … 09表) and the projects table."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from extractor.testing.synth.ledger import Line
from extractor.testing.synth.tables import TITLES, Builder, TableSpec, Tree, header_cells, numeral

INCOME_ROWS = (
    ("一般公共预算财政拨款收入", "general_budget_appropriation"),
    ("政府性基金预算财政拨款收入", "gov_fund_appropriation"),
    ("国有资本经营预算财政拨款收入", "state_capital_appropriation"),
    ("上级补助收入", "superior_subsidy"),
    ("事业收入", "business_income"),
    ("经营收入", "operating_income"),
    ("附属单位上缴收入", "affiliate_remittance"),
    ("其他收入", "other_income"),
)
NOTES = {
    "summary": "注：本表反映部门本年度的总收支和年末结转结余情况。",
    "income": "注：本表反映部门本年度取得的各项收入情况。",
    "expense": "注：本表反映部门本年度各项支出情况。",
    "fiscal": "注：本表反映部门本年度财政拨款总收支和结转结余情况。",
    "gb": "注：本表反映部门本年度一般公共预算财政拨款支出情况。",
    "basic": "注：本表反映部门本年度一般公共预算财政拨款基本支出明细情况。",
    "three": "注：本表反映部门本年度“三公”经费支出预决算情况。",
}


def _spec(
    b: Builder,
    key: str,
    tree: Tree,
    body: list[list[str]],
    kinds: list[str],
    *,
    note: str | None = None,
    unit: str | None = None,
) -> TableSpec:
    header, depth = header_cells(tree, b.style.flat_header)
    printed = list(b.style.tables)  # markers number the tables in the order they are printed
    number = printed.index(key) + 1 if key in printed else len(printed) + 1
    return TableSpec(
        key,
        TITLES[key],
        header,
        depth,
        body,
        kinds,
        note if note is not None else NOTES.get(key),
        None if key == "projects" else b.marker(number),
        unit,
    )


def _classes(b: Builder, value: Callable[[Line], int]) -> list[tuple[str, list[int]]]:
    """(printed class name, lines' values) for every class row of a summary table."""
    ledger = b.ledger
    names = [name for _, name in b.catalog.expense_classes]
    used = list(dict.fromkeys(x.class_name for x in ledger.lines))
    names += [n for n in used if n not in names]
    rows = []
    for name in names:
        vals = [value(x) for x in ledger.lines if x.class_name == name]
        if b.style.all_classes or any(vals):
            rows.append((name, vals))
    return rows


def summary(b: Builder) -> TableSpec:
    ledger, rn = b.ledger, b.style.row_numbers
    side: Tree = [("项目", []), ("行次", []), ("决算数", [])] if rn else [("项目", []), ("决算数", [])]
    tree: Tree = [("收入", side), ("支出", side)]
    left = [
        (f"{numeral(i + 1)}、{label}", b.get(f"income_sources.{key}"))
        for i, (label, key) in enumerate(INCOME_ROWS)
    ]
    class_rows = _classes(b, lambda x: x.total_expense)
    override = ledger.gb_class_actual() if ledger.overrides else {}
    right = [
        (f"{numeral(i + 1)}、{name}", b.amount(override.get(name, sum(vals))))
        for i, (name, vals) in enumerate(class_rows)
    ]
    n = max(len(left), len(right))
    left += [("", "")] * (n - len(left))
    right += [("", "")] * (n - len(right))
    tail = [
        ("本年收入合计", "summary.income_current_year", "本年支出合计", "summary.expense_current_year"),
        (
            "使用非财政拨款结余（含专用结余）",
            "summary.income_nonfiscal_surplus_used",
            "结余分配",
            "summary.expense_surplus_distribution",
        ),
        (
            "年初结转和结余",
            "summary.income_carryover_begin",
            "年末结转和结余",
            "summary.expense_carryover_end",
        ),
        ("总计", "summary.income_grand_total", "总计", "summary.expense_grand_total"),
    ]
    left += [(a, b.get(pa)) for a, pa, _, _ in tail]
    right += [(c, b.get(pc)) for _, _, c, pc in tail]
    body = []
    for i, ((ll, lv), (rl, rv)) in enumerate(zip(left, right, strict=True)):
        body.append([ll, str(i + 1), lv, rl, str(i + 1 + len(left)), rv] if rn else [ll, lv, rl, rv])
    kinds = ["label", "code", "amount"] * 2 if rn else ["label", "amount"] * 2
    return _spec(b, "summary", tree, body, kinds)


def _hier_body(
    b: Builder,
    lines: list[Line],
    columns: list[Callable[[Line], int]],
    total_first: bool = True,
    class_override: dict[str, int] | None = None,
) -> list[list[str]]:
    rows: list[list[str]] = []
    for code, name, under in b.hierarchy(lines):
        vals = [sum(col(x) for x in under) for col in columns]
        if class_override and code is not None and len(code) == 3 and name in class_override:
            vals[0] = class_override[name]
        rows.append([*b.stub(code, name), *(b.amount(v) for v in vals)])
    total = [*b.total_stub(), *(b.amount(sum(col(x) for x in lines), zero="") for col in columns)]
    return [total, *rows] if total_first else [*rows, total]


def _pin_totals(b: Builder, body: list[list[str]], row: int, paths: Sequence[tuple[str, ...]]) -> None:
    """A ledger built from a record prints the record's totals in the 合计 row (its rounding
    differences included), not the sums of the lines filled in around them."""
    if not b.ledger.overrides:
        return
    first = len(b.stub_kinds())
    for i, parts in enumerate(paths):
        values = [b.ledger.get(p) for p in parts]
        body[row][first + i] = b.amount(sum(v or 0 for v in values), zero="")


def income(b: Builder) -> TableSpec:
    cols: list[tuple[str, Callable[[Line], int]]] = [
        ("本年收入合计", lambda x: x.total_income),
        ("财政拨款收入", lambda x: x.fiscal_income),
        ("上级补助收入", lambda x: x.income.get("superior_subsidy", 0)),
        ("事业收入", lambda x: x.income.get("business_income", 0)),
        ("经营收入", lambda x: x.income.get("operating_income", 0)),
        ("附属单位上缴收入", lambda x: x.income.get("affiliate_remittance", 0)),
        ("其他收入", lambda x: x.income.get("other_income", 0)),
    ]
    totals = [
        ("summary.income_current_year",),
        (
            "income_sources.general_budget_appropriation",
            "income_sources.gov_fund_appropriation",
            "income_sources.state_capital_appropriation",
        ),
        *(
            (f"income_sources.{k}",)
            for k in (
                "superior_subsidy",
                "business_income",
                "operating_income",
                "affiliate_remittance",
                "other_income",
            )
        ),
    ]
    return _flow_table(b, "income", cols, [x for x in b.ledger.lines if x.total_income], totals)


def expense(b: Builder) -> TableSpec:
    cols: list[tuple[str, Callable[[Line], int]]] = [
        ("本年支出合计", lambda x: x.total_expense),
        ("基本支出", lambda x: x.basic),
        ("项目支出", lambda x: x.project),
        ("上缴上级支出", lambda x: 0),
        ("经营支出", lambda x: x.nf_operating),
        ("对附属单位补助支出", lambda x: 0),
    ]
    totals = [
        ("summary.expense_current_year",),
        *(
            (f"expense_uses.{k}",)
            for k in ("basic", "project", "remit_to_superior", "operating", "affiliate_subsidy")
        ),
    ]
    return _flow_table(b, "expense", cols, [x for x in b.ledger.lines if x.total_expense], totals)


def _flow_table(
    b: Builder,
    key: str,
    cols: list[tuple[str, Callable[[Line], int]]],
    lines: list[Line],
    totals: Sequence[tuple[str, ...]],
) -> TableSpec:
    tree: Tree = [*b.stub_tree(), *((label, []) for label, _ in cols)]
    body = _hier_body(b, lines, [f for _, f in cols])
    _pin_totals(b, body, 0, totals)
    if b.style.row_numbers:
        body.insert(0, b.column_numbers(len(cols)))
    return _spec(b, key, tree, body, [*b.stub_kinds(), *["amount"] * len(cols)])


def gb(b: Builder) -> TableSpec:
    cols: list[Callable[[Line], int]] = [lambda x: x.gb_actual, lambda x: x.gb_basic, lambda x: x.gb_project]
    tree: Tree = [*b.stub_tree(), ("合计", []), ("基本支出", []), ("项目支出", [])]
    ledger = b.ledger
    body = _hier_body(
        b,
        ledger.gb_lines(),
        cols,
        not b.style.total_row_last,
        ledger.gb_class_actual() if ledger.overrides else None,
    )
    totals = [("general_budget.actual_total",), ("basic_expense.total",), ("project_expense_total",)]
    _pin_totals(b, body, len(body) - 1 if b.style.total_row_last else 0, totals)
    if b.style.row_numbers:
        body.insert(0, b.column_numbers(3))
    return _spec(b, "gb", tree, body, [*b.stub_kinds(), "amount", "amount", "amount"])


def fiscal(b: Builder) -> TableSpec:
    ledger = b.ledger
    spend: Tree = [
        ("合计", []),
        ("一般公共预算财政拨款", []),
        ("政府性基金预算财政拨款", []),
        ("国有资本经营预算财政拨款", []),
    ]
    tree: Tree = [("收入", [("项目", []), ("决算数", [])]), ("支出", [("项目", []), ("决算数", spend)])]
    gb_in = ledger.get("income_sources.general_budget_appropriation") or 0
    gf_in = ledger.get("income_sources.gov_fund_appropriation") or 0
    left = [
        ("一、一般公共预算财政拨款", gb_in),
        ("二、政府性基金预算财政拨款", gf_in),
        ("三、国有资本经营预算财政拨款", 0),
    ]
    override = ledger.gb_class_actual() if ledger.overrides else {}
    right = [
        (f"{numeral(i + 1)}、{name}", vals)
        for i, (name, vals) in enumerate(_classes(b, lambda x: x.gb_actual + x.gf_actual))
    ]
    gb_by = {n: override.get(n, v) for n, v in ledger.class_totals("gb_actual").items()}
    gf_by = ledger.class_totals("gf_actual")
    body: list[list[str]] = []
    for i in range(max(len(left), len(right))):
        lab, val = left[i] if i < len(left) else ("", None)
        row = [lab, b.amount(val) if lab else ""]
        if i < len(right):
            name = right[i][0].split("、", 1)[1]
            g, f = gb_by.get(name, 0), gf_by.get(name, 0)
            row += [right[i][0], b.amount(g + f), b.amount(g), b.amount(f), b.amount(0)]
        else:
            row += ["", "", "", "", ""]
        body.append(row)
    gb_out = ledger.get("general_budget.actual_total") or 0
    gf_out = ledger.get("gov_fund_expense") or 0
    gb_end, gf_end = ledger.fiscal_carry_end, gf_in - gf_out
    begin = ledger.fiscal_carry_begin
    body += [
        [
            "本年收入合计",
            b.amount(gb_in + gf_in),
            "本年支出合计",
            b.amount(gb_out + gf_out),
            b.amount(gb_out),
            b.amount(gf_out),
            b.amount(0),
        ],
        [
            "年初财政拨款结转和结余",
            b.amount(begin),
            "年末财政拨款结转和结余",
            b.amount(gb_end + gf_end),
            b.amount(gb_end),
            b.amount(gf_end),
            b.amount(0),
        ],
        ["一、一般公共预算财政拨款", b.amount(begin), "", "", "", "", ""],
        ["二、政府性基金预算财政拨款", b.amount(0), "", "", "", "", ""],
        ["三、国有资本经营预算财政拨款", b.amount(0), "", "", "", "", ""],
        [
            "总计",
            b.amount(gb_in + gf_in + begin),
            "总计",
            b.amount(gb_out + gf_out + gb_end + gf_end),
            b.amount(gb_out + gb_end),
            b.amount(gf_out + gf_end),
            b.amount(0),
        ],
    ]
    return _spec(
        b, "fiscal", tree, body, ["label", "amount", "label", "amount", "amount", "amount", "amount"]
    )


def _econ_side(b: Builder, part: str, amounts: dict[str, int]) -> list[tuple[list[str], str]]:
    rows: list[tuple[list[str], str]] = []
    split = b.style.code_style == "split"
    for group, (gname, items) in sorted(b.catalog.economic[part].items()):
        chosen = {c: v for c, v in amounts.items() if c in items}
        if not chosen and part == "public" and group == "310":
            continue
        rows.append(([group, "", gname] if split else [group, gname], b.amount(sum(chosen.values()))))
        for code, name in items.items():
            if code in chosen or len(chosen) < 3:
                stub = [code[:3], code[3:], name] if split else [code, name]
                rows.append((stub, b.amount(chosen.get(code, 0))))
    return rows


def basic(b: Builder) -> TableSpec:
    split = b.style.code_style == "split"
    code_tree: Tree = [("经济分类科目编码", [("类", []), ("款", [])])] if split else [("科目编码", [])]
    half: Tree = [*code_tree, ("科目名称", []), ("决算数", [])]
    tree: Tree = [("人员经费", half), ("公用经费", half)]
    left = _econ_side(b, "personnel", b.ledger.personnel)
    right = _econ_side(b, "public", b.ledger.public)
    width = 3 if split else 2
    blank: tuple[list[str], str] = ([""] * width, "")
    n = max(len(left), len(right))
    left += [blank] * (n - len(left))
    right += [blank] * (n - len(right))
    body = [[*ls, lv, *rs, rv] for (ls, lv), (rs, rv) in zip(left, right, strict=True)]
    pad = [""] * (width - 1)
    body.append(
        [
            "人员经费合计",
            *pad,
            b.get("basic_expense.personnel"),
            "公用经费合计",
            *pad,
            b.get("basic_expense.public"),
        ]
    )
    kinds = [*["code"] * (width - 1), "name", "amount"] * 2
    return _spec(b, "basic", tree, body, kinds)


def three(b: Builder) -> TableSpec:
    t = b.ledger.three
    pairs = [
        ("合计", t.budget_total, t.actual_total),
        ("因公出国（境）费", t.overseas_budget, t.overseas_actual),
        ("公务用车购置及运行维护费", t.vehicle_budget, t.vehicle_actual),
        ("公务用车购置费", t.purchase_budget, t.purchase_actual),
        ("公务用车运行维护费", t.operation_budget, t.operation_actual),
        ("公务接待费", t.reception_budget, t.reception_actual),
    ]
    note = None
    if not t.budget_total and not t.actual_total:
        note = f"注：{b.ledger.department}{b.ledger.year}年度无财政拨款“三公”经费支出，故本表无数据。"
    if b.style.three_vertical:
        tree: Tree = [("项目", []), ("预算数", []), ("决算数", [])]
        labels = [
            "合计",
            "1.因公出国（境）费",
            "2.公务用车购置及运行维护费",
            "其中：公务用车购置费",
            "公务用车运行维护费",
            "3.公务接待费",
        ]
        body = [[lab, b.amount(bud), b.amount(act)] for lab, (_, bud, act) in zip(labels, pairs, strict=True)]
        return _spec(b, "three", tree, body, ["label", "amount", "amount"], note=note)
    leaf: Tree = [("预算数", []), ("决算数", [])]
    vehicle: Tree = [("小计", leaf), ("公务用车购置费", leaf), ("公务用车运行维护费", leaf)]
    tree = [
        (
            "财政拨款“三公”经费",
            [
                ("合计", leaf),
                ("因公出国（境）费", leaf),
                ("公务用车购置及运行维护费", vehicle),
                ("公务接待费", leaf),
            ],
        )
    ]
    row = [b.amount(v) for _, bud, act in pairs for v in (bud, act)]
    return _spec(b, "three", tree, [row], ["amount"] * 12, note=note)


def fund_table(b: Builder, key: str) -> TableSpec:
    tree: Tree = [
        *b.stub_tree(),
        ("年初结转和结余", []),
        ("本年收入", []),
        ("本年支出", [("合计", []), ("基本支出", []), ("项目支出", [])]),
        ("年末结转和结余", []),
    ]
    kinds = [*b.stub_kinds(), *["amount"] * 6]
    lines = [x for x in b.ledger.lines if x.gf_actual or x.gf_income] if key == "gov_fund" else []
    what = "政府性基金" if key == "gov_fund" else "国有资本经营"
    if not lines:
        body = [[*b.total_stub(), *[""] * 6]]
        note = f"注：{b.ledger.department}{b.ledger.year}年度没有{what}预算财政拨款收入和支出，故本表无数据。"
        return _spec(b, key, tree, body, kinds, note=note)
    cols: list[Callable[[Line], int]] = [
        lambda x: 0,
        lambda x: x.gf_income,
        lambda x: x.gf_actual,
        lambda x: x.gf_basic,
        lambda x: x.gf_project,
        lambda x: x.gf_income - x.gf_actual,
    ]
    note = f"注：本表反映部门本年度{what}预算财政拨款收入支出及结转和结余情况。"
    return _spec(b, key, tree, _hier_body(b, lines, cols), kinds, note=note)


def projects(b: Builder) -> TableSpec:
    tree: Tree = [("项目名称", []), ("年初预算数", []), ("全年执行数", []), ("自评得分", [])]
    body = [
        [p.name, f"{p.budget / 1_000_000:.2f}", f"{p.executed / 1_000_000:.2f}", f"{p.score:g}"]
        for p in b.ledger.projects
    ]
    return _spec(b, "projects", tree, body, ["name", "amount", "amount", "amount"], note="", unit="万元")


BUILDERS: dict[str, Callable[[Builder], TableSpec]] = {
    "summary": summary,
    "income": income,
    "expense": expense,
    "fiscal": fiscal,
    "gb": gb,
    "basic": basic,
    "three": three,
    "gov_fund": lambda b: fund_table(b, "gov_fund"),
    "state_capital": lambda b: fund_table(b, "state_capital"),
    "projects": projects,
}


def build_tables(builder: Builder) -> list[TableSpec]:
    """Every table the style prints, in its order (the projects table last, when printed)."""
    keys = list(builder.style.tables)
    if builder.style.project_table and builder.ledger.projects:
        keys.append("projects")
    return [BUILDERS[k](builder) for k in keys]
