"""The sentence templates of resnet_viz.text follow the rules a translation depends on.

Read from the source with ast, over every module of the package: what goes into `_()`, `N_()` and
`ngettext()` is a whole string literal (never an f-string, a `+` or a `.format` inside), every
placeholder is named, `.format` fills them by name only, and an f-string there holds no words.
Then, at run time with a stand-in catalogue, every sentence a builder returns is looked up in it
when it is built (a table entry too), not at import.
"""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

import resnet_viz.text as text_pkg
from resnet_viz.engine.config import ModelConfig
from resnet_viz.engine.history import History
from resnet_viz.saliency.localisation import Track
from resnet_viz.text.live import reading
from resnet_viz.text.saliency import localisation_reading
from resnet_viz.text.theory import chain_sentence, profile_sentences
from resnet_viz.theory.flow import InitProfile

TEXT = Path(text_pkg.__file__).parent
MODULES = sorted(TEXT.glob("*.py"))
MARKERS = {"_", "N_", "ngettext"}


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]


def _placeholders(template: str) -> list[str | None]:
    return [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.name}:{node.lineno}"  # type: ignore[attr-defined]


def _problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out: list[str] = []
    for call in _calls(tree):
        name = call.func.id  # type: ignore[attr-defined]
        if name not in MARKERS:
            continue
        if call.keywords:
            out.append(f"{_where(path, call)}: {name}() takes its template positionally, not by keyword")
        templates = call.args[:2] if name == "ngettext" else call.args
        if len(templates) != (2 if name == "ngettext" else 1):
            out.append(f"{_where(path, call)}: {name}() with {len(call.args)} arguments")
        for arg in templates:
            literal = isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            # `_()` may also translate a template kept in a table (marked with N_() where it is defined)
            lookup = name == "_" and isinstance(arg, (ast.Name, ast.Subscript, ast.Attribute))
            if not (literal or lookup):
                out.append(f"{_where(path, arg)}: {name}() needs a whole string literal, got {ast.unparse(arg)!r}")
            if literal:
                for field in _placeholders(arg.value):  # type: ignore[union-attr]
                    if not field or not field.isidentifier():
                        out.append(f"{_where(path, arg)}: placeholder {{{field}}} is not named: {arg.value!r}")  # type: ignore[union-attr]
    specs = {id(n.format_spec) for n in ast.walk(tree) if isinstance(n, ast.FormattedValue) and n.format_spec}
    for node in ast.walk(tree):
        is_format = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"
        if is_format and node.args:  # type: ignore[attr-defined]
            out.append(f"{_where(path, node)}: .format() with positional arguments")
        if isinstance(node, ast.JoinedStr) and id(node) not in specs:  # a number or a name, never words
            words = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
            if re.search(r"[^\W\d_]{2,}", words) and " " in words:  # prose, not a key like f"{k}_x"
                out.append(f"{_where(path, node)}: an f-string with words in it: {ast.unparse(node)}")
    return out


def test_the_package_has_the_feature_modules() -> None:
    assert {"numbers.py", "live.py", "sweep.py", "theory.py", "saliency.py", "quiz.py", "lessons.py"} <= {
        m.name for m in MODULES
    }


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_templates_are_whole_literals_with_named_placeholders(path: Path) -> None:
    assert _problems(path) == []


def test_the_checker_catches_each_kind_of_fragment(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from resnet_viz.text import _, N_, ngettext\n"
        "a = _(f'{x} runs')\n"
        "b = _('one ' + 'two')\n"
        "c = _('{} and {0}').format(1, 2)\n"
        "d = ngettext('a', f'{n} b', n)\n"
        "e = N_(TABLE)\n"
        "f = f'{x} larger than'\n"
        "g = _('{name} ok').format(name=1)\n"
    )
    found = "\n".join(_problems(bad))
    for line in (2, 3, 4, 5, 6, 7):
        assert f"bad.py:{line}" in found, line
    assert "bad.py:8" not in found


# -- at run time: every sentence comes out of the catalogue, at the moment it is built ------------


def _history() -> History:
    h = History("plain-56", step=[1, 2], loss=[2.0, 1.0], acc=[0.2, 0.5], status="finished", probe_step=[1, 10])
    h.grad_x_rms = [[1380.0, 2.0, 1.0], [3.0, 2.0, 1.0]]
    h.grad_rms = [[1.0] * 4, [1.0] * 4]
    return h


def test_every_sentence_is_looked_up_when_it_is_built(marking: None) -> None:
    cfg = ModelConfig(depth=56, residual=False)
    row = [1.0, 1.0, 9.0]
    prof = InitProfile("plain-56", [], row, row, row, [], [0.3, 120.0], grad_x_rms=[1380.0, 1.0], config=cfg)
    track = Track("plain-8", False, (0, 100), (0.3, 0.6), (0.5, 0.5), 0.9)
    sentences = [
        *reading([_history(), _history()]),
        *profile_sentences([prof]),
        chain_sentence([1e-6, 1.0], [1.3, 1.0], beta=1.0, depth=30, gain=0.9),
        *localisation_reading([track], 0.25, 100, 5),
    ]
    assert len(sentences) >= 8
    for s in sentences:
        assert s.startswith("«"), s  # built from a template looked up now, not from glued fragments
