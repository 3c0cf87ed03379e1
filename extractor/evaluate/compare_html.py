"""A self-contained HTML page for ``eval compare --html``: ΔF1 per section with its interval.

The plot shows, per section, the point estimate of ΔF1 = F1(B) − F1(A) and the paired
bootstrap interval around it, with the zero line drawn: a bar that crosses zero is a
difference the sample cannot tell from noise. The PNG is embedded (no external files).
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from extractor.evaluate.compare import Comparison, Interval, fmt_interval, fmt_signed
from extractor.evaluate.results import fmt_rate


def interval_chart_png(cmp: Comparison) -> bytes:
    """Per-section ΔF1 points with horizontal interval bars and the zero line."""
    rows: list[tuple[str, Interval]] = [("overall", cmp.overall), *cmp.by_section.items()]
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # only a chart pays for it
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 0.4 * len(rows) + 1.3), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for y, (_, iv) in enumerate(rows):
        if iv.delta is None:
            ax.text(0, y, "n/a", va="center", ha="center", fontsize=8, color="#888")
            continue
        if iv.low is not None and iv.high is not None:
            ax.plot([iv.low, iv.high], [y, y], color="#4c78a8", linewidth=2.5)
        ax.plot([iv.delta], [y], "o", color="#e45756" if y == 0 else "#222", markersize=5)
    ax.axvline(0.0, color="#888", linewidth=1, linestyle="--")
    ax.set_yticks(list(range(len(rows))), labels=[name for name, _ in rows])
    ax.invert_yaxis()
    ax.set_xlabel(f"ΔF1 = F1({cmp.label_b}) − F1({cmp.label_a})")
    ax.set_title(f"ΔF1 per section, {cmp.confidence:.0%} paired-bootstrap interval "
                 f"({len(cmp.documents)} docs)", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def render_comparison_html(cmp: Comparison) -> str:
    e = html.escape
    a, b = cmp.label_a, cmp.label_b
    chart = base64.b64encode(interval_chart_png(cmp)).decode("ascii")
    rows = "".join(
        f"<tr><td>{e(name)}</td><td class=n>{fmt_rate(iv.f1_a)}</td>"
        f"<td class=n>{fmt_rate(iv.f1_b)}</td><td class=n>{fmt_signed(iv.delta)}</td>"
        f"<td class=n>{e(fmt_interval(iv))}</td><td>{e(iv.verdict)}</td></tr>"
        for name, iv in [("overall", cmp.overall), *cmp.by_section.items()])
    fields = "".join(
        f"<tr><td>{e(f.field)}</td><td class=n>{f.a.tp}/{f.a.fp}/{f.a.fn}</td>"
        f"<td class=n>{f.b.tp}/{f.b.fp}/{f.b.fn}</td><td class=n>{fmt_signed(f.delta_f1)}</td>"
        f"<td class=n>{e(fmt_interval(f.interval))}</td></tr>" for f in cmp.fields if f.a != f.b)
    title = f"Comparison: A = {a}, B = {b}"
    return (
        "<!DOCTYPE html><html lang=\"zh\"><head><meta charset=\"utf-8\">"
        f"<title>{e(title)}</title><style>body{{font-family:system-ui,sans-serif;margin:2em}}"
        "table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:3px 8px}"
        "td.n{text-align:right}</style></head><body>"
        f"<h1>{e(title)}</h1><p>{len(cmp.documents)} common document(s); ΔF1 = F1({e(b)}) − "
        f"F1({e(a)}); {cmp.resamples} resamples, seed {cmp.seed}.</p>"
        f"<p><b>Verdict:</b> {e(cmp.overall.explanation)}.</p>"
        f"<p>Evidence precision: {e(a)} {fmt_rate(cmp.evidence_a.precision)}, "
        f"{e(b)} {fmt_rate(cmp.evidence_b.precision)}.</p>"
        f'<img alt="ΔF1 per section with interval" src="data:image/png;base64,{chart}">'
        f"<h2>Per section</h2><table><tr><th>section</th><th>F1 {e(a)}</th><th>F1 {e(b)}</th>"
        f"<th>ΔF1</th><th>interval</th><th>verdict</th></tr>{rows}</table>"
        f"<h2>Fields that differ</h2><table><tr><th>field</th><th>TP/FP/FN {e(a)}</th>"
        f"<th>TP/FP/FN {e(b)}</th><th>ΔF1</th><th>interval</th></tr>{fields}</table>"
        "</body></html>\n")


def write_comparison_html(cmp: Comparison, path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_comparison_html(cmp), encoding="utf-8")
    return target
