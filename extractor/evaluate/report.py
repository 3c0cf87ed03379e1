"""A self-contained HTML report of one scoring run.

The report is meant to be mailed or attached to a review, so it has no external files:
the chart is rendered with matplotlib's Agg canvas to PNG and embedded as base64, and
the styles are inline. Its core is the list of every wrong value beside its gold value
and the quote the extractor cited, because that is what a person needs to decide
whether the extractor, the document or the gold file is at fault.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from extractor.evaluate.score import Counts, ScoreReport, SlotResult, fmt_rate

Evidence = Mapping[tuple[str, str], str]
"""(doc_id, slot path in the *prediction*, as in ``check_status``) -> quoted source text."""

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC",sans-serif;margin:2em;
color:#222;max-width:1400px}
table{border-collapse:collapse;margin:0.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f2f2f2}
td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.bad td{background:#fff4f0}
.quote{font-family:monospace;white-space:pre-wrap;color:#444}
.muted{color:#888}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _value(value: Any) -> str:
    return '<span class="muted">null</span>' if value is None else _e(value)


def section_chart_png(report: ScoreReport) -> bytes:
    """Horizontal bars of F1 per section (sections with undefined F1 drawn at 0, marked)."""
    names = list(report.by_section)
    f1s = [report.by_section[n].f1 for n in names]
    fig = Figure(figsize=(7.5, 0.38 * max(len(names), 1) + 1.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    positions = list(range(len(names)))
    ax.barh(positions, [f or 0.0 for f in f1s], color="#4c78a8")
    ax.set_yticks(positions, labels=names)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.08)
    ax.set_xlabel("micro F1")
    ax.set_title("F1 per section")
    for y, f in zip(positions, f1s, strict=True):
        ax.text((f or 0.0) + 0.01, y, "n/a" if f is None else f"{f:.3f}", va="center",
                fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _counts_table(title: str, rows: Mapping[str, Counts]) -> str:
    out = [f"<table><tr><th>{_e(title)}</th><th>TP</th><th>FP</th><th>FN</th>"
           "<th>abstain</th><th>P</th><th>R</th><th>F1</th></tr>"]
    for name, c in rows.items():
        cls = ' class="bad"' if c.fp or c.fn else ""
        out.append(f"<tr{cls}><td>{_e(name)}</td><td class=n>{c.tp}</td><td class=n>{c.fp}"
                   f"</td><td class=n>{c.fn}</td><td class=n>{c.abstain}</td>"
                   f"<td class=n>{fmt_rate(c.precision)}</td><td class=n>{fmt_rate(c.recall)}"
                   f"</td><td class=n>{fmt_rate(c.f1)}</td></tr>")
    out.append("</table>")
    return "".join(out)


def _field_error_table(report: ScoreReport) -> str:
    """Per field: how the errors split into missing / wrong value / spurious."""
    split: dict[str, dict[str, int]] = {}
    for s in report.slots:
        split.setdefault(s.field, {"correct": 0, "missing": 0, "wrong": 0, "spurious": 0,
                                   "abstain": 0})[s.outcome] += 1
    out = ["<table><tr><th>field</th><th>correct</th><th>missing</th><th>wrong value</th>"
           "<th>spurious</th><th>abstain</th><th>F1</th></tr>"]
    for field, n in split.items():
        cls = ' class="bad"' if n["missing"] or n["wrong"] or n["spurious"] else ""
        f1 = fmt_rate(report.by_field[field].f1) if field in report.by_field else "—"
        out.append(f"<tr{cls}><td>{_e(field)}</td>" + "".join(
            f"<td class=n>{n[k]}</td>" for k in ("correct", "missing", "wrong", "spurious",
                                                 "abstain")) + f"<td class=n>{f1}</td></tr>")
    out.append("</table>")
    return "".join(out)


def _quote(slot: SlotResult, evidence: Evidence | None) -> str:
    if not evidence or slot.pred_path is None:
        return '<span class="muted">—</span>'
    quote = evidence.get((slot.doc_id, slot.pred_path))
    return f'<span class="quote">{_e(quote)}</span>' if quote else \
        '<span class="muted">no evidence</span>'


def _slot_table(slots: list[SlotResult], evidence: Evidence | None, outcome: str) -> str:
    if not slots:
        return '<p class="muted">none</p>'
    show_pred = outcome != "missing"
    head = "<tr><th>document</th><th>slot</th><th>item</th><th>gold</th>"
    head += "<th>predicted</th><th>status</th><th>evidence quote</th></tr>" if show_pred \
        else "</tr>"
    out = ["<table>", head]
    for s in slots:
        row = (f"<tr><td>{_e(s.doc_id)}</td><td>{_e(s.path)}</td><td>{_e(s.item or '')}</td>"
               f"<td class=n>{_value(s.gold)}</td>")
        if show_pred:
            status = s.status.value if s.status is not None else "—"
            row += (f"<td class=n>{_value(s.pred)}</td><td>{_e(status)}</td>"
                    f"<td>{_quote(s, evidence)}</td>")
        out.append(row + "</tr>")
    out.append("</table>")
    return "".join(out)


def _flatten(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            rows += _flatten(value, name + ".")
        else:
            rows.append((name, value))
    return rows


def _settings_table(run_settings: Mapping[str, Any] | None) -> str:
    if not run_settings:
        return '<p class="muted">not recorded</p>'
    rows = "".join(f"<tr><td>{_e(k)}</td><td>{_e(json.dumps(v, ensure_ascii=False, default=str))}"
                   f"</td></tr>" for k, v in _flatten(run_settings))
    return f"<table><tr><th>setting</th><th>value</th></tr>{rows}</table>"


def render_html(report: ScoreReport, run_settings: Mapping[str, Any] | None = None,
                evidence: Evidence | None = None) -> str:
    """The report as one HTML string (see :func:`write_html`)."""
    chart = base64.b64encode(section_chart_png(report)).decode("ascii")
    o, s = report.overall, report.silent
    by_outcome: dict[str, list[SlotResult]] = {"wrong": [], "missing": [], "spurious": []}
    for slot in report.slots:
        if slot.outcome in by_outcome:
            by_outcome[slot.outcome].append(slot)
    parts = [
        "<!DOCTYPE html><html lang=\"zh\"><head><meta charset=\"utf-8\">",
        f"<title>Evaluation report</title><style>{_CSS}</style></head><body>",
        "<h1>Evaluation report</h1>",
        f"<p>{len(report.documents)} document(s) scored. Overall micro P "
        f"{fmt_rate(o.precision)}, R {fmt_rate(o.recall)}, F1 <b>{fmt_rate(o.f1)}</b> "
        f"(TP {o.tp}, FP {o.fp}, FN {o.fn}; {o.abstain} correct abstentions). "
        f"Amounts and percentages match within ±{report.tolerance}.</p>",
        f"<p>Missing in prediction (not scored): {_e(', '.join(report.missing_in_pred) or 'none')}"
        f"<br>Missing in gold (not scored): {_e(', '.join(report.missing_in_gold) or 'none')}</p>",
        f"<p>Silent errors: {s.wrong_unflagged} wrong values not flagged by the extractor's "
        f"checks. silent_error_rate = {s.wrong_unflagged}/{s.with_status} statused predictions "
        f"= {fmt_rate(s.silent_error_rate)}; unflagged_error_share = {s.wrong_unflagged}/"
        f"{s.wrong_with_status} wrong statused values = {fmt_rate(s.unflagged_error_share)}; "
        f"{s.wrong_without_status} wrong values carry no status; {s.flagged} values flagged, "
        f"{s.flagged_wrong} of them wrong.</p>",
        f'<img alt="F1 per section" src="data:image/png;base64,{chart}">',
        "<h2>Per section</h2>", _counts_table("section", report.by_section),
        "<h2>Per document</h2>", _counts_table("document", report.by_document),
        "<h2>Per field: missing / wrong value / spurious</h2>", _field_error_table(report),
        f"<h2>Wrong values ({len(by_outcome['wrong'])})</h2>",
        _slot_table(by_outcome["wrong"], evidence, "wrong"),
        f"<h2>Missing values ({len(by_outcome['missing'])})</h2>",
        _slot_table(by_outcome["missing"], evidence, "missing"),
        f"<h2>Spurious values ({len(by_outcome['spurious'])})</h2>",
        _slot_table(by_outcome["spurious"], evidence, "spurious"),
        "<h2>Run settings</h2>", _settings_table(run_settings),
        "</body></html>\n",
    ]
    return "".join(parts)


def write_html(report: ScoreReport, path: str | Path,
               run_settings: Mapping[str, Any] | None = None,
               evidence: Evidence | None = None) -> Path:
    """Write the self-contained HTML report; returns the path written."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(report, run_settings, evidence), encoding="utf-8")
    return target
