"""The terminal summary of a score report (what ``eval score`` prints)."""

from __future__ import annotations

from collections.abc import Mapping

from extractor.evaluate.evidence import EvidenceCounts
from extractor.evaluate.results import Counts, ErrorSplit, ScoreReport, fmt_rate


def _evidence_cells(e: EvidenceCounts | None) -> str:
    if e is None or not (e.ok + e.wrong):
        return f"{'—':>9} {'—':>6}"
    return f"{f'{e.ok}/{e.ok + e.wrong}':>9} {fmt_rate(e.precision):>6}"


def _block(title: str, rows: Mapping[str, Counts],
           evidence: Mapping[str, EvidenceCounts] | None = None) -> list[str]:
    width = max([len(title), 24, *(len(k) for k in rows)])
    head = (f"{title:<{width}} {'TP':>5} {'FP':>5} {'FN':>5} {'abst':>5}  "
            f"{'P':>6} {'R':>6} {'F1':>6}")
    if evidence is not None:
        head += f"  {'evid ok':>9} {'evid P':>6}"
    lines = [head, "-" * len(head)]
    for key, c in rows.items():
        row = (f"{key:<{width}} {c.tp:>5} {c.fp:>5} {c.fn:>5} {c.abstain:>5}  "
               f"{fmt_rate(c.precision):>6} {fmt_rate(c.recall):>6} {fmt_rate(c.f1):>6}")
        if evidence is not None:
            row += "  " + _evidence_cells(evidence.get(key))
        lines.append(row)
    return [*lines, ""]


def _error_block(title: str, rows: Mapping[str, ErrorSplit]) -> list[str]:
    """missing / wrong / spurious per row, and how many wrong values the checks flagged."""
    shown = {k: e for k, e in rows.items() if e.missing or e.wrong or e.spurious}
    if not shown:
        return []
    width = max([len(title), 24, *(len(k) for k in shown)])
    head = (f"{title:<{width}} {'missing':>7} {'wrong':>5} {'spur':>5}  {'flagged':>7} "
            f"{'silent':>6} {'no status':>9}")
    lines = [head, "-" * len(head)]
    order = sorted(shown.items(), key=lambda kv: -(kv[1].missing + kv[1].wrong + kv[1].spurious))
    for key, e in order:
        s = e.silent
        lines.append(f"{key:<{width}} {e.missing:>7} {e.wrong:>5} {e.spurious:>5}  "
                     f"{s.flagged_wrong:>7} {s.wrong_unflagged:>6} {s.wrong_without_status:>9}")
    return [*lines, ""]


def format_table(report: ScoreReport) -> str:
    """Overall, per section (with evidence precision), per document, where the errors
    are and whether the checks flagged them, and what was not scored."""
    lines = [f"Scored {len(report.documents)} document(s); tolerance ±{report.tolerance} "
             "for amounts and percentages.", ""]
    checked = report.evidence.ok + report.evidence.wrong > 0   # columns only when meaningful
    lines += _block("overall", {"all slots": report.overall},
                    {"all slots": report.evidence} if checked else None)
    lines += _block("section", report.by_section, report.evidence_by_section if checked else None)
    lines += _block("document", report.by_document)
    lines += _error_block("errors by field", report.errors_by_field)
    lines += _error_block("errors by document", report.errors_by_document)
    s, e = report.silent, report.evidence
    lines.append(f"correct abstentions (both null): {report.overall.abstain}")
    lines.append(f"silent errors: {s.wrong_unflagged} wrong & unflagged of {s.with_status} "
                 f"statused predictions (silent_error_rate {fmt_rate(s.silent_error_rate)}); "
                 f"of {s.wrong_with_status} wrong statused values "
                 f"(unflagged_error_share {fmt_rate(s.unflagged_error_share)}); "
                 f"{s.wrong_without_status} wrong values carry no status")
    lines.append(f"evidence: {e.ok} of {e.ok + e.wrong} checked citations hold their value "
                 f"(evidence precision {fmt_rate(e.precision)}); {e.unverifiable} not "
                 f"checkable (document text not stored); cell boxes: {e.boxes_checked} "
                 f"checked, {e.boxes_skipped} skipped (file gone or no text layer)")
    findings = sum(len(c.findings) for c in report.context.values())
    if findings:
        lines.append(f"document findings (not scored): {findings}")
    lines.append("missing in pred (not scored): " + (", ".join(report.missing_in_pred) or "none"))
    lines.append("missing in gold (not scored): " + (", ".join(report.missing_in_gold) or "none"))
    if report.invalid:
        lines.append(f"invalid files (not scored): {len(report.invalid)}")
        lines += [f"  {f.side}: {f.file}: {f.reason}" for f in report.invalid]
    return "\n".join(lines) + "\n"
