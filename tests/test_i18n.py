"""The lab in Simplified Chinese: a complete catalogue, the same placeholders in both languages,
one learner's language never another's, and no English left on a page opened with ?lang=zh."""

from __future__ import annotations

import json
import re
import string
import threading
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po
from streamlit.testing.v1 import AppTest

from resnet_viz import text, ui
from resnet_viz.text import N_, _, language, ngettext, set_language, translations

ROOT = Path(__file__).resolve().parents[1]
PO = ROOT / "resnet_viz" / "locale" / "zh_CN" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}  # as babel.cfg's command line: -k N_
METHOD_MAP = [("app.py", "python"), ("pages/**.py", "python"), ("resnet_viz/**.py", "python")]


def source_messages() -> set[str | tuple[str, str]]:
    """Every msgid the code marks (a (singular, plural) pair for ngettext), as pybabel extracts them."""
    found: set[str | tuple[str, str]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(str(ROOT), METHOD_MAP, keywords=KEYWORDS):
        if isinstance(message, tuple):
            found.add((message[0], message[1]) if len(message) > 1 and message[1] else message[0])
        else:
            found.add(message)
    return found


def placeholders(template: str) -> Counter[tuple[str, str]]:
    """The named fields of a str.format template with their format specs, counted."""
    return Counter(
        (field, spec or "") for _lit, field, spec, _conv in string.Formatter().parse(template) if field is not None
    )


@pytest.fixture(scope="module")
def catalogue():
    with PO.open("rb") as f:
        return read_po(f, locale="zh_CN")


@pytest.fixture(scope="module")
def messages() -> set[str | tuple[str, str]]:
    return source_messages()


def test_the_code_marks_hundreds_of_messages(messages) -> None:
    # The pages, charts and sentences are marked, not only the text/ templates (188 before the pages).
    assert len(messages) > 600


def test_every_message_in_the_code_has_a_chinese_translation(catalogue, messages) -> None:
    missing = []
    for msg in messages:
        key = msg if isinstance(msg, str) else msg[0]
        entry = catalogue.get(key)
        strings = (entry.string if isinstance(entry.string, (list, tuple)) else [entry.string]) if entry else []
        if entry is None or entry.fuzzy or not all(s.strip() for s in strings):
            missing.append(key)
    assert not missing, f"{len(missing)} untranslated, e.g. {sorted(missing)[:5]}"


def test_every_translation_keeps_the_named_placeholders(catalogue) -> None:
    wrong = []
    for entry in catalogue:
        if not entry.id or not entry.string:
            continue
        sources = entry.id if isinstance(entry.id, (list, tuple)) else [entry.id]
        targets = entry.string if isinstance(entry.string, (list, tuple)) else [entry.string]
        want = placeholders(sources[-1])  # the plural form names every field the count can fill
        for t in targets:
            try:
                got = placeholders(t)
            except ValueError as exc:  # a stray brace: .format would raise on the page
                wrong.append((sources[0], str(exc)))
                continue
            if set(got) != set(want):
                wrong.append((sources[0], t))
    assert not wrong, wrong[:5]


def test_the_placeholder_check_can_fail() -> None:
    assert set(placeholders("{name} trained to {error}")) != set(placeholders("{name} 训练到 {eror}"))
    assert set(placeholders("{x:.1f}%")) != set(placeholders("{x}%"))
    with pytest.raises(ValueError):
        placeholders("{name 训练")


def test_english_is_the_template_and_chinese_comes_from_the_catalogue() -> None:
    msgid = "Anatomy of a ResNet"  # a menu entry (resnet_viz.ui.PAGES)
    try:
        assert set_language("en") == "en" and _(msgid) == msgid
        assert set_language("zh") == "zh"
        zh = _(msgid)
        assert zh != msgid and re.search(r"[\u4e00-\u9fff]", zh)
        assert translations("zh").gettext(msgid) == zh
        assert N_(msgid) == msgid  # marking never translates
        assert set_language("fr") == "en" and _(msgid) == msgid  # an unknown code is English
    finally:
        set_language("en")


def test_chinese_has_one_plural_form() -> None:
    try:
        set_language("zh")
        one = ngettext("{n} block", "{n} blocks", 1)
        many = ngettext("{n} block", "{n} blocks", 5)
        if one != "{n} block":  # translated (the template is used by the analysis sentences)
            assert one == many
    finally:
        set_language("en")


def test_one_sessions_language_never_changes_another_s() -> None:
    # Streamlit runs each session's script in its own thread: the language is per thread/context.
    seen: dict[str, str] = {}
    ready = threading.Barrier(2)

    def session(code: str) -> None:
        set_language(code)
        ready.wait()  # both have set their language before either reads it
        seen[code] = language() + "|" + _("Anatomy of a ResNet")

    threads = [threading.Thread(target=session, args=(c,)) for c in ("en", "zh")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen["en"] == "en|Anatomy of a ResNet"
    assert seen["zh"].startswith("zh|") and seen["zh"] != "zh|Anatomy of a ResNet"
    assert language() == "en"  # the test's own thread never changed


def test_the_cli_stays_english(capsys) -> None:
    from resnet_viz.cli import main

    try:
        code = main(["train", "--lr", "inf"])
    except SystemExit as exc:  # argparse's own refusals exit
        code = exc.code
    assert code not in (0, None)
    err = capsys.readouterr().err
    assert err and not re.search(r"[\u4e00-\u9fff]", err)


def test_the_marking_fixture_still_marks(marking) -> None:
    assert _("x") == "«x»"


# --------------------------------------------------------------------------------------------
# Pages in Chinese

# English allowed on a Chinese page: paper titles, "et al.", code, equations, links, model names.
ALLOWED = (
    "Deep Residual Learning",
    "Identity Mappings in Deep Residual Networks",
    "Image Recognition",
    "et al",
    "ResNet Lab",
)
_STRIP = [
    re.compile(r"```.*?```", re.DOTALL),  # code blocks
    re.compile(r"`[^`]*`"),  # inline code
    re.compile(r"\$\$.*?\$\$", re.DOTALL),  # display maths
    re.compile(r"\$[^$]*\$"),  # inline maths
    re.compile(r"\\\[.*?\\\]", re.DOTALL),
    re.compile(r"\]\([^)]*\)"),  # link targets
    re.compile(r"https?://\S+"),
    re.compile(r"<[^>]+>"),  # html tags (plotly's <b>, <br>)
    re.compile(r":material/[a-z_]+:"),  # icon names
]
ENGLISH_RUN = re.compile(r"\b[A-Za-z][A-Za-z']+(?:[ ,;:/()-]+[A-Za-z][A-Za-z']+){2,}\b")


def english_runs(value: str) -> list[str]:
    """Runs of three or more English words in `value`, outside code, maths, links and allowed names."""
    for pattern in _STRIP:
        value = pattern.sub(" ", value)
    for name in ALLOWED:
        value = value.replace(name, " ")
    return [m.group(0) for m in ENGLISH_RUN.finditer(value)]


def test_the_english_detector_finds_english_and_spares_the_rest() -> None:
    assert english_runs("残差块 keeps the gradient 很好") == ["keeps the gradient"]
    assert english_runs("见 He et al. 2016 的 `resnet-viz train --help` 和 $y = x + F(x)$") == []
    assert english_runs("plain-56 与 residual-56 的训练误差") == []
    assert english_runs("[Deep Residual Learning](https://arxiv.org/abs/1512.03385)") == []


def _figure_texts(spec: str) -> list[str]:
    fig = json.loads(spec)
    layout = fig.get("layout", {})
    out: list[str] = []

    def title_of(obj: object) -> None:
        if isinstance(obj, dict):
            t = obj.get("title")
            if isinstance(t, dict):
                out.append(str(t.get("text") or ""))
                out.append(str(t.get("subtitle", {}).get("text") or "") if isinstance(t.get("subtitle"), dict) else "")
            elif isinstance(t, str):
                out.append(t)

    title_of(layout)
    for key, value in layout.items():
        if key.startswith(("xaxis", "yaxis", "coloraxis")):
            title_of(value)
            if isinstance(value, dict):
                title_of(value.get("colorbar"))
    out += [str(a.get("text") or "") for a in layout.get("annotations", [])]
    for trace in fig.get("data", []):
        if trace.get("showlegend", True) is not False:
            out.append(str(trace.get("name") or ""))
        title_of(trace.get("colorbar"))
        if isinstance(trace.get("marker"), dict):
            title_of(trace["marker"].get("colorbar"))
    return out


def page_texts(at: AppTest) -> list[str]:
    """What a learner reads on the page: every element's text, labels, help, options and chart titles."""
    texts: list[str] = []

    def walk(node: object) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            for field in ("body", "label", "help", "placeholder", "caption", "text"):
                value = getattr(proto, field, None)
                if isinstance(value, str):
                    texts.append(value)
            for field in ("options", "display_values"):
                values = getattr(proto, field, None)
                if values is not None and not isinstance(values, str):
                    texts.extend(v for v in values if isinstance(v, str))
            spec = getattr(proto, "spec", None)
            if isinstance(spec, str) and spec.startswith("{"):
                texts.extend(_figure_texts(spec))
        for child in (
            getattr(node, "children", {}).values() if isinstance(getattr(node, "children", None), dict) else []
        ):
            walk(child)

    walk(at._tree)
    return texts


@pytest.mark.parametrize("page", ui.PAGES, ids=lambda p: p.key)
def test_a_page_opened_with_lang_zh_has_no_english_left(page, tmp_runs) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    if page.key != "home":
        at.switch_page(page.path)
    at.query_params["lang"] = "zh"
    at.run()
    assert_all_chinese(at, page.key)


def assert_all_chinese(at: AppTest, where: str) -> None:
    assert not at.exception, at.exception
    texts = page_texts(at)
    assert any(re.search(r"[\u4e00-\u9fff]", t) for t in texts)
    left = sorted({run for t in texts for run in english_runs(t)})
    assert not left, f"{len(left)} English runs on {where}: {left[:15]}"


def test_the_page_scan_sees_english_on_an_english_page(tmp_runs) -> None:
    # The scan above can fail: the same page in English is full of English runs, charts included.
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.switch_page("pages/1_theory.py")
    at.run()
    texts = page_texts(at)
    runs = {run for t in texts for run in english_runs(t)}
    assert len(runs) > 50
    assert any("Gradient" in t for t in texts if t in _figure_texts_of(at))


def _figure_texts_of(at: AppTest) -> list[str]:
    return [t for chart in at.get("plotly_chart") for t in _figure_texts(chart.proto.spec)]


@pytest.mark.slow
@pytest.mark.parametrize("path", ["pages/3_live.py", "pages/5_analysis.py", "pages/6_saliency.py"])
def test_a_page_with_a_trained_pair_in_chinese_has_no_english_left(path, tmp_runs) -> None:
    # What the run-based pages show once a pair exists: run lists, tables, charts and readings.
    from resnet_viz.config import DataConfig, ModelConfig, TrainConfig
    from resnet_viz.experiment import run_twins
    from resnet_viz.runs import RunStore

    twins = [ModelConfig(depth=8, width=4, residual=r) for r in (False, True)]
    [plain, _residual] = run_twins(
        twins, DataConfig(name="shapes"), TrainConfig(steps=4, probe_every=2), store=RunStore(tmp_runs)
    )
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.switch_page(path)
    at.query_params["lang"] = "zh"
    if path.endswith("live.py"):
        at.query_params["job"] = RunStore(tmp_runs).get(plain.run_id).group  # a finished job's link
    at.run()
    assert_all_chinese(at, path)


def test_switching_language_keeps_the_page_state_and_a_graded_answer(tmp_runs) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.switch_page("pages/1_theory.py")
    at.run()
    assert not at.exception, at.exception
    slider = at.slider[0]
    slider.set_value(slider.max if slider.value != slider.max else slider.min).run()
    # Answer the predict-then-reveal questions and have them graded, in English.
    guesses = [r for r in at.radio if (r.key or "").startswith("guess:")]
    assert guesses
    for r in guesses:
        r.set_value(r.options[0] if not r.value else r.value)
    at.button(key="th_check").click().run()
    answered = dict(at.session_state["th_answered"])
    score = list(at.session_state["th_score"])
    assert score[1] == len(guesses) and all(v is not None for v in answered.values())
    before = {w.key: w.value for w in at.slider}

    switch = next(b for b in at.button_group if b.key == "language_pick")
    switch.set_value("zh").run()  # the sidebar's English / 中文 switch, clicked
    assert not at.exception, at.exception
    assert at.session_state["language"] == "zh"
    assert {w.key: w.value for w in at.slider} == before  # the settings stay
    assert dict(at.session_state["th_answered"]) == answered and list(at.session_state["th_score"]) == score
    assert not [r for r in at.radio if (r.key or "").startswith("guess:")]  # still graded: no question asked again
    texts = page_texts(at)
    assert any(re.search(r"[\u4e00-\u9fff]", t) for t in texts)
    assert text.language() == "en"  # the test's thread: AppTest ran the page in its own
