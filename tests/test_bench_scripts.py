"""The bench/ scripts are not run by the suite (they time things), so check that what they import
from the library still exists: a rename in the library must not leave a benchmark broken."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCH = sorted((Path(__file__).resolve().parents[1] / "bench").glob("*.py"))


@pytest.mark.parametrize("script", BENCH, ids=[p.name for p in BENCH])
def test_every_library_name_a_bench_script_imports_exists(script: Path) -> None:
    tree = ast.parse(script.read_text(), filename=str(script))
    missing = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "resnet_viz":
            module = importlib.import_module(node.module)
            for alias in node.names:
                if not hasattr(module, alias.name):
                    try:
                        importlib.import_module(f"{node.module}.{alias.name}")
                    except ImportError:
                        missing.append(f"{node.module}.{alias.name} (line {node.lineno})")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "resnet_viz":
                    importlib.import_module(alias.name)
    assert not missing, f"{script.name} imports names the library no longer has: {missing}"


def test_there_are_bench_scripts() -> None:
    assert len(BENCH) >= 5
