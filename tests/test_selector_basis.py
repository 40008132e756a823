"""Which selectors of a proposal are exact only among the pods the logs showed."""

import pandas as pd

from recommender.generate.ir import Peer, PolicyIR, PortSpec, Rule
from recommender.selector_basis import ALL_PODS, selector_basis
from recommender.selectors import Selection

PODS = pd.DataFrame(
    [
        {"namespace": "a", "pod": "web-1", "workload": "a/web", "labels": {"app": "web"}},
        {"namespace": "a", "pod": "web-2", "workload": "a/web", "labels": {"app": "web"}},
        {"namespace": "a", "pod": "db-0", "workload": "a/db", "labels": {"app": "db"}},
        {"namespace": "a", "pod": "ghost", "workload": "a/ghost", "labels": None},
        {"namespace": "b", "pod": "db-0", "workload": "b/db", "labels": {"app": "db"}},
        {"namespace": "b", "pod": "twin-0", "workload": "b/twin", "labels": {"app": "db"}},
    ]
)
SELECTIONS = {
    "a/web": Selection({"app": "web"}, True),
    "a/db": Selection({"app": "db"}, True),
    "b/db": Selection({"app": "db"}, False, ("twin-0",)),
    "b/twin": Selection({"app": "db"}, False, ("db-0",)),
}


def _policy(namespace, name, workload, labels, peers, exact=True, exprs=()):
    rule = Rule(peers, [PortSpec("TCP", 80)])
    return PolicyIR(
        namespace,
        name,
        "workload",
        workload,
        "Deployment",
        labels,
        match_expressions=exprs,
        selector_exact=exact,
        ingress=[rule],
        members=(workload,),
    )


def test_each_namespace_lists_its_selectors_with_the_pods_they_were_proven_among():
    everyone = Peer("selector", "a/*", "a", members=("a/db", "a/web"))
    both = Peer(
        "selector",
        "{a,b}/{app=db}",
        "a",
        (("app", "db"),),
        namespaces=("a", "b"),
        members=("a/db", "b/db"),
    )
    policies = [
        PolicyIR("a", "default-deny", "default-deny"),
        _policy("a", "allow-web", "a/web", {"app": "web"}, [everyone, both]),
        _policy(
            "a",
            "allow-db",
            "a/db",
            {"app": "db"},
            [Peer("workload", "b/twin", "b", (("app", "db"),))],  # not exact: left out
            exprs=(("track", "DoesNotExist", ()),),
        ),
        _policy("b", "allow-db", "b/db", {"app": "db"}, [], exact=False),
    ]
    basis = selector_basis(policies, PODS, SELECTIONS)
    assert [(n["namespace"], n["observed_pods"], n["observed_workloads"]) for n in basis] == [
        ("a", 3, 2),  # the pod with unknown labels proves nothing
        ("b", 2, 2),
    ]
    a = {s["selector"]: s for s in basis[0]["selectors"]}
    assert list(a) == [ALL_PODS, "app=db", "app=db, !track", "app=web"]  # all pods first
    assert a[ALL_PODS]["label_selector"] == {} and a[ALL_PODS]["picks"] == ["a/db", "a/web"]
    assert a["app=db"]["picks"] == ["a/db"] and a["app=db"]["used_in"] == ["a/allow-web (peer)"]
    assert a["app=db, !track"]["label_selector"] == {
        "matchLabels": {"app": "db"},
        "matchExpressions": [{"key": "track", "operator": "DoesNotExist"}],
    }
    b = basis[1]["selectors"]
    assert [(s["selector"], s["picks"], s["used_in"]) for s in b] == [
        ("app=db", ["b/db"], ["a/allow-web (peer)"])
    ]


def test_a_peer_over_many_namespaces_picks_each_namespace_its_own_members():
    """A namespace that prefixes another (``a``, ``ab``) gets only its own members, and a
    namespace the peer names without members gets an empty list."""
    pods = pd.DataFrame(
        [
            {"namespace": ns, "pod": "db-0", "workload": f"{ns}/db", "labels": {"app": "db"}}
            for ns in ("a", "ab", "c")
        ]
    )
    selections = {f"{ns}/db": Selection({"app": "db"}, True) for ns in ("a", "ab", "c")}
    dbs = Peer(
        "selector",
        "{a,ab,c}/{app=db}",
        "a",
        (("app", "db"),),
        namespaces=("a", "ab", "c"),
        members=("ab/db", "a/db"),
    )
    basis = selector_basis([_policy("a", "allow-db", "a/db", {}, [dbs])], pods, selections)
    picks = {n["namespace"]: [s["picks"] for s in n["selectors"]] for n in basis}
    assert picks == {"a": [["a/db"], ["a/db"]], "ab": [["ab/db"]], "c": [[]]}
