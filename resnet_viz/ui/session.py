"""A browser session as the pages share it: its language, its owner key (who may stop its jobs),
and fragments that rerun in its language. Beneath every other ui module: it imports no ui module,
so those that page_setup calls (ui.classroom) can use it without a loop.
"""

from __future__ import annotations

import hashlib
import re
import secrets

import streamlit as st

from resnet_viz.i18n import LANGUAGES, set_language

LANGUAGE_KEY = "language"  # the session's language code; the switch's own widget key is separate,
# since Streamlit drops a widget's state on a page that has not drawn it yet


def _browser_language() -> str:
    """Chinese for a browser that asks for it (st.context.locale), else English."""
    locale = (st.context.locale or "").lower() if hasattr(st.context, "locale") else ""
    return "zh" if locale.startswith("zh") else "en"


def _initial_language() -> str:
    """`?lang=` in the URL, else the browser's language."""
    url = st.query_params.get("lang")
    return url if url in LANGUAGES else _browser_language()


def _keep_in_url(code: str) -> None:
    """The URL says the language when it is not the browser's own, so a shared link opens in it;
    otherwise it stays out of the URL (links stay short)."""
    if code != _browser_language():
        st.query_params["lang"] = code
    elif "lang" in st.query_params:
        del st.query_params["lang"]


def use_language() -> str:
    """The session's language for this run (and every sentence built in it). A link's `?lang=`
    wins over the session's earlier choice, so a teacher's Chinese link opens in Chinese."""
    url = st.query_params.get("lang")
    if LANGUAGE_KEY not in st.session_state or (url in LANGUAGES and url != st.session_state[LANGUAGE_KEY]):
        st.session_state[LANGUAGE_KEY] = _initial_language()
    return set_language(st.session_state[LANGUAGE_KEY])


def _language_changed() -> None:
    code = st.session_state["language_pick"]
    st.session_state[LANGUAGE_KEY] = code
    _keep_in_url(code)


def language_switch() -> None:
    """English / 中文 at the top of the sidebar; the choice is kept in the URL (`?lang=zh`)."""
    code = st.session_state[LANGUAGE_KEY]
    st.session_state["language_pick"] = code
    _keep_in_url(code)  # page links drop the query: the URL keeps saying the language
    st.segmented_control(
        "Language · 语言",
        list(LANGUAGES),
        format_func=LANGUAGES.__getitem__,
        key="language_pick",
        on_change=_language_changed,
        label_visibility="collapsed",
        required=True,
    )


def fragment(body, run_every: float | None = None):
    """`st.fragment(run_every=...)(body)` whose reruns speak the session's language: a fragment's
    timed rerun does not run page_setup first."""

    def in_language(*args, **kwargs):
        use_language()
        return body(*args, **kwargs)

    in_language.__name__ = getattr(body, "__name__", "fragment")
    in_language.__qualname__ = getattr(body, "__qualname__", "fragment")
    return st.fragment(run_every=run_every)(in_language)


OWNER_COOKIE = "resnet_lab_owner"  # a random token per browser, set once; the server keeps only its hash
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def owner_key() -> str:
    """Who may stop a training job: one key per browser, stable across a refresh and a new tab.

    The key hashes a random token kept in a cookie of this site (set by :func:`sidebar` on the
    first visit), so a refreshed tab or a second tab of the same browser keeps the right to stop
    its own run, while another browser, which cannot guess the token, can only watch. Until the
    cookie comes back with the next page load, this session uses the token it just wrote.
    (Streamlit's XSRF cookie is re-masked on every load, so it cannot serve as the key.)
    """
    cookie = st.context.cookies.get(OWNER_COOKIE) if st.context.cookies else None
    token = (
        cookie
        if cookie and _TOKEN.match(cookie)
        else st.session_state.setdefault("_owner_token", secrets.token_urlsafe(24))
    )
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def _remember_owner() -> None:
    """Write the session's token into the browser's cookie once, so the next load sends it back."""
    cookie = st.context.cookies.get(OWNER_COOKIE) if st.context.cookies else None
    if (cookie and _TOKEN.match(cookie)) or st.session_state.get("_owner_cookie_written"):
        return
    owner_key()  # makes the session's token
    token = st.session_state["_owner_token"]
    st.html(
        f"<script>document.cookie = '{OWNER_COOKIE}={token}; path=/; max-age=31536000; SameSite=Strict';</script>",
        unsafe_allow_javascript=True,
    )
    st.session_state["_owner_cookie_written"] = True
