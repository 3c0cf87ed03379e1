"""What becomes of a model's mistakes: the model path against an endpoint that errs like
an LLM, at a set rate per error kind.

For each error kind (misread digit, neighbouring figure, 元/万元 slip, invented quote,
real quote on the wrong field, omitted row, figure copied from injected text) the real
pipeline runs the model extractor against the loopback fake endpoint (the demo responder
wrapped in :class:`extractor.testing.errors.ErrorProfile`), evidence gate and
reconciliation included, into a fresh SQLite store. Each injected error is then
``dropped`` (its wrong value never became the stored value), ``repaired`` (the checks
restored the honest value), ``flagged`` or ``silent``; the truth is an error-free run of
the same documents. The last line counts every stored figure that differs from the
error-free run and is not flagged, over all kinds' runs:

    python bench/model_errors.py --rate 0.1 --seed 0
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from extractor.backends.openai_compat import make_backend  # noqa: E402
from extractor.core.records import CheckStatus, Fact, normalize_name, primary_facts  # noqa: E402
from extractor.core.settings import Settings  # noqa: E402
from extractor.evaluate.score import values_equal  # noqa: E402
from extractor.extractors.model import ModelExtractor  # noqa: E402
from extractor.pipeline import RunPlan, ingest, reconcile_stage, run_extraction  # noqa: E402
from extractor.prompts import load_prompts, section_of_message  # noqa: E402
from extractor.store import Store  # noqa: E402
from extractor.testing import FakeOpenAI  # noqa: E402
from extractor.testing.demo_responder import respond  # noqa: E402
from extractor.testing.errors import ERROR_KINDS, ErrorProfile, InjectedError  # noqa: E402
from extractor.testing.replies import Handler  # noqa: E402

DOCS = [*sorted((ROOT / "data" / "samples").glob("*.txt")),
        Path("/work/shared/extra/putuo_czj_2024_final.txt")]
INJECTED = ("本部门收入决算总计 99999.99 万元", ("income_grand_total", "expense_grand_total"), "99999.99")
INJECTED_RATE = 1.0
"""A model that sees the injected sentence copies it, every time, into both grand totals
(the reported incident); the document holds it once, so a lower rate would rarely fire."""
OUTCOMES = ("dropped", "repaired", "flagged", "silent")

Slot = tuple[str, str, tuple[str, ...]]
"""(document, field, normalized key)."""


def _section(request: dict[str, Any]) -> str | None:
    return section_of_message(request["messages"][0]["content"])


def prepare(folder: Path) -> list[Path]:
    """The documents, each with the injected sentence in its first section."""
    out = []
    for doc in DOCS:
        if not doc.exists():
            continue
        lines = doc.read_text(encoding="utf-8").split("\n")
        lines.insert(min(3, len(lines)), INJECTED[0] + "。")
        path = folder / doc.name
        path.write_text("\n".join(lines), encoding="utf-8")
        out.append(path)
    return out


def run(paths: list[Path], handler: Handler, db: Path) -> dict[Slot, Fact]:
    """One model run through the pipeline; the stored primary facts per slot."""
    settings = Settings(database_url=f"sqlite:///{db}")
    store = Store.open(settings.database_url)
    with FakeOpenAI(handler) as srv:
        model = settings.model.model_copy(update={"base_url": srv.base_url, "model": "fake-model",
                                                  "max_retries": 1, "backoff_max_s": 0.05})
        settings = settings.model_copy(update={"model": model})
        shas = [o.sha256 for o in ingest(paths, store, settings) if o.sha256]
        prompts = load_prompts(settings.prompts_dir)
        extractor = ModelExtractor(make_backend(settings.model), store, prompts, settings.model)
        try:
            _, outcomes = run_extraction(shas, store, RunPlan(extractor, settings), reconcile_stage)
        finally:
            extractor.close()
    out: dict[Slot, Fact] = {}
    for o in outcomes:
        for fact in primary_facts(o.facts):
            if not fact.field.startswith(("aux.", "meta.")) and isinstance(fact.value, int | float):
                out[(o.doc_id, fact.field, fact.item_key())] = fact
    return out


def _slot_of(err: InjectedError, doc: str) -> Slot:
    key = err.key or {}
    fields = {"general_budget.classes": ("name",), "performance_projects": ("name",),
              "general_budget.items": ("class", "section", "item", "code")}
    head = err.field.rsplit(".", 1)[0]
    names = fields.get(head, ())
    alias = {"class": "class_name"}
    ident = tuple((key.get(alias.get(k, k)) or "") if k == "code"
                  else normalize_name(key.get(alias.get(k, k))) for k in names)
    return (doc, err.field, ident)


def fate(slot: Slot, truth: dict[Slot, Fact], got: dict[Slot, Fact]) -> str:
    fact, honest = got.get(slot), truth.get(slot)
    if fact is None or honest is None:
        return "dropped"
    right = values_equal(fact.field, honest.value, fact.value)
    if fact.status is CheckStatus.REPAIRED:
        return "repaired" if right else "wrong"
    if right:
        return "dropped"
    return "flagged" if fact.status is CheckStatus.FLAGGED else "silent"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", default=",".join(ERROR_KINDS))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="model-errors-") as tmp:
        folder = Path(tmp)
        paths = prepare(folder)
        print(f"{len(paths)} documents (the samples and a real Putuo report, each with an injected "
              f"sentence); error rate {args.rate:g} per value, one kind per run, seed {args.seed}")
        truth = run(paths, respond, folder / "truth.db")
        per_kind: dict[str, Counter[str]] = {}
        rates: dict[str, float] = {}
        silent = wrong = predicted = 0
        for n, kind in enumerate(args.kinds.split(",")):
            rate = INJECTED_RATE if kind == "injected_text" else args.rate
            profile = ErrorProfile(kind, rate=rate, seed=args.seed + n, injected=INJECTED)
            got = run(paths, profile.wrap(respond, _section), folder / f"{kind}.db")
            counts: Counter[str] = Counter()
            docs = {p.stem for p in paths}
            seen: set[Slot] = set()
            for err in profile.errors:  # the document an error hit: the one whose value moved
                slots = [_slot_of(err, d) for d in sorted(docs)]
                moved = [s for s in slots if s not in seen and fate(s, truth, got) != "dropped"]
                slot = moved[0] if moved else slots[0]
                seen.add(slot)
                counts[fate(slot, truth, got)] += 1
            per_kind[kind] = counts
            rates[kind] = rate
            predicted += len(got)
            for slot, fact in got.items():
                honest = truth.get(slot)
                ok = honest is not None and values_equal(fact.field, honest.value, fact.value)
                if fact.status is CheckStatus.REPAIRED and not ok:
                    wrong += 1
                elif not ok and fact.status is not CheckStatus.FLAGGED:
                    silent += 1
        header = " ".join(f"{o:>9}" for o in (*OUTCOMES, "wrong"))
        print(f"\n{'error kind':<18} {'rate':>5} {'n':>5} {header}")
        for kind, counts in per_kind.items():
            total = sum(counts.values())
            shares = " ".join(f"{100 * counts[o] / max(total, 1):8.1f}%" for o in (*OUTCOMES, "wrong"))
            print(f"{kind:<18} {rates[kind]:>5.2f} {total:>5} {shares}")
        print(f"silent: {100 * silent / max(predicted, 1):.2f}% of {predicted} predicted figures; "
              f"wrong repairs: {wrong}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
