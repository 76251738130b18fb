"""The house's layers, read from the code with `ast`: imports only look down, and no two modules
of resnet_viz import each other in a loop (lazy and TYPE_CHECKING imports count: a loop through
them is still a loop a reader has to untangle).

Floors, bottom up (DESIGN.md § Layout; each package's __init__ says what lives there):
i18n < engine < the lessons' science (theory, anatomy, degradation, analysis, saliency) < text
< figures, teaching < ui, cli. Pages and the CLI's entry point sit on top and are not walked.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "resnet_viz"
FLOORS = {
    "resnet_viz": 0,  # the package's own __init__ (the version)
    "resnet_viz.i18n": 0,
    "resnet_viz.engine": 1,
    "resnet_viz.theory": 2,
    "resnet_viz.anatomy": 2,
    "resnet_viz.degradation": 2,
    "resnet_viz.analysis": 2,
    "resnet_viz.saliency": 2,
    "resnet_viz.text": 3,
    "resnet_viz.figures": 4,
    "resnet_viz.teaching": 4,
    "resnet_viz.ui": 5,
    "resnet_viz.cli": 5,
}
SCIENCE = (
    "resnet_viz.theory",
    "resnet_viz.anatomy",
    "resnet_viz.degradation",
    "resnet_viz.analysis",
    "resnet_viz.saliency",
)
ABOVE_SCIENCE = ("resnet_viz.text", "resnet_viz.figures", "resnet_viz.teaching", "resnet_viz.ui", "resnet_viz.cli")
MAX_TOP_LEVEL = 14


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str], root: Path = PACKAGE) -> set[str]:
    """The resnet_viz modules `path` imports, anywhere in it (a name imported from a package
    counts as its submodule when there is one, else as the package)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                found.add(sub if sub in modules else source)
    return {m for m in found if m in modules and m != name}


def graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    paths = {module_name(p, root): p for p in root.rglob("*.py")}
    modules = set(paths)
    return {m: imports_of(p, modules, root) for m, p in paths.items()}


def floor(module: str) -> int:
    best = max((k for k in FLOORS if module == k or module.startswith(k + ".")), key=len)
    return FLOORS[best]


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[v] = min(low[v], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def upward(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted((a, b) for a, targets in edges.items() for b in targets if floor(b) > floor(a))


@pytest.fixture(scope="module")
def edges() -> dict[str, set[str]]:
    return graph()


def test_every_module_has_a_floor(edges) -> None:
    unplaced = [m for m in edges if not any(m == k or m.startswith(k + ".") for k in FLOORS)]
    assert unplaced == [], f"place these in FLOORS (and say where in the package's __init__): {unplaced}"


def test_no_import_cycles(edges) -> None:
    assert cycles(edges) == []


def test_imports_only_look_down(edges) -> None:
    assert upward(edges) == []


def test_the_science_never_imports_text_figures_ui_or_cli(edges) -> None:
    bad = [(a, b) for a, bs in edges.items() for b in bs if a.startswith(SCIENCE) and b.startswith(ABOVE_SCIENCE)]
    assert bad == []


def test_the_engine_imports_no_lesson(edges) -> None:
    bad = [(a, b) for a, bs in edges.items() for b in bs if a.startswith("resnet_viz.engine") and floor(b) > 1]
    assert bad == []


def test_the_top_level_shows_the_architecture() -> None:
    entries = [p.name for p in PACKAGE.iterdir() if p.name != "__pycache__"]
    assert len(entries) <= MAX_TOP_LEVEL, sorted(entries)


def test_no_module_is_over_450_lines() -> None:
    long = {
        module_name(p): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text(encoding="utf-8").splitlines())) > 450
    }
    assert long == {}


# The checks themselves, on a tiny package the test writes: each must be able to fail.


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "resnet_viz"
    for rel, body in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    return root


def test_a_loop_through_a_type_checking_import_is_found(tmp_path) -> None:
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "text/__init__.py": "",
            "text/quiz.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..teaching.quiz import Q\n",
            "teaching/__init__.py": "",
            "teaching/quiz.py": "from ..text import quiz as words\n",
        },
    )
    assert cycles(graph(root)) == [["resnet_viz.teaching.quiz", "resnet_viz.text.quiz"]]


def test_science_importing_text_runs_up(tmp_path) -> None:
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "i18n.py": "",
            "text/__init__.py": "",
            "text/numbers.py": "",
            "analysis/__init__.py": "",
            "analysis/landscape.py": "from ..text.numbers import within_band\nfrom ..i18n import _\n",
        },
    )
    assert upward(graph(root)) == [("resnet_viz.analysis.landscape", "resnet_viz.text.numbers")]


def test_the_gettext_module_imports_nothing_of_the_lab(edges) -> None:
    assert edges["resnet_viz.i18n"] == set()
