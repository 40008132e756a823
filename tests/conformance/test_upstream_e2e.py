"""Upstream Kubernetes e2e NetworkPolicy tests, ported to truth tables for the evaluator.

Source: ``test/e2e/network/netpol/network_policy.go`` in kubernetes/kubernetes, with its helpers
``model.go``, ``reachability.go``, ``policies.go`` and ``truthtable.go`` (see ``truth.py`` for the
model). Each upstream ``ValidateOrFail`` call is one :class:`Scenario` here: the policies present at
that moment, the probe protocol and port upstream pins (``TestCase{ToPort, Protocol}``), and the
full 9x9 truth table. The tables were written out from upstream's ``reachability.Expect*``
calls (replayed on a default-allow 9x9 table, as ``NewReachability(pods, true)`` starts), extended
from upstream's per-test pod subsets to all nine pods by the API semantics
(for instance, when upstream only creates ``y/a`` to show that another namespace is refused, every
pod of y and z is refused here too). They were not produced by running the evaluator.

Interpretations, all following upstream:

* Self traffic (``from == to``): upstream's expected tables treat it like any other pair (every
  ``Expect*`` helper writes the diagonal too); only the pass/fail summary skips it, because CNIs
  disagree on loopback (``ignoreLoopback``, kubernetes#95879). The tables below keep upstream's
  expectation on the diagonal and it is compared like every other cell: the evaluator applies
  policy to a pod talking to its own IP. (The "Network Policies" concept page says "a pod cannot
  block access to itself"; neither DESIGN §4 nor upstream's tables model that exception.)
* SCTP and UDP: the evaluator has no plugin limits, so the SCTP/UDP suites are probed on their
  own protocol, and the "even if the plugin doesn't support SCTP" tests probe TCP exactly as
  upstream does.
* Upstream egress policies of older releases carried an extra "allow UDP 53" rule for DNS; it never
  changes a TCP/80-81 table and is left out, as the current upstream file does.
* ipBlock scenarios need ipBlocks to match pod IPs (upstream builds the CIDRs from pod IPs), which
  is the evaluator's default ``ipblock_matches_pods=True``.
* Scenarios whose ``upstream`` starts with "extra:" are not in upstream's file (it has no endPort
  connectivity test, only the API-validation one in ``network_policy_api.go``); they are written
  in the same style to cover endPort, named-port protocol and ipBlock host bits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from recommender.netpol.evaluator import Evaluator

from .truth import PODS, Comparison, cluster, match_labels, parse_matrix, policy, probe

NS_NAME = "kubernetes.io/metadata.name"  # upstream's namespaceLabelKey / v1.LabelMetadataName


def ns_is(name: str) -> dict[str, Any]:
    return {"matchLabels": {NS_NAME: name}}


def ns_not_in(*names: str) -> dict[str, Any]:
    return {"matchExpressions": [{"key": NS_NAME, "operator": "NotIn", "values": list(names)}]}


def pod_in(*names: str) -> dict[str, Any]:
    return {"matchExpressions": [{"key": "pod", "operator": "In", "values": list(names)}]}


POD_A = match_labels(pod="a")
POD_B = match_labels(pod="b")
ALL_PODS: dict[str, Any] = {}  # podSelector {} (upstream: LabelSelector{} or MatchLabels{})


@dataclass(frozen=True)
class Scenario:
    name: str
    upstream: str  # the upstream ginkgo It() text; "extra: ..." when not from upstream
    policies: tuple[dict[str, Any], ...]
    protocol: str
    port: int
    expected: str
    pod_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    namespace_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    ipblock_matches_pods: bool = True


# --------------------------------------------------------------------------------------------
# Policies shared by several scenarios
# --------------------------------------------------------------------------------------------

DENY_INGRESS_X = policy("deny-ingress", "x", ALL_PODS, ingress=[])
DENY_ALL_X = policy("deny-all", "x", ALL_PODS, ingress=[], egress=[])

X_A_FROM_NS_Y_81 = policy(
    "allow-client-a-via-ns-selector",
    "x",
    POD_A,
    ingress=[
        {"from": [{"namespaceSelector": ns_is("y")}], "ports": [{"port": 81, "protocol": "TCP"}]}
    ],
)
X_A_FROM_NS_Y_80 = policy(
    "allow-client-a-via-ns-selector-80",
    "x",
    POD_A,
    ingress=[
        {"from": [{"namespaceSelector": ns_is("y")}], "ports": [{"port": 80, "protocol": "TCP"}]}
    ],
)
ALLOW_INGRESS_NAMED_81 = policy(
    "allow-all", "x", ALL_PODS, ingress=[{"ports": [{"port": "serve-81-tcp"}]}]
)
X_A_FROM_NS_Y_NAMED_80 = policy(
    "allow-client-a-via-ns-selector-80",
    "x",
    POD_A,
    ingress=[
        {
            "from": [{"namespaceSelector": ns_is("y")}],
            "ports": [{"port": "serve-80-tcp", "protocol": "TCP"}],
        }
    ],
)
ALLOW_EGRESS_NAMED_80 = policy(
    "allow-egress", "x", ALL_PODS, egress=[{"ports": [{"port": "serve-80-tcp"}]}]
)
ALLOW_ALL_MUTATE = policy("allow-all-mutate-to-deny-all", "x", ALL_PODS, ingress=[{}])
ALLOW_ALL_MUTATED = policy("allow-all-mutate-to-deny-all", "x", ALL_PODS, ingress=[])
X_A_FROM_NS2_UPDATED = policy(
    "allow-client-a-via-ns-selector",
    "x",
    POD_A,
    ingress=[{"from": [{"namespaceSelector": match_labels(ns2="updated")}]}],
)
X_A_FROM_POD2_UPDATED = policy(
    "allow-client-a-via-pod-selector",
    "x",
    POD_A,
    ingress=[{"from": [{"podSelector": match_labels(pod="b", pod2="updated")}]}],
)
DENY_INGRESS_TARGET_ISOLATED = policy(
    "deny-ingress-via-label-selector", "x", match_labels(target="isolated"), ingress=[]
)
INGRESS_EGRESS_TOGETHER = policy(
    "allow-client-a-via-pod-selector",
    "x",
    POD_A,
    ingress=[{"from": [{"podSelector": POD_B}]}],
    egress=[{"ports": [{"port": 80}]}],
    policy_types=["Egress", "Ingress"],
)
Y_A_AND_Y_B_FROM_X_A = (
    policy(
        "allow-from-xa-on-ya-match-selector",
        "y",
        POD_A,
        ingress=[{"from": [{"namespaceSelector": ns_is("x"), "podSelector": POD_A}]}],
    ),
    policy(
        "allow-from-xa-on-yb-match-selector",
        "y",
        POD_B,
        ingress=[{"from": [{"namespaceSelector": ns_is("x"), "podSelector": POD_A}]}],
    ),
)
X_A_TO_Y_A = policy(
    "allow-to-ns-y-pod-a",
    "x",
    POD_A,
    egress=[{"to": [{"namespaceSelector": ns_is("y"), "podSelector": POD_A}]}],
)
ALLOW_INGRESS_TCP_ANY_PORT = policy(
    "allow-ingress-by-proto", "x", POD_A, ingress=[{"ports": [{"protocol": "TCP"}]}]
)
ALLOW_INGRESS_PORT_80 = policy(
    "allow-ingress-port-80", "x", ALL_PODS, ingress=[{"ports": [{"port": 80}]}]
)
ALLOW_INGRESS_ALL = policy("allow-ingress", "x", ALL_PODS, ingress=[{}])
ALLOW_EGRESS_PORT_80 = policy(
    "allow-egress-port-80", "x", ALL_PODS, egress=[{"ports": [{"port": 80}]}]
)
ALLOW_EGRESS_ALL = policy("allow-egress", "x", ALL_PODS, egress=[{}])
# makeLargeCIDRForIP(x/b = 10.0.1.2) is the /4 holding it; the except is x/b's /32.
X_A_TO_CIDR_EXCEPT_X_B = policy(
    "allow-client-a-via-cidr-egress-rule",
    "x",
    POD_A,
    egress=[{"to": [{"ipBlock": {"cidr": "0.0.0.0/4", "except": ["10.0.1.2/32"]}}]}],
)
X_A_TO_X_B_32 = policy(
    "allow-client-a-via-cidr-egress-rule",
    "x",
    POD_A,
    egress=[{"to": [{"ipBlock": {"cidr": "10.0.1.2/32"}}]}],
)
ALLOW_EGRESS_FOR_TARGET = policy("allow-egress-for-target", "x", POD_A, egress=[{}])
DENY_INGRESS_FOR_TARGET = policy("deny-ingress-via-label-selector", "x", POD_A, ingress=[])
X_A_FROM_NS_Y_PORTS_80_81 = policy(
    "allow-ns-y-ports-80-81",
    "x",
    POD_A,
    ingress=[
        {
            "from": [{"namespaceSelector": ns_is("y")}],
            "ports": [{"protocol": "TCP", "port": 80, "endPort": 81}],
        }
    ],
)
X_A_PORTS_81_82 = policy(
    "allow-ports-81-82", "x", POD_A, ingress=[{"ports": [{"port": 81, "endPort": 82}]}]
)
X_EGRESS_80_80 = policy(
    "allow-egress-80-80", "x", ALL_PODS, egress=[{"ports": [{"port": 80, "endPort": 80}]}]
)
X_A_TO_Y_A_PORTS_80_81 = policy(
    "allow-to-ns-y-pod-a-80-81",
    "x",
    POD_A,
    egress=[
        {
            "to": [{"namespaceSelector": ns_is("y"), "podSelector": POD_A}],
            "ports": [{"protocol": "TCP", "port": 80, "endPort": 81}],
        }
    ],
)
X_A_SCTP_80_81 = policy(
    "allow-sctp-80-81",
    "x",
    POD_A,
    ingress=[{"ports": [{"protocol": "SCTP", "port": 80, "endPort": 81}]}],
)
X_A_TO_Y_SUBNET = policy(
    "allow-to-ns-y-subnet",
    "x",
    POD_A,
    # host bits in the CIDR: it means 10.0.2.0/24; the except removes y/b (10.0.2.2)
    egress=[{"to": [{"ipBlock": {"cidr": "10.0.2.77/24", "except": ["10.0.2.2/32"]}}]}],
)
X_A_NAMED_UDP_PORT_AS_TCP = policy(
    "allow-serve-80-udp-no-protocol", "x", POD_A, ingress=[{"ports": [{"port": "serve-80-udp"}]}]
)
X_A_NAMED_UDP_PORT = policy(
    "allow-serve-80-udp",
    "x",
    POD_A,
    ingress=[{"ports": [{"protocol": "UDP", "port": "serve-80-udp"}]}],
)

# --------------------------------------------------------------------------------------------
# Scenarios: one per upstream ValidateOrFail call, in upstream's order
# --------------------------------------------------------------------------------------------

SCENARIOS = [
    Scenario(
        name="default-deny-ingress",
        upstream="should support a 'default-deny-ingress' policy",
        policies=(DENY_INGRESS_X,),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   X   X   .   .   .   .   .   .
            x/b  X   X   X   .   .   .   .   .   .
            x/c  X   X   X   .   .   .   .   .   .
            y/a  X   X   X   .   .   .   .   .   .
            y/b  X   X   X   .   .   .   .   .   .
            y/c  X   X   X   .   .   .   .   .   .
            z/a  X   X   X   .   .   .   .   .   .
            z/b  X   X   X   .   .   .   .   .   .
            z/c  X   X   X   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="default-deny-all",
        upstream="should support a 'default-deny-all' policy",
        policies=(DENY_ALL_X,),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   X   X   X   X   X   X   X   X
            x/b  X   X   X   X   X   X   X   X   X
            x/c  X   X   X   X   X   X   X   X   X
            y/a  X   X   X   .   .   .   .   .   .
            y/b  X   X   X   .   .   .   .   .   .
            y/c  X   X   X   .   .   .   .   .   .
            z/a  X   X   X   .   .   .   .   .   .
            z/b  X   X   X   .   .   .   .   .   .
            z/c  X   X   X   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="podselector-within-server-namespace",
        upstream="should enforce policy to allow traffic from pods within server namespace "
        "based on PodSelector",
        policies=(
            policy("x-a-allows-x-b", "x", POD_A, ingress=[{"from": [{"podSelector": POD_B}]}]),
        ),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  .   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  X   .   .   .   .   .   .   .   .
            y/b  X   .   .   .   .   .   .   .   .
            y/c  X   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="allow-ingress-for-a-target",
        upstream="should enforce policy to allow ingress traffic for a target",
        policies=(
            policy("deny-all", "x", ALL_PODS, ingress=[]),
            policy(
                "allow-all-to-a",
                "x",
                POD_A,
                ingress=[{"from": [{"podSelector": {}, "namespaceSelector": {}}]}],
            ),
        ),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  .   X   X   .   .   .   .   .   .
            x/b  .   X   X   .   .   .   .   .   .
            x/c  .   X   X   .   .   .   .   .   .
            y/a  .   X   X   .   .   .   .   .   .
            y/b  .   X   X   .   .   .   .   .   .
            y/c  .   X   X   .   .   .   .   .   .
            z/a  .   X   X   .   .   .   .   .   .
            z/b  .   X   X   .   .   .   .   .   .
            z/c  .   X   X   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="allow-ingress-from-all-namespaces",
        upstream="should enforce policy to allow ingress traffic from pods in all namespaces",
        policies=(
            policy(
                "allow-from-another-ns",
                "x",
                POD_A,
                ingress=[{"from": [{"namespaceSelector": {"matchLabels": {}}}]}],
            ),
        ),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  .   .   .   .   .   .   .   .   .
            x/b  .   .   .   .   .   .   .   .   .
            x/c  .   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="only-from-a-different-namespace",
        upstream="should enforce policy to allow traffic only from a different namespace, "
        "based on NamespaceSelector",
        policies=(
            policy(
                "allow-client-a-via-ns-selector",
                "x",
                POD_A,
                ingress=[{"from": [{"namespaceSelector": ns_is("y")}]}],
            ),
        ),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="podselector-match-expressions",
        upstream="should enforce policy based on PodSelector with MatchExpressions",
        policies=(
            policy(
                "x-a-allows-x-b", "x", POD_A, ingress=[{"from": [{"podSelector": pod_in("b")}]}]
            ),
        ),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  .   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  X   .   .   .   .   .   .   .   .
            y/b  X   .   .   .   .   .   .   .   .
            y/c  X   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="namespaceselector-match-expressions",
        upstream="should enforce policy based on NamespaceSelector with MatchExpressions",
        policies=(
            policy(
                "allow-ns-y-match-selector",
                "x",
                POD_A,
                ingress=[
                    {
                        "from": [
                            {
                                "namespaceSelector": {
                                    "matchExpressions": [
                                        {"key": NS_NAME, "operator": "In", "values": ["y"]}
                                    ]
                                }
                            }
                        ]
                    }
                ],
            ),
        ),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="podselector-or-namespaceselector",
        upstream="should enforce policy based on PodSelector or NamespaceSelector",
        policies=(
            policy(
                "allow-ns-y-match-selector",
                "x",
                POD_A,
                ingress=[{"from": [{"namespaceSelector": ns_not_in("x")}, {"podSelector": POD_B}]}],
            ),
        ),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  .   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="podselector-and-namespaceselector",
        upstream="should enforce policy based on PodSelector and NamespaceSelector",
        policies=(
            policy(
                "allow-ns-y-podselector-and-nsselector",
                "x",
                POD_A,
                ingress=[{"from": [{"namespaceSelector": ns_not_in("x"), "podSelector": POD_B}]}],
            ),
        ),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  X   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  X   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="multiple-podselectors-and-namespaceselectors",
        upstream="should enforce policy based on Multiple PodSelectors and NamespaceSelectors",
        policies=(
            policy(
                "allow-ns-y-z-pod-b-c",
                "x",
                POD_A,
                ingress=[
                    {
                        "from": [
                            {"namespaceSelector": ns_not_in("x"), "podSelector": pod_in("b", "c")}
                        ]
                    }
                ],
            ),
        ),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  X   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="any-podselectors",
        upstream="should enforce policy based on any PodSelectors",
        policies=(
            policy(
                "allow-ns-x-pod-b-c",
                "x",
                POD_A,
                ingress=[
                    {"from": [{"podSelector": POD_B}, {"podSelector": match_labels(pod="c")}]}
                ],
            ),
        ),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  .   .   .   .   .   .   .   .   .
            x/c  .   .   .   .   .   .   .   .   .
            y/a  X   .   .   .   .   .   .   .   .
            y/b  X   .   .   .   .   .   .   .   .
            y/c  X   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="pod-in-different-namespace",
        upstream="should enforce policy to allow traffic only from a pod in a different "
        "namespace based on PodSelector and NamespaceSelector",
        policies=(
            policy(
                "allow-ns-y-pod-a-via-namespace-pod-selector",
                "x",
                POD_A,
                ingress=[{"from": [{"namespaceSelector": ns_is("y"), "podSelector": POD_A}]}],
            ),
        ),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  X   .   .   .   .   .   .   .   .
            y/c  X   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="ports",
        upstream="should enforce policy based on Ports",
        policies=(X_A_FROM_NS_Y_81,),
        protocol="TCP",
        port=81,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="stacked/1-port-81-policy-probe-81",
        upstream="should enforce multiple, stacked policies with overlapping podSelectors",
        policies=(X_A_FROM_NS_Y_81,),
        protocol="TCP",
        port=81,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="stacked/2-port-81-policy-probe-80",
        upstream="should enforce multiple, stacked policies with overlapping podSelectors",
        policies=(X_A_FROM_NS_Y_81,),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  X   .   .   .   .   .   .   .   .
            y/b  X   .   .   .   .   .   .   .   .
            y/c  X   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="stacked/3-add-port-80-policy-probe-80",
        upstream="should enforce multiple, stacked policies with overlapping podSelectors",
        policies=(X_A_FROM_NS_Y_81, X_A_FROM_NS_Y_80),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="allow-all/probe-80",
        upstream="should support allow-all policy",
        policies=(policy("allow-all", "x", ALL_PODS, ingress=[{}]),),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  .   .   .   .   .   .   .   .   .
            x/b  .   .   .   .   .   .   .   .   .
            x/c  .   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="allow-all/probe-81",
        upstream="should support allow-all policy",
        policies=(policy("allow-all", "x", ALL_PODS, ingress=[{}]),),
        protocol="TCP",
        port=81,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  .   .   .   .   .   .   .   .   .
            x/b  .   .   .   .   .   .   .   .   .
            x/c  .   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="ingress-named-port/probe-81",
        upstream="should allow ingress access on one named port",
        policies=(ALLOW_INGRESS_NAMED_81,),
        protocol="TCP",
        port=81,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  .   .   .   .   .   .   .   .   .
            x/b  .   .   .   .   .   .   .   .   .
            x/c  .   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="ingress-named-port/probe-80",
        upstream="should allow ingress access on one named port",
        policies=(ALLOW_INGRESS_NAMED_81,),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   X   X   .   .   .   .   .   .
            x/b  X   X   X   .   .   .   .   .   .
            x/c  X   X   X   .   .   .   .   .   .
            y/a  X   X   X   .   .   .   .   .   .
            y/b  X   X   X   .   .   .   .   .   .
            y/c  X   X   X   .   .   .   .   .   .
            z/a  X   X   X   .   .   .   .   .   .
            z/b  X   X   X   .   .   .   .   .   .
            z/c  X   X   X   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="ingress-from-namespace-named-port/probe-80",
        upstream="should allow ingress access from namespace on one named port",
        policies=(X_A_FROM_NS_Y_NAMED_80,),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="ingress-from-namespace-named-port/probe-81",
        upstream="should allow ingress access from namespace on one named port",
        policies=(X_A_FROM_NS_Y_NAMED_80,),
        protocol="TCP",
        port=81,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  X   .   .   .   .   .   .   .   .
            y/b  X   .   .   .   .   .   .   .   .
            y/c  X   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="egress-named-port/probe-80",
        upstream="should allow egress access on one named port",
        policies=(ALLOW_EGRESS_NAMED_80,),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  .   .   .   .   .   .   .   .   .
            x/b  .   .   .   .   .   .   .   .   .
            x/c  .   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="egress-named-port/probe-81",
        upstream="should allow egress access on one named port",
        policies=(ALLOW_EGRESS_NAMED_80,),
        protocol="TCP",
        port=81,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   X   X   X   X   X   X   X   X
            x/b  X   X   X   X   X   X   X   X   X
            x/c  X   X   X   X   X   X   X   X   X
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="updated-policy/1-allow-all",
        upstream="should enforce updated policy",
        policies=(ALLOW_ALL_MUTATE,),
        protocol="TCP",
        port=81,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  .   .   .   .   .   .   .   .   .
            x/b  .   .   .   .   .   .   .   .   .
            x/c  .   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="updated-policy/2-mutated-to-deny-all",
        upstream="should enforce updated policy",
        policies=(ALLOW_ALL_MUTATED,),
        protocol="TCP",
        port=81,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   X   X   .   .   .   .   .   .
            x/b  X   X   X   .   .   .   .   .   .
            x/c  X   X   X   .   .   .   .   .   .
            y/a  X   X   X   .   .   .   .   .   .
            y/b  X   X   X   .   .   .   .   .   .
            y/c  X   X   X   .   .   .   .   .   .
            z/a  X   X   X   .   .   .   .   .   .
            z/b  X   X   X   .   .   .   .   .   .
            z/c  X   X   X   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="updated-namespace/1-before-label",
        upstream="should allow ingress access from updated namespace",
        policies=(X_A_FROM_NS2_UPDATED,),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  X   .   .   .   .   .   .   .   .
            y/b  X   .   .   .   .   .   .   .   .
            y/c  X   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="updated-namespace/2-y-labelled-ns2-updated",
        upstream="should allow ingress access from updated namespace",
        policies=(X_A_FROM_NS2_UPDATED,),
        protocol="TCP",
        port=80,
        namespace_labels={"y": {"ns": "y", NS_NAME: "y", "ns2": "updated"}},
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="updated-pod/1-before-label",
        upstream="should allow ingress access from updated pod",
        policies=(X_A_FROM_POD2_UPDATED,),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  X   .   .   .   .   .   .   .   .
            y/b  X   .   .   .   .   .   .   .   .
            y/c  X   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="updated-pod/2-x-b-labelled-pod2-updated",
        upstream="should allow ingress access from updated pod",
        policies=(X_A_FROM_POD2_UPDATED,),
        protocol="TCP",
        port=80,
        pod_labels={"x/b": {"pod": "b", "pod2": "updated"}},
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  .   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  X   .   .   .   .   .   .   .   .
            y/b  X   .   .   .   .   .   .   .   .
            y/c  X   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="deny-ingress-from-other-namespaces",
        upstream="should deny ingress from pods on other namespaces",
        policies=(
            policy(
                "deny-empty-policy",
                "x",
                ALL_PODS,
                ingress=[{"from": [{"podSelector": {"matchLabels": {}}}]}],
            ),
        ),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  .   .   .   .   .   .   .   .   .
            x/b  .   .   .   .   .   .   .   .   .
            x/c  .   .   .   .   .   .   .   .   .
            y/a  X   X   X   .   .   .   .   .   .
            y/b  X   X   X   .   .   .   .   .   .
            y/c  X   X   X   .   .   .   .   .   .
            z/a  X   X   X   .   .   .   .   .   .
            z/b  X   X   X   .   .   .   .   .   .
            z/c  X   X   X   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="deny-ingress-to-updated-pod/1-before-label",
        upstream="should deny ingress access to updated pod",
        policies=(DENY_INGRESS_TARGET_ISOLATED,),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  .   .   .   .   .   .   .   .   .
            x/b  .   .   .   .   .   .   .   .   .
            x/c  .   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="deny-ingress-to-updated-pod/2-x-a-labelled-target-isolated",
        upstream="should deny ingress access to updated pod",
        policies=(DENY_INGRESS_TARGET_ISOLATED,),
        protocol="TCP",
        port=80,
        pod_labels={"x/a": {"pod": "a", "target": "isolated"}},
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  X   .   .   .   .   .   .   .   .
            y/b  X   .   .   .   .   .   .   .   .
            y/c  X   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="deny-egress-podselector",
        upstream="should deny egress from pods based on PodSelector",
        policies=(policy("deny-egress-pod-a", "x", POD_A, egress=[]),),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   X   X   X   X   X   X   X   X
            x/b  .   .   .   .   .   .   .   .   .
            x/c  .   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="deny-egress-namespace",
        upstream="should deny egress from all pods in a namespace",
        policies=(policy("deny-egress-ns-x", "x", ALL_PODS, egress=[]),),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   X   X   X   X   X   X   X   X
            x/b  X   X   X   X   X   X   X   X   X
            x/c  X   X   X   X   X   X   X   X   X
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="ingress-and-egress-together/probe-80",
        upstream="should work with Ingress, Egress specified together",
        policies=(INGRESS_EGRESS_TOGETHER,),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  .   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  X   .   .   .   .   .   .   .   .
            y/b  X   .   .   .   .   .   .   .   .
            y/c  X   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="ingress-and-egress-together/probe-81",
        upstream="should work with Ingress, Egress specified together",
        policies=(INGRESS_EGRESS_TOGETHER,),
        protocol="TCP",
        port=81,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   X   X   X   X   X   X   X   X
            x/b  .   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  X   .   .   .   .   .   .   .   .
            y/b  X   .   .   .   .   .   .   .   .
            y/c  X   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="deny-egress-on-client-side",
        upstream="should support denying of egress traffic on the client side (even if the "
        "server explicitly allows this traffic)",
        policies=(X_A_TO_Y_A, *Y_A_AND_Y_B_FROM_X_A),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   X   X   .   X   X   X   X   X
            x/b  .   .   .   X   X   .   .   .   .
            x/c  .   .   .   X   X   .   .   .   .
            y/a  .   .   .   X   X   .   .   .   .
            y/b  .   .   .   X   X   .   .   .   .
            y/c  .   .   .   X   X   .   .   .   .
            z/a  .   .   .   X   X   .   .   .   .
            z/b  .   .   .   X   X   .   .   .   .
            z/c  .   .   .   X   X   .   .   .   .
        """,
    ),
    Scenario(
        name="egress-to-pod-in-other-namespace",
        upstream="should enforce egress policy allowing traffic to a server in a different "
        "namespace based on PodSelector and NamespaceSelector",
        policies=(X_A_TO_Y_A,),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   X   X   .   X   X   X   X   X
            x/b  .   .   .   .   .   .   .   .   .
            x/c  .   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="ingress-any-port-on-protocol/probe-tcp",
        upstream="should enforce ingress policy allowing any port traffic to a server on a "
        "specific protocol",
        policies=(ALLOW_INGRESS_TCP_ANY_PORT,),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  .   .   .   .   .   .   .   .   .
            x/b  .   .   .   .   .   .   .   .   .
            x/c  .   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="ingress-any-port-on-protocol/probe-udp",
        upstream="should enforce ingress policy allowing any port traffic to a server on a "
        "specific protocol",
        policies=(ALLOW_INGRESS_TCP_ANY_PORT,),
        protocol="UDP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  X   .   .   .   .   .   .   .   .
            y/b  X   .   .   .   .   .   .   .   .
            y/c  X   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="ingress-allow-all-precedence/1-port-80-only",
        upstream="should enforce multiple ingress policies with ingress allow-all policy "
        "taking precedence",
        policies=(ALLOW_INGRESS_PORT_80,),
        protocol="TCP",
        port=81,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   X   X   .   .   .   .   .   .
            x/b  X   X   X   .   .   .   .   .   .
            x/c  X   X   X   .   .   .   .   .   .
            y/a  X   X   X   .   .   .   .   .   .
            y/b  X   X   X   .   .   .   .   .   .
            y/c  X   X   X   .   .   .   .   .   .
            z/a  X   X   X   .   .   .   .   .   .
            z/b  X   X   X   .   .   .   .   .   .
            z/c  X   X   X   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="ingress-allow-all-precedence/2-plus-allow-all",
        upstream="should enforce multiple ingress policies with ingress allow-all policy "
        "taking precedence",
        policies=(ALLOW_INGRESS_PORT_80, ALLOW_INGRESS_ALL),
        protocol="TCP",
        port=81,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  .   .   .   .   .   .   .   .   .
            x/b  .   .   .   .   .   .   .   .   .
            x/c  .   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="egress-allow-all-precedence/1-port-80-only",
        upstream="should enforce multiple egress policies with egress allow-all policy "
        "taking precedence",
        policies=(ALLOW_EGRESS_PORT_80,),
        protocol="TCP",
        port=81,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   X   X   X   X   X   X   X   X
            x/b  X   X   X   X   X   X   X   X   X
            x/c  X   X   X   X   X   X   X   X   X
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="egress-allow-all-precedence/2-plus-allow-all",
        upstream="should enforce multiple egress policies with egress allow-all policy "
        "taking precedence",
        policies=(ALLOW_EGRESS_PORT_80, ALLOW_EGRESS_ALL),
        protocol="TCP",
        port=81,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  .   .   .   .   .   .   .   .   .
            x/b  .   .   .   .   .   .   .   .   .
            x/c  .   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="stop-enforcing-after-delete/1-deny-all",
        upstream="should stop enforcing policies after they are deleted",
        policies=(DENY_ALL_X,),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   X   X   X   X   X   X   X   X
            x/b  X   X   X   X   X   X   X   X   X
            x/c  X   X   X   X   X   X   X   X   X
            y/a  X   X   X   .   .   .   .   .   .
            y/b  X   X   X   .   .   .   .   .   .
            y/c  X   X   X   .   .   .   .   .   .
            z/a  X   X   X   .   .   .   .   .   .
            z/b  X   X   X   .   .   .   .   .   .
            z/c  X   X   X   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="stop-enforcing-after-delete/2-deleted",
        upstream="should stop enforcing policies after they are deleted",
        policies=(),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  .   .   .   .   .   .   .   .   .
            x/b  .   .   .   .   .   .   .   .   .
            x/c  .   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="egress-to-cidr",
        upstream="should allow egress access to server in CIDR block",
        policies=(
            policy(
                "allow-client-a-via-cidr-egress-rule",
                "x",
                POD_A,
                egress=[{"to": [{"ipBlock": {"cidr": "10.0.2.2/32"}}]}],  # y/b's IP
            ),
        ),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   X   X   X   .   X   X   X   X
            x/b  .   .   .   .   .   .   .   .   .
            x/c  .   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="egress-cidr-except",
        upstream="should enforce except clause while egress access to server in CIDR block",
        policies=(X_A_TO_CIDR_EXCEPT_X_B,),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  .   X   .   .   .   .   .   .   .
            x/b  .   .   .   .   .   .   .   .   .
            x/c  .   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="cidr-and-except-overlap/1-except",
        upstream="should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed",
        policies=(X_A_TO_CIDR_EXCEPT_X_B,),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  .   X   .   .   .   .   .   .   .
            x/b  .   .   .   .   .   .   .   .   .
            x/c  .   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        # upstream UpdatePolicy()s the same name, so the /32 policy replaces the except one
        name="cidr-and-except-overlap/2-updated-to-x-b-32",
        upstream="should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed",
        policies=(X_A_TO_X_B_32,),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   X   X   X   X   X   X   X
            x/b  .   .   .   .   .   .   .   .   .
            x/c  .   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="cidr-and-except-overlap/3-both-policies",
        upstream="extra: the two policies of the test above side by side (different names): "
        "x/b is excepted by one and allowed by the other, policies are additive",
        policies=(
            X_A_TO_CIDR_EXCEPT_X_B,
            {**X_A_TO_X_B_32, "metadata": {"name": "allow-client-a-to-x-b", "namespace": "x"}},
        ),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  .   .   .   .   .   .   .   .   .
            x/b  .   .   .   .   .   .   .   .   .
            x/c  .   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="ingress-egress-independent/1-allow-egress",
        upstream="should enforce policies to check ingress and egress policies can be "
        "controlled independently based on PodSelector",
        policies=(ALLOW_EGRESS_FOR_TARGET,),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  .   .   .   .   .   .   .   .   .
            x/b  .   .   .   .   .   .   .   .   .
            x/c  .   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="ingress-egress-independent/2-plus-deny-ingress",
        upstream="should enforce policies to check ingress and egress policies can be "
        "controlled independently based on PodSelector",
        policies=(ALLOW_EGRESS_FOR_TARGET, DENY_INGRESS_FOR_TARGET),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  X   .   .   .   .   .   .   .   .
            y/b  X   .   .   .   .   .   .   .   .
            y/c  X   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="sctp-is-not-tcp",
        upstream="should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP', even if the "
        "plugin doesn't support SCTP",
        policies=(
            DENY_INGRESS_X,
            policy(
                "allow-only-sctp-ingress-on-port-81",
                "x",
                POD_A,
                ingress=[{"ports": [{"port": 81, "protocol": "SCTP"}]}],
            ),
        ),
        protocol="TCP",
        port=81,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   X   X   .   .   .   .   .   .
            x/b  X   X   X   .   .   .   .   .   .
            x/c  X   X   X   .   .   .   .   .   .
            y/a  X   X   X   .   .   .   .   .   .
            y/b  X   X   X   .   .   .   .   .   .
            y/c  X   X   X   .   .   .   .   .   .
            z/a  X   X   X   .   .   .   .   .   .
            z/b  X   X   X   .   .   .   .   .   .
            z/c  X   X   X   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="sctp-policy-isolates",
        upstream="should properly isolate pods that are selected by a policy allowing SCTP, "
        "even if the plugin doesn't support SCTP",
        policies=(
            policy(
                "allow-only-sctp-ingress-on-port-80",
                "x",
                POD_A,
                ingress=[{"ports": [{"port": 80, "protocol": "SCTP"}]}],
            ),
        ),
        protocol="TCP",
        port=81,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  X   .   .   .   .   .   .   .   .
            y/b  X   .   .   .   .   .   .   .   .
            y/c  X   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="udp-only-policy-denies-tcp",
        upstream="should not allow access by TCP when a policy specifies only UDP",
        policies=(
            policy(
                "allow-only-udp-ingress-on-port-81",
                "x",
                POD_A,
                ingress=[{"ports": [{"port": 81, "protocol": "UDP"}]}],
            ),
        ),
        protocol="TCP",
        port=81,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  X   .   .   .   .   .   .   .   .
            y/b  X   .   .   .   .   .   .   .   .
            y/c  X   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="default-ns-label-match-labels",
        upstream="should enforce policy to allow traffic based on NamespaceSelector with "
        "MatchLabels using default ns label",
        policies=(
            policy(
                "allow-client-a-via-ns-selector-for-immutable-ns-label",
                "x",
                POD_A,
                ingress=[{"from": [{"namespaceSelector": ns_is("y")}]}],
            ),
        ),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="default-ns-label-match-expressions-egress",
        upstream="should enforce policy based on NamespaceSelector with MatchExpressions using "
        "default ns label",
        policies=(
            policy(
                "allow-ns-y-match-selector-for-immutable-ns-label",
                "x",
                POD_A,
                egress=[{"to": [{"namespaceSelector": ns_not_in("y")}]}],
            ),
        ),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  .   .   .   X   X   X   .   .   .
            x/b  .   .   .   .   .   .   .   .   .
            x/c  .   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    # ---- "NetworkPolicy between server and client using UDP" --------------------------------
    Scenario(
        name="udp/default-deny-ingress",
        upstream="should support a 'default-deny-ingress' policy (UDP)",
        policies=(policy("deny-all", "x", ALL_PODS, ingress=[]),),
        protocol="UDP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   X   X   .   .   .   .   .   .
            x/b  X   X   X   .   .   .   .   .   .
            x/c  X   X   X   .   .   .   .   .   .
            y/a  X   X   X   .   .   .   .   .   .
            y/b  X   X   X   .   .   .   .   .   .
            y/c  X   X   X   .   .   .   .   .   .
            z/a  X   X   X   .   .   .   .   .   .
            z/b  X   X   X   .   .   .   .   .   .
            z/c  X   X   X   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="udp/ports",
        upstream="should enforce policy based on Ports (UDP)",
        policies=(
            policy(
                "allow-ingress-on-port-81-ns-x",
                "x",
                POD_A,
                ingress=[
                    {
                        "from": [{"namespaceSelector": ns_is("y")}],
                        "ports": [{"port": 81, "protocol": "UDP"}],
                    }
                ],
            ),
        ),
        protocol="UDP",
        port=81,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="udp/pod-in-different-namespace",
        upstream="should enforce policy to allow traffic only from a pod in a different "
        "namespace based on PodSelector and NamespaceSelector (UDP)",
        policies=(
            policy(
                "allow-ns-y-pod-a-via-namespace-pod-selector",
                "x",
                POD_A,
                ingress=[{"from": [{"namespaceSelector": ns_is("y"), "podSelector": POD_A}]}],
            ),
        ),
        protocol="UDP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  X   .   .   .   .   .   .   .   .
            y/c  X   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    # ---- "NetworkPolicy between server and client using SCTP" -------------------------------
    Scenario(
        name="sctp/default-deny-ingress",
        upstream="should support a 'default-deny-ingress' policy (SCTP)",
        policies=(policy("deny-all", "x", ALL_PODS, ingress=[]),),
        protocol="SCTP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   X   X   .   .   .   .   .   .
            x/b  X   X   X   .   .   .   .   .   .
            x/c  X   X   X   .   .   .   .   .   .
            y/a  X   X   X   .   .   .   .   .   .
            y/b  X   X   X   .   .   .   .   .   .
            y/c  X   X   X   .   .   .   .   .   .
            z/a  X   X   X   .   .   .   .   .   .
            z/b  X   X   X   .   .   .   .   .   .
            z/c  X   X   X   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="sctp/ports",
        upstream="should enforce policy based on Ports (SCTP)",
        policies=(
            policy(
                "allow-ingress-on-port-81-ns-x",
                "x",
                POD_A,
                ingress=[
                    {
                        "from": [{"namespaceSelector": ns_is("y")}],
                        "ports": [{"port": 81, "protocol": "SCTP"}],
                    }
                ],
            ),
        ),
        protocol="SCTP",
        port=81,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="sctp/pod-in-different-namespace",
        upstream="should enforce policy to allow traffic only from a pod in a different "
        "namespace based on PodSelector and NamespaceSelector (SCTP)",
        policies=(
            policy(
                "allow-ns-y-pod-a-via-namespace-pod-selector",
                "x",
                POD_A,
                ingress=[{"from": [{"namespaceSelector": ns_is("y"), "podSelector": POD_A}]}],
            ),
        ),
        protocol="SCTP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  X   .   .   .   .   .   .   .   .
            y/c  X   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    # ---- extras in the same style: endPort, named-port protocol, ipBlock host bits ----------
    Scenario(
        name="endport-ingress/probe-80",
        upstream="extra: should enforce ingress policy allowing a port range with endPort",
        policies=(X_A_FROM_NS_Y_PORTS_80_81,),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="endport-ingress/probe-81",
        upstream="extra: should enforce ingress policy allowing a port range with endPort",
        policies=(X_A_FROM_NS_Y_PORTS_80_81,),
        protocol="TCP",
        port=81,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="endport-ingress/probe-udp-80",
        upstream="extra: should enforce ingress policy allowing a port range with endPort",
        policies=(X_A_FROM_NS_Y_PORTS_80_81,),
        protocol="UDP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  X   .   .   .   .   .   .   .   .
            y/b  X   .   .   .   .   .   .   .   .
            y/c  X   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="endport-ingress-lower-bound/probe-80",
        upstream="extra: a port range 81-82 without protocol does not reach below port",
        policies=(X_A_PORTS_81_82,),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  X   .   .   .   .   .   .   .   .
            y/b  X   .   .   .   .   .   .   .   .
            y/c  X   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="endport-ingress-lower-bound/probe-81",
        upstream="extra: a port range 81-82 without protocol does not reach below port",
        policies=(X_A_PORTS_81_82,),
        protocol="TCP",
        port=81,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  .   .   .   .   .   .   .   .   .
            x/b  .   .   .   .   .   .   .   .   .
            x/c  .   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="endport-egress-single/probe-80",
        upstream="extra: should enforce egress policy allowing a port range with endPort "
        "(endPort == port)",
        policies=(X_EGRESS_80_80,),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  .   .   .   .   .   .   .   .   .
            x/b  .   .   .   .   .   .   .   .   .
            x/c  .   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="endport-egress-single/probe-81",
        upstream="extra: should enforce egress policy allowing a port range with endPort "
        "(endPort == port)",
        policies=(X_EGRESS_80_80,),
        protocol="TCP",
        port=81,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   X   X   X   X   X   X   X   X
            x/b  X   X   X   X   X   X   X   X   X
            x/c  X   X   X   X   X   X   X   X   X
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="endport-deny-egress-on-client-side/probe-81",
        upstream="extra: should support denying of egress traffic on the client side with endPort",
        policies=(X_A_TO_Y_A_PORTS_80_81, *Y_A_AND_Y_B_FROM_X_A),
        protocol="TCP",
        port=81,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   X   X   .   X   X   X   X   X
            x/b  .   .   .   X   X   .   .   .   .
            x/c  .   .   .   X   X   .   .   .   .
            y/a  .   .   .   X   X   .   .   .   .
            y/b  .   .   .   X   X   .   .   .   .
            y/c  .   .   .   X   X   .   .   .   .
            z/a  .   .   .   X   X   .   .   .   .
            z/b  .   .   .   X   X   .   .   .   .
            z/c  .   .   .   X   X   .   .   .   .
        """,
    ),
    Scenario(
        name="endport-deny-egress-on-client-side/probe-udp-80",
        upstream="extra: should support denying of egress traffic on the client side with endPort",
        policies=(X_A_TO_Y_A_PORTS_80_81, *Y_A_AND_Y_B_FROM_X_A),
        protocol="UDP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   X   X   X   X   X   X   X   X
            x/b  .   .   .   X   X   .   .   .   .
            x/c  .   .   .   X   X   .   .   .   .
            y/a  .   .   .   X   X   .   .   .   .
            y/b  .   .   .   X   X   .   .   .   .
            y/c  .   .   .   X   X   .   .   .   .
            z/a  .   .   .   X   X   .   .   .   .
            z/b  .   .   .   X   X   .   .   .   .
            z/c  .   .   .   X   X   .   .   .   .
        """,
    ),
    Scenario(
        name="endport-sctp/probe-sctp-81",
        upstream="extra: an SCTP port range admits SCTP only",
        policies=(X_A_SCTP_80_81,),
        protocol="SCTP",
        port=81,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  .   .   .   .   .   .   .   .   .
            x/b  .   .   .   .   .   .   .   .   .
            x/c  .   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="endport-sctp/probe-tcp-81",
        upstream="extra: an SCTP port range admits SCTP only",
        policies=(X_A_SCTP_80_81,),
        protocol="TCP",
        port=81,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  X   .   .   .   .   .   .   .   .
            y/b  X   .   .   .   .   .   .   .   .
            y/c  X   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="named-port-protocol/udp-name-without-protocol-probe-udp",
        upstream="extra: a named port without protocol is TCP, so a UDP container port name "
        "never matches",
        policies=(X_A_NAMED_UDP_PORT_AS_TCP,),
        protocol="UDP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  X   .   .   .   .   .   .   .   .
            y/b  X   .   .   .   .   .   .   .   .
            y/c  X   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="named-port-protocol/udp-name-without-protocol-probe-tcp",
        upstream="extra: a named port without protocol is TCP, so a UDP container port name "
        "never matches",
        policies=(X_A_NAMED_UDP_PORT_AS_TCP,),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  X   .   .   .   .   .   .   .   .
            y/b  X   .   .   .   .   .   .   .   .
            y/c  X   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="named-port-protocol/udp-name-with-udp-probe-udp-80",
        upstream="extra: a named UDP port with protocol UDP",
        policies=(X_A_NAMED_UDP_PORT,),
        protocol="UDP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  .   .   .   .   .   .   .   .   .
            x/b  .   .   .   .   .   .   .   .   .
            x/c  .   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="named-port-protocol/udp-name-with-udp-probe-udp-81",
        upstream="extra: a named UDP port with protocol UDP",
        policies=(X_A_NAMED_UDP_PORT,),
        protocol="UDP",
        port=81,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   .   .   .   .   .   .   .   .
            x/b  X   .   .   .   .   .   .   .   .
            x/c  X   .   .   .   .   .   .   .   .
            y/a  X   .   .   .   .   .   .   .   .
            y/b  X   .   .   .   .   .   .   .   .
            y/c  X   .   .   .   .   .   .   .   .
            z/a  X   .   .   .   .   .   .   .   .
            z/b  X   .   .   .   .   .   .   .   .
            z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="ipblock-host-bits-and-except",
        upstream="extra: egress to a CIDR written with host bits, minus one pod's /32",
        policies=(X_A_TO_Y_SUBNET,),
        protocol="TCP",
        port=80,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   X   X   .   X   .   X   X   X
            x/b  .   .   .   .   .   .   .   .   .
            x/c  .   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        name="ipblock-host-bits-and-except/ipblock-does-not-match-pods",
        upstream="extra: the same policy when ipBlocks do not match pod IPs (an implementation "
        "choice): x/a reaches no pod",
        policies=(X_A_TO_Y_SUBNET,),
        protocol="TCP",
        port=80,
        ipblock_matches_pods=False,
        expected="""
            -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
            x/a  X   X   X   X   X   X   X   X   X
            x/b  .   .   .   .   .   .   .   .   .
            x/c  .   .   .   .   .   .   .   .   .
            y/a  .   .   .   .   .   .   .   .   .
            y/b  .   .   .   .   .   .   .   .   .
            y/c  .   .   .   .   .   .   .   .   .
            z/a  .   .   .   .   .   .   .   .   .
            z/b  .   .   .   .   .   .   .   .   .
            z/c  .   .   .   .   .   .   .   .   .
        """,
    ),
]


def test_model_follows_upstream_naming():
    endpoints = cluster()
    assert list(endpoints) == [f"{n}/{p}" for n in "xyz" for p in "abc"]
    x_b = endpoints["x/b"]
    assert x_b.labels == {"pod": "b"}
    assert x_b.namespace_labels == {"ns": "x", NS_NAME: "x"}
    assert [(c.name, c.port, c.protocol) for c in x_b.ports] == [
        ("serve-80-tcp", 80, "TCP"),
        ("serve-80-udp", 80, "UDP"),
        ("serve-80-sctp", 80, "SCTP"),
        ("serve-81-tcp", 81, "TCP"),
        ("serve-81-udp", 81, "UDP"),
        ("serve-81-sctp", 81, "SCTP"),
    ]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda rows: rows[1:],  # no header
        lambda rows: [rows[0], *rows[2:]],  # a row missing
        lambda rows: [rows[0], rows[2], rows[1], *rows[3:]],  # rows out of order
        lambda rows: [rows[0], rows[1] + " .", *rows[2:]],  # a cell too many
        lambda rows: [rows[0], rows[1].replace(".", "?", 1), *rows[2:]],  # unknown mark
    ],
)
def test_parse_matrix_is_strict(mutate):
    rows = SCENARIOS[0].expected.strip().splitlines()
    parse_matrix("\n".join(rows))  # the original parses
    with pytest.raises(ValueError):
        parse_matrix("\n".join(mutate(rows)))


def test_scenario_names_are_unique():
    names = [s.name for s in SCENARIOS]
    assert len(names) == len(set(names))


def test_every_table_is_well_formed():
    # parse_matrix is strict: header, row order and marks
    for s in SCENARIOS:
        assert len(parse_matrix(s.expected)) == len(PODS) ** 2, s.name


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_upstream_e2e(scenario: Scenario):
    evaluator = Evaluator(scenario.policies, ipblock_matches_pods=scenario.ipblock_matches_pods)
    endpoints = cluster(
        pod_label_overrides=scenario.pod_labels,
        namespace_label_overrides=scenario.namespace_labels,
    )
    comparison = Comparison(
        parse_matrix(scenario.expected),
        probe(evaluator, endpoints, scenario.protocol, scenario.port),
    )
    if comparison.wrong:
        details = "\n".join(
            f"  {src} -> {dst}: "
            + " | ".join(
                evaluator.evaluate(
                    endpoints[src], endpoints[dst], scenario.protocol, scenario.port
                ).explain()
            )
            for src, dst in comparison.wrong
        )
        pytest.fail(
            f"{scenario.upstream}\nprobe {scenario.protocol}/{scenario.port}: "
            f"{comparison.report()}\n\nwrong cells:\n{details}",
            pytrace=False,
        )
