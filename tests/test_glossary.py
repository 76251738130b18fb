"""The glossary: every term the app relies on is defined, briefly, and unknown terms fail loudly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from resnet_viz import ui
from resnet_viz.i18n import _, set_language
from resnet_viz.teaching import glossary

DOCS = Path(__file__).resolve().parents[1] / "docs" / "glossary-zh.md"

REQUIRED = (
    "residual block",
    "identity shortcut",
    "skip connection",
    "plain net",
    "twins",
    "6n+2",
    "stem",
    "head",
    "stage",
    "option A shortcut",
    "option B shortcut",
    "pre-activation",
    "post-activation",
    "bottleneck",
    "expansion",
    "BatchNorm",
    "global average pooling",
    "RMS per weight",
    "dL/dx",
    "vanishing gradient",
    "exploding gradient",
    "degradation",
    "skip strength alpha",
    "Grad-CAM",
    "lesion",
    "loss landscape",
    "sweep",
    "shattered gradients",
    "probe",
)


def _sentences(text: str) -> list[str]:
    # A sentence ends at ". " before a capital letter, except after "al." (He et al. 2016).
    return [s for s in re.split(r"(?<!\bal)\.\s+(?=[A-Z])", text.strip()) if s]


@pytest.mark.parametrize("term", REQUIRED)
def test_required_terms_are_defined(term: str) -> None:
    text = glossary.help(term)
    assert text.strip() and text.rstrip().endswith(".")
    assert 1 <= len(_sentences(text)) <= 2, text


def test_every_entry_is_short_and_non_empty() -> None:
    for term, text in glossary.GLOSSARY.items():
        assert term.strip() and text.strip(), term
        assert len(text) < 320, (term, len(text))  # a tooltip, not a paragraph


def test_help_ignores_case_and_refuses_unknown_terms() -> None:
    assert glossary.help("batchnorm") == glossary.help("BatchNorm")
    with pytest.raises(KeyError, match="not in the glossary"):
        glossary.help("residule block")
    with pytest.raises(KeyError, match="residual block"):  # suggests the close match
        glossary.help("residule block")


def test_glossary_is_read_only_and_entries_sorted() -> None:
    with pytest.raises(TypeError):
        glossary.GLOSSARY["stem"] = "changed"  # type: ignore[index]
    terms = [t for t, _ in glossary.entries()]
    assert terms == sorted(terms, key=str.casefold) and set(terms) == set(glossary.GLOSSARY)


def test_rms_per_weight_states_the_formula() -> None:
    assert "||dL/dW|| / sqrt(number of weights)" in glossary.help("RMS per weight")


def docs_rows() -> dict[str, str]:
    """English -> 中文 of every table row of docs/glossary-zh.md (the translator's term list)."""
    rows = {}
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 2 and cells[0] not in ("English", "---"):
            rows[cells[0]] = cells[1]
    return rows


@pytest.fixture
def chinese():
    set_language("zh")
    yield
    set_language("en")


def test_the_translators_glossary_has_the_terms_and_pages_the_app_names() -> None:
    rows = docs_rows()
    wanted = ["sweep", "shattered gradients", "probe", "option A shortcut", "option B shortcut", "stem"]
    wanted += [page.title for page in ui.PAGES]
    assert not [t for t in wanted if t not in rows], sorted(rows)


def test_the_translators_glossary_agrees_with_the_catalogue(chinese) -> None:
    # A row named by a glossary term or a menu title gives that msgid's translation: the list a
    # translator follows and the words the pages show cannot drift apart.
    rows = docs_rows()
    names = [*glossary.GLOSSARY, *(page.title for page in ui.PAGES)]
    checked = {name: (rows[name], _(name)) for name in names if name in rows}
    assert len(checked) >= 20
    wrong = {name: pair for name, pair in checked.items() if pair[0] != pair[1]}
    assert not wrong, wrong


def test_skip_connection_is_named_once_in_chinese(chinese) -> None:
    # The catalogue's word for the shortcut is 捷径连接; the glossary names the other one, 跳跃连接,
    # as its own entry and nowhere else.
    shown = [(_(term), _(text)) for term, text in glossary.entries()]
    assert [term for term, text in shown if "跳跃连接" in term + text] == ["跳跃连接"]
    assert "捷径连接" in _(glossary.GLOSSARY["skip connection"])
