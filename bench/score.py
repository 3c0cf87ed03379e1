"""Scoring at scale: documents/s of ``eval score`` on a thousand files, against baselines.

Builds N gold files (the bundled gold records under fresh doc_ids) and N prediction
files (seeded damage: changed figures, dropped and renamed items, shuffled lists, every
predicted value citing evidence in a per-document text), writes both as JSON folders,
then times in the same run:

- ``json``: plain ``json.loads`` of every file (the least any scorer must do);
- ``load``: strict contract validation of both folders (``load_dir_lenient``);
- ``score``: matching and slot scoring with evidence checked (``score_dirs``);
- ``old``: the scorer as it was before the clarified contract (``git show`` of
  ``--old-rev``), scoring the same records, when that revision is reachable.

    python bench/score.py [--docs 1000] [--repeat 3] [--old-rev 3e76915]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from extractor.core.records import FinalAccounts  # noqa: E402
from extractor.evaluate.evidence import DocumentText  # noqa: E402
from extractor.evaluate.schema import load_dir_lenient  # noqa: E402
from extractor.evaluate.score import score_dirs  # noqa: E402

LISTS = (("general_budget", "classes"), ("general_budget", "items"), ("performance_projects",))


def _lists(data: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return [data["general_budget"]["classes"], data["general_budget"]["items"],
            data["performance_projects"]]


def _damage(data: dict[str, Any], rng: random.Random) -> None:
    """OCR- and model-like mistakes: a changed figure, a dropped or renamed item, order."""
    for section in ("summary", "income_sources", "three_public", "procurement"):
        for key, value in data[section].items():
            if isinstance(value, float) and rng.random() < 0.05:
                data[section][key] = round(value * 10, 2)
    for items in _lists(data):
        rng.shuffle(items)
        if items and rng.random() < 0.3:
            items.pop(rng.randrange(len(items)))
        for item in items:
            if "name" in item and rng.random() < 0.1:
                item["name"] = "2024年" + item["name"]


def _cite(data: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Evidence for every predicted figure, in a text made of one line per figure."""
    lines: list[str] = []
    evidence: dict[str, Any] = {}
    offset = 0

    def add(path: str, value: Any) -> None:
        nonlocal offset
        quote = f"{path}为{value}万元"
        evidence[path] = {"quote": quote, "page": 1, "start": offset, "end": offset + len(quote)}
        lines.append(quote)
        offset += len(quote) + 1

    for section, fields in data.items():
        if isinstance(fields, dict) and section not in ("meta", "general_budget"):
            for key, value in fields.items():
                if isinstance(value, int | float):
                    add(f"{section}.{key}", value)
    for lp, items in zip(("general_budget.classes", "general_budget.items",
                          "performance_projects"), _lists(data), strict=True):
        for i, item in enumerate(items):
            for key, value in item.items():
                if isinstance(value, int | float):
                    add(f"{lp}[{i}].{key}", value)
    return evidence, "\n".join(lines)


def build(folder: Path, n_docs: int, seed: int) -> dict[str, DocumentText]:
    gold_src = [json.loads(p.read_text("utf-8")) for p in sorted((ROOT / "eval" / "gold").glob("*.json"))]
    rng = random.Random(seed)
    (folder / "gold").mkdir()
    (folder / "pred").mkdir()
    texts: dict[str, DocumentText] = {}
    for i in range(n_docs):
        gold = json.loads(json.dumps(gold_src[i % len(gold_src)]))
        gold["doc_id"] = doc_id = f"bench_{i:05d}"
        pred = json.loads(json.dumps(gold))
        _damage(pred, rng)
        pred["evidence"], text = _cite(pred)
        texts[doc_id] = DocumentText(doc_id, text, [0])
        for side, record in (("gold", gold), ("pred", pred)):
            (folder / side / f"{doc_id}.json").write_text(json.dumps(record, ensure_ascii=False),
                                                          "utf-8")
    return texts


def old_scorer(rev: str) -> ModuleType | None:
    """The pre-clarification scorer module, importable beside the current one."""
    try:
        source = subprocess.run(["git", "show", f"{rev}:extractor/evaluate/score.py"], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    path = Path(tempfile.mkdtemp()) / "old_score.py"
    path.write_text(source, "utf-8")
    spec = importlib.util.spec_from_file_location("old_score", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_score"] = module  # pydantic resolves the module's annotations by name
    try:
        spec.loader.exec_module(module)
    except ImportError:
        return None
    return module


def _best(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best-of-``repeat`` wall and CPU seconds: on a shared machine the least disturbed
    repetition is the one closest to the work itself (CPU time shows it even so)."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(wall), min(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--old-rev", default="3e76915")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        texts = build(folder, args.docs, args.seed)
        files = sorted(folder.glob("*/*.json"))
        gold: dict[str, FinalAccounts] = {}
        pred: dict[str, FinalAccounts] = {}

        def load() -> None:
            gold.update(load_dir_lenient(folder / "gold")[0])
            pred.update(load_dir_lenient(folder / "pred")[0])

        t_json = _best(lambda: [json.loads(f.read_text("utf-8")) for f in files], args.repeat)
        t_load = _best(load, args.repeat)
        report = score_dirs(gold, pred, documents=texts)
        t_score = _best(lambda: score_dirs(gold, pred, documents=texts), args.repeat)
        old = old_scorer(args.old_rev)
        plain = {k: v.model_copy(update={"evidence": None}) for k, v in pred.items()}
        t_old = _best(lambda: old.score_dirs(gold, plain), args.repeat) if old else None
    n = args.docs
    o, e = report.overall, report.evidence
    print(f"{n} gold + {n} prediction files; {len(report.slots)} slots scored "
          f"(TP {o.tp} FP {o.fp} FN {o.fn}); {e.ok + e.wrong} citations checked")
    print(f"{'step':<38} {'wall s':>7} {'cpu s':>7} {'docs/s (cpu)':>13}")
    total = (t_load[0] + t_score[0], t_load[1] + t_score[1])
    rows = [("json.loads of every file (baseline)", t_json),
            ("strict load of both folders", t_load),
            ("score_dirs with evidence checks", t_score),
            ("load + score (eval score)", total)]
    if t_old is not None:
        rows.append((f"old scorer ({args.old_rev}), figures only", t_old))
    for label, (wall, cpu) in rows:
        print(f"{label:<38} {wall:>7.2f} {cpu:>7.2f} {n / cpu:>13.0f}")
    print(f"ratio load+score / json baseline (cpu): {total[1] / t_json[1]:.1f}x")
    if t_old is not None:
        print(f"ratio score / old scorer (cpu): {t_score[1] / t_old[1]:.2f}x "
              "(the new one also scores names and codes and checks every citation)")


if __name__ == "__main__":
    main()
