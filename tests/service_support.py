"""A real ``extractor serve`` in a subprocess on 127.0.0.1, for the service tests.

A subprocess (not a thread) so a test can kill it with SIGKILL mid-job, as a crash would.
The environment is cleared of ``EXTRACTOR_*`` so a developer's settings (a model endpoint)
cannot change what the tests run.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ROOT

WAIT_S = 240.0
"""Upper bound for a server to start or a job to finish on a loaded 2-core machine; a
bound on waiting, not a speed assertion."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXTRACTOR_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


class Server:
    """``extractor serve`` on a free loopback port; ``settings`` become EXTRACTOR_SERVICE__*."""

    def __init__(self, db_url: str, tmp: Path, env: dict[str, str] | None = None, **settings: Any) -> None:
        self.db_url = db_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"server-{self.port}.log"
        self.env = clean_env(EXTRACTOR_SERVICE__BLOB_DIR=str(tmp / "blobs"),
                             EXTRACTOR_SERVICE__POLL_S="0.2",
                             **{f"EXTRACTOR_SERVICE__{k.upper()}": str(v) for k, v in settings.items()},
                             **(env or {}))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        handle = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "extractor.cli", "--db", self.db_url, "serve", "--port", str(self.port)],
            cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log.read_text()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError(f"server did not start: {self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL: no cleanup, exactly what a crash or an OOM kill leaves behind."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def upload(client: httpx.Client, path: Path, name: str | None = None, **form: str) -> httpx.Response:
    with path.open("rb") as handle:
        return client.post("/v1/documents", files={"file": (name or path.name, handle)}, data=form)


def wait_job(client: httpx.Client, job_id: int,
             states: tuple[str, ...] = ("done", "failed")) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in states:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job['status']} after {WAIT_S} s")
