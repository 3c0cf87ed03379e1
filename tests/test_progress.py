"""Progress bars appear on a terminal and nowhere else (pipes, files, captured output)."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLES


def _args(folder: Path) -> list[str]:
    """A short report-like text: the bars are the point, not the extraction."""
    text = folder / "short.txt"
    text.write_text((SAMPLES / "002_ede6ec7d9a9ccbff.txt").read_text(encoding="utf-8")[:3000],
                    encoding="utf-8")
    return ["-m", "extractor.cli", "run", str(text), "--extractor", "rules"]


def _env() -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("EXTRACTOR_")},
            "PYTHONPATH": str(ROOT), "COLUMNS": "100"}


@pytest.mark.slow
def test_a_terminal_sees_progress_bars(tmp_path: Path) -> None:
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))  # a 100-column terminal
    proc = subprocess.Popen([sys.executable, *_args(tmp_path)], cwd=tmp_path,
                            env={**_env(), "EXTRACTOR_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"},
                            stdin=secondary, stdout=secondary, stderr=secondary)
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(primary, 65536)
        except OSError:  # the terminal closed: the process has exited
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=120) == 0
    os.close(primary)
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert "ingest:" in screen and "extract (rules):" in screen and "1/1 [" in screen
    assert "run 1 (rules): 1 documents" in screen


def test_piped_output_has_no_progress_bar(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, *_args(tmp_path)], cwd=tmp_path, capture_output=True, text=True,
                          env={**_env(), "EXTRACTOR_DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}"},
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and "\r" not in done.stdout
    assert "run 1 (rules): 1 documents" in done.stdout
