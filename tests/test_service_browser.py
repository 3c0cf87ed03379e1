"""The review and overview pages in a real headless Chromium (Debian's, driven by Playwright).

Open a PDF sample's review page, click a field, see its box on the printed value and its
checks; correct it, reload and see the correction stored; mark the document reviewed and
export it as gold. Screenshots are written to the test's folder (and to ``docs/`` with
``EXTRACTOR_UPDATE_SCREENSHOTS=1``).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymupdf
import pytest

from extractor.cli import main
from extractor.core.records import FinalAccounts
from tests.conftest import ROOT, SAMPLES
from tests.service_support import Server, upload, wait_job

CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PDF = SAMPLES / "pdf" / "002_ede6ec7d9a9ccbff_text.pdf"
TEXT = SAMPLES / "003_17aaca51ade6ba7f.txt"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; scripts/test.sh installs it (scripts/install_browser.sh)")
    pytest.skip(f"{reason} (run scripts/install_browser.sh as root)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed")
    if not CHROMIUM.exists():
        _unavailable("Debian's chromium is not installed")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("browser")
    server = Server(f"sqlite:///{tmp / 'service.db'}", tmp).start()
    docs = {}
    with server.client() as client:
        for path in (PDF, TEXT):
            body = upload(client, path, extractor="rules").json()
            assert wait_job(client, body["job_id"])["status"] == "done"
            docs[path.stem] = body["document_id"]
    yield server, docs
    server.stop()


def _shot(page: Any, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path))
    if os.environ.get("EXTRACTOR_UPDATE_SCREENSHOTS") == "1":
        shutil.copy(path, ROOT / "docs" / name)
    return path


def _value_rect_on_page(page_number: int, text: str) -> tuple[float, float, float, float]:
    """Where PyMuPDF finds ``text`` on the sample page, as fractions of the page size."""
    with pymupdf.open(PDF) as pdf:
        page = pdf[page_number - 1]
        hit = page.search_for(text)[0]
        w, h = page.rect.width, page.rect.height
    return hit.x0 / w, hit.y0 / h, hit.x1 / w, hit.y1 / h


def test_review_page_shows_the_box_and_checks_and_stores_a_correction(
        browser: Any, served: tuple[Server, dict[str, str]], tmp_path: Path) -> None:
    server, docs = served
    sha = docs[PDF.stem]
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server.url}/review/{sha}")
    page.click('tr.field[data-slot="basic_expense.total"]')
    box = page.locator('.box.selected[data-slot="basic_expense.total"]')
    box.wait_for(state="visible")
    page.wait_for_function("document.getElementById('page-image').complete")
    b, img = box.bounding_box(), page.locator("#page-image").bounding_box()
    x0, y0, x1, y1 = _value_rect_on_page(2, "795.75万元")  # the figure as printed
    assert abs((b["x"] - img["x"]) / img["width"] - x0) < 0.01  # the box sits on the printed figure
    assert abs((b["y"] - img["y"]) / img["height"] - y0) < 0.01
    assert abs(b["width"] / img["width"] - (x1 - x0)) < 0.01
    assert abs(b["height"] / img["height"] - (y1 - y0)) < 0.01
    assert page.locator(".box.verified").count() >= 5  # every value on the page has its box
    evidence = page.inner_text("#evidence").lower()
    assert "page 2" in evidence and "795.75" in evidence
    checks = page.inner_text("#checks")
    assert "PASS basic.parts" in checks and "632.41" in checks and "163.34" in checks
    _shot(page, tmp_path, "review-page.png")
    page.click('#filters button[data-filter="missing"]')
    shown = page.locator("tr.field:not(.hidden)")
    texts = [shown.nth(i).inner_text() for i in range(shown.count())]
    assert texts and all("not extracted" in t for t in texts)
    page.click('#filters button[data-filter="all"]')

    page.fill("#reviewer", "测试员")
    page.fill('form.correct input[name="value"]', "795.76")
    page.fill('form.correct textarea[name="note"]', "table prints 795.76")
    page.click("#save-correction")
    page.wait_for_selector("#message:has-text('Saved.')")
    page.reload()
    row = page.locator('tr.field[data-slot="basic_expense.total"]')
    assert "correct → 795.76" in row.inner_text()
    row.click()
    stored = page.inner_text("#corrections")
    assert "测试员" in stored and "corrected to 795.76" in stored and "table prints 795.76" in stored
    page.click("#mark-reviewed")
    page.wait_for_selector("#review-state:has-text('reviewed by 测试员')")
    assert not errors, errors
    page.close()

    out = tmp_path / "gold"
    assert main(["--db", server.db_url, "eval", "export-gold", "--reviewed", "--out", str(out)]) == 0
    gold = json.loads((out / f"{PDF.stem}.json").read_text(encoding="utf-8"))
    assert gold["basic_expense"] == {"total": 795.76, "personnel": 632.41, "public": 163.34}
    assert "check_status" not in gold and gold["doc_id"] == PDF.stem


def test_text_documents_mark_each_value_in_the_text(browser: Any, served: tuple[Server, dict[str, str]],
                                                    tmp_path: Path) -> None:
    server, docs = served
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{server.url}/review/{docs[TEXT.stem]}")
    assert page.locator("mark.v").count() >= 10
    page.click('tr.field[data-slot="basic_expense.total"]')
    mark = page.locator('mark.v.selected[data-slot="basic_expense.total"]')
    mark.wait_for(state="visible")
    value = page.inner_text('tr.field[data-slot="basic_expense.total"] td.v')
    assert value in mark.inner_text()
    _shot(page, tmp_path, "review-text.png")
    page.close()


def test_run_overview_sorts_and_links_to_review(browser: Any, served: tuple[Server, dict[str, str]],
                                                tmp_path: Path) -> None:
    server, _ = served
    texts = [str(p) for p in sorted(SAMPLES.glob("*.txt"))]
    assert main(["--db", server.db_url, "run", *texts, "--extractor", "rules"]) == 0
    run_id = max(r["run_id"] for r in server.client().get("/v1/runs").json())
    page = browser.new_page(viewport={"width": 1440, "height": 700})
    page.goto(f"{server.url}/runs/{run_id}")
    rows = page.locator("#documents tbody tr")
    assert rows.count() == len(texts)
    header = page.locator("#documents th", has_text="fields").first
    header.click()
    header.click()  # descending
    counts = [int(rows.nth(i).locator("td").nth(2).inner_text()) for i in range(rows.count())]
    assert counts == sorted(counts, reverse=True)
    assert "F1" in page.inner_text("#score")  # the samples have gold files in eval/gold
    _shot(page, tmp_path, "run-overview.png")
    first = rows.first.locator("a").inner_text()
    rows.first.locator("a").click()
    page.wait_for_selector("#fields")
    assert first in page.title()
    page.close()


def test_document_findings_are_listed_and_flagged_in_the_text(
        browser: Any, served: tuple[Server, dict[str, str]], tmp_path: Path) -> None:
    """A report whose narrative states 0 where its table states 2,995.39: a finding about
    the report itself, listed beside the fields and flagged where its statements stand."""
    if "document_findings" not in FinalAccounts.model_fields:
        pytest.skip("document findings arrive with the reconcile package of issue 10")
    text = (SAMPLES / "002_ede6ec7d9a9ccbff.txt").read_text(encoding="utf-8")
    text = text.replace("收入、支出决算总计均为885.90万元", "收入、支出决算总计均为0万元")
    text = text.replace("885.90", "2995.39").replace("885.9", "2995.39")
    report = tmp_path / "narrative_zero.txt"
    report.write_text(text, encoding="utf-8")
    server, _ = served
    with server.client() as client:
        body = upload(client, report, extractor="rules").json()
        assert wait_job(client, body["job_id"])["status"] == "done"
        findings = client.get(f"/v1/documents/{body['document_id']}/record").json()["document_findings"]
    differ = [f for f in findings if f["kind"] == "figure_printed_differently"]
    assert differ, findings
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{server.url}/review/{body['document_id']}")
    listed = page.inner_text("#findings")
    assert "figure_printed_differently" in listed and "2995.39" in listed
    flags = page.locator(".finding-flag")
    assert flags.count() >= len(differ[0]["statements"])
    assert "figure_printed_differently" in (flags.first.get_attribute("title") or "")
    flags.first.scroll_into_view_if_needed()
    _shot(page, tmp_path, "review-findings.png")
    page.close()


def test_uploading_from_the_index_page_leads_to_the_review(browser: Any,
                                                            served: tuple[Server, dict[str, str]]) -> None:
    server, _ = served
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    page.goto(server.url + "/")
    page.set_input_files('#upload input[name="file"]', str(SAMPLES / "pdf" / "004_4a020ba0f11f1338_text.pdf"))
    page.click("#upload button")
    page.wait_for_url("**/review/**", timeout=240_000)
    page.wait_for_selector("#fields")
    assert "004_4a020ba0f11f1338_text" in page.title()
    page.goto(server.url + "/")
    assert "004_4a020ba0f11f1338_text.pdf" in page.inner_text("#jobs")
    page.close()
