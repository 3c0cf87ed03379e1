"""``python -m extractor.testing.synth``: write synthetic reports with their gold and cell truth."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from extractor.core.errors import ExtractorError
from extractor.evaluate.schema import load_record
from extractor.testing.synth import FAMILIES, RULINGS, generate, render_record, write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m extractor.testing.synth",
        description="write <doc_id>.pdf, <doc_id>.json (gold) and <doc_id>.cells.json for synthetic reports",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--gold-out", type=Path, metavar="DIR",
                        help="write the gold files here instead (then: extractor run OUT --gold DIR)")
    parser.add_argument("--n", type=int, default=50, help="number of documents (default 50)")
    parser.add_argument("--seed", type=int, default=0, help="first seed; document i uses seed + i")
    parser.add_argument("--scan", action="store_true", help="image-only scans instead of born-digital PDFs")
    parser.add_argument(
        "--scan-share",
        type=float,
        default=None,
        metavar="F",
        help="scan this share of the documents (every k-th), the rest born-digital",
    )
    parser.add_argument("--family", choices=FAMILIES, help="one layout family (default: rotate through all)")
    parser.add_argument("--rulings", choices=[*RULINGS, "mixed"],
                        help="table rules: every cell (grid, the default), horizontal only, none, "
                             "or mixed (chosen by seed)")
    parser.add_argument(
        "--gold",
        type=Path,
        nargs="+",
        metavar="FILE_OR_DIR",
        help="render these gold files instead of generated books",
    )
    args = parser.parse_args(argv)
    if args.gold:
        files = [f for g in args.gold for f in (sorted(g.glob("*.json")) if g.is_dir() else [g])]
        failed = 0
        for i, path in enumerate(files):
            try:
                record = load_record(path)
            except ExtractorError as exc:  # a bad gold file must not stop the batch
                print(f"skipped: {path}: {exc}", file=sys.stderr)
                failed += 1
                continue
            rendered = render_record(record, args.seed + i, family=args.family, scan=args.scan)
            print(f"{rendered.doc_id}: {len(rendered.cells['pages'])} pages ({rendered.cells['family']})")
            write(rendered, args.out, args.gold_out)
        return 1 if failed == len(files) else 0
    for i in range(args.n):
        seed = args.seed + i
        scan = args.scan or (args.scan_share is not None and _scanned(i, args.scan_share))
        family = args.family or FAMILIES[seed % len(FAMILIES)]
        rendered = generate(seed, family=family, scan=scan, rulings=args.rulings)
        write(rendered, args.out, args.gold_out)
        print(f"{rendered.doc_id}: {len(rendered.cells['pages'])} pages")
    return 0


def _scanned(i: int, share: float) -> bool:
    """Every k-th document, spread evenly: share 0.25 scans documents 3, 7, 11 …"""
    return share > 0 and int((i + 1) * share) > int(i * share)


if __name__ == "__main__":
    raise SystemExit(main())
