"""Corruption benchmark for numeric reconciliation.

Injects seeded OCR-style damage into gold values (a confused digit, two digits swapped,
a lost digit, a dropped or shifted decimal point, a 元/万元 slip), runs
:func:`extractor.reconcile.reconcile` and counts, per corrupted value, whether it was
repaired correctly, flagged, passed silently or repaired wrongly. Corruptions that move a
value by no more than the scoring tolerance (0.005) are not errors and are redrawn.

Modes: ``extracted``, the headline: each sample's text read by the rules extractor (every
statement of each figure, every share and completion rate as the document prints them);
the damage goes into the digits of the one statement the extractor took for the figure and
the rest stays as printed, as on a scanned report (see ``bench/_corrupt_modes.py``). Its
findings are also split by how often the document states the figure; one stated once and
touched by no rule cannot be caught by arithmetic at all. ``alone`` (only the damaged
finding), ``mention`` (the document also states the true value elsewhere: a lower-priority
fact for the same slot), ``alternate`` (another extractor read the true values) and
``shares`` (alone, but the report also prints every share and completion rate the rules
know, rounded to 0.01%, as ``aux.`` facts). A repair is right when the scorer would count
the value correct. A last section drops each figure or list item in turn (an extractor's
omission, not damage) and counts repairs, all of which would be wrong. Values that no rule
touches cannot be caught by arithmetic at all; they are reported apart ("uncheckable"), as
are values touched only by bounds (≤, zero-together), which catch gross damage only
("bounds only").

    python bench/corrupt.py --trials 200 --seed 0
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _corrupt_modes import (  # noqa: E402
    KIND_WEIGHTS,
    KINDS,
    SCORE_TOLERANCE,
    Damage,
    checked,
    damage_printed,
    findings,
    gold_disagreements,
    printed,
    read_sample,
    slip_text,
    statements,
)

from extractor.core.records import CheckStatus, Fact, FinalAccounts, facts_from_record  # noqa: E402
from extractor.evaluate.score import values_equal  # noqa: E402
from extractor.reconcile import implied_aux_facts, reconcile, slot_label  # noqa: E402
from extractor.reconcile.evaluation import figure_kind, infer_decimals  # noqa: E402
from extractor.reconcile.repair import UNIT_FACTOR  # noqa: E402

OUTCOMES = ("repaired", "flagged", "silent", "wrong")
"""``silent`` counts damage a check could have seen; damage smaller than the tightest
rounding tolerance touching the value is counted apart (``below tolerance``)."""
MODES = ("extracted", "alone", "mention", "alternate", "shares")
HEADLINE = ("damage in the statement the rules extractor read from each sample, every other "
            "statement of the document as printed")
STATED = ("stated once", "stated 2+ times", "stated once, no rule")


def _printed(value: float, kind: str) -> str:
    places = 0 if kind == "count" else infer_decimals(value, kind)
    return f"{value:.{places}f}"


def corrupt_value(value: float, kind: str, how: str, rng: random.Random) -> float | None:
    """One OCR-style slip of ``value`` as printed, or None when ``how`` does not apply."""
    if how == "unit":
        if kind == "count" or value == 0:
            return None
        return value * UNIT_FACTOR if rng.random() < 0.5 else value / UNIT_FACTOR
    out = slip_text(_printed(value, kind), kind, how, rng)
    return None if out is None else float(out)


def damage(facts: list[Fact], k: int, rng: random.Random) -> list[Damage]:
    """``k`` distinct numeric slots, each given one slip that changes it by more than 0.005."""
    numeric = [i for i, f in enumerate(facts) if checked(f)]
    chosen: list[Damage] = []
    for i in rng.sample(numeric, min(k, len(numeric))):
        before = float(facts[i].value)  # type: ignore[arg-type]
        kind = figure_kind(facts[i].field)
        for _ in range(50):
            how = rng.choices(KINDS, KIND_WEIGHTS)[0]
            after = corrupt_value(before, kind, how, rng)
            if after is not None and abs(after - before) > SCORE_TOLERANCE + 1e-9:
                chosen.append(Damage(i, before, after, how))
                break
    return chosen


@dataclass(frozen=True)
class SlotInfo:
    category: str
    """``pinned`` / ``bounds only`` / ``uncheckable`` by the rules, on the clean document."""
    resolution: float
    """How far the value can move with every check touching it still passing (the
    tightest sum tolerance, or a share's tolerance scaled by its slope)."""
    stated: int = 1
    """How often the document states the figure (``extracted`` mode; 1 elsewhere)."""


def categories(facts: list[Fact], stated: Counter[str] | None = None) -> dict[str, SlotInfo]:
    """Category by the catalog's rules; another statement of the figure (a mention's
    ``same`` check) counts towards the resolution but is reported apart, as ``stated``."""
    result = reconcile(facts)
    kinds: dict[str, set[str]] = {}
    pinning: set[str] = set()
    tightest: dict[str, float] = {}
    for check in result.checks:
        slack = check.tolerance + abs(check.difference)
        by_rule = all(fig.role == "finding" for fig in check.figures)
        for n, fig in enumerate(check.figures):
            if by_rule:
                kinds.setdefault(fig.slot, set()).add(check.kind)
            slope = 1.0
            if check.kind == "ratio" and n > 0:  # stated % = 100 × part / total
                part, total = check.figures[1].value, check.figures[2].value
                slope = 100 / abs(total) if n == 1 else 100 * abs(part) / total ** 2
            if check.kind in {"sum", "same", "ratio"} and slope > 0:
                tightest[fig.slot] = min(tightest.get(fig.slot, math.inf), slack / slope)
                if by_rule:
                    pinning.add(fig.slot)
    out = {}
    for f in facts:
        label = slot_label(f.slot_id())
        seen = kinds.get(label, set())
        cat = "pinned" if label in pinning else "bounds only" if seen else "uncheckable"
        out[label] = SlotInfo(cat, tightest.get(label, 0.0), stated[label] if stated else 1)
    return out


def outcome(fact: Fact, dmg: Damage) -> str:
    """A repair is right when the scorer would count the repaired value correct: a repair
    to a copy printed with fewer decimals (2055.41万元 for 20554145.44元) is."""
    if fact.status is CheckStatus.REPAIRED:
        return "repaired" if values_equal(fact.field, dmg.before, fact.value) else "wrong"
    if fact.status is CheckStatus.FLAGGED:
        return "flagged"
    return "silent"


@dataclass
class Tally:
    by: Counter[tuple[str, str, str]]
    by_k: Counter[tuple[int, str, str]] = field(default_factory=Counter)
    by_stated: Counter[tuple[str, str]] = field(default_factory=Counter)
    collateral_wrong: int = 0
    collateral_flags: int = 0
    below_tolerance: int = 0
    coarse_repairs: int = 0
    """Right repairs that took a copy printed with fewer decimals (not the exact value)."""
    clean_values: int = 0
    seconds: float = 0.0


@dataclass
class Trial:
    facts: list[Fact]
    cats: dict[str, SlotInfo]
    mode: str
    values: list[int] | None = None
    """``extracted``: the findings of contract figures (the rest are mentions and shares)."""
    targets: list[int] | None = None
    """``extracted``: the findings printed as digits, which OCR can damage."""


def trial(setup: Trial, k: int, rng: random.Random, tally: Tally) -> None:
    facts, cats, mode = setup.facts, setup.cats, setup.mode
    targets = setup.targets
    dmgs = damage(facts, k, rng) if targets is None else damage_printed(facts, targets, k, rng)
    work = [f.model_copy() for f in facts]
    extra: list[Fact] = []
    for d in dmgs:
        work[d.index] = work[d.index].model_copy(update={"value": d.after, **d.changes})
        if mode == "mention":
            extra.append(facts[d.index].model_copy(update={"priority": -1, "extractor": "mention"}))
    started = time.perf_counter()
    result = reconcile(work + extra, alternates=facts if mode == "alternate" else None)
    tally.seconds += time.perf_counter() - started
    hit = {d.index for d in dmgs}
    for d in dmgs:
        fact = result.facts[d.index]
        info = cats[slot_label(fact.slot_id())]
        result_kind = outcome(fact, d)
        if result_kind == "silent" and abs(d.after - d.before) <= info.resolution + 1e-9:
            tally.below_tolerance += 1
            continue
        if result_kind == "repaired" and abs(float(fact.value) - d.before) > 1e-6:  # type: ignore[arg-type]
            tally.coarse_repairs += 1
        tally.by[(info.category, d.kind, result_kind)] += 1
        tally.by_k[(len(dmgs), info.category, result_kind)] += 1
        tally.by_stated[(STATED[info.stated > 1], result_kind)] += 1
        if info.stated == 1 and info.category == "uncheckable":
            tally.by_stated[(STATED[2], result_kind)] += 1
    values = range(len(facts)) if setup.values is None else setup.values
    for i in values:
        fact = result.facts[i]
        if i in hit or not checked(fact):
            continue
        tally.clean_values += 1
        if fact.value != facts[i].value:
            tally.collateral_wrong += 1
        elif fact.status is CheckStatus.FLAGGED:
            tally.collateral_flags += 1


def _share_line(label: str, counts: Counter[str]) -> str:
    total = sum(counts.values())
    if not total:
        return f"  {label:<24} (none)"
    parts = "  ".join(f"{o} {100 * counts[o] / total:5.1f}%" for o in OUTCOMES)
    caught = 100 * (counts["repaired"] + counts["flagged"]) / total
    return f"  {label:<24} n={total:<5} {parts}   caught {caught:5.1f}%"


def report(mode: str, tally: Tally) -> None:
    print(f"\nmode={mode}  ({tally.seconds:.1f}s in reconcile)")
    if mode == "extracted":
        print(f"  headline: {HEADLINE}")
    for cat in ("pinned", "bounds only", "uncheckable"):
        counts: Counter[str] = Counter()
        for (c, _, o), n in tally.by.items():
            if c == cat:
                counts[o] += n
        print(_share_line(cat, counts))
    everything: Counter[str] = Counter()
    for (_, _, o), n in tally.by.items():
        everything[o] += n
    print(_share_line("all damaged values", everything))
    for k in sorted({k for k, _, _ in tally.by_k}):
        counts = Counter()
        for (kk, c, o), n in tally.by_k.items():
            if kk == k and c == "pinned":
                counts[o] += n
        print(_share_line(f"pinned, {k} per document", counts))
    for kind in KINDS:
        counts = Counter()
        for (c, kd, o), n in tally.by.items():
            if c == "pinned" and kd == kind:
                counts[o] += n
        print(_share_line(f"pinned / {kind}", counts))
    print(f"  below tolerance (not counted above): {tally.below_tolerance} damaged values changed by "
          f"less than the rounding tolerance of the checks touching them")
    if mode == "extracted":
        for group in STATED:
            print(_share_line(group, Counter({o: n for (g, o), n in tally.by_stated.items() if g == group})))
        print("  (stated once, no rule: nothing else in the document states or constrains the figure, "
              "so arithmetic cannot catch its damage; only another reading can)")
        print(f"  repaired to a copy printed with fewer decimals (right within the scoring tolerance, "
              f"not exact): {tally.coarse_repairs}")
    wrong = sum(n for (_, _, o), n in tally.by.items() if o == "wrong")
    print(f"  wrong repairs: {wrong} of damaged values, {tally.collateral_wrong} of "
          f"{tally.clean_values} undamaged values; undamaged values flagged: {tally.collateral_flags} "
          f"({100 * tally.collateral_flags / max(tally.clean_values, 1):.1f}%)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gold", type=Path, nargs="+", default=[ROOT / "eval" / "gold"])
    parser.add_argument("--samples", type=Path, default=ROOT / "data" / "samples",
                        help="sample texts (<gold stem>.txt) for the extracted mode")
    parser.add_argument("--trials", type=int, default=200, help="trials per document and mode")
    parser.add_argument("--max-corruptions", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--modes", default=",".join(MODES))
    args = parser.parse_args(argv)
    files = sorted(p for d in args.gold for p in d.glob("*.json"))
    records = [FinalAccounts.model_validate_json(p.read_text(encoding="utf-8")) for p in files]
    docs = [facts_from_record(r) for r in records]
    cats = [categories(f) for f in docs]
    print(f"{len(files)} gold documents, {args.trials} trials each per mode, "
          f"1..{args.max_corruptions} corruptions per trial, seed {args.seed}")
    for mode in args.modes.split(","):
        if mode == "extracted":
            setups = extracted_setups(files, records, args.samples)
        else:
            setups = []
            for d, base in enumerate(docs):
                facts = base + implied_aux_facts(base) if mode == "shares" else base
                doc_cats = categories(facts) if mode == "shares" else cats[d]
                setups.append((files[d].stem, Trial(facts, doc_cats, mode)))
        tally = Tally(Counter())
        for stem, setup in setups:
            rng = random.Random(f"{args.seed}:{mode}:{stem}")
            for t in range(args.trials):
                trial(setup, 1 + t % args.max_corruptions, rng, tally)
        report(mode, tally)
    omissions(docs)
    return 0


def extracted_setups(files: list[Path], gold: list[FinalAccounts], samples: Path) -> list[tuple[str, Trial]]:
    """The rules extractor's facts per sample, checked against the gold file they stand in for."""
    setups = []
    print("\nextracted mode: the rules extractor's facts per sample")
    for path, truth in zip(files, gold, strict=True):
        text = samples / f"{path.stem}.txt"
        if not text.exists():
            print(f"  {path.stem}: no sample text, skipped")
            continue
        facts = read_sample(text)
        values = findings(facts)
        targets = [i for i in values if printed(facts[i]) is not None]
        differ = ", ".join(gold_disagreements(path.stem, facts, truth)) or "none"
        once = statements(facts)
        print(f"  {path.stem}: {len(facts)} facts, {len(values)} figures "
              f"({sum(once[slot_label(facts[i].slot_id())] > 1 for i in values)} stated 2+ times), "
              f"{sum(f.field.startswith('aux.') for f in facts)} stated shares/rates; "
              f"{len(values) - len(targets)} read from words or blank cells (no digits to damage); "
              f"figures where the findings differ from gold: {differ}")
        setups.append((path.stem, Trial(facts, categories(facts, once), "extracted", values, targets)))
    return setups


def omissions(docs: list[list[Fact]]) -> None:
    """Drop each scalar figure or whole list item in turn: a short sum must flag, never repair."""
    runs = repaired = clean_flags = 0
    for facts in docs:
        groups: dict[tuple[str, tuple[str, ...]], list[int]] = {}
        for i, f in enumerate(facts):
            groups.setdefault((f.list_path or f.field, f.item_key()), []).append(i)
        for members in groups.values():
            gone = set(members)
            result = reconcile([f for i, f in enumerate(facts) if i not in gone])
            runs += 1
            repaired += bool(result.repairs)
            clean_flags += sum(f.status is CheckStatus.FLAGGED for f in result.facts)
    print(f"\nomissions: {runs} runs with one figure or list item missing; runs with any repair "
          f"(all wrong): {repaired}; values flagged per run: {clean_flags / max(runs, 1):.1f}")


if __name__ == "__main__":
    raise SystemExit(main())
