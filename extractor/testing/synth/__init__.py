"""Synthetic final-accounts reports with known truth, for tests and benchmarks.

A seeded generator draws a department's books (:mod:`generate`, every figure consistent:
items add up to classes and totals, income sources to current-year income, basic expense
to personnel + public, vehicle spending to purchase + operation), or takes them from an
existing gold file (:mod:`from_record`); a renderer lays them out as a report following
the national template — cover, 概况, the mandatory tables, 情况说明 with figures in
sentences, 名词解释 — in one of several layout families (:mod:`style`), as a born-digital
PDF or as a scan. Each document comes with its gold record (contract JSON, 万元) and a
cell-truth file (format in :mod:`document`).

    python -m extractor.testing.synth --out DIR --n 50 --seed 0 [--scan] [--family NAME] [--rulings KIND]
"""

from __future__ import annotations

import random

from extractor.core.records import FinalAccounts
from extractor.testing.synth.document import Rendered, render, write
from extractor.testing.synth.from_record import ledger_from_record, needs_yuan
from extractor.testing.synth.generate import random_ledger
from extractor.testing.synth.style import FAMILIES, RULINGS, Style, choose_style, with_rulings

__all__ = ["FAMILIES", "RULINGS", "Rendered", "Style", "choose_style", "generate", "render_record", "write"]


def doc_id_for(seed: int, family: str, scan: bool) -> str:
    return f"synth_{seed:05d}_{family}" + ("_scan" if scan else "")


def generate(seed: int, *, family: str | None = None, scan: bool = False,
             rulings: str | None = None) -> Rendered:
    """The synthetic report of ``seed`` (same seed and options → same bytes and gold).
    ``rulings`` (see :func:`~extractor.testing.synth.style.with_rulings`) draws its tables
    with horizontal rules only or none; by default every cell is ruled."""
    rng = random.Random(seed)
    style = with_rulings(choose_style(rng, family), rulings, seed)
    ledger = random_ledger(seed, grain=style.grain, doc_id=doc_id_for(seed, style.family, scan))
    return render(ledger, style, seed, scan=scan)


def render_record(
    record: FinalAccounts, seed: int, *, family: str | None = None, scan: bool = False
) -> Rendered:
    """An existing gold record rendered as a report; the gold is the record itself."""
    rng = random.Random(seed)
    style = choose_style(rng, family, unit="元" if needs_yuan(record) else None)
    rendered = render(ledger_from_record(record), style, seed, scan=scan)
    rendered.gold = record
    return rendered
