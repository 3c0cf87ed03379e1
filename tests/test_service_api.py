"""The HTTP API against a real server on 127.0.0.1: uploads, jobs, records, pages, runs,
scores, bad uploads and the token."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymupdf
import pytest

from extractor.cli import main
from tests.conftest import ROOT, SAMPLES
from tests.service_support import Server, clean_env, upload, wait_job

PDF = SAMPLES / "pdf" / "002_ede6ec7d9a9ccbff_text.pdf"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("api")
    server = Server(f"sqlite:///{tmp / 'service.db'}", tmp,  # the CLI's own limit bounds uploads
                    env={"EXTRACTOR_LIMITS__MAX_FILE_BYTES": "1000000"}).start()
    yield server
    server.stop()


def test_upload_runs_the_pipeline_and_the_record_is_what_run_export_writes(served: Server,
                                                                            tmp_path: Path) -> None:
    with served.client() as client:
        accepted = upload(client, PDF, extractor="rules")
        assert accepted.status_code == 202, accepted.text
        body = accepted.json()
        job = wait_job(client, body["job_id"])
        assert job["status"] == "done", job
        assert job["progress"] == 1.0 and job["run_id"] is not None

        again = upload(client, PDF, extractor="rules").json()  # same bytes: same document and job
        assert again["document_id"] == body["document_id"] and again["job_id"] == body["job_id"]
        renamed = upload(client, PDF, name="copy.pdf", extractor="rules").json()
        assert renamed["document_id"] == body["document_id"]

        review = client.get(f"/v1/documents/{body['document_id']}/review").json()
        fields = {f["path"]: f for f in review["fields"]}
        assert fields["basic_expense.total"]["boxes"] and fields["basic_expense.total"]["method"] == "value"
        assert fields["basic_expense.total"]["checks"]  # it takes part in basic.parts

        got = client.get(f"/v1/documents/{body['document_id']}/record")
        assert got.status_code == 200
        result = got.json()

    assert main(["--db", f"sqlite:///{tmp_path / 'cli.db'}", "run", str(PDF), "--extractor", "rules",
                 "--export", str(tmp_path / "export")]) == 0
    exported = json.loads((tmp_path / "export" / f"{PDF.stem}.json").read_text(encoding="utf-8"))
    assert result["record"] == exported
    assert result["record"]["basic_expense"]["total"] == 795.75
    evidence = result["evidence"]["basic_expense.total"]
    assert "795.75" in evidence["quote"] and evidence["page"] == 2


def test_pages_render_from_the_stored_original(served: Server) -> None:
    with served.client() as client:
        body = upload(client, PDF, extractor="rules").json()
        wait_job(client, body["job_id"])
        png = client.get(f"/v1/documents/{body['document_id']}/pages/2.png")
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        image = pymupdf.Pixmap(png.content)
        assert abs(image.width - 595 * 110 / 72) <= 1  # A4 at service.render_dpi
        missing = client.get(f"/v1/documents/{body['document_id']}/pages/9.png")
        assert missing.status_code == 404 and "pages 1-3" in missing.json()["error"]
        unknown = client.get("/v1/documents/nosuchdoc/record")
        assert unknown.status_code == 404 and "nosuchdoc" in unknown.json()["error"]
        assert client.get("/v1/nothing").json() == {"error": "Not Found"}
        assert client.delete("/v1/runs").json() == {"error": "Method Not Allowed"}


def test_text_documents_render_their_page_text(served: Server, tmp_path: Path) -> None:
    text = SAMPLES / "004_4a020ba0f11f1338.txt"
    with served.client() as client:
        body = upload(client, text, extractor="rules").json()
        assert wait_job(client, body["job_id"])["status"] == "done"
        png = client.get(f"/v1/documents/{body['document_id']}/pages/1.png")
        assert png.status_code == 200
        page = pymupdf.open(stream=png.content, filetype="png")[0]
        assert page.rect.width > 500  # an A4 sheet typeset from the text


def test_runs_and_score_against_a_gold_folder(served: Server, tmp_path: Path) -> None:
    with served.client() as client:
        body = upload(client, PDF, extractor="rules").json()
        run_id = wait_job(client, body["job_id"])["run_id"]
        runs = client.get("/v1/runs").json()
        assert run_id in [r["run_id"] for r in runs]
        record = client.get(f"/v1/documents/{body['document_id']}/record").json()["record"]
        gold = {k: v for k, v in record.items() if k != "check_status"}
        gold["basic_expense"] = {**gold["basic_expense"], "total": 800.0}  # one wrong value
        (tmp_path / f"{record['doc_id']}.json").write_text(json.dumps(gold, ensure_ascii=False))
        score = client.get(f"/v1/runs/{run_id}/score", params={"gold": str(tmp_path)})
        assert score.status_code == 200, score.text
        overall = score.json()["overall"]
        assert overall["fp"] == 1 and overall["fn"] == 1 and overall["tp"] > 20
        nogold = client.get(f"/v1/runs/{run_id}/score", params={"gold": str(tmp_path / "none")})
        assert nogold.status_code == 422 and "does not exist" in nogold.json()["error"]


def test_openapi_describes_the_api(served: Server) -> None:
    with served.client() as client:
        paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/documents", "/v1/jobs/{job_id}", "/v1/documents/{document_id}/record",
                 "/v1/runs", "/v1/runs/{run_id}/score", "/v1/documents/{document_id}/pages/{number}.png"):
        assert path in paths


def test_bad_uploads_get_one_clear_json_error_and_no_job(served: Server, tmp_path: Path) -> None:
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    docx = tmp_path / "report.docx"
    docx.write_bytes(b"PK\x03\x04 not readable here")
    big = tmp_path / "big.txt"
    big.write_text("决算 12.5万元\n" * 80_000, encoding="utf-8")
    memo = tmp_path / "memo.txt"
    memo.write_text("会议纪要：本周讨论了办公室搬迁、网络改造和年度培训安排。\n" * 20, encoding="utf-8")
    fake = tmp_path / "fake.pdf"
    fake.write_bytes(b"this is not a pdf at all" * 10)
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes(("部门决算 " * 100).encode("gb18030"))
    cases = [(empty, 400, "empty"), (docx, 415, "unsupported file type"),
             (big, 413, "limit of 1,000,000 bytes (EXTRACTOR_LIMITS__MAX_FILE_BYTES)"),
             (memo, 422, "not a final-accounts report"), (fake, 422, "not a PDF"), (gbk, 422, "GB18030")]
    with served.client() as client:
        before = len(client.get("/v1/jobs").json())
        for path, status, words in cases:
            got = upload(client, path)
            assert got.status_code == status, (path.name, got.text)
            error = got.json()["error"]
            assert words in error
            if status != 413:  # the size bound cuts the body off before its name is read
                assert path.name in error
        no_file = client.post("/v1/documents", data={"extractor": "rules"})
        assert no_file.status_code == 422 and "file" in no_file.json()["error"]
        bad_settings = upload(client, PDF, settings="{not json")
        assert bad_settings.status_code == 422 and "not JSON" in bad_settings.json()["error"]
        endpoint = upload(client, PDF, settings=json.dumps({"model": {"base_url": "http://x"}}))
        assert endpoint.status_code == 422 and "model.base_url" in endpoint.json()["error"]
        assert len(client.get("/v1/jobs").json()) == before


def test_a_readable_file_without_figures_fails_its_job_with_the_reason(served: Server,
                                                                         tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    words.write_text("关于部门决算的说明：本单位无其他需要说明的事项，请参阅附件。\n" * 12, encoding="utf-8")
    with served.client() as client:
        body = upload(client, words, extractor="rules").json()
        job = wait_job(client, body["job_id"])
    assert job["status"] == "failed" and "no figure" in job["reason"] and "words.txt" in job["reason"]


def test_the_token_is_enforced_when_set(tmp_path: Path) -> None:
    token = "s3cret-token"
    with Server(f"sqlite:///{tmp_path / 't.db'}", tmp_path, token=token, workers=0) as server:
        with server.client() as anonymous:
            refused = anonymous.get("/v1/runs")
            assert refused.status_code == 401 and "token" in refused.json()["error"]
            assert upload(anonymous, PDF).status_code == 401
            page = anonymous.get("/")
            assert page.status_code == 401 and 'name="token"' in page.text
            login = anonymous.post("/login", data={"token": token, "next": "/"}, follow_redirects=False)
            assert login.status_code == 303 and "HttpOnly" in login.headers["set-cookie"]
            assert anonymous.get("/").status_code == 200  # the cookie now carries the token
        with server.client("wrong") as wrong:
            assert wrong.get("/v1/runs").status_code == 401
        with server.client(token) as client:
            assert client.get("/v1/runs").status_code == 200
            assert upload(client, PDF).status_code == 202


def test_serve_refuses_an_open_non_loopback_address(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "extractor.cli", "--db", f"sqlite:///{tmp_path / 'x.db'}",
                           "serve", "--host", "0.0.0.0", "--port", "0"], cwd=ROOT, env=clean_env(),
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert "without a token" in done.stderr and "--allow-remote" in done.stderr


def test_corrections_are_checked_and_kept_beside_the_extraction(served: Server, tmp_path: Path) -> None:
    text = SAMPLES / "004_4a020ba0f11f1338.txt"
    with served.client() as client:
        body = upload(client, text, extractor="rules").json()
        sha = body["document_id"]
        wait_job(client, body["job_id"])
        before = client.get(f"/v1/documents/{sha}/record").json()["record"]
        item = before["general_budget"]["classes"][1]

        def post(**fields: str) -> Any:
            return client.post(f"/v1/documents/{sha}/corrections", json={"author": "审核员", **fields})

        bad = post(slot="basic_expense.total", action="correct", value="abc")
        assert bad.status_code == 422 and "not a number" in bad.json()["error"]
        count = post(slot="three_public.vehicles_held", action="correct", value="2.5")
        assert count.status_code == 422 and "whole number" in count.json()["error"]
        unknown = post(slot="summary.nonsense", action="correct", value="1")
        assert unknown.status_code == 404 and "not a slot" in unknown.json()["error"]
        assert post(slot="general_budget.classes[1].actual", action="correct", value="1,234.5",
                    note="表格合计").status_code == 201
        assert post(slot="meta.fiscal_year", action="accept").status_code == 201
        assert post(slot="procurement.sme_awarded", action="correct", value="12.3").status_code == 201
        after = client.get(f"/v1/documents/{sha}/record").json()["record"]
        assert after == before  # the extraction itself is never overwritten
        stored = client.get(f"/v1/documents/{sha}/corrections").json()
        assert [c["slot"] for c in stored] == ["general_budget.classes[1].actual", "meta.fiscal_year",
                                               "procurement.sme_awarded"]
        assert stored[0]["author"] == "审核员" and stored[0]["value"] == 1234.5 and stored[0]["created"]
        run_id = client.get(f"/v1/documents/{sha}/record").json()["run_id"]
    out = tmp_path / "gold"
    assert main(["--db", served.db_url, "eval", "export-gold", "--run", str(run_id), "--out", str(out)]) == 0
    gold = json.loads((out / f"{text.stem}.json").read_text(encoding="utf-8"))
    classes = {c["name"]: c["actual"] for c in gold["general_budget"]["classes"]}
    assert classes[item["name"]] == 1234.5
    assert gold["procurement"]["sme_awarded"] == 12.3 and gold["meta"] == before["meta"]
    assert "check_status" not in gold


def test_documents_ingested_by_the_cli_render_from_their_recorded_path(served: Server,
                                                                       tmp_path: Path) -> None:
    kept = tmp_path / "kept.pdf"
    gone = tmp_path / "gone.pdf"
    shutil.copy(SAMPLES / "pdf" / "003_17aaca51ade6ba7f_text.pdf", kept)
    shutil.copy(SAMPLES / "pdf" / "004_4a020ba0f11f1338_text.pdf", gone)
    assert main(["--db", served.db_url, "run", str(kept), str(gone), "--extractor", "rules"]) == 0
    gone.unlink()  # the original moved away after ingest: pages fall back to the stored text
    with served.client() as client:
        from_pdf = pymupdf.Pixmap(client.get("/v1/documents/kept/pages/1.png").content)
        with pymupdf.open(kept) as pdf:
            expected = pdf[0].get_pixmap(dpi=110, alpha=False)
        assert (from_pdf.width, from_pdf.height) == (expected.width, expected.height)
        assert from_pdf.samples == expected.samples  # the very page, rendered from the file
        fallback = client.get("/v1/documents/gone/pages/1.png")
        assert fallback.status_code == 200
        review = client.get("/v1/documents/gone/review").json()
        assert review["document"]["original"] is False and review["text_pages"]
        assert client.get("/v1/documents/kept/review").json()["document"]["visual"] is True


@pytest.mark.slow
def test_values_on_a_scanned_page_are_boxed_from_its_ocr_words(served: Server, tmp_path: Path) -> None:
    """The scan has no text layer to search: the figure is found among the page's OCR words,
    where the same layout's text PDF prints it. One scanned page (the one printing the
    basic-expense figures) is enough, and OCR is the costliest step in the suite."""
    scan = tmp_path / "scanned_page.pdf"
    with pymupdf.open(SAMPLES / "pdf" / "002_ede6ec7d9a9ccbff_scan.pdf") as whole:
        whole.select([0])  # text PDF page 2 as an image
        whole.save(scan)
    with served.client() as client:
        body = upload(client, scan, extractor="rules").json()
        assert wait_job(client, body["job_id"])["status"] == "done"
        review = client.get(f"/v1/documents/{body['document_id']}/review").json()
        page = review["fields"][[f["path"] for f in review["fields"]].index("basic_expense.total")]
        assert page["boxes"] == [] and page["evidence"]["page"] in review["document"]["ocr_pages"]
        found = client.get(f"/v1/documents/{body['document_id']}/pages/{page['evidence']['page']}/boxes")
        assert found.status_code == 200
        boxes = found.json()["boxes"]
    (x0, y0, x1, y1), = boxes["basic_expense.total"]["boxes"]
    with pymupdf.open(PDF) as pdf:  # the same page as a text PDF
        printed = pdf[1].search_for("795.75万元")[0]
    assert abs(x0 - printed.x0) < 8 and abs(x1 - printed.x1) < 8
    assert abs(y0 - printed.y0) < 4 and abs(y1 - printed.y1) < 4
    assert len(boxes) >= 5  # the page's other values too


def test_figures_printed_with_thousands_separators_get_their_box(served: Server) -> None:
    """Normalization drops the commas of ``55,923,963.72元``; the box must still find them."""
    pdf = SAMPLES / "pdf" / "004_4a020ba0f11f1338_text.pdf"
    with served.client() as client:
        body = upload(client, pdf, extractor="rules").json()
        assert wait_job(client, body["job_id"])["status"] == "done"
        fields = client.get(f"/v1/documents/{body['document_id']}/review").json()["fields"]
    cited = [f for f in fields if f.get("evidence", {}).get("page")]
    boxed = [f for f in cited if f["boxes"]]
    assert len(boxed) >= 0.9 * len(cited), [f["path"] for f in cited if not f["boxes"]]
    grouped = []  # narrative figures the PDF prints as 55,923,963.72元
    with pymupdf.open(pdf) as doc:
        for f in cited:
            digits = str(f["raw"]).rstrip("万元")
            whole, _, frac = digits.partition(".")
            if f["method"] != "value" or not whole.isdigit() or len(whole) <= 3:
                continue
            figure = f"{int(whole):,}.{frac}" if frac else f"{int(whole):,}"
            printed = doc[f["evidence"]["page"] - 1].search_for(figure)
            (x0, y0, x1, _y1), = f["boxes"]  # the box may run on over the unit (元)
            grouped.append(any(abs(x0 - r.x0) < 1 and abs(y0 - r.y0) < 1 and x1 > r.x1 - 1 for r in printed))
    assert sum(grouped) >= 3 and sum(grouped) >= 0.8 * len(grouped), grouped  # none before the fix
    for f in cited:  # a value read from a table cell is boxed by the cell itself
        if f["method"] == "cell":
            assert f["boxes"] == [f["evidence"]["bbox"]]
