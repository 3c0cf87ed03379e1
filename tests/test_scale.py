"""Scale: documents stream through a bounded window, and any number of workers (or Ray)
stores the same run, byte for byte in its export."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from extractor.cli import main
from extractor.core.settings import Settings
from extractor.core.types import DocumentData
from extractor.extractors.rules import RulesExtractor
from extractor.pipeline import LOAD_WINDOW, RunPlan, ingest_batch, reconcile_stage, run_extraction
from extractor.stages import Prepared, PrepareTask, prepare_stage
from extractor.store import Store
from extractor.testing.corpus import edited_copy, write_corpus
from extractor.workers import Pool
from tests.conftest import SAMPLE_IDS, SAMPLES


def _corpus(tmp_path: Path, count: int) -> Path:
    folder = tmp_path / "in"
    write_corpus([SAMPLES / f"{d}.txt" for d in SAMPLE_IDS], count, folder)
    return folder


def _export(tmp_path: Path, folder: Path, name: str, *flags: str) -> dict[str, bytes]:
    out = tmp_path / f"export-{name}"
    db = f"sqlite:///{tmp_path / f'{name}.db'}"
    code = main(["--db", db, "run", str(folder), "--extractor", "rules", "--export", str(out),
                 "--gold", str(tmp_path / "no-gold"), *flags])
    assert code in (0, 1)
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def test_edited_copies_are_distinct_reports_with_other_figures() -> None:
    text = (SAMPLES / f"{SAMPLE_IDS[0]}.txt").read_text(encoding="utf-8")
    copies = {edited_copy(text, i) for i in range(200)}
    assert len(copies) == 200
    copy = edited_copy(text, 3)
    assert "885.90" in text and "885.90" not in copy and "889.44" in copy, "figures scaled by 1.004"
    assert "赤峰市松山区人民政府办公室" not in copy and "金沙人民政府办公室" in copy


@pytest.mark.slow
def test_two_workers_store_the_same_run_as_one(tmp_path: Path) -> None:
    folder = _corpus(tmp_path, 6)
    one = _export(tmp_path, folder, "one", "--workers", "1")
    two = _export(tmp_path, folder, "two", "--workers", "2")
    assert len(one) == 6
    assert any(b'"verified"' in body or b'"repaired"' in body for body in one.values()), \
        "reconciled exports"
    assert one == two


class _CountingStore(Store):
    """A real store that records how many documents were loaded but not yet written."""

    loaded = 0
    written = 0
    most_in_flight = 0

    def load_document(self, sha256: str) -> DocumentData:
        self.loaded += 1
        self.most_in_flight = max(self.most_in_flight, self.loaded - self.written)
        return super().load_document(sha256)

    def save_document_result(self, *args: object, **kwargs: object) -> None:
        self.written += 1
        super().save_document_result(*args, **kwargs)  # type: ignore[arg-type]


def test_documents_stream_through_a_bounded_window(tmp_path: Path, sqlite_url: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    text = "某某区财政局2023年度部门决算\n一、收入支出决算总体情况说明\n2023年度收入总计{n}.00万元。\n"
    count = 3 * LOAD_WINDOW + 5
    for i in range(count):
        (folder / f"d{i:03d}.txt").write_text(text.format(n=100 + i), encoding="utf-8")
    store = _CountingStore.open(sqlite_url)
    assert isinstance(store, _CountingStore)
    settings = Settings(database_url=sqlite_url)
    pool = Pool(2)
    try:
        batch = ingest_batch([folder], store, settings, executor=pool)
        shas = [o.sha256 for o in batch.outcomes if o.sha256]
        assert len(shas) == count
        plan = RunPlan(RulesExtractor(), settings, keep_facts=False)
        _run, outcomes = run_extraction(shas, store, plan, reconcile_stage, pool)
    finally:
        pool.close()
    assert store.written == count and len(outcomes) == count
    assert store.most_in_flight <= LOAD_WINDOW + pool.window, \
        "documents are loaded as workers need them, not all before extraction"
    assert all(o.facts == [] for o in outcomes), "large batches keep counts, not facts"


@pytest.mark.slow
def test_ray_run_exports_the_same_as_one_process(tmp_path: Path) -> None:
    if importlib.util.find_spec("ray") is None:
        pytest.skip("ray is not installed (pip install 'extractor[ray]'; scripts/test.sh installs it)")
    folder = _corpus(tmp_path, 4)
    one = _export(tmp_path, folder, "one", "--workers", "1")
    ray = _export(tmp_path, folder, "ray", "--ray", "--workers", "2")
    assert len(ray) == 4
    assert ray == one


def test_workers_below_one_is_refused_with_one_line(tmp_path: Path, sqlite_url: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.txt").write_text("某某局2023年度部门决算", encoding="utf-8")
    assert main(["--db", sqlite_url, "run", str(tmp_path / "a.txt"), "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "extractor: error: --workers must be at least 1 (got 0)"


def _square_or_die(i: int) -> int:
    if i == 3:
        os._exit(9)  # a segfault in a PDF or OCR library looks like this to the pool
    return i * i


def test_a_worker_that_dies_costs_only_its_item() -> None:
    pool = Pool(2)
    try:
        got = list(pool.map(_square_or_die, range(9), lambda i, reason: -i))
        assert got == [0, 1, 4, -3, 16, 25, 36, 49, 64]
        assert list(pool.map(_square_or_die, [5, 6])) == [25, 36], "the pool works after a crash"
    finally:
        pool.close()


def _prepare_or_die(task: PrepareTask) -> Prepared:
    if task.path.name == "bad.txt":
        os._exit(11)
    return prepare_stage(task)


def test_a_file_that_kills_its_worker_fails_alone_and_the_batch_goes_on(
        tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.txt", "bad.txt", "c.txt"):
        (folder / name).write_text(f"某某局2023年度部门决算 {name}", encoding="utf-8")
    monkeypatch.setattr("extractor.stages.prepare_stage", _prepare_or_die)
    store = Store.open(sqlite_url)
    pool = Pool(2)
    try:
        batch = ingest_batch([folder], store, Settings(database_url=sqlite_url), executor=pool)
    finally:
        pool.close()
    status = {Path(o.path).name: (o.status, o.reason) for o in batch.outcomes}
    assert status["a.txt"][0] == status["c.txt"][0] == "new"
    assert status["bad.txt"][0] == "failed" and "worker process died" in (status["bad.txt"][1] or "")
    assert [d.doc_id for d in store.documents()] == ["a", "c"]


@pytest.mark.slow
def test_export_written_by_the_workers_keeps_the_last_of_two_same_named_documents(
        tmp_path: Path) -> None:
    folder = tmp_path / "in"
    texts = [edited_copy((SAMPLES / f"{SAMPLE_IDS[0]}.txt").read_text(encoding="utf-8"), i)
             for i in range(2)]
    for sub, text in zip(("a", "b"), texts, strict=True):
        (folder / sub).mkdir(parents=True)
        (folder / sub / "report.txt").write_text(text, encoding="utf-8")
    one = _export(tmp_path, folder, "one", "--workers", "1")
    two = _export(tmp_path, folder, "two", "--workers", "2")
    assert list(one) == ["report.json"]
    assert two == one
    assert edited_copy("885.90", 1).encode() in one["report.json"], "b/report.txt's figures"
