"""The glossary: every term the app relies on is defined, briefly, and unknown terms fail loudly."""

from __future__ import annotations

import re

import pytest

from resnet_viz import glossary

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
