"""Property tests (hypothesis): the parsers and patches of the API never fail with
anything but their own errors, whatever the input, and round-trip what they should."""

from __future__ import annotations

import contextlib
import copy
import json
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from control_plane.api.mergepatch import merge
from control_plane.api.quantity import MAX_QUANTITY, cpu_millis, parse_quantity
from control_plane.api.selectors import SelectorError, field_selector, label_selector
from control_plane.apiserver import patch
from control_plane.apiserver.errors import ApiError

SETTINGS = settings(max_examples=300, deadline=None)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=20)
objects = st.dictionaries(st.text(max_size=4), json_values, max_size=5)
selector_text = st.text(alphabet="ab!=,() inotx-./0123456789<>", max_size=40)


@SETTINGS
@given(selector_text)
def test_label_selectors_parse_or_fail_cleanly(text: str) -> None:
    try:
        matcher = label_selector(text)
    except SelectorError:
        return
    matcher({"metadata": {"labels": {"a": "b", "ab": "1"}}})  # and matching never fails either
    matcher({})


@SETTINGS
@given(st.text(max_size=40))
def test_field_selectors_parse_or_fail_cleanly(text: str) -> None:
    with contextlib.suppress(SelectorError):
        field_selector(text)({"metadata": {"name": "x"}, "spec": {"nodeName": "w1"}})


@SETTINGS
@given(st.dictionaries(st.sampled_from(["app", "tier", "x.io/role"]), st.sampled_from(["web", "db", "1"]),
                       max_size=3))
def test_equality_selectors_select_their_own_labels(labels: dict[str, str]) -> None:
    text = ",".join(f"{k}={v}" for k, v in labels.items())
    assert label_selector(text)({"metadata": {"labels": labels}})
    assert label_selector(text.replace("=", "!=", 1))({"metadata": {"labels": labels}}) is not bool(labels)


@SETTINGS
@given(st.one_of(st.text(max_size=20), st.integers(), st.floats(allow_nan=True), st.none(), st.booleans(),
                 st.lists(st.integers(), max_size=2)))
def test_quantities_parse_to_a_bounded_value_or_value_error(value: Any) -> None:
    try:
        amount = parse_quantity(value)
    except ValueError:
        return
    assert Decimal(0) <= amount <= MAX_QUANTITY
    assert cpu_millis(value) >= 0  # never an overflow


@SETTINGS
@given(st.decimals(min_value=0, max_value=10**9, places=3, allow_nan=False),
       st.sampled_from(["", "m", "k", "Ki", "Mi", "M"]))
def test_quantities_round_trip_their_text(number: Decimal, suffix: str) -> None:
    scale = {"": 1, "m": Decimal("0.001"), "k": 1000, "Ki": 1024, "Mi": 1024**2, "M": 10**6}[suffix]
    assert parse_quantity(f"{number}{suffix}") == number * scale


@SETTINGS
@given(objects, objects)
def test_merge_patch_laws(target: dict[str, Any], delta: dict[str, Any]) -> None:
    before = copy.deepcopy(target)
    merged = merge(target, delta)
    assert target == before  # inputs are never changed
    assert merge(merged, delta) == merged  # applying a merge patch twice changes nothing more
    for key, value in delta.items():
        if value is None:
            assert key not in merged
        elif not isinstance(value, dict):
            assert merged[key] == value


ops = st.fixed_dictionaries({
    "op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "bogus"]),
    "path": st.sampled_from(["", "/", "/a", "/a/0", "/a/-", "/b/c", "/b/~1x", "/a/²", "/a/01", "/z"]),
}, optional={"value": json_values, "from": st.sampled_from(["", "/a", "/b", "/a/0", "/nope"])})


@SETTINGS
@given(st.lists(ops, max_size=6))
def test_json_patches_apply_or_fail_with_an_api_error(body: list[Any]) -> None:
    current = {"a": [1, 2], "b": {"c": "x", "/x": 3}}
    before = copy.deepcopy(current)
    try:
        result = patch.apply(current, body, "application/json-patch+json")
    except ApiError as err:
        assert err.code in (400, 422)
        return
    finally:
        assert current == before  # the stored object is never changed in place
    assert isinstance(result, dict)
    json.dumps(result)  # still JSON
