"""Every sentence a learner reads that is built from numbers, in one place, as whole templates.

One module per feature (`live`, `sweep`, `theory`, `saliency`, `anatomy`, `quiz`, `lessons`, and
the analysis page's `lesion`, `construction`, `landscape`) plus `numbers` for how a number reads (13,400x, 37.5%) and which gradient regime a
ratio names. The science modules measure; these modules say what the measurement shows.

Rules every builder here follows, because a second language depends on them:
- a sentence is one template with named placeholders, written whole inside `_()` and filled with
  `.format(name=...)` after translation: never glued from fragments, since word order differs
  between languages ("{name} trained to {error} training error" is one msgid);
- a template kept in a table is marked with `N_()` where it is defined and translated with `_()`
  where it is used, so it is looked up in the learner's language at the moment it is shown;
- a count that changes the English noun goes through `ngettext`.

`_`, `N_` and `ngettext` are the gettext functions; until a catalogue is installed they return
the English template unchanged.
"""

from __future__ import annotations

import gettext as _gettext

_catalogue: _gettext.NullTranslations = _gettext.NullTranslations()


def _(msgid: str) -> str:
    """The template in the learner's language (English until a catalogue is installed)."""
    return _catalogue.gettext(msgid)


def N_(msgid: str) -> str:
    """Marks a template kept in a table for extraction; translate it with `_()` where it is used."""
    return msgid


def ngettext(singular: str, plural: str, n: int) -> str:
    """The template for a count of `n` (English: singular for 1, plural otherwise)."""
    return _catalogue.ngettext(singular, plural, n)


__all__ = ["N_", "_", "ngettext"]
