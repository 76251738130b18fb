"""A page's settings and their round trip through a URL query.

A teacher shares a link; the page opens with the same configuration. Each page that reads the
URL has a :class:`LinkSpec`: which URL key holds which setting (the settings themselves are the
frozen dataclasses of :mod:`resnet_viz.teaching.settings`). This module is the only parser of those links:
a value is either applied or dropped with a sentence saying why, so a mistyped link never becomes
a traceback and never changes a widget without a word. The URL holds registry keys
(``dataset=shapes``), never the labels on screen. ``resnet_viz.ui.links`` seeds the widgets from
a :class:`Link` and writes the URL back.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from ..engine.config import ConfigError
from ..i18n import _


class PageSettings(Protocol):
    """What a page's frozen settings dataclass offers a link: its dataset and a validity check."""

    dataset: str

    def validate(self) -> None: ...


S = TypeVar("S", bound=PageSettings)


@dataclass(frozen=True)
class Link(Generic[S]):
    """What a page made of its URL."""

    settings: S  # the link's valid values over the defaults
    problems: tuple[str, ...]  # one sentence per value that was dropped, naming it and why
    accepted: frozenset[str]  # URL keys whose values are in `settings`


def _parse(name: str, kind: type, text: str) -> Any:
    if kind is bool:
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(_("{name} must be true or false; got {value}").format(name=name, value=repr(text)))
    if kind is str:
        return text
    try:
        value = float(text)
    except ValueError:
        template = (
            _("{name} must be a whole number; got {value}")
            if kind is int
            else _("{name} must be a number; got {value}")
        )
        raise ConfigError(template.format(name=name, value=repr(text))) from None
    if not math.isfinite(value):
        raise ConfigError(_("{name} must be a finite number; got {value}").format(name=name, value=repr(text)))
    if kind is int:
        if not value.is_integer():
            raise ConfigError(_("{name} must be a whole number; got {value}").format(name=name, value=repr(text)))
        return int(value)  # "1e3" and "300.0" are whole numbers too
    return value


@dataclass(frozen=True)
class LinkSpec(Generic[S]):
    """How one page's settings travel in its URL: which key holds which field."""

    default: S
    keys: Mapping[str, str]  # URL key (= the widget's key) -> settings field
    # The defaults for one dataset (its recipe), or None when the page has one set of defaults.
    # A link holds only what differs from its dataset's defaults: ?dataset=shapes alone opens the
    # shapes recipe, and a link written for shapes stays short.
    for_dataset: Callable[[str], S] | None = None

    def base(self, settings: S) -> S:
        """The defaults `settings` are compared with: those of its dataset."""
        if self.for_dataset is None:
            return self.default
        return self.for_dataset(settings.dataset)

    def _base_from(self, query: Mapping[str, str | Sequence[str]]) -> S:
        """The defaults a link starts from: its dataset's, when it names a valid one."""
        key = next((k for k, f in self.keys.items() if f == "dataset"), None)
        if self.for_dataset is None or key is None or key not in query:
            return self.default
        raw = query[key]
        text = raw if isinstance(raw, str) else (list(raw) or [""])[-1]
        try:
            name = self._value("dataset", str(text))
            dataclasses.replace(self.default, dataset=name).validate()
        except (ConfigError, TypeError):
            return self.default  # read() reports the value itself
        return self.for_dataset(name)

    def _kind(self, field: str) -> tuple[type, bool]:
        """(type of one value, whether the field is a list of them)."""
        value = getattr(self.default, field)
        if isinstance(value, tuple):
            return type(value[0]) if value else str, True
        return type(value), False

    def _value(self, field: str, text: str) -> Any:
        kind, _is_list = self._kind(field)
        value = _parse(field, kind, text)
        if field == "dataset":
            # Links written before this parser carry the label ("Shapes (generated, with masks)"):
            # Streamlit's own URL binding wrote what the selectbox showed. Read them as the key.
            from ..engine.data import DATASETS

            value = next((k for k, info in DATASETS.items() if info.title == value), value)
        return value

    def read(self, query: Mapping[str, str | Sequence[str]]) -> Link[S]:
        """Settings from URL query parameters. Unknown keys are ignored; each invalid value is
        dropped (its field keeps the default) with one sentence. A list field keeps its valid
        items and reports the others, as its multiselect would show them."""
        base = self._base_from(query)
        values: dict[str, Any] = {}
        problems: list[str] = []
        accepted: set[str] = set()
        for key, field in self.keys.items():
            if key not in query:
                continue
            raw = query[key]
            texts = [raw] if isinstance(raw, str) else list(raw)
            _kind_of, is_list = self._kind(field)
            if not is_list:
                texts = texts[-1:]  # a repeated single-valued key: the last one wins, as in Streamlit
            parsed = []
            for text in texts:
                try:
                    value = self._value(field, str(text))
                    if is_list:  # each item on its own: 57 among 20,57 is reported, 20 kept
                        dataclasses.replace(base, **values, **{field: (value,)}).validate()
                    parsed.append(value)
                except (ConfigError, TypeError) as exc:
                    problems.append(
                        _("Ignored {setting} from the link: {problem}.").format(setting=f"{key}={text}", problem=exc)
                    )
            if not parsed:
                continue
            candidate_value = tuple(parsed) if is_list else parsed[0]
            try:
                candidate = dataclasses.replace(base, **values, **{field: candidate_value})
                candidate.validate()
            except (ConfigError, TypeError) as exc:
                shown = "&".join(f"{key}={t}" for t in texts)
                problems.append(_("Ignored {setting} from the link: {problem}.").format(setting=shown, problem=exc))
                continue
            values[field] = candidate_value
            accepted.add(key)
        return Link(dataclasses.replace(base, **values), tuple(problems), frozenset(accepted))

    def write(self, settings: S) -> dict[str, str | list[str]]:
        """The URL query for `settings`: only what differs from the defaults, so links stay short."""
        out: dict[str, str | list[str]] = {}
        base = self.base(settings)
        for key, field in self.keys.items():
            value = getattr(settings, field)
            if value == getattr(self.default if field == "dataset" else base, field):
                continue
            out[key] = [_text(v) for v in value] if isinstance(value, tuple) else _text(value)
        return out

    def widget_values(self, settings: S) -> dict[str, Any]:
        """The value each widget holds for `settings`, by widget key (a multiselect holds a list)."""
        return {
            key: list(getattr(settings, field))
            if isinstance(getattr(settings, field), tuple)
            else getattr(settings, field)
            for key, field in self.keys.items()
        }

    def from_widgets(self, values: Mapping[str, Any]) -> S:
        """Settings from the widgets' values, by widget key (a cleared widget, None, keeps the default)."""
        fields = {}
        for key, field in self.keys.items():
            value = values.get(key)
            if value is None:
                continue
            fields[field] = tuple(value) if isinstance(getattr(self.default, field), tuple) else value
        return dataclasses.replace(self.default, **fields)


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


__all__ = ["Link", "LinkSpec", "PageSettings"]
