"""The public gold read from PDF: each sample drawn whole as a born-digital PDF (tables as
ruled tables, narrative wrapped at the page width) scores as the text does.

The renderer is ``scripts/make_sample_pdfs.py --whole``, run as a user would run it; the
PDFs go through the same ``extractor run`` as any input, so what is measured is the table
layer, the page composition and the rules on PDF pages nobody tuned them on.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from extractor.cli import main
from tests.conftest import GOLD, ROOT, SAMPLES


def test_whole_pdf_renderings_of_the_samples_score_like_the_text(
        tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pdf"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_sample_pdfs.py"), "--whole",
                    "--samples", str(SAMPLES), "--out", str(out)], check=True, capture_output=True)
    pdfs = sorted(out.glob("*.pdf"))
    assert [p.stem for p in pdfs] == sorted(p.stem for p in SAMPLES.glob("*.txt"))
    assert main(["--db", sqlite_url, "run", str(out), "--export", str(tmp_path / "pred")]) == 0
    capsys.readouterr()
    assert main(["--db", sqlite_url, "eval", "score", "--gold", str(GOLD), "--pred",
                 str(tmp_path / "pred"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["overall"]["f1"] >= 0.99, report["errors_by_field"]
    assert report["silent"]["silent_error_rate"] <= 0.01
    cells = [s for s in report["slots"] if (s.get("cited") or {}).get("bbox")]
    assert cells, "values read from the PDF's tables cite their cell boxes"
