"""Many distinct reports from a few: edited copies with other figures and department names.

Scale benches and tests need N *different* documents (the store deduplicates by content
hash, so N copies of one file would be one document). Copy ``i`` of a report scales every
money figure by a factor of its own (rounded as printed, so totals still add up within
the checks' rounding tolerance) and renames the department, which changes the text a
reader sees, not the report's structure.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

_MONEY = re.compile(r"(?<![\d.])(\d{1,3}(?:,\d{3})+|\d+)\.(\d{2})(?![\d.])")
_DEPARTMENT = re.compile(r"[\u4e00-\u9fff]{2,16}?(人民政府办公室|委员会|办公室|管理局|局|中心|院)")
_NAMES = ("青山", "白水", "红岩", "金沙", "银河", "东湖", "西岭", "南屏", "北川", "中原", "玉泉",
          "石门", "松林", "柳溪", "枫桥", "梅岭", "竹园", "兰亭", "荷塘", "桂林")
"""Invented place names for renamed departments (no real department is meant)."""


def _scale(match: re.Match[str], factor: Decimal) -> str:
    whole, cents = match.group(1), match.group(2)
    value = Decimal(f"{whole.replace(',', '')}.{cents}") * factor
    scaled = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{scaled:,.2f}" if "," in whole else f"{scaled:.2f}"


def edited_copy(text: str, index: int) -> str:
    """Copy ``index`` of a report: figures scaled, the department renamed."""
    factor = Decimal(1) + Decimal(index % 89 + 1) / Decimal(1000)
    out = _MONEY.sub(lambda m: _scale(m, factor), text)
    found = _DEPARTMENT.search(out)
    if found:
        place = _NAMES[index % len(_NAMES)] + ("" if index < len(_NAMES) else str(index // len(_NAMES)))
        out = out.replace(found.group(0), place + found.group(1))
    return out


def write_corpus(sources: list[Path], count: int, out_dir: Path) -> list[Path]:
    """``count`` distinct ``.txt`` reports in ``out_dir``, edited copies of ``sources`` in turn."""
    out_dir.mkdir(parents=True, exist_ok=True)
    texts = [p.read_text(encoding="utf-8") for p in sources]
    written = []
    for i, (source, text) in enumerate(_cycle(sources, texts, count)):
        path = out_dir / f"r{i:05d}_{source.stem[:12]}.txt"
        path.write_text(edited_copy(text, i), encoding="utf-8")
        written.append(path)
    return written


def _cycle(sources: list[Path], texts: list[str], count: int) -> Iterator[tuple[Path, str]]:
    for i in range(count):
        yield sources[i % len(sources)], texts[i % len(texts)]
