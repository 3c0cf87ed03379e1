"""A self-contained HTML report of one scoring run.

The report is meant to be mailed or attached to a review, so it has no external files:
the chart is rendered with matplotlib's Agg canvas to PNG and embedded as base64, and
the styles are inline. Its core is the list of every wrong value beside its gold value,
with units, the extractor's own verdict (status, failing checks, repairs) and a link to
the cited evidence, because that is what a person needs to decide whether the
extractor, the document or the gold file is at fault.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from extractor.core.records import field_kind
from extractor.evaluate.evidence import EvidenceCounts, reads_as
from extractor.evaluate.results import (
    Counts,
    DocContext,
    ErrorSplit,
    ScoreReport,
    SlotResult,
    fmt_rate,
)

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
.wrongev{color:#b00}
:target{outline:2px solid #e80}
"""
_NAMED = frozenset({"name", "class", "section", "item", "code"})


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def unit_of(field: str) -> str:
    """The contract unit of a slot, shown beside its figures."""
    if field.rsplit(".", 1)[-1] in _NAMED:
        return ""
    kind = field_kind(field)
    return {"amount": "万元", "score": "分"}.get(kind, "")


def _value(value: Any, field: str) -> str:
    if value is None:
        return '<span class="muted">null</span>'
    unit = unit_of(field)
    return _e(value) + (f' <span class="muted">{unit}</span>' if unit else "")


def section_chart_png(report: ScoreReport) -> bytes:
    """Horizontal bars of F1 per section (sections with undefined F1 drawn at 0, marked)."""
    names = list(report.by_section)
    f1s = [report.by_section[n].f1 for n in names]
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # only a chart pays for it
    from matplotlib.figure import Figure

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


def _evidence_cells(e: EvidenceCounts | None) -> str:
    if e is None:
        return "<td class=n>—</td><td class=n>—</td><td class=n>—</td>"
    return (f"<td class=n>{e.ok}/{e.ok + e.wrong}</td><td class=n>{fmt_rate(e.precision)}</td>"
            f"<td class=n>{e.unverifiable}</td>")


def _counts_table(title: str, rows: Mapping[str, Counts],
                  evidence: Mapping[str, EvidenceCounts] | None = None) -> str:
    ev_head = ("<th>evidence ok</th><th>evidence P</th><th>not checkable</th>"
               if evidence is not None else "")
    out = [f"<table><tr><th>{_e(title)}</th><th>TP</th><th>FP</th><th>FN</th>"
           f"<th>abstain</th><th>P</th><th>R</th><th>F1</th>{ev_head}</tr>"]
    for name, c in rows.items():
        cls = ' class="bad"' if c.fp or c.fn else ""
        ev = _evidence_cells(evidence.get(name)) if evidence is not None else ""
        out.append(f"<tr{cls}><td>{_e(name)}</td><td class=n>{c.tp}</td><td class=n>{c.fp}"
                   f"</td><td class=n>{c.fn}</td><td class=n>{c.abstain}</td>"
                   f"<td class=n>{fmt_rate(c.precision)}</td><td class=n>{fmt_rate(c.recall)}"
                   f"</td><td class=n>{fmt_rate(c.f1)}</td>{ev}</tr>")
    out.append("</table>")
    return "".join(out)


def _error_table(title: str, rows: Mapping[str, ErrorSplit],
                 counts: Mapping[str, Counts]) -> str:
    """Per field or document: missing / wrong / spurious, and whether the checks flagged
    the wrong and spurious values (silent = neither flagged nor without a status)."""
    out = [f"<table><tr><th>{_e(title)}</th><th>correct</th><th>missing</th>"
           "<th>wrong value</th><th>spurious</th><th>flagged</th><th>silent</th>"
           "<th>no status</th><th>silent rate</th><th>F1</th></tr>"]
    for name, e in rows.items():
        c = counts.get(name, Counts())
        s = e.silent
        cls = ' class="bad"' if e.missing or e.wrong or e.spurious else ""
        cells = (c.tp, e.missing, e.wrong, e.spurious, s.flagged_wrong, s.wrong_unflagged,
                 s.wrong_without_status)
        out.append(f"<tr{cls}><td>{_e(name)}</td>"
                   + "".join(f"<td class=n>{n}</td>" for n in cells)
                   + f"<td class=n>{fmt_rate(s.unflagged_error_share)}</td>"
                   f"<td class=n>{fmt_rate(c.f1)}</td></tr>")
    out.append("</table>")
    return "".join(out)


def _anchor(slot: SlotResult) -> str:
    return "ev-" + "".join(ch if ch.isalnum() or ch in "-_." else "_"
                           for ch in f"{slot.doc_id}-{slot.pred_path}")


def _printed_unit(slot: SlotResult) -> str:
    """The unit printed after the figure in the quote (元, 万元, %, 辆 …)."""
    if slot.evidence is not None and slot.evidence.unit:
        return slot.evidence.unit
    if slot.cited is None or slot.pred is None:
        return ""
    return reads_as(slot.field, slot.pred, slot.cited.quote)[1] or ""


def _verdict(slot: SlotResult, ctx: DocContext | None) -> str:
    """The extractor's own view of a value: status, failing checks, repairs."""
    parts = [_e(slot.status.value) if slot.status is not None else
             '<span class="muted">no status</span>']
    if ctx is not None:
        for check in ctx.checks_on(slot.pred_path):
            parts.append(f"failed check <b>{_e(check.name)}</b>: {_e(check.summary)}")
        for rep in ctx.repairs_on(slot.pred_path):
            parts.append(f"repaired {_e(rep.before)} → {_e(rep.after)} ({_e(rep.source)}, "
                         f"{_e(rep.rule)})")
    return "<br>".join(parts)


Cited = Mapping[tuple[str, str], SlotResult]
"""(doc_id, prediction path) → the slot, for slots that carry evidence; also
(doc_id, ``item:`` + item path) → the first such slot of a list item."""


def _cited_index(slots: list[SlotResult]) -> dict[tuple[str, str], SlotResult]:
    out: dict[tuple[str, str], SlotResult] = {}
    for s in slots:
        if s.cited is None or s.pred_path is None:
            continue
        out[(s.doc_id, s.pred_path)] = s
        if "[" in s.pred_path:
            out.setdefault((s.doc_id, "item:" + s.pred_path.rsplit(".", 1)[0]), s)
    return out


def _source(slot: SlotResult, cited: Cited) -> SlotResult | None:
    """The slot whose evidence shows where ``slot`` was read: its own, or for a list
    item's name or code (which carry none) the evidence of a figure of the same item."""
    if slot.cited is not None:
        return slot
    if slot.pred_path is None or "[" not in slot.pred_path:
        return None
    return cited.get((slot.doc_id, "item:" + slot.pred_path.rsplit(".", 1)[0]))


def _evidence_link(slot: SlotResult, cited: Cited) -> str:
    source = _source(slot, cited)
    if source is None:
        return '<span class="muted">no evidence</span>'
    if source is not slot:
        assert source.cited is not None and source.pred_path is not None
        leaf = source.pred_path.rsplit(".", 1)[1]
        return (f'<a href="#{_anchor(source)}"><span class="quote">{_e(source.cited.quote)}'
                f'</span></a> <span class="muted">(the item\'s {_e(leaf)})</span>')
    check = slot.evidence
    assert slot.cited is not None
    mark = "" if check is None else (" ✓" if check.verdict == "ok" else
                                     (' <span class="wrongev">✗ wrong place</span>'
                                      if check.verdict == "wrong" else " (not checkable)"))
    return (f'<a href="#{_anchor(slot)}"><span class="quote">{_e(slot.cited.quote)}</span>'
            f"</a>{mark}")


def _slot_table(slots: list[SlotResult], context: Mapping[str, DocContext],
                outcome: str, cited: Cited) -> str:
    if not slots:
        return '<p class="muted">none</p>'
    show_pred = outcome != "missing"
    head = "<tr><th>document</th><th>slot</th><th>item</th><th>gold</th>"
    head += ("<th>predicted</th><th>unit in quote</th><th>extractor's verdict</th>"
             "<th>evidence</th></tr>") if show_pred else "</tr>"
    out = ["<table>", head]
    for s in slots:
        row = (f"<tr><td>{_e(s.doc_id)}</td><td>{_e(s.path)}</td><td>{_e(s.item or '')}</td>"
               f"<td class=n>{_value(s.gold, s.field)}</td>")
        if show_pred:
            row += (f"<td class=n>{_value(s.pred, s.field)}</td><td>{_e(_printed_unit(s))}</td>"
                    f"<td>{_verdict(s, context.get(s.doc_id))}</td><td>{_evidence_link(s, cited)}</td>")
        out.append(row + "</tr>")
    out.append("</table>")
    return "".join(out)


def _evidence_list(slots: list[SlotResult]) -> str:
    """Every linked citation in full: where it points and what the check found there."""
    cited = [s for s in slots if s.cited is not None]
    if not cited:
        return '<p class="muted">none</p>'
    out = ["<table><tr><th>citation</th><th>quote</th><th>page</th><th>offsets</th>"
           "<th>cell</th><th>check</th></tr>"]
    for s in cited:
        ev, check = s.cited, s.evidence
        assert ev is not None
        offsets = "—" if ev.start is None else f"{ev.start}–{ev.end}"
        cell = " / ".join(_e(x) for x in (ev.row_label, ev.column_header) if x)
        if ev.bbox is not None:
            cell += f"<br>bbox {_e(', '.join(f'{v:.1f}' for v in ev.bbox))}"
        verdict = '<span class="muted">not checked</span>' if check is None else (
            _e(check.verdict) + (f": {_e(check.reason)}" if check.reason else "")
            + (f'<br>text there: <span class="quote">{_e(check.found)}</span>'
               if check.found else "")
            + (f"<br>cell box: {_e(check.box)}" if check.box else ""))
        out.append(f'<tr id="{_anchor(s)}"><td>{_e(s.doc_id)}<br>{_e(s.pred_path)}</td>'
                   f'<td class="quote">{_e(ev.quote)}</td><td class=n>{_e(ev.page)}</td>'
                   f"<td class=n>{offsets}</td><td>{cell}</td><td>{verdict}</td></tr>")
    out.append("</table>")
    return "".join(out)


def _findings(report: ScoreReport) -> str:
    rows = []
    for doc, ctx in report.context.items():
        for f in ctx.findings:
            statements = "; ".join(
                f"{st.get('quote')} (p. {st.get('page')}, {st.get('value')})"
                for st in f.get("statements") or [] if isinstance(st, Mapping))
            rows.append(f"<tr><td>{_e(doc)}</td><td>{_e(f.get('kind'))}</td>"
                        f"<td>{_e(', '.join(map(str, f.get('fields') or [])))}</td>"
                        f"<td>{_e(f.get('message'))}</td><td class=quote>{_e(statements)}</td></tr>")
    if not rows:
        return '<p class="muted">none recorded</p>'
    return ("<table><tr><th>document</th><th>kind</th><th>fields</th><th>message</th>"
            "<th>statements</th></tr>" + "".join(rows) + "</table>")


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


def _summary(report: ScoreReport) -> str:
    o, s, e = report.overall, report.silent, report.evidence
    invalid = "".join(f"<li>{_e(f.side)}: {_e(f.file)}: {_e(f.reason)}</li>"
                      for f in report.invalid)
    return "".join([
        f"<p>{len(report.documents)} document(s) scored. Overall micro P "
        f"{fmt_rate(o.precision)}, R {fmt_rate(o.recall)}, F1 <b>{fmt_rate(o.f1)}</b> "
        f"(TP {o.tp}, FP {o.fp}, FN {o.fn}; {o.abstain} correct abstentions). "
        f"Amounts (万元) and percentages match within ±{report.tolerance}.</p>",
        f"<p>Evidence precision <b>{fmt_rate(e.precision)}</b>: {e.ok} of {e.ok + e.wrong} "
        f"checked citations hold their value at the cited place; {e.unverifiable} not "
        f"checkable (document text not stored); cell boxes {e.boxes_checked} checked, "
        f"{e.boxes_skipped} skipped (file gone or no text layer).</p>",
        f"<p>Missing in prediction (not scored): {_e(', '.join(report.missing_in_pred) or 'none')}"
        f"<br>Missing in gold (not scored): {_e(', '.join(report.missing_in_gold) or 'none')}</p>",
        f"<p>Invalid files (not scored): {len(report.invalid)}</p>"
        + (f"<ul>{invalid}</ul>" if invalid else ""),
        f"<p>Silent errors: {s.wrong_unflagged} wrong values not flagged by the extractor's "
        f"checks. silent_error_rate = {s.wrong_unflagged}/{s.with_status} statused predictions "
        f"= {fmt_rate(s.silent_error_rate)}; unflagged_error_share = {s.wrong_unflagged}/"
        f"{s.wrong_with_status} wrong statused values = {fmt_rate(s.unflagged_error_share)}; "
        f"{s.wrong_without_status} wrong values carry no status; {s.flagged} values flagged, "
        f"{s.flagged_wrong} of them wrong.</p>"])


def render_html(report: ScoreReport, run_settings: Mapping[str, Any] | None = None,
                *, title: str | None = None) -> str:
    """The report as one HTML string (see :func:`write_html`)."""
    chart = base64.b64encode(section_chart_png(report)).decode("ascii")
    heading = "Evaluation report" + (f" — {title}" if title else "")
    by_outcome: dict[str, list[SlotResult]] = {"wrong": [], "missing": [], "spurious": []}
    for slot in report.slots:
        if slot.outcome in by_outcome:
            by_outcome[slot.outcome].append(slot)
    bad_evidence = [s for s in report.slots if s.evidence is not None
                    and s.evidence.verdict == "wrong" and s.outcome == "correct"]
    cited = _cited_index(report.slots)
    linked = list({id(src): src for s in by_outcome["wrong"] + by_outcome["spurious"]
                   + bad_evidence if (src := _source(s, cited)) is not None}.values())
    ctx = report.context
    parts = [
        "<!DOCTYPE html><html lang=\"zh\"><head><meta charset=\"utf-8\">",
        f"<title>{_e(heading)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(heading)}</h1>", _summary(report),
        f'<img alt="F1 per section" src="data:image/png;base64,{chart}">',
        "<h2>Per section</h2>",
        _counts_table("section", report.by_section, report.evidence_by_section),
        "<h2>Per document</h2>", _counts_table("document", report.by_document),
        "<h2>Errors per field: missing / wrong value / spurious, flagged or silent</h2>",
        _error_table("field", report.errors_by_field, report.by_field),
        "<h2>Errors per document</h2>",
        _error_table("document", report.errors_by_document, report.by_document),
        "<h2>Document findings (the report about itself; not scored)</h2>", _findings(report),
        f"<h2>Wrong values ({len(by_outcome['wrong'])})</h2>",
        _slot_table(by_outcome["wrong"], ctx, "wrong", cited),
        f"<h2>Missing values ({len(by_outcome['missing'])})</h2>",
        _slot_table(by_outcome["missing"], ctx, "missing", cited),
        f"<h2>Spurious values ({len(by_outcome['spurious'])})</h2>",
        _slot_table(by_outcome["spurious"], ctx, "spurious", cited),
        f"<h2>Right values citing the wrong place ({len(bad_evidence)})</h2>",
        _slot_table(bad_evidence, ctx, "correct", cited),
        "<h2>Evidence of the values above</h2>", _evidence_list(linked),
        "<h2>Run settings</h2>", _settings_table(run_settings),
        "</body></html>\n",
    ]
    return "".join(parts)


def write_html(report: ScoreReport, path: str | Path,
               run_settings: Mapping[str, Any] | None = None, *,
               title: str | None = None) -> Path:
    """Write the self-contained HTML report; returns the path written."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(report, run_settings, title=title), encoding="utf-8")
    return target
