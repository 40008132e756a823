"""Truth tables of network-policy-api precedence: admin tier -> NetworkPolicy -> baseline.

The model is network-policy-api's conformance model (``conformance/base/``): namespaces
``network-policy-conformance-<house>`` labelled ``conformance-house: <house>``, one pod per
house labelled likewise (harry in gryffindor, draco in slytherin, cedric in hufflepuff, luna
in ravenclaw), each serving every port. The policies are the project's own conformance
manifests from ``../shared/real-policies/network-policy-api/`` (read as files, and changed
the way the conformance tests patch them), compiled by the reader and judged by the
evaluator.

Semantics, from the project's documentation (``site-src/api-overview.md``, "Tiers",
"Actions", "Priorities"; the v0.2.0 CRD's field descriptions) and its conformance tests
(``conformance/tests/admin-network-policy-standard-integration.go``, ``...-priority.go``,
``...-gress-rules.go``, ``...-egress-inline-cidr-rules.go``), which the tables follow:

* Tiers in order: Admin, NetworkPolicy, Baseline; no decision after the last: allowed.
* In a tier, lower priority first, then rules in the order written; the first matching rule
  decides: Allow/Accept and Deny end the evaluation, Pass skips the rest of the tier.
* A NetworkPolicy that selects a pod for a direction always decides that direction (its
  isolation denies what it does not allow); the baseline is consulted only otherwise.
* ``networks`` peers match pod IPs too ("if you Accept or Deny traffic to 0.0.0.0/0, that
  will allow or deny all IPv4 pod-to-pod traffic as well").

A table: the header names the destinations, each row a source; ``.`` allowed, ``X`` denied,
``-`` a pod to itself, not compared ("a Pod connecting to its own Pod IP is not subject to
CNP").
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from conftest import SHARED

from recommender.netpol.evaluator import Evaluator
from recommender.netpol.model import Endpoint
from recommender.netpol.read import compile_objects

REAL = SHARED / "real-policies/network-policy-api/v0.1.8/conformance/base"
HOUSES = {"G": "gryffindor", "S": "slytherin", "H": "hufflepuff", "R": "ravenclaw"}
PODS = {
    "G": "harry-potter-0",
    "S": "draco-malfoy-0",
    "H": "cedric-diggory-0",
    "R": "luna-lovegood-0",
}
IPS = {"G": "10.1.1.1", "S": "10.1.2.1", "H": "10.1.3.1", "R": "10.1.4.1"}


def namespace(house: str) -> str:
    return f"network-policy-conformance-{HOUSES[house]}"


def endpoints() -> dict[str, Endpoint]:
    return {
        h: Endpoint(
            kind="pod",
            ip=IPS[h],
            namespace=namespace(h),
            labels={"conformance-house": HOUSES[h]},
            namespace_labels={
                "conformance-house": HOUSES[h],
                "kubernetes.io/metadata.name": namespace(h),
            },
            name=PODS[h],
        )
        for h in HOUSES
    }


def compile_all(objects: list[Mapping[str, Any]]) -> list:
    """Every object by its kind's reader, through the product's one entry point."""
    return compile_objects(objects)[0]


def parse(table: str) -> dict[tuple[str, str], bool | None]:
    rows = [line.split() for line in table.strip().splitlines()]
    assert rows[0] == ["-", *HOUSES], rows[0]
    cells = {}
    for row in rows[1:]:
        for dst, mark in zip(HOUSES, row[1:], strict=True):
            cells[(row[0], dst)] = {".": True, "X": False, "-": None}[mark]
    assert [r[0] for r in rows[1:]] == list(HOUSES)
    return cells


def real(rel: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all((REAL / rel).read_text(encoding="utf-8")))


def patched(docs: list[dict[str, Any]], index: int, path: tuple, value: Any) -> list[dict]:
    docs = copy.deepcopy(docs)
    node = docs[index]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return docs


@dataclass(frozen=True)
class Scenario:
    name: str
    source: str  # the conformance test or document the table follows
    policies: list[dict[str, Any]]
    protocol: str
    port: int
    expected: str


INTEGRATION = real("api_integration/standard-anp-np-banp.yaml")  # ANP, NP, BANP
GRESS = real("admin_network_policy/standard-gress-rules-combined.yaml")
INLINE_CIDR = real("admin_network_policy/standard-egress-inline-cidr-rules.yaml")
PASS_BOTH = patched(
    patched(INTEGRATION, 0, ("spec", "ingress", 0, "action"), "Pass"),
    0,
    ("spec", "egress", 0, "action"),
    "Pass",
)


def _anp(name: str, priority: int, action: str) -> dict[str, Any]:
    """An ANP on gryffindor with one rule each way to/from slytherin (the shape of
    ``base/admin_network_policy/standard-priority-field.yaml``)."""
    slytherin = [{"namespaces": {"matchLabels": {"conformance-house": "slytherin"}}}]
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "AdminNetworkPolicy",
        "metadata": {"name": name},
        "spec": {
            "priority": priority,
            "subject": {"namespaces": {"matchLabels": {"conformance-house": "gryffindor"}}},
            "ingress": [{"name": "in", "action": action, "from": slytherin}],
            "egress": [{"name": "out", "action": action, "to": slytherin}],
        },
    }


_BANP_ALLOW = patched(
    patched(INTEGRATION, 2, ("spec", "ingress", 0, "action"), "Allow"),
    2,
    ("spec", "egress", 0, "action"),
    "Allow",
)[2]

_NP_INGRESS_FROM_SLYTHERIN = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "allow-from-slytherin", "namespace": namespace("G")},
    "spec": {
        "podSelector": {},
        "policyTypes": ["Ingress"],
        "ingress": [
            {"from": [{"namespaceSelector": {"matchLabels": {"conformance-house": "slytherin"}}}]}
        ],
    },
}
_CNP_BASELINE_DENY_ALL_INGRESS = yaml.safe_load(
    (
        SHARED
        / "real-policies/network-policy-api/v0.2.0/site-src/user-story-examples/user-story-5.yaml"
    ).read_text(encoding="utf-8")
)
_CNP_ACCEPT_FROM_HUFFLEPUFF = {
    "apiVersion": "policy.networking.k8s.io/v1alpha2",
    "kind": "ClusterNetworkPolicy",
    "metadata": {"name": "accept-hufflepuff"},
    "spec": {
        "tier": "Admin",
        "priority": 3,
        "subject": {"namespaces": {"matchLabels": {"conformance-house": "gryffindor"}}},
        "ingress": [
            {
                "action": "Accept",
                "from": [{"namespaces": {"matchLabels": {"conformance-house": "hufflepuff"}}}],
            }
        ],
    },
}

SCENARIOS = [
    Scenario(
        "admin deny wins over the NetworkPolicy allow",
        "standard-integration.go: Should Deny traffic from/to slytherin respecting admin policy",
        INTEGRATION,
        "TCP",
        80,
        """
        - G S H R
        G - X X X
        S X - . .
        H X . - .
        R X . . -
        """,
    ),
    Scenario(
        "admin pass hands the connection to the NetworkPolicy",
        "standard-integration.go: Should support a 'pass-ingress'/'pass-egress' policy ... "
        "respect the match for network policy",
        PASS_BOTH,
        "TCP",
        80,
        """
        - G S H R
        G - . X X
        S . - . .
        H X . - .
        R X . . -
        """,
    ),
    Scenario(
        "admin pass and no NetworkPolicy: the baseline decides",
        "standard-integration.go: Should support a 'pass-ingress'/'pass-egress' policy ... "
        "respect the match for baseline",
        [PASS_BOTH[0], PASS_BOTH[2]],
        "TCP",
        80,
        """
        - G S H R
        G - X . .
        S X - . .
        H . . - .
        R . . . -
        """,
    ),
    Scenario(
        "lower priority first: deny at 50 beats pass at 60",
        "standard-priority.go: Should Deny traffic from/to slytherin respecting admin policy",
        [_anp("priority-50-example", 50, "Deny"), _anp("priority-60", 60, "Pass"), _BANP_ALLOW],
        "TCP",
        80,
        """
        - G S H R
        G - X . .
        S X - . .
        H . . - .
        R . . . -
        """,
    ),
    Scenario(
        "lower priority first: pass at 40 beats deny at 50, the baseline allows",
        "standard-priority.go: Should respect admin policy priority field; thus passing both "
        "ingress and egress traffic over to baseline",
        [_anp("priority-50-example", 50, "Deny"), _anp("priority-40", 40, "Pass"), _BANP_ALLOW],
        "TCP",
        80,
        """
        - G S H R
        G - . . .
        S . - . .
        H . . - .
        R . . . -
        """,
    ),
    Scenario(
        "rule order: the first matching rule decides (TCP 80)",
        "standard-gress-rules.go over base/admin_network_policy/standard-gress-rules-combined.yaml",
        GRESS,
        "TCP",
        80,
        """
        - G S H R
        G - X X .
        S X - . .
        H . . - .
        R . . . -
        """,
    ),
    Scenario(
        "rule order: the first matching rule decides (TCP 8080)",
        "standard-gress-rules.go over base/admin_network_policy/standard-gress-rules-combined.yaml",
        GRESS,
        "TCP",
        8080,
        """
        - G S H R
        G - . . .
        S . - . .
        H X . - .
        R . . . -
        """,
    ),
    Scenario(
        "rule order: the first matching rule decides (UDP 53)",
        "standard-gress-rules.go over base/admin_network_policy/standard-gress-rules-combined.yaml",
        GRESS,
        "UDP",
        53,
        """
        - G S H R
        G - X X .
        S X - . .
        H X . - .
        R . . . -
        """,
    ),
    Scenario(
        "networks match pod IPs: deny 0.0.0.0/0 after allowing slytherin",
        "standard-egress-inline-cidr-rules.go; the CRD's networks description",
        INLINE_CIDR,
        "TCP",
        80,
        """
        - G S H R
        G - . X X
        S . - . .
        H . . - .
        R . . . -
        """,
    ),
    Scenario(
        "the baseline applies only where no NetworkPolicy isolates the direction",
        "api-overview.md Tiers: Baseline 'can be overridden by the v1.NetworkPolicy'; "
        "v0.2.0 user-story-5 (Baseline deny all ingress) with an ingress NetworkPolicy",
        [_CNP_BASELINE_DENY_ALL_INGRESS, _NP_INGRESS_FROM_SLYTHERIN],
        "TCP",
        80,
        """
        - G S H R
        G - X X X
        S . - X X
        H X X - X
        R X X X -
        """,
    ),
    Scenario(
        "admin accept ends the evaluation before the NetworkPolicy",
        "api-overview.md Actions: Accept 'No further ClusterNetworkPolicy or NetworkPolicy "
        "rules will be processed'",
        [_CNP_ACCEPT_FROM_HUFFLEPUFF, _NP_INGRESS_FROM_SLYTHERIN],
        "TCP",
        80,
        """
        - G S H R
        G - . . .
        S . - . .
        H . . - .
        R X . . -
        """,
    ),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_precedence_truth_table(scenario: Scenario):
    evaluator = Evaluator(compile_all(scenario.policies))
    pods = endpoints()
    expected = parse(scenario.expected)
    got = {
        (src, dst): evaluator.evaluate(
            pods[src], pods[dst], scenario.protocol, scenario.port
        ).allowed
        for (src, dst), want in expected.items()
        if want is not None
    }
    wrong = {k: v for k, v in got.items() if v != expected[k]}
    assert wrong == {}, scenario.source


def test_networks_deny_reaches_outside_the_cluster_too():
    evaluator = Evaluator(compile_all(INLINE_CIDR))
    outside = Endpoint(kind="external", ip="8.8.8.8", name="8.8.8.8")
    assert not evaluator.evaluate(endpoints()["G"], outside, "TCP", 443).allowed
    assert evaluator.evaluate(endpoints()["S"], outside, "TCP", 443).allowed


def test_the_scenarios_use_every_admin_kind():
    kinds = {p["kind"] for s in SCENARIOS for p in s.policies}
    assert kinds == {
        "AdminNetworkPolicy",
        "BaselineAdminNetworkPolicy",
        "ClusterNetworkPolicy",
        "NetworkPolicy",
    }


def test_domain_names_allowlist_before_a_deny_of_every_network():
    """The CRD's domainNames description: "DomainNames Allow rules should be used with a lower
    priority egress deny -- this allows the admin to maintain an explicit allowlist of
    reachable domains"; ``*.kubernetes.io`` matches one or more labels, not the apex."""
    allowlist = {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "AdminNetworkPolicy",
        "metadata": {"name": "allowlist"},
        "spec": {
            "priority": 1,
            "subject": {"namespaces": {"matchLabels": {"conformance-house": "gryffindor"}}},
            "egress": [
                {"action": "Allow", "to": [{"domainNames": ["*.kubernetes.io", "example.com"]}]}
            ],
        },
    }
    deny = copy.deepcopy(INLINE_CIDR[0])
    evaluator = Evaluator(compile_all([allowlist, deny]))
    harry = endpoints()["G"]
    for names, allowed in [
        (("blog.kubernetes.io",), True),
        (("latest.blog.kubernetes.io",), True),
        (("example.com",), True),
        (("kubernetes.io",), False),
        (("www.example.com",), False),
        ((), False),
    ]:
        outside = Endpoint(kind="external", ip="203.0.113.9", name="203.0.113.9", names=names)
        assert evaluator.evaluate(harry, outside, "TCP", 443).allowed is allowed, names
