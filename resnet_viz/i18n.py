"""Translation at the ground floor: the language of the current context, the catalogues, and the
gettext functions `_`, `N_` and `ngettext`. It imports nothing of the lab, so every module above it
(the engine's error messages, the lessons' option texts, the sentences of resnet_viz.text) can
translate without importing the sentences that describe it.

`_`, `N_` and `ngettext` answer in the language of the current context (`set_language`, once per
page run; each Streamlit session runs in its own thread, so one learner's choice never changes
another's): English returns the template unchanged, Simplified Chinese comes from
`resnet_viz/locale/zh_CN/LC_MESSAGES/messages.po`, read with Babel and compiled in memory on first
use (a fresh `pip install -e .` needs no build step).
"""

from __future__ import annotations

import contextvars
import functools
import gettext as _gettext
import io
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
# Language codes the app offers, with the name each is listed under in the switch.
LANGUAGES: dict[str, str] = {"en": "English", "zh": "中文"}
_GETTEXT_LOCALES = {"zh": "zh_CN"}  # the app's short code -> the catalogue's folder

_language: contextvars.ContextVar[str] = contextvars.ContextVar("resnet_viz_language", default="en")
# Tests install a stand-in catalogue here (conftest.py's `marking`); None: the language's own.
_catalogue: _gettext.NullTranslations | None = None


def set_language(code: str) -> str:
    """Use `code` ("en", "zh") for this context from now on; an unknown code means English.
    Returns the code in use."""
    code = code if code in LANGUAGES else "en"
    _language.set(code)
    return code


def language() -> str:
    """The language code of the current context ("en" unless `set_language` said otherwise)."""
    return _language.get()


@functools.cache
def translations(code: str) -> _gettext.NullTranslations:
    """The compiled catalogue of `code`; English (and a missing catalogue) is the identity."""
    locale = _GETTEXT_LOCALES.get(code)
    po = LOCALE_DIR / str(locale) / "LC_MESSAGES" / f"{DOMAIN}.po"
    if locale is None or not po.is_file():
        return _gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as f:
        catalog = read_po(f, locale=locale)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return _gettext.GNUTranslations(buf)


def _active() -> _gettext.NullTranslations:
    return _catalogue if _catalogue is not None else translations(_language.get())


def _(msgid: str) -> str:
    """The template in the learner's language."""
    return _active().gettext(msgid)


def N_(msgid: str) -> str:
    """Marks a template kept in a table for extraction; translate it with `_()` where it is used."""
    return msgid


def ngettext(singular: str, plural: str, n: int) -> str:
    """The template for a count of `n` in the learner's language (English: singular for 1)."""
    return _active().ngettext(singular, plural, n)


__all__ = ["LANGUAGES", "N_", "_", "language", "ngettext", "set_language", "translations"]
