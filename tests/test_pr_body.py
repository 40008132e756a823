"""The PR-body helpers: nothing from a log closes a fence or escapes a Mermaid label."""

from __future__ import annotations

import re

from recommender.pr_body import details, fenced, mermaid_label


def test_a_fence_is_longer_than_any_backtick_run_in_its_text():
    block = fenced("yaml", "a: ```\nb: ````x")
    assert block[0] == "`````yaml" and block[-1] == "`````"
    assert fenced("diff", "plain")[0] == "```diff"


def test_mermaid_labels_carry_no_markup():
    label = mermaid_label('shop/"x"]-->|evil|```<b>#')
    assert re.fullmatch(r"[A-Za-z0-9 ./:_=#;-]*", label)
    assert "#34;" in label and "#96;" in label and "shop/" in label


def test_details_collapse_and_vanish_when_empty():
    assert details("x", []) == []
    assert details("x", ["a"]) == ["<details><summary>x</summary>", "", "a", "", "</details>", ""]
