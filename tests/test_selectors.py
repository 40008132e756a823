from itertools import combinations

import pandas as pd
from hypothesis import example, given, settings
from hypothesis import strategies as st

from recommender.netpol.networkpolicy import selector_matches
from recommender.selectors import (
    MAX_SELECTOR_LABELS,
    is_churn_key,
    minimal_selector,
    workload_selectors,
)


def test_single_stable_key_is_preferred_over_others():
    target = [{"app": "cart", "tier": "backend", "version": "v1"}] * 2
    others = [("redis-0", {"app": "redis", "tier": "backend"})]
    sel = minimal_selector(target, others)
    assert sel.match_labels == {"app": "cart"} and sel.exact


def test_canary_sharing_app_label_is_not_swept_in():
    stable = [{"app": "catalog", "track": "stable"}, {"app": "catalog", "track": "stable"}]
    canary = [("catalog-canary-x", {"app": "catalog", "track": "canary"})]
    sel = minimal_selector(stable, canary)
    assert sel.match_labels == {"app": "catalog", "track": "stable"}
    assert sel.exact and sel.swept_in == ()
    assert "together" in sel.why


def test_churn_labels_are_never_used_even_when_they_would_separate():
    target = [{"app": "web", "pod-template-hash": "7d4b9c8f6"}]
    others = [("web-old", {"app": "web", "pod-template-hash": "5f6c7d8b9"})]
    sel = minimal_selector(target, others)
    assert "pod-template-hash" not in sel.match_labels
    assert not sel.exact and sel.swept_in == ("web-old",)


def test_labels_that_differ_across_a_rollout_are_dropped():
    target = [{"app": "cart", "version": "v1"}, {"app": "cart", "version": "v2"}]
    sel = minimal_selector(target, [("x", {"app": "other"})])
    assert sel.match_labels == {"app": "cart"}


def test_unstable_key_used_only_as_last_resort():
    target = [{"version": "v1", "team": "a"}]
    others = [("b", {"version": "v2", "team": "a"}), ("c", {"version": "v1", "team": "b"})]
    sel = minimal_selector(target, others)
    assert sel.match_labels == {"team": "a", "version": "v1"}


def test_workload_selectors_are_computed_per_namespace():
    pods = pd.DataFrame(
        {
            "namespace": ["a", "a", "b"],
            "pod": ["web-1", "db-0", "web-1"],
            "workload": ["a/web", "a/db", "b/web"],
            "labels": [{"app": "web"}, {"app": "db"}, {"app": "web"}],
        }
    )
    sels = workload_selectors(pods)
    assert sels["a/web"].match_labels == {"app": "web"}
    assert sels["b/web"].match_labels == {"app": "web"} and sels["b/web"].exact


def test_identity_key_anchors_the_selector_even_when_another_label_alone_separates():
    target = [{"app": "catalog", "track": "stable"}]
    others = [
        ("catalog-canary-x", {"app": "catalog", "track": "canary"}),
        ("cart-x", {"app": "cart"}),
    ]
    assert minimal_selector(target, others).match_labels == {"app": "catalog", "track": "stable"}


# --------------------------------------------------------------------------------------------
# matchExpressions when no label set is exact (issue 9, point 6). Every chosen selector is
# checked with the independent evaluator (recommender.netpol.evaluator), never with selectors.py.
# --------------------------------------------------------------------------------------------

CATALOG = {"app.kubernetes.io/name": "catalog", "tier": "backend"}


def _picked(sel, target, others):
    """(every target picked, names of the other pods picked), by the evaluator."""
    selector = sel.label_selector()
    hits = all(selector_matches(selector, labels) for labels in target)
    return hits, {name for name, labels in others if selector_matches(selector, labels)}


def test_canary_carrying_every_label_plus_one_is_left_out_by_does_not_exist():
    target = [{**CATALOG, "pod-template-hash": "7d4b9c8f6"}] * 2
    others = [
        ("catalog-canary-x", {**CATALOG, "track": "canary", "pod-template-hash": "5f6c7d8b9"}),
        ("cart-x", {"app.kubernetes.io/name": "cart", "tier": "backend"}),
    ]
    sel = minimal_selector(target, others)
    assert sel.exact and sel.swept_in == ()
    assert sel.match_labels == {"app.kubernetes.io/name": "catalog"}
    assert sel.match_expressions == (("track", "DoesNotExist", ()),)
    assert sel.label_selector() == {
        "matchLabels": {"app.kubernetes.io/name": "catalog"},
        "matchExpressions": [{"key": "track", "operator": "DoesNotExist"}],
    }
    assert sel.text == "app.kubernetes.io/name=catalog, !track"
    assert "catalog-canary-x" in sel.why
    assert _picked(sel, target, others) == (True, set())


def test_not_in_when_some_target_pods_carry_the_key():
    target = [{"app": "web", "track": "stable"}, {"app": "web"}]
    others = [("canary", {"app": "web", "track": "canary"}), ("blue", {"app": "web", "track": "b"})]
    sel = minimal_selector(target, others)
    assert sel.exact
    assert sel.match_expressions == (("track", "NotIn", ("b", "canary")),)
    assert sel.text == "app=web, track notin (b,canary)"
    assert _picked(sel, target, others) == (True, set())


def test_not_in_keeps_only_the_values_no_other_term_leaves_out():
    target = [{"app": "web", "track": "stable", "ring": "1"}, {"app": "web", "ring": "1"}]
    others = [
        ("canary", {"app": "web", "track": "canary", "ring": "1"}),
        ("blue", {"app": "web", "track": "blue", "ring": "2"}),
        ("plain", {"app": "web", "ring": "2"}),
    ]
    sel = minimal_selector(target, others)
    assert sel.exact and _picked(sel, target, others) == (True, set())
    assert sel.match_labels == {"app": "web", "ring": "1"}
    # ring=1 leaves blue out already: only canary needs the NotIn
    assert sel.match_expressions == (("track", "NotIn", ("canary",)),)


def test_in_when_the_pods_share_no_label_value():
    target = [{"app": "a", "tier": "x"}, {"app": "b", "tier": "y"}]
    others = [("c", {"app": "c", "tier": "x"})]
    sel = minimal_selector(target, others)
    assert sel.exact and sel.match_labels == {}
    assert sel.match_expressions == (("app", "In", ("a", "b")),)
    assert _picked(sel, target, others) == (True, set())


def test_among_equally_short_selectors_the_one_with_only_stable_keys_wins():
    # {!component, !team} and {!role, !tier} both work; `team` is not a known stable key
    target = [{"app": "web"}]
    others = [
        ("o1", {"app": "web", "component": "x", "role": "x"}),
        ("o2", {"app": "web", "role": "x", "team": "x"}),
        ("o3", {"app": "web", "component": "x", "tier": "x"}),
        ("o4", {"app": "web", "tier": "x", "team": "x"}),
    ]
    sel = minimal_selector(target, others)
    assert sel.text == "app=web, !role, !tier"
    assert _picked(sel, target, others) == (True, set())


def test_churn_keys_are_never_used_in_expressions():
    target = [{"app": "web", "pod-template-hash": "a"}]
    others = [("web-old", {"app": "web", "pod-template-hash": "b", "job-name": "x"})]
    sel = minimal_selector(target, others)
    assert not sel.exact and sel.swept_in == ("web-old",)
    assert sel.match_labels == {"app": "web"} and sel.match_expressions == ()


def test_a_selector_keeps_a_positive_term_when_the_pods_share_a_label():
    # `!extra` alone would be exact among these pods, but would also pick any future pod
    # without an `extra` label, whatever it is.
    target = [{"tier": "web", "role": "x"}]
    others = [("other", {"tier": "web", "role": "x", "extra": "y"})]
    sel = minimal_selector(target, others)
    assert sel.exact and _picked(sel, target, others) == (True, set())
    assert sel.match_labels and sel.match_expressions == (("extra", "DoesNotExist", ()),)


def test_without_expressions_the_label_search_is_unchanged():
    target = [CATALOG]
    others = [("canary", {**CATALOG, "track": "canary"})]
    sel = minimal_selector(target, others, expressions=False)
    assert not sel.exact and sel.match_expressions == () and sel.swept_in == ("canary",)


def test_past_the_term_cap_the_greedy_search_still_finds_an_exact_selector():
    # Each other pod carries one extra key: five DoesNotExist terms plus the anchor.
    target = [{"app": "web"}]
    others = [(f"p{i}", {"app": "web", f"k{i}": "v"}) for i in range(6)]
    sel = minimal_selector(target, others)
    assert sel.exact and len(sel.match_expressions) == 6
    assert _picked(sel, target, others) == (True, set())


def test_inseparable_pods_narrow_the_sweep_but_stay_flagged():
    target = [{"app": "web", "pod-template-hash": "1"}]
    others = [
        ("web-old", {"app": "web", "pod-template-hash": "2"}),
        ("web-canary", {"app": "web", "track": "canary"}),
    ]
    sel = minimal_selector(target, others)
    assert not sel.exact and sel.swept_in == ("web-old",)
    assert sel.match_expressions == (("track", "DoesNotExist", ()),)
    assert _picked(sel, target, others) == (True, {"web-old"})


def test_pods_sharing_nothing_and_inseparable_never_get_an_empty_selector():
    target = [{"app": "a"}, {"app": "b"}]
    others = [("twin", {"app": "a"})]
    sel = minimal_selector(target, others)
    assert not sel.exact and sel.swept_in == ("twin",)
    assert sel.label_selector() != {}


def test_workload_selectors_use_expressions_only_where_labels_fail():
    pods = pd.DataFrame(
        {
            "namespace": ["shop"] * 3,
            "pod": ["catalog-1", "catalog-canary-1", "cart-1"],
            "workload": ["shop/catalog", "shop/catalog-canary", "shop/cart"],
            "labels": [CATALOG, {**CATALOG, "track": "canary"}, {"app": "cart"}],
        }
    )
    sels = workload_selectors(pods)
    assert sels["shop/catalog"].match_expressions == (("track", "DoesNotExist", ()),)
    assert sels["shop/catalog-canary"].match_expressions == ()
    assert sels["shop/catalog-canary"].match_labels == {
        "app.kubernetes.io/name": "catalog",
        "track": "canary",
    }
    assert sels["shop/cart"].match_expressions == ()


# Randomized: small alphabets so that collisions (canaries, twins) are frequent.
_KEYS = ["app", "tier", "track", "version", "team", "pod-template-hash"]
_labels = st.dictionaries(st.sampled_from(_KEYS), st.sampled_from(["a", "b", "c"]), max_size=5)


def _boxed(target, others):
    """Independent oracle: some selector picks exactly the targets iff no other pod has, on
    every usable key, a value (or the absence) some target pod has."""
    keys = {k for _, labels in others for k in labels} | {k for t in target for k in t}
    keys = [k for k in keys if not is_churn_key(k)]
    allowed = {k: {t.get(k) for t in target} for k in keys}
    return [name for name, labels in others if all(labels.get(k) in allowed[k] for k in keys)]


def _fewest_terms(target, others):
    """Brute force over every key's strongest term (one that admits exactly the targets'
    values): the fewest terms any exact selector needs, ignoring the anchor rules."""
    keys = sorted({k for _, labels in others for k in labels} | {k for t in target for k in t})
    keys = [k for k in keys if not is_churn_key(k)]
    allowed = {k: {t.get(k) for t in target} for k in keys}
    for size in range(len(keys) + 1):
        for combo in combinations(keys, size):
            if all(any(labels.get(k) not in allowed[k] for k in combo) for _, labels in others):
                return size
    return None


@settings(max_examples=300, deadline=None)
@given(st.lists(_labels, min_size=1, max_size=4), st.lists(_labels, max_size=8))
@example(  # two NotIn terms that each keep p2 out: trimming one must not free it
    [{"app": "a", "tier": "a"}, {"version": "b"}],
    [{"app": "a", "tier": "c"}, {"app": "a", "version": "c"}, {"tier": "b", "version": "a"}],
)
def test_random_selectors_pick_exactly_the_target_pods_when_any_selector_can(target, rest):
    others = [(f"p{i}", labels) for i, labels in enumerate(rest)]
    sel = minimal_selector(target, others)
    hits, swept = _picked(sel, target, others)
    assert hits, "every target pod is picked"
    assert swept == set(sel.swept_in)
    inseparable = _boxed(target, others)
    assert sel.exact == (not swept) == (not inseparable)
    terms = {k for k in sel.match_labels} | {k for k, _, _ in sel.match_expressions}
    assert not any(is_churn_key(k) for k in terms)
    labels_only = minimal_selector(target, others, expressions=False)
    if labels_only.exact:
        assert sel == labels_only and sel.match_expressions == ()
    size = len(sel.match_labels) + len(sel.match_expressions)
    if sel.exact and sel.match_expressions and size <= MAX_SELECTOR_LABELS:
        # the fewest terms, give or take the one the anchor or positive rule requires (past
        # the cap, the greedy search promises exactness, not the fewest terms)
        assert size <= _fewest_terms(target, others) + 1
    if not sel.exact and not inseparable:
        raise AssertionError("an exact selector exists but was not found")
    if sel.label_selector() == {}:
        shared = set.intersection(*({k for k in t if not is_churn_key(k)} for t in target))
        assert sel.exact or not shared, "empty only when exact or no key is on every pod"
