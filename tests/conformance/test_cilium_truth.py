"""Truth tables of CiliumNetworkPolicy semantics, from Cilium's documentation, on the upstream
e2e model of :mod:`.truth` (namespaces x, y, z with pods a, b, c; ``ns: <name>`` namespace
labels; ports 80 and 81). Each scenario cites the page and section it follows; the tables
were written from the docs' words, not by running the evaluator. Policies go through the
Cilium reader (:func:`recommender.netpol.cilium.compile_object`), so a table checks the
reader and the evaluator together.

Pages (cilium/cilium ``Documentation/security/policy/``): ``layer3.rst`` (Endpoints based:
"Simple Ingress Allow", "Egress Allow All Endpoints" - an empty EndpointSelector selects the
policy's own namespace -, "Simple Egress Deny", "Ingress/Egress Default Deny"),
``kubernetes.rst`` ("Expose pods across namespaces", "Clusterwide Policies", "Allow all
ingress to kube-dns": a CCNP's empty selector is every Cilium-managed pod), ``deny.rst``
("Deny policies ... take precedence over allow policies"), ``layer4.rst`` ("Limit ingress/
egress ports": a rule with only toPorts admits every peer on those ports; protocol ANY or
none is TCP, UDP and SCTP), and ``examples/policies/l3/match-expressions/or-statement.yaml``
(entries of one fromEndpoints list are ORed); and the CRD's ``enableDefaultDeny``
description ("If multiple policies apply to an endpoint, that endpoint's default deny will
be enabled if any policy requests it").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from recommender.netpol.cilium import compile_object
from recommender.netpol.evaluator import Evaluator

from .truth import Comparison, cluster, parse_matrix, probe

NS = "k8s:io.kubernetes.pod.namespace"


def cnp(name: str, ns: str, spec: dict[str, Any]) -> dict[str, Any]:
    meta = {"name": name, "namespace": ns}
    return {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": meta,
        "spec": spec,
    }


def ccnp(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    kind = "CiliumClusterwideNetworkPolicy"
    return {"apiVersion": "cilium.io/v2", "kind": kind, "metadata": {"name": name}, "spec": spec}


def pod(name: str, **extra: str) -> dict[str, Any]:
    return {"matchLabels": {"pod": name, **extra}}


@dataclass(frozen=True)
class Scenario:
    name: str
    doc: str
    policies: tuple[dict[str, Any], ...]
    protocol: str
    port: int
    table: str


SCENARIOS = [
    Scenario(
        "simple ingress allow: peers of a CNP are in its namespace",
        "layer3.rst Simple Ingress Allow",
        (
            cnp(
                "l3-rule",
                "x",
                {"endpointSelector": pod("b"), "ingress": [{"fromEndpoints": [pod("a")]}]},
            ),
        ),
        "TCP",
        80,
        """
        -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
        x/a  .   .   .   .   .   .   .   .   .
        x/b  .   X   .   .   .   .   .   .   .
        x/c  .   X   .   .   .   .   .   .   .
        y/a  .   X   .   .   .   .   .   .   .
        y/b  .   X   .   .   .   .   .   .   .
        y/c  .   X   .   .   .   .   .   .   .
        z/a  .   X   .   .   .   .   .   .   .
        z/b  .   X   .   .   .   .   .   .   .
        z/c  .   X   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        "expose pods across namespaces with the namespace label",
        "kubernetes.rst Example: Expose pods across namespaces",
        (
            cnp(
                "k8s-expose-across-namespace",
                "x",
                {
                    "endpointSelector": pod("a"),
                    "ingress": [{"fromEndpoints": [pod("b", **{NS: "y"})]}],
                },
            ),
        ),
        "TCP",
        80,
        """
        -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
        x/a  X   .   .   .   .   .   .   .   .
        x/b  X   .   .   .   .   .   .   .   .
        x/c  X   .   .   .   .   .   .   .   .
        y/a  X   .   .   .   .   .   .   .   .
        y/b  .   .   .   .   .   .   .   .   .
        y/c  X   .   .   .   .   .   .   .   .
        z/a  X   .   .   .   .   .   .   .   .
        z/b  X   .   .   .   .   .   .   .   .
        z/c  X   .   .   .   .   .   .   .   .
        """,
    ),
    Scenario(
        "egress to the empty endpoint selector: every pod of the policy's namespace",
        "layer3.rst Egress Allow All Endpoints",
        (
            cnp(
                "allow-all-to-ns",
                "x",
                {"endpointSelector": pod("a"), "egress": [{"toEndpoints": [{}]}]},
            ),
        ),
        "TCP",
        80,
        """
        -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
        x/a  .   .   .   X   X   X   X   X   X
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
        "an empty egress rule puts the endpoint into default deny and allows nothing",
        "layer3.rst Ingress/Egress Default Deny",
        (cnp("deny-all-egress", "x", {"endpointSelector": pod("a"), "egress": [{}]}),),
        "TCP",
        80,
        """
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
        "egressDeny wins over allow rules, of this policy and of any other",
        "layer3.rst Simple Egress Deny; deny.rst",
        (
            cnp(
                "deny-egress-example",
                "x",
                {
                    "endpointSelector": pod("a"),
                    "egress": [{"toEntities": ["all"]}],
                    "egressDeny": [{"toEndpoints": [pod("b")]}],
                },
            ),
            cnp(
                "allow-b",
                "x",
                {"endpointSelector": pod("a"), "egress": [{"toEndpoints": [pod("b")]}]},
            ),
        ),
        "TCP",
        80,
        """
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
        "a clusterwide policy's empty peer is every pod of every namespace, on its ports",
        "kubernetes.rst Example: Allow all ingress to kube-dns",
        (
            ccnp(
                "wildcard-from-endpoints",
                {
                    "endpointSelector": pod("c", **{NS: "z"}),
                    "ingress": [
                        {
                            "fromEndpoints": [{}],
                            "toPorts": [{"ports": [{"port": "80", "protocol": "UDP"}]}],
                        }
                    ],
                },
            ),
        ),
        "UDP",
        81,
        """
        -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
        x/a  .   .   .   .   .   .   .   .   X
        x/b  .   .   .   .   .   .   .   .   X
        x/c  .   .   .   .   .   .   .   .   X
        y/a  .   .   .   .   .   .   .   .   X
        y/b  .   .   .   .   .   .   .   .   X
        y/c  .   .   .   .   .   .   .   .   X
        z/a  .   .   .   .   .   .   .   .   X
        z/b  .   .   .   .   .   .   .   .   X
        z/c  .   .   .   .   .   .   .   .   X
        """,
    ),
    Scenario(
        "a clusterwide policy selects and admits pods across namespaces",
        "kubernetes.rst Clusterwide Policies",
        (
            ccnp(
                "clusterscope",
                {"endpointSelector": pod("a"), "ingress": [{"fromEndpoints": [pod("b")]}]},
            ),
        ),
        "TCP",
        80,
        """
        -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
        x/a  X   .   .   X   .   .   X   .   .
        x/b  .   .   .   .   .   .   .   .   .
        x/c  X   .   .   X   .   .   X   .   .
        y/a  X   .   .   X   .   .   X   .   .
        y/b  .   .   .   .   .   .   .   .   .
        y/c  X   .   .   X   .   .   X   .   .
        z/a  X   .   .   X   .   .   X   .   .
        z/b  .   .   .   .   .   .   .   .   .
        z/c  X   .   .   X   .   .   X   .   .
        """,
    ),
    Scenario(
        "entries of one fromEndpoints list are ORed; a namespace In spans namespaces",
        "examples/policies/l3/match-expressions/or-statement.yaml",
        (
            cnp(
                "or-statement-policy",
                "y",
                {
                    "endpointSelector": {},
                    "ingress": [
                        {
                            "fromEndpoints": [
                                {
                                    "matchExpressions": [
                                        {"key": NS, "operator": "In", "values": ["x"]}
                                    ]
                                },
                                {
                                    "matchExpressions": [
                                        {"key": "k8s:pod", "operator": "In", "values": ["c"]}
                                    ]
                                },
                            ]
                        }
                    ],
                },
            ),
        ),
        "TCP",
        80,
        """
        -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
        x/a  .   .   .   .   .   .   .   .   .
        x/b  .   .   .   .   .   .   .   .   .
        x/c  .   .   .   .   .   .   .   .   .
        y/a  .   .   .   X   X   X   .   .   .
        y/b  .   .   .   X   X   X   .   .   .
        y/c  .   .   .   .   .   .   .   .   .
        z/a  .   .   .   X   X   X   .   .   .
        z/b  .   .   .   X   X   X   .   .   .
        z/c  .   .   .   X   X   X   .   .   .
        """,
    ),
    Scenario(
        "enableDefaultDeny false: the policy's allow rules isolate nothing alone",
        "CRD spec.enableDefaultDeny",
        (
            cnp(
                "broad",
                "x",
                {
                    "endpointSelector": pod("a"),
                    "enableDefaultDeny": {"egress": False},
                    "egress": [{"toEndpoints": [pod("b")]}],
                },
            ),
        ),
        "TCP",
        80,
        """
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
        "enableDefaultDeny false: its allow rules add to another policy's that isolates",
        "CRD spec.enableDefaultDeny: default deny is on if any policy requests it",
        (
            cnp(
                "broad",
                "x",
                {
                    "endpointSelector": pod("a"),
                    "enableDefaultDeny": {"egress": False},
                    "egress": [{"toEndpoints": [pod("b")]}],
                },
            ),
            cnp(
                "strict",
                "x",
                {"endpointSelector": pod("a"), "egress": [{"toEndpoints": [pod("c")]}]},
            ),
        ),
        "TCP",
        80,
        """
        -   x/a x/b x/c y/a y/b y/c z/a z/b z/c
        x/a  X   .   .   X   X   X   X   X   X
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
        "a CIDR rule selects no pod, even one whose address is inside it",
        "layer3.rst IP/CIDR based: CIDR-based selectors do not match in-cluster entities",
        (
            cnp(
                "cidr-rule",
                "x",
                {
                    "endpointSelector": pod("a"),
                    "egress": [{"toCIDR": ["10.0.0.0/8"]}, {"toEndpoints": [pod("b")]}],
                },
            ),
        ),
        "TCP",
        80,
        """
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
        "a ports-only rule admits every peer on those ports (81 is not one)",
        "layer4.rst Limit ingress/egress ports",
        (
            cnp(
                "l4-rule",
                "x",
                {
                    "endpointSelector": pod("a"),
                    "egress": [{"toPorts": [{"ports": [{"port": "80"}]}]}],
                },
            ),
        ),
        "TCP",
        81,
        """
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
        "a port without protocol is every transport protocol (ANY): UDP 80 is admitted",
        "layer4.rst; CRD PortProtocol.protocol: ANY or omitted matches TCP, UDP, SCTP",
        (
            cnp(
                "l4-rule",
                "x",
                {
                    "endpointSelector": pod("a"),
                    "egress": [{"toPorts": [{"ports": [{"port": "80"}]}]}],
                },
            ),
        ),
        "UDP",
        80,
        """
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
]


def test_scenario_names_are_unique():
    names = [s.name for s in SCENARIOS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_cilium_truth_table(scenario: Scenario):
    policies = [p for obj in scenario.policies for p in compile_object(obj)]
    # "By default, CIDR-based selectors do not match in-cluster entities (pods or nodes)"
    # (layer3.rst, Selecting nodes with CIDR / ipBlock): a Cilium-only set is judged with
    # ipBlocks matching no pod.
    evaluator = Evaluator(policies, ipblock_matches_pods=False)
    observed = probe(evaluator, cluster(), scenario.protocol, scenario.port)
    comparison = Comparison(parse_matrix(scenario.table), observed)
    assert comparison.wrong == (), comparison.report()
