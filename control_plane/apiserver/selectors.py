"""Label and field selectors as the API server takes them: the grammar is
`control_plane.api.selectors` (linear, length-capped); a selector that does not parse is
400 BadRequest naming the problem."""

from __future__ import annotations

from control_plane.api import selectors
from control_plane.api.selectors import MAX_SELECTOR, Matcher, SelectorError, field_value
from control_plane.apiserver.errors import bad_request

__all__ = ["MAX_SELECTOR", "Matcher", "field_selector", "field_value", "label_selector"]


def label_selector(text: str | None) -> Matcher:
    try:
        return selectors.label_selector(text)
    except SelectorError as err:
        raise bad_request(str(err)) from None


def field_selector(text: str | None) -> Matcher:
    try:
        return selectors.field_selector(text)
    except SelectorError as err:
        raise bad_request(str(err)) from None
