"""``constraints.txt`` pins the project's own dependency tree: nothing else, nothing missing."""

from __future__ import annotations

import importlib.util

from tests.conftest import ROOT


def _script() -> object:
    spec = importlib.util.spec_from_file_location("constraints_script", ROOT / "scripts" / "constraints.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_constraints_pin_exactly_the_dependency_tree() -> None:
    script = _script()
    pinned = {line.split("==")[0].lower() for line in (ROOT / "constraints.txt").read_text().splitlines()
              if line and not line.startswith("#")}
    tree = {name.lower() for name in script.pins()}  # type: ignore[attr-defined]
    assert pinned == tree
    assert {"openai", "instructor", "sqlmodel", "pymupdf", "pyarrow", "pytest", "mypy"} <= pinned
    assert not pinned & {"awscli", "boto3", "moto", "flask", "ipython"}
