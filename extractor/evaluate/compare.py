"""Is run B really better than run A? Per-field differences and a paired bootstrap.

Both reports must score against the same gold. Only documents scored in both are
compared, and every figure here (per-field counts included) is recomputed over that
common set, so a run is not rewarded for having been scored on easier documents.

A is the first run given and B the second; every difference is B − A and every table
shows A's column before B's. The bootstrap resamples *documents* with replacement and
keeps each document's slots together, because slots within one document are not independent (one misread table
spoils many slots at once). Per resample, micro F1 of A and of B is recomputed from the
resampled documents' TP/FP/FN and ΔF1 = F1(B) − F1(A) recorded; the 2.5th and 97.5th
percentiles give the 95 % interval. The same resample indices are used for A and B
(paired), so document difficulty cancels out.

Below :attr:`BootstrapConfig.min_docs` (5) common documents no verdict is given: with
n documents there are only C(2n−1, n) distinct resamples (35 for n = 4, 10 for n = 3),
so the percentile interval is made of a handful of values and says nothing reliable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, Field

from extractor.core.records import section_of
from extractor.evaluate.evidence import EvidenceCounts
from extractor.evaluate.score import Counts, ScoreReport, aggregate, fmt_rate


@dataclass(frozen=True)
class BootstrapConfig:
    resamples: int = 10_000
    seed: int = 20240601
    confidence: float = 0.95
    min_docs: int = 5
    """Fewer common documents than this: report "too few to tell" whatever the interval."""


class Interval(BaseModel):
    """ΔF1 = F1(B) − F1(A) over the common documents with its bootstrap interval."""

    f1_a: float | None
    f1_b: float | None
    delta: float | None
    low: float | None = None
    high: float | None = None
    share_b_better: float | None = None
    """Share of resamples in which B's F1 exceeds A's (a descriptive figure, not a p-value)."""
    verdict: str
    """``too few docs``, ``no slots``, ``n.s.`` or ``<label> better``."""
    explanation: str


class FieldDiff(BaseModel):
    field: str
    a: Counts
    b: Counts
    delta_f1: float | None
    """F1(B) − F1(A); ``None`` when either is undefined (no gold and no prediction)."""
    interval: Interval | None = None
    """The paired-bootstrap interval of this field's ΔF1 (same resamples as overall)."""


class Comparison(BaseModel):
    label_a: str
    label_b: str
    documents: list[str] = Field(default_factory=list)
    only_in_a: list[str] = Field(default_factory=list)
    only_in_b: list[str] = Field(default_factory=list)
    resamples: int
    seed: int
    confidence: float
    min_docs: int
    overall: Interval
    by_section: dict[str, Interval] = Field(default_factory=dict)
    fields: list[FieldDiff] = Field(default_factory=list)
    evidence_a: EvidenceCounts = Field(default_factory=EvidenceCounts)
    evidence_b: EvidenceCounts = Field(default_factory=EvidenceCounts)
    """Evidence verdicts of each side over the common documents."""


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    den = 2 * tp + fp + fn
    out: np.ndarray = np.divide(2 * tp, den, out=np.full(den.shape, np.nan, dtype=float),
                                where=den > 0)
    return out


def _group_matrices(report: ScoreReport, docs: list[str]
                    ) -> dict[tuple[str, str], np.ndarray]:
    """(docs × [tp, fp, fn]) per group — ``("overall", "")``, ``("section", name)`` and
    ``("field", name)`` — in one pass over the report's slots."""
    index = {d: i for i, d in enumerate(docs)}
    out: dict[tuple[str, str], np.ndarray] = {}
    cols = {"correct": ((0, 1),), "wrong": ((1, 1), (2, 1)), "missing": ((2, 1),),
            "spurious": ((1, 1),)}
    for s in report.slots:
        row = index.get(s.doc_id)
        if row is None or s.outcome == "abstain":
            continue
        for key in (("overall", ""), ("section", section_of(s.field)), ("field", s.field)):
            m = out.get(key)
            if m is None:
                m = out[key] = np.zeros((len(docs), 3), dtype=np.int64)
            for col, inc in cols[s.outcome]:
                m[row, col] += inc
    return out


def _resample_weights(n: int, cfg: BootstrapConfig) -> np.ndarray:
    """(resamples × docs): how often each document is drawn in each resample. Drawing n
    documents with replacement is a multinomial draw, so weights replace index arrays
    and every group's resampled sums are one matrix product."""
    rng = np.random.default_rng(cfg.seed)
    weights: np.ndarray = rng.multinomial(n, np.full(n, 1.0 / n), size=cfg.resamples)
    return weights.astype(np.float64)


def _verdict(n_docs: int, low: float | None, high: float | None, cfg: BootstrapConfig,
             labels: tuple[str, str]) -> tuple[str, str]:
    """(short verdict for table cells, full sentence)."""
    pct = f"{cfg.confidence:.0%}"
    if n_docs < cfg.min_docs:
        return "too few docs", (f"sample too small to tell: {n_docs} common document(s), "
                                f"need at least {cfg.min_docs}; no conclusion about "
                                f"{labels[1]} vs {labels[0]}")
    if low is None or high is None:
        return "no slots", "no slots to compare"
    if low <= 0.0 <= high:
        return "n.s.", (f"difference not significant: the {pct} interval "
                        f"[{low:+.3f}, {high:+.3f}] includes 0")
    better = labels[1] if low > 0 else labels[0]
    return f"{better} better", (f"{better} is better: the {pct} interval "
                                f"[{low:+.3f}, {high:+.3f}] excludes 0")


def _micro(m: np.ndarray) -> float | None:
    value = _f1(*(m.sum(axis=0, keepdims=True).T))[0]
    return None if np.isnan(value) else float(value)


def _interval(a: np.ndarray, b: np.ndarray, weights: np.ndarray | None, cfg: BootstrapConfig,
              labels: tuple[str, str]) -> Interval:
    f1_a, f1_b = _micro(a), _micro(b)
    delta = None if f1_a is None or f1_b is None else f1_b - f1_a
    n = a.shape[0]
    if n == 0 or delta is None or weights is None:
        short, text = _verdict(n, None, None, cfg, labels)
        return Interval(f1_a=f1_a, f1_b=f1_b, delta=delta, verdict=short, explanation=text)
    sa, sb = weights @ a, weights @ b
    d = _f1(sb[:, 0], sb[:, 1], sb[:, 2]) - _f1(sa[:, 0], sa[:, 1], sa[:, 2])
    d = d[~np.isnan(d)]
    if d.size == 0:
        short, text = _verdict(n, None, None, cfg, labels)
        return Interval(f1_a=f1_a, f1_b=f1_b, delta=delta, verdict=short, explanation=text)
    tail = (1 - cfg.confidence) / 2 * 100
    low, high = (float(x) for x in np.percentile(d, [tail, 100 - tail]))
    short, text = _verdict(n, low, high, cfg, labels)
    return Interval(f1_a=f1_a, f1_b=f1_b, delta=delta, low=low, high=high,
                    share_b_better=float(np.mean(d > 0)), verdict=short, explanation=text)


def bootstrap_interval(a: np.ndarray, b: np.ndarray, cfg: BootstrapConfig,
                       labels: tuple[str, str] = ("A", "B")) -> Interval:
    """Paired document bootstrap of micro-F1 difference; ``a``/``b`` are docs × [tp,fp,fn]."""
    weights = _resample_weights(a.shape[0], cfg) if a.shape[0] else None
    return _interval(a.astype(np.float64), b.astype(np.float64), weights, cfg, labels)


def compare(report_a: ScoreReport, report_b: ScoreReport, config: BootstrapConfig | None = None,
            labels: tuple[str, str] = ("A", "B")) -> Comparison:
    """Compare two score reports over the documents both scored (A first, B second;
    every Δ is B − A). Overall, every section and every field get the same resamples."""
    cfg = config or BootstrapConfig()
    docs = sorted(set(report_a.documents) & set(report_b.documents))
    weights = _resample_weights(len(docs), cfg) if docs else None
    ma, mb = _group_matrices(report_a, docs), _group_matrices(report_b, docs)
    zero = np.zeros((len(docs), 3), dtype=np.int64)

    def interval(key: tuple[str, str]) -> Interval:
        a, b = ma.get(key, zero), mb.get(key, zero)
        return _interval(a.astype(np.float64), b.astype(np.float64), weights, cfg, labels)

    cmp = Comparison(label_a=labels[0], label_b=labels[1], documents=docs,
                     only_in_a=sorted(set(report_a.documents) - set(docs)),
                     only_in_b=sorted(set(report_b.documents) - set(docs)),
                     resamples=cfg.resamples, seed=cfg.seed, confidence=cfg.confidence,
                     min_docs=cfg.min_docs, overall=interval(("overall", "")))
    keep = set(docs)
    agg_a = aggregate([s for s in report_a.slots if s.doc_id in keep], documents=docs)
    agg_b = aggregate([s for s in report_b.slots if s.doc_id in keep], documents=docs)
    cmp.evidence_a, cmp.evidence_b = agg_a.evidence, agg_b.evidence
    for section in dict.fromkeys([*agg_a.by_section, *agg_b.by_section]):
        cmp.by_section[section] = interval(("section", section))
    for field in dict.fromkeys([*agg_a.by_field, *agg_b.by_field]):
        ca, cb = agg_a.by_field.get(field, Counts()), agg_b.by_field.get(field, Counts())
        delta = None if ca.f1 is None or cb.f1 is None else cb.f1 - ca.f1
        cmp.fields.append(FieldDiff(field=field, a=ca, b=cb, delta_f1=delta,
                                    interval=interval(("field", field))))
    return cmp


def fmt_signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+.3f}"


def fmt_interval(iv: Interval | None) -> str:
    return "—" if iv is None or iv.low is None or iv.high is None \
        else f"[{iv.low:+.3f}, {iv.high:+.3f}]"


def format_comparison(cmp: Comparison, *, all_fields: bool = False) -> str:
    """Terminal tables, A before B as given: the verdict, overall and per-section ΔF1 with
    intervals, then per field the counts, ΔF1 and its interval (changed fields only,
    every field with ``all_fields``)."""
    a, b = cmp.label_a, cmp.label_b
    pct = f"{cmp.confidence:.0%}"
    lines = [f"A = {a}, B = {b}: {len(cmp.documents)} common document(s).",
             f"ΔF1 = F1(B) − F1(A) = F1({b}) − F1({a}); paired bootstrap over documents, "
             f"{cmp.resamples} resamples, seed {cmp.seed}, {pct} percentile interval.",
             f"Verdict: {cmp.overall.explanation}."]
    ea, eb = cmp.evidence_a, cmp.evidence_b
    if ea.ok + ea.wrong + eb.ok + eb.wrong:
        lines.append(f"Evidence precision: {a} {fmt_rate(ea.precision)} ({ea.ok}/{ea.ok + ea.wrong}), "
                     f"{b} {fmt_rate(eb.precision)} ({eb.ok}/{eb.ok + eb.wrong}).")
    lines.append("")
    fa, fb = f"F1 {a}", f"F1 {b}"
    wa, wb = max(len(fa), 6), max(len(fb), 6)
    width = max([24, *(len(s) for s in cmp.by_section)])
    head = f"{'section':<{width}}  {fa:>{wa}}  {fb:>{wb}}  {'ΔF1':>7}  {pct + ' interval':>18}  verdict"
    lines += [head, "-" * len(head)]
    for label, iv in [("overall", cmp.overall), *cmp.by_section.items()]:
        lines.append(f"{label:<{width}}  {fmt_rate(iv.f1_a):>{wa}}  {fmt_rate(iv.f1_b):>{wb}}  "
                     f"{fmt_signed(iv.delta):>7}  {fmt_interval(iv):>18}  {iv.verdict}")
    lines.append("")
    shown = [f for f in cmp.fields if all_fields or f.a != f.b]
    fw = max([24, *(len(f.field) for f in shown)])
    ta, tb = f"TP/FP/FN {a}", f"TP/FP/FN {b}"
    wta, wtb = max(len(ta), 12), max(len(tb), 12)
    head = (f"{'field':<{fw}}  {ta:>{wta}}  {tb:>{wtb}}  {fa:>{wa}}  {fb:>{wb}}  {'ΔF1':>7}  "
            f"{pct + ' interval':>18}")
    lines += [head, "-" * len(head)]
    for f in shown:
        ca, cb = f"{f.a.tp}/{f.a.fp}/{f.a.fn}", f"{f.b.tp}/{f.b.fp}/{f.b.fn}"
        lines.append(f"{f.field:<{fw}}  {ca:>{wta}}  {cb:>{wtb}}  {fmt_rate(f.a.f1):>{wa}}  "
                     f"{fmt_rate(f.b.f1):>{wb}}  {fmt_signed(f.delta_f1):>7}  {fmt_interval(f.interval):>18}")
    if len(shown) < len(cmp.fields):
        lines.append(f"({len(cmp.fields) - len(shown)} field(s) with identical counts not shown)")
    if cmp.only_in_a or cmp.only_in_b:
        lines += ["", f"only in {a} (not compared): " + (", ".join(cmp.only_in_a) or "none"),
                  f"only in {b} (not compared): " + (", ".join(cmp.only_in_b) or "none")]
    return "\n".join(lines) + "\n"


def comparison_json(cmp: Comparison) -> str:
    """The comparison as JSON (what ``eval compare --json`` prints)."""
    return json.dumps(cmp.model_dump(mode="json"), ensure_ascii=False, indent=2)
