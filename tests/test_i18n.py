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
from helpers import chart_specs
from streamlit.testing.v1 import AppTest

from resnet_viz import text, ui
from resnet_viz.i18n import N_, _, language, ngettext, set_language, translations

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
# One word for one thing, across the whole catalogue (docs/glossary-zh.md)


def _strings(entry) -> list[str]:
    return list(entry.string) if isinstance(entry.string, (list, tuple)) else [entry.string]


def test_a_factor_reads_as_chinese_writes_it() -> None:
    from resnet_viz.text.numbers import times

    try:
        set_language("zh")
        assert times(751) == "751 倍" and times(79.94) == "79.9 倍" and times(13_400) == "13,400 倍"
        assert times(751) != times(752)  # the number is filled in, not part of the words
    finally:
        set_language("en")
    assert times(751) == "751x"


def test_a_page_named_in_a_sentence_is_named_as_the_menu_names_it(catalogue) -> None:
    # "**Train & compare**", "the Train & compare page": the Chinese names that page as the menu
    # does (训练与对比, never 训练与比较).
    wrong = []
    for page in ui.PAGES:
        zh = catalogue.get(page.title).string
        named = re.compile(r"\*\*{0}\*\*|{0} page|[\"“']{0}[\"”']".format(re.escape(page.title)))
        for entry in catalogue:
            ids = entry.id if isinstance(entry.id, (list, tuple)) else [entry.id]
            if entry.id and entry.id != page.title and any(named.search(i) for i in ids):
                wrong += [(page.title, t) for t in _strings(entry) if zh not in t]
    assert not wrong, wrong


# Chinese words the catalogue must not use, each with the word it uses instead.
NOT_THESE = {
    "跳跃连接": "捷径连接 (the shortcut; 跳跃连接 only as the glossary's entry for 'skip connection')",
    "主干": "起始层 (the stem; 主干 reads as the backbone)",
    "训练与比较": "训练与对比 (the menu's name of the page)",
    "方案 A": "选项 A (the glossary's option A shortcut)",
    "方案 B": "选项 B (the glossary's option B shortcut)",
}


def test_the_catalogue_uses_one_word_for_the_shortcut_the_stem_and_each_page(catalogue) -> None:
    found = [
        (word, entry.id, t)
        for entry in catalogue
        if entry.id and entry.id != "skip connection"
        for t in _strings(entry)
        for word in NOT_THESE
        if word in t
    ]
    assert not found, [(NOT_THESE[w], i, t) for w, i, t in found[:8]]
    assert catalogue.get("skip connection").string == "跳跃连接"


def test_no_translation_keeps_a_short_english_leftover(catalogue) -> None:
    # Table 6, Fig. 7, eq. 5, option A, 751x, default: what the page scan below looks for, in every
    # message, also those no page shows without a trained run.
    left = [(entry.id, run) for entry in catalogue if entry.id for t in _strings(entry) for run in leftovers(t)]
    assert not left, left[:10]


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
    # A script the page runs is not read: the owner cookie's random token once ran into
    # "rIc-BCVYR; path" (CI, stop 35), an English run only by chance.
    re.compile(r"<script\b.*?</script>", re.DOTALL),
    re.compile(r"<[^>]+>"),  # html tags (plotly's <b>, <br>)
    re.compile(r":material/[a-z_]+:"),  # icon names
]
ENGLISH_RUN = re.compile(r"\b[A-Za-z][A-Za-z']+(?:[ ,;:/()-]+[A-Za-z][A-Za-z']+){2,}\b")
# English shorter than three words that a Chinese page must not show either: a paper's table,
# figure or equation by its English name (the catalogue says 表 6, 图 1, 式 4), the shortcut
# options by their English name (A 型), a factor as "751x" (751 倍), a raw config value set into a
# sentence, and the placeholders Streamlit's frontend shows when a page leaves them unset.
LEFTOVER = re.compile(
    r"\b(?:Tables?|Figs?|Figures?|[Ee]qs?|Eqn|Sec|Section)\.?\s*\d+"
    r"|\b[Oo]ption [AB]\b"
    r"|(?<![\w.])\d(?:[\d,.]*\d)?x(?!\w)"
    r"|\bdefault\b"
    r"|\b(?:Choose an option|Choose options|No options to select)\b"
)


def leftovers(value: str) -> list[str]:
    """The short English leftovers (LEFTOVER) in `value`, outside code, maths and links."""
    for pattern in _STRIP:
        value = pattern.sub(" ", value)
    return [m.group(0) for m in LEFTOVER.finditer(value)]


def english_runs(value: str) -> list[str]:
    """Runs of three or more English words in `value`, and the shorter leftovers above, outside
    code, maths, links and allowed names."""
    for pattern in _STRIP:
        value = pattern.sub(" ", value)
    for name in ALLOWED:
        value = value.replace(name, " ")
    return [m.group(0) for m in ENGLISH_RUN.finditer(value)] + [m.group(0) for m in LEFTOVER.finditer(value)]


def test_the_english_detector_finds_english_and_spares_the_rest() -> None:
    assert english_runs("残差块 keeps the gradient 很好") == ["keeps the gradient"]
    assert english_runs("见 He et al. 2016 的 `resnet-viz train --help` 和 $y = x + F(x)$") == []
    assert english_runs("plain-56 与 residual-56 的训练误差") == []
    assert english_runs("[Deep Residual Learning](https://arxiv.org/abs/1512.03385)") == []
    assert english_runs("<script>document.cookie = 'o=Ab-rIc-BCVYR; path=/; SameSite=Strict';</script>") == []
    assert english_runs("<b>keeps the gradient</b>") == ["keeps the gradient"]


def test_the_english_detector_finds_the_short_leftovers() -> None:
    # Each seen on a Chinese page (issue 26), each shorter than three English words.
    for seen in (
        "A 型 (option A) 的参数量",
        "见 Table 6 的数字",
        "He et al. 2016, Fig. 7",
        "由 eq. 5 得到",
        "缩小了 751x",
        "约 79.9x",
        "把初始化设为 default",
        "Choose options",
        "Choose an option",
        "No options to select",
    ):
        assert english_runs(seen), seen
    for fine in ("表 6 与图 1", "缩小为 1/751，即 751 倍", "3×3 卷积", "`default`", "$2x$", "plain-56 与 residual-56"):
        assert english_runs(fine) == [], fine


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


# What Streamlit's frontend shows in a selectbox or multiselect whose placeholder is left unset
# (utils.js of the pinned 1.67: an empty proto placeholder becomes these English defaults).
DEFAULT_PLACEHOLDERS = {
    ("selectbox", True): "Choose an option",
    ("selectbox", False): "No options to select",
    ("multiselect", True): "Choose options",
    ("multiselect", False): "No options to select",
}


def shown_placeholder(node: object) -> str | None:
    """The placeholder a selectbox or multiselect shows when nothing is picked: its own, or the
    frontend's English default when the page left it unset; None for other elements."""
    kind = getattr(node, "type", None)
    proto = getattr(node, "proto", None)
    if kind not in ("selectbox", "multiselect") or proto is None:
        return None
    if proto.placeholder:
        return proto.placeholder
    return DEFAULT_PLACEHOLDERS[(kind, bool(len(proto.options)))]


def dataframe_texts(node: object) -> list[str]:
    """A dataframe's visible words: its column headings (a column_config label replaces the data's
    own name) with their help, and every text cell."""
    proto = node.proto  # type: ignore[attr-defined]
    config = json.loads(proto.columns) if getattr(proto, "columns", "") else {}
    frame = node.value  # type: ignore[attr-defined]
    out: list[str] = []
    for name in frame.columns:
        own = config.get(str(name)) or {}
        out.append(str(own.get("label") or name))
        if own.get("help"):
            out.append(str(own["help"]))
    for column in frame.columns:
        out.extend(str(v) for v in frame[column].tolist() if isinstance(v, str))
    return out


def page_texts(at: AppTest) -> list[str]:
    """What a learner reads on the page: every element's text, labels, help, options, the
    placeholders the widgets show, dataframe headings and cells, and chart titles."""
    texts: list[str] = []

    def walk(node: object) -> None:
        proto = getattr(node, "proto", None)
        if getattr(node, "type", None) == "dataframe":
            texts.extend(dataframe_texts(node))
        shown = shown_placeholder(node)
        if shown is not None:
            texts.append(shown)
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
    return [t for spec in chart_specs(at) for t in _figure_texts(spec)]


@pytest.mark.slow
@pytest.mark.parametrize("path", ["pages/3_live.py", "pages/5_analysis.py", "pages/6_saliency.py"])
def test_a_page_with_a_trained_pair_in_chinese_has_no_english_left(path, tmp_runs) -> None:
    # What the run-based pages show once a pair exists: run lists, tables, charts and readings.
    from resnet_viz.engine.config import DataConfig, ModelConfig, TrainConfig
    from resnet_viz.engine.experiment import run_twins
    from resnet_viz.engine.runs import RunStore

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
