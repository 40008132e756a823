import pandas as pd

from recommender.selectors import minimal_selector, workload_selectors


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
