"""report.json's fast text is the standard library's ``indent=2, sort_keys=True`` text."""

from __future__ import annotations

import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender.json_text import dumps_sorted


def reference(obj) -> str:
    return json.dumps(obj, indent=2, sort_keys=True)


def test_plain_report_shapes_take_the_fast_path_and_match():
    import msgspec

    obj = {
        "b": [1, 2.5, 0.1, -3, True, None, [], {}],
        "a": {"z": 'text with "quotes" \\ and / <>&', "y": [{"x": 1}], "e": {}},
        "coverage": 0.987654321,
    }
    fast = msgspec.json.encode(obj, order="sorted")
    assert fast == json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    assert dumps_sorted(obj) == reference(obj)


def test_values_written_apart_fall_back_to_the_standard_library():
    for value in ("é", "\u2028", "\x01", "\x7f", "a — b", "\U0001d11e", math.nan, 1e-05, 1e16):
        obj = {"k": [value], "n": 1}
        assert dumps_sorted(obj) == reference(obj)
    assert dumps_sorted({1: "a", 2: "b"}) == reference({1: "a", 2: "b"})
    assert dumps_sorted((1, [2, (3,)])) == reference((1, [2, (3,)]))


_keys = st.one_of(st.text(max_size=8), st.sampled_from(["a", "B", "_", "a1", "é", "", " "]))
_leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12))
_docs = st.recursive(
    _leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=4)),
    max_leaves=30,
)


@settings(max_examples=800, deadline=None, suppress_health_check=list(HealthCheck))
@given(_docs)
def test_random_documents_match_the_standard_library(obj):
    assert dumps_sorted(obj) == reference(obj)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.recursive(
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
        ),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.text(max_size=6).filter(str.isascii), inner, max_size=4),
        ),
        max_leaves=30,
    )
)
def test_ascii_documents_match_the_standard_library(obj):
    assert dumps_sorted(obj) == reference(obj)
