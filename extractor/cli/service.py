"""``serve`` and ``worker``: the HTTP service and stand-alone job workers.

``serve`` refuses to listen beyond loopback without a token (``EXTRACTOR_SERVICE__TOKEN``)
unless ``--allow-remote`` says so: an open API on a network would let anyone upload and
read reports. Workers and servers on one PostgreSQL share the job queue.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from typing import Any

from extractor.cli.common import open_store, settings_from
from extractor.core.errors import ConfigError
from extractor.core.settings import Settings


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="HTTP API, job workers, review and overview pages")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8000)")
    p.add_argument("--workers", type=int, help="job threads in this process (0: none)")
    p.add_argument("--allow-remote", action="store_true",
                   help="listen on a non-loopback address even without a token")
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser("worker", help="run queued jobs (beside `serve`, on the same database)")
    p.add_argument("--once", action="store_true", help="stop when the queue is empty")
    p.set_defaults(handler=cmd_worker)


def _service_settings(args: argparse.Namespace) -> Settings:
    settings = settings_from(args)
    updates = {k: v for k, v in {"host": getattr(args, "host", None), "port": getattr(args, "port", None),
                                 "workers": getattr(args, "workers", None)}.items() if v is not None}
    if updates:
        service = settings.service.model_copy(update=updates)
        settings = settings.model_copy(update={"service": service})
    return settings


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from extractor.service.app import create_app
    from extractor.service.auth import is_loopback

    settings = _service_settings(args)
    svc = settings.service
    if svc.token is None and not is_loopback(svc.host) and not args.allow_remote:
        raise ConfigError(f"refusing to listen on {svc.host} without a token: set "
                          "EXTRACTOR_SERVICE__TOKEN, or pass --allow-remote to serve an open API")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_app(settings)
    print(f"extractor service on http://{svc.host}:{svc.port} ({svc.workers} job worker(s); "
          f"auth {'on' if svc.token else 'off'})", flush=True)
    uvicorn.run(app, host=svc.host, port=svc.port, log_level="warning")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from extractor.service.models import Job  # noqa: F401  (creates the job table)
    from extractor.service.worker import Worker
    from extractor.store import Store

    settings = _service_settings(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    store = Store.open(settings.database_url)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    worker = Worker(store, settings)
    print(f"worker {worker.name} on the job queue", flush=True)
    done = worker.run(stop, once=args.once)
    print(f"worker {worker.name}: {done} job(s) run", flush=True)
    return 0


def register_export_gold(esub: Any) -> None:
    """``eval export-gold`` (registered by the ``eval`` command module)."""
    p = esub.add_parser("export-gold", help="write reviewed documents as gold files "
                                            "(extraction + reviewers' corrections)")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--reviewed", action="store_true",
                       help="every document marked reviewed (on the run it was reviewed on)")
    which.add_argument("--run", type=int, help="every document of this run, corrections applied")
    p.add_argument("--out", type=Path, required=True, help="gold folder to write")
    p.set_defaults(handler=cmd_export_gold)


def cmd_export_gold(args: argparse.Namespace) -> int:
    from extractor.service import models  # noqa: F401  (creates the review tables)
    from extractor.service.gold import export_gold

    store = open_store(settings_from(args))
    written = export_gold(store, args.out, args.run)
    what = f"document(s) of run {args.run}" if args.run is not None else "reviewed document(s)"
    print(f"wrote {len(written)} gold file(s) for {what} to {args.out}")
    return 0
