"""Every sentence a learner reads that is built from numbers, in one place, as whole templates.

One module per feature (`live`, `sweep`, `classroom`, `theory`, `saliency`, `anatomy`, `quiz`, `lessons`, and
the analysis page's `lesion`, `construction`, `landscape`) plus `numbers` for how a number reads (13,400x, 37.5%) and which gradient regime a
ratio names. The science modules measure; these modules say what the measurement shows.

Rules every builder here follows, because a second language depends on them:
- a sentence is one template with named placeholders, written whole inside `_()` and filled with
  `.format(name=...)` after translation: never glued from fragments, since word order differs
  between languages ("{name} trained to {error} training error" is one msgid);
- a template kept in a table is marked with `N_()` where it is defined and translated with `_()`
  where it is used, so it is looked up in the learner's language at the moment it is shown;
- a count that changes the English noun goes through `ngettext`.

The gettext functions live one floor down, in :mod:`resnet_viz.i18n`, so the science can
translate its own messages without importing this package; they are re-exported here so a
template module writes `from . import _`.
"""

from ..i18n import LANGUAGES, N_, _, language, ngettext, set_language, translations

__all__ = ["LANGUAGES", "N_", "_", "language", "ngettext", "set_language", "translations"]
