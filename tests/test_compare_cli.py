"""``eval compare A B`` through the CLI on two stored runs that differ: each side is scored
from its own run (a comparison that scored A twice would report no difference)."""

from __future__ import annotations

import json

import pytest

from extractor.cli import main
from extractor.core.records import facts_from_record
from extractor.evaluate.schema import load_dir
from extractor.store import Run, RunDocument, Store
from tests.conftest import GOLD, SAMPLE_IDS, text_document


def _stored_run(store: Store, facts_by_doc: dict[str, list]) -> int:  # type: ignore[type-arg]
    run = store.create_run(Run(extractor="import", status="done"))
    assert run.id is not None
    for sha, facts in facts_by_doc.items():
        store.save_document_result(run.id, RunDocument(run_id=run.id, document=sha, status="done"),
                                   facts)
    return run.id


def test_compare_scores_each_run_from_its_own_facts(sqlite_url: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    store = Store.open(sqlite_url)
    gold = load_dir(GOLD)
    full, damaged = {}, {}
    for doc_id in SAMPLE_IDS:
        doc = text_document(doc_id)
        store.save_document(doc)
        facts = facts_from_record(gold[doc_id])
        full[doc.sha256] = facts
        damaged[doc.sha256] = [f for f in facts if not f.field.startswith(("summary.", "three_public."))]
    run_a, run_b = _stored_run(store, full), _stored_run(store, damaged)

    assert main(["--db", sqlite_url, "eval", "compare", str(run_a), str(run_b), "--gold", str(GOLD),
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    overall = result["overall"]
    assert overall["f1_a"] == pytest.approx(1.0)
    assert overall["f1_b"] < 0.95 and overall["delta"] < -0.05
    assert main(["--db", sqlite_url, "eval", "compare", str(run_b), str(run_a), "--gold", str(GOLD),
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["overall"]["delta"] == pytest.approx(-overall["delta"])
