"""Command line: noun subcommands (``ingest``, ``chunks``, ``tables``, ``run``, ``runs``, ``checks``,
``reconcile``, ``eval``, ``db``, ``serve``, ``worker``).
Each noun's handlers live in their own module; this one builds the parser, turns
``ExtractorError`` into one clear line on stderr (exit 2) and never prints secrets.
Building the parser imports no heavy library (``extractor --help`` stays fast): handlers
import the pipeline, the store and PyMuPDF when they run.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from extractor import __version__
from extractor.cli.common import EXIT_CODES_EPILOG, EXIT_INTERRUPTED, EXIT_USAGE, close_stores
from extractor.core.errors import ExtractorError


def build_parser() -> argparse.ArgumentParser:
    from extractor.cli import docs, evaluation, runs, service, tables

    parser = argparse.ArgumentParser(
        prog="extractor",
        description="Extract trustworthy figures from noisy OCR'd final-accounts reports.",
        epilog=EXIT_CODES_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--db", help="SQLAlchemy URL (default: EXTRACTOR_DATABASE_URL or "
                                     "a SQLite file under ~/.local/share/extractor)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    docs.register(sub)
    tables.register(sub)
    runs.register(sub)
    evaluation.register(sub)
    service.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except ExtractorError as exc:
        print(f"extractor: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # output piped into `head`: the work is stored, stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("extractor: interrupted; finished work is stored, re-run to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        close_stores()
    return code


if __name__ == "__main__":
    sys.exit(main())
