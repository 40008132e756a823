"""API-reference cases for DESIGN §4 that tests/netpol/ does not already pin down.

Citations are to the networking.k8s.io/v1 API reference
(https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/), the
LabelSelector reference (meta/v1), and the concept pages "Network Policies" and "Labels and
Selectors" on kubernetes.io. Quotes are abridged. Every expected value is written out by hand.

The cast is the upstream e2e model of ``truth.py`` (x, y, z × a, b, c, IPs 10.0.<ns>.<pod>), plus
a few non-pod endpoints.
"""

from __future__ import annotations

from typing import Any

import pytest

from recommender.netpol.evaluator import Evaluator, RuleRef
from recommender.netpol.model import ContainerPort, Endpoint, PolicyError

from .truth import cluster, match_labels, namespace_labels, policy

P = cluster()
XA, XB, XC = P["x/a"], P["x/b"], P["x/c"]
YA, YB, YC = P["y/a"], P["y/b"], P["y/c"]
ZA, ZB = P["z/a"], P["z/b"]

EXTERNAL = Endpoint(kind="external", ip="203.0.113.9", name="203.0.113.9")
EXTERNAL6 = Endpoint(kind="external", ip="2001:db8::9", name="2001:db8::9")
MAPPED6 = Endpoint(kind="external", ip="::ffff:203.0.113.9", name="v4-mapped")
NODE = Endpoint(kind="node", ip="10.0.0.10", name="node-1")
HOST_NET = Endpoint(kind="host_network_pod", ip="10.0.1.1", name="hostnet")  # x/a's IP

POD_A = match_labels(pod="a")
POD_B = match_labels(pod="b")
NS = "kubernetes.io/metadata.name"


def ns_is(name: str) -> dict[str, Any]:
    return {"matchLabels": {NS: name}}


def allowed(policies, src, dst, protocol="TCP", port=80, **options) -> bool:
    return Evaluator(policies, **options).evaluate(src, dst, protocol, port).allowed


# --------------------------------------------------------------------------------------------
# policyTypes defaulting, as the evaluator applies it
#
# NetworkPolicySpec.policyTypes: "If this field is not specified, it will default based on the
# existence of ingress or egress rules; policies that contain an egress section are assumed to
# affect egress, and all policies (whether or not they contain an ingress section) are assumed to
# affect ingress. If you want to write an egress-only policy, you must explicitly specify
# policyTypes [ "Egress" ]. Likewise, if you want to write a policy that specifies that no egress
# is allowed, you must specify a policyTypes value that include "Egress" (since such a policy
# would not include an egress section and would otherwise default to just [ "Ingress" ])."
# NetworkPolicySpec.ingress: "If this field is empty then this NetworkPolicy does not allow any
# traffic (and serves solely to ensure that the pods it selects are isolated by default)."
# --------------------------------------------------------------------------------------------


def _raw(name: str, ns: str, **spec: Any) -> dict[str, Any]:
    """A policy exactly as written: no policyTypes added."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


POLICY_TYPES_CASES = [
    pytest.param(
        # egress-only rules, no policyTypes: Ingress+Egress; ingress has no rules of its own
        [_raw("p", "x", podSelector=POD_A, egress=[{"to": [{"podSelector": {}}]}])],
        [(XA, XB, True), (XA, YA, False), (XB, XA, False), (YA, XA, False), (XB, YA, True)],
        id="egress-rules-without-types-isolate-ingress-too",
    ),
    pytest.param(
        # ... but a second policy's ingress rules still apply: policies are additive
        [
            _raw("p", "x", podSelector=POD_A, egress=[{"to": [{"podSelector": {}}]}]),
            _raw("q", "x", podSelector=POD_A, ingress=[{"from": [{"podSelector": POD_B}]}]),
        ],
        [(XB, XA, True), (XC, XA, False), (YA, XA, False), (XA, YA, False)],
        id="ingress-isolation-from-one-policy-rules-from-another",
    ),
    pytest.param(
        # explicit Ingress ignores the egress rules written next to it
        [
            _raw(
                "p",
                "x",
                podSelector=POD_A,
                policyTypes=["Ingress"],
                egress=[{"to": [{"podSelector": POD_B}]}],
            )
        ],
        [(XA, YA, True), (XA, XC, True), (XB, XA, False)],
        id="explicit-ingress-ignores-egress-rules",
    ),
    pytest.param(
        [
            _raw(
                "p",
                "x",
                podSelector=POD_A,
                policyTypes=["Egress"],
                ingress=[{}],
                egress=[{"to": [{"podSelector": POD_B}]}],
            )
        ],
        [(XA, XB, True), (XA, XC, False), (YA, XA, True), (XA, YA, False)],
        id="explicit-egress-ignores-ingress-rules",
    ),
    pytest.param(
        # egress: [] without policyTypes is not an egress policy; the ingress rule applies
        [
            _raw(
                "p",
                "x",
                podSelector=POD_A,
                ingress=[{"from": [{"podSelector": POD_B}]}],
                egress=[],
            )
        ],
        [(XA, YA, True), (XA, EXTERNAL, True), (XB, XA, True), (XC, XA, False)],
        id="empty-egress-without-types-leaves-egress-open",
    ),
    pytest.param(
        [_raw("p", "x", podSelector=POD_A, policyTypes=["Ingress", "Egress"])],
        [(XA, XB, False), (XB, XA, False), (XA, EXTERNAL, False), (EXTERNAL, XA, False)],
        id="both-types-no-rules-deny-both",
    ),
    pytest.param(
        # a policy selecting no pod isolates nothing, whatever its types
        [_raw("p", "x", podSelector=match_labels(pod="nope"), policyTypes=["Ingress", "Egress"])],
        [(XA, XB, True), (YA, XA, True)],
        id="selects-no-pod",
    ),
]


@pytest.mark.parametrize(("policies", "checks"), POLICY_TYPES_CASES)
def test_policy_types_defaulting_in_evaluation(policies, checks):
    ev = Evaluator(policies)
    got = [(s.name, d.name, ev.evaluate(s, d, "TCP", 80).allowed) for s, d, _ in checks]
    assert got == [(s.name, d.name, want) for s, d, want in checks]


# --------------------------------------------------------------------------------------------
# AND vs OR peers, and rules pairing their own ports with their own peers
#
# NetworkPolicyPeer.namespaceSelector: "If podSelector is also set, then the NetworkPolicyPeer as a
# whole selects the pods matching podSelector in the namespaces selected by namespaceSelector.
# Otherwise it selects all pods in the namespaces selected by namespaceSelector."
# NetworkPolicyPeer.podSelector: "... Otherwise it selects the pods matching podSelector in the
# policy's own namespace."
# NetworkPolicyIngressRule.from: "Items in this list are combined using a logical OR operation."
# NetworkPolicyIngressRule: "The traffic must match both ports and from."
# NetworkPolicySpec.ingress: "... OR if the traffic matches at least one ingress rule across all of
# the NetworkPolicy objects whose podSelector matches the pod."
# --------------------------------------------------------------------------------------------

# sources probed against x/a: (x/b, y/a, y/b, z/a, external)
PEER_SOURCES = (XB, YA, YB, ZA, EXTERNAL)

PEER_CASES = [
    pytest.param(
        [{"from": [{"namespaceSelector": ns_is("y"), "podSelector": POD_A}]}],
        (False, True, False, False, False),
        id="and-one-peer",
    ),
    pytest.param(
        [{"from": [{"namespaceSelector": ns_is("y")}, {"podSelector": POD_B}]}],
        (True, True, True, False, False),
        id="or-two-peers",
    ),
    pytest.param(
        [{"from": [{"namespaceSelector": ns_is("y")}]}, {"from": [{"podSelector": POD_B}]}],
        (True, True, True, False, False),
        id="or-two-rules",
    ),
    pytest.param(
        [{"from": [{"namespaceSelector": {}, "podSelector": POD_A}]}],
        (False, True, False, True, False),
        id="all-namespaces-and-pod-a",
    ),
    pytest.param(
        [{"from": [{"namespaceSelector": {}, "podSelector": {}}]}],
        (True, True, True, True, False),
        id="every-pod-no-external",
    ),
    pytest.param(
        [{"from": [{"podSelector": {}}, {"ipBlock": {"cidr": "203.0.113.0/24"}}]}],
        (True, False, False, False, True),
        id="own-namespace-or-external-range",
    ),
]


@pytest.mark.parametrize(("rules", "expected"), PEER_CASES)
def test_and_or_peers(rules, expected):
    ev = Evaluator([policy("p", "x", POD_A, ingress=rules)])
    assert tuple(ev.evaluate(s, XA, "TCP", 80).allowed for s in PEER_SOURCES) == expected


@pytest.mark.parametrize(("rules", "expected"), PEER_CASES)
def test_and_or_peers_egress(rules, expected):
    """The same peers as `to` of x/a's egress give the same table."""
    egress = [{("to" if k == "from" else k): v for k, v in r.items()} for r in rules]
    ev = Evaluator([policy("p", "x", POD_A, egress=egress)])
    assert tuple(ev.evaluate(XA, d, "TCP", 80).allowed for d in PEER_SOURCES) == expected


PAIRED = [
    {"from": [{"namespaceSelector": ns_is("y")}], "ports": [{"port": 80}]},
    {"from": [{"podSelector": POD_B}], "ports": [{"port": 81}]},
]


@pytest.mark.parametrize(
    ("src", "port", "expected", "rule"),
    [
        (YA, 80, True, 0),
        (YA, 81, False, None),  # y's rule is for 80 only: ports do not leak across rules
        (XB, 81, True, 1),
        (XB, 80, False, None),
        (XC, 80, False, None),
        (XC, 81, False, None),
    ],
)
def test_ports_pair_with_peers_of_their_own_rule(src, port, expected, rule):
    v = Evaluator([policy("p", "x", POD_A, ingress=PAIRED)]).evaluate(src, XA, "TCP", port)
    assert v.allowed is expected
    assert v.ingress.allowed_by == (() if rule is None else (RuleRef("x", "p", "ingress", rule),))


# --------------------------------------------------------------------------------------------
# matchExpressions: several expressions, every operator
#
# LabelSelector: "matchLabels ... A single {key,value} in the matchLabels map is equivalent to an
# element of matchExpressions, whose key field is "key", the operator is "In", and the values
# array contains only "value". The requirements are ANDed." / "matchExpressions is a list of label
# selector requirements. The requirements are ANDed."
# LabelSelectorRequirement.operator: "Valid operators are In, NotIn, Exists and DoesNotExist."
# Labels and Selectors (set-based): "tier notin (frontend, backend) selects all resources with key
# equal to tier and values other than frontend and backend, and all resources with no labels with
# the tier key."
# --------------------------------------------------------------------------------------------


def exprs(*triples: tuple[str, str, tuple[str, ...]]) -> dict[str, Any]:
    out = []
    for key, op, values in triples:
        e: dict[str, Any] = {"key": key, "operator": op}
        if values:
            e["values"] = list(values)
        out.append(e)
    return {"matchExpressions": out}


# z carries env=prod, y carries env=dev, x has no env label
ENV = {
    "x": namespace_labels("x"),
    "y": {**namespace_labels("y"), "env": "dev"},
    "z": {**namespace_labels("z"), "env": "prod"},
}
# x/b carries tier=fe, x/c carries tier=be and canary=""
TIERS = {
    "x/b": {"pod": "b", "tier": "fe"},
    "x/c": {"pod": "c", "tier": "be", "canary": ""},
}
Q = cluster(namespace_label_overrides=ENV, pod_label_overrides=TIERS)


@pytest.mark.parametrize(
    ("peer", "expected"),
    [
        # sources: x/b, x/c, y/a, y/b, z/a, z/b
        pytest.param(
            {"namespaceSelector": exprs(("env", "NotIn", ("prod",)))},
            (True, True, True, True, False, False),
            id="ns-notin-matches-absent-key",
        ),
        pytest.param(
            {"namespaceSelector": exprs(("env", "Exists", ()), ("env", "NotIn", ("prod",)))},
            (False, False, True, True, False, False),
            id="ns-exists-and-notin",
        ),
        pytest.param(
            {"namespaceSelector": exprs(("env", "DoesNotExist", ()))},
            (True, True, False, False, False, False),
            id="ns-does-not-exist",
        ),
        pytest.param(
            {"namespaceSelector": exprs((NS, "In", ("y", "z")), ("env", "In", ("prod", "qa")))},
            (False, False, False, False, True, True),
            id="ns-two-in",
        ),
        pytest.param(
            {
                "namespaceSelector": {**match_labels(env="dev"), **exprs((NS, "In", ("y",)))},
                "podSelector": exprs(("pod", "NotIn", ("a",))),
            },
            (False, False, False, True, False, False),
            id="ns-labels-and-expr-and-pod-notin",
        ),
        pytest.param(
            {"podSelector": exprs(("tier", "Exists", ()), ("canary", "DoesNotExist", ()))},
            (True, False, False, False, False, False),
            id="pod-exists-and-does-not-exist",
        ),
        pytest.param(
            {"podSelector": exprs(("canary", "In", ("",)))},
            (False, True, False, False, False, False),
            id="pod-in-empty-value",
        ),
        pytest.param(
            {"podSelector": exprs(("pod", "Exists", ()), ("pod", "DoesNotExist", ()))},
            (False, False, False, False, False, False),
            id="contradiction-matches-nothing",
        ),
        pytest.param(
            {"podSelector": {**POD_B, **exprs(("pod", "In", ("c",)))}},
            (False, False, False, False, False, False),
            id="match-labels-and-expression-are-anded",
        ),
        pytest.param(
            {"namespaceSelector": {}, "podSelector": exprs(("pod", "In", ("a", "b")))},
            (True, False, True, True, True, True),
            id="in-two-values-any-namespace",
        ),
    ],
)
def test_match_expressions_in_peers(peer, expected):
    ev = Evaluator([policy("p", "x", POD_A, ingress=[{"from": [peer]}])])
    sources = (Q["x/b"], Q["x/c"], Q["y/a"], Q["y/b"], Q["z/a"], Q["z/b"])
    assert tuple(ev.evaluate(s, Q["x/a"], "TCP", 80).allowed for s in sources) == expected


def test_match_expressions_in_the_policy_pod_selector():
    # NetworkPolicySpec.podSelector selects the pods the policy applies to; same selector rules.
    ev = Evaluator(
        [
            policy(
                "p",
                "x",
                exprs(("pod", "In", ("a", "b", "c")), ("tier", "NotIn", ("be",))),
                ingress=[],
            )
        ]
    )
    selected = [ev.policies_selecting(Q[k], "ingress") for k in ("x/a", "x/b", "x/c", "y/a")]
    assert selected == [["x/p"], ["x/p"], [], []]


# --------------------------------------------------------------------------------------------
# `from: []`, a missing `from`, and selectors that select everything
#
# NetworkPolicyIngressRule.from: "If this field is empty or missing, this rule matches all sources
# (traffic not restricted by source)." NetworkPolicyEgressRule.to: "If this field is empty or
# missing, this rule matches all destinations (traffic not restricted by destination)."
# NetworkPolicyPeer.namespaceSelector: "if present but empty, it selects all namespaces" - it
# selects namespaces, hence pods: never a bare IP.
# --------------------------------------------------------------------------------------------

# peers: x/b, y/a, external v4, external v6, node
EVERYONE = (XB, YA, EXTERNAL, EXTERNAL6, NODE)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        pytest.param({}, (True, True, True, True, True), id="rule-without-peers"),
        pytest.param({"PEERS": []}, (True, True, True, True, True), id="empty-peer-list"),
        pytest.param({"PEERS": None}, (True, True, True, True, True), id="null-peer-list"),
        pytest.param(
            {"PEERS": [{"namespaceSelector": {}}]},
            (True, True, False, False, False),
            id="all-namespaces",
        ),
        pytest.param(
            {"PEERS": [{"namespaceSelector": {}, "podSelector": {}}]},
            (True, True, False, False, False),
            id="all-namespaces-all-pods",
        ),
        pytest.param(
            {"PEERS": [{"podSelector": {}}]},
            (True, False, False, False, False),
            id="all-pods-of-policy-namespace",
        ),
        pytest.param(
            {"PEERS": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]},
            (True, True, True, False, True),
            id="all-ipv4",
        ),
        pytest.param(
            {"PEERS": [{"ipBlock": {"cidr": "0.0.0.0/0"}}, {"ipBlock": {"cidr": "::/0"}}]},
            (True, True, True, True, True),
            id="all-ipv4-and-ipv6",
        ),
    ],
)
@pytest.mark.parametrize("direction", ["ingress", "egress"])
def test_empty_and_missing_peers(rule, expected, direction):
    key = "from" if direction == "ingress" else "to"
    concrete = {(key if k == "PEERS" else k): v for k, v in rule.items()}
    ev = Evaluator([policy("p", "x", POD_A, **{direction: [concrete]})])
    if direction == "ingress":
        got = tuple(ev.evaluate(peer, XA, "TCP", 80).allowed for peer in EVERYONE)
    else:
        got = tuple(ev.evaluate(XA, peer, "TCP", 80).allowed for peer in EVERYONE)
    assert got == expected


def test_no_rules_versus_one_empty_rule():
    # ingress: [] denies everything; ingress: [{}] admits everything (one rule matching all).
    deny = [policy("p", "x", POD_A, ingress=[])]
    allow = [policy("p", "x", POD_A, ingress=[{}])]
    assert [allowed(deny, s, XA) for s in EVERYONE] == [False] * 5
    assert [allowed(allow, s, XA, "SCTP", 9) for s in EVERYONE] == [True] * 5


# --------------------------------------------------------------------------------------------
# Ports without protocol, named ports and their protocol, endPort
#
# NetworkPolicyPort.protocol: "If not specified, this field defaults to TCP."
# NetworkPolicyPort.port: "This can either be a numerical or named port on a pod. If this field is
# not provided, this matches all port names and numbers. If present, only traffic on the specified
# protocol AND port will be matched."
# NetworkPolicyPort.endPort: "endPort indicates that the range of ports from port to endPort if
# set, inclusive, should be allowed by the policy. This field cannot be defined if the port field
# is not defined or if the port field is defined as a named (string) port. The endPort must be
# equal or greater than port."
# The e2e pods serve serve-80-tcp/udp/sctp and serve-81-tcp/udp/sctp.
# --------------------------------------------------------------------------------------------

PORT_CASES = [
    # (ports, protocol, port, expected)
    ([{"port": 80}], "TCP", 80, True),
    ([{"port": 80}], "UDP", 80, False),
    ([{"port": 80}], "SCTP", 80, False),
    ([{}], "TCP", 81, True),
    ([{}], "UDP", 81, False),
    ([{"protocol": "SCTP"}], "SCTP", 81, True),
    ([{"protocol": "SCTP"}], "TCP", 81, False),
    # named ports: the container port must carry the name AND the rule's protocol
    ([{"port": "serve-80-tcp"}], "TCP", 80, True),
    ([{"port": "serve-80-tcp"}], "TCP", 81, False),
    ([{"port": "serve-80-udp"}], "UDP", 80, False),  # no protocol = TCP; serve-80-udp is UDP
    ([{"port": "serve-80-udp"}], "TCP", 80, False),
    ([{"protocol": "UDP", "port": "serve-80-tcp"}], "UDP", 80, False),
    ([{"protocol": "UDP", "port": "serve-80-tcp"}], "TCP", 80, False),
    ([{"protocol": "UDP", "port": "serve-80-udp"}], "UDP", 80, True),
    ([{"protocol": "SCTP", "port": "serve-81-sctp"}], "SCTP", 81, True),
    ([{"protocol": "SCTP", "port": "serve-81-sctp"}], "SCTP", 80, False),
    ([{"port": "serve-82-tcp"}], "TCP", 82, False),  # no such container port
    # endPort, inclusive at both ends
    ([{"port": 80, "endPort": 81}], "TCP", 79, False),
    ([{"port": 80, "endPort": 81}], "TCP", 80, True),
    ([{"port": 80, "endPort": 81}], "TCP", 81, True),
    ([{"port": 80, "endPort": 81}], "TCP", 82, False),
    ([{"port": 80, "endPort": 81}], "UDP", 80, False),  # range without protocol is TCP
    ([{"protocol": "UDP", "port": 1000, "endPort": 2000}], "UDP", 999, False),
    ([{"protocol": "UDP", "port": 1000, "endPort": 2000}], "UDP", 1000, True),
    ([{"protocol": "UDP", "port": 1000, "endPort": 2000}], "UDP", 2000, True),
    ([{"protocol": "UDP", "port": 1000, "endPort": 2000}], "UDP", 2001, False),
    ([{"protocol": "UDP", "port": 1000, "endPort": 2000}], "TCP", 1500, False),
    ([{"port": 1, "endPort": 65535}], "TCP", 1, True),
    ([{"port": 1, "endPort": 65535}], "TCP", 65535, True),
    ([{"port": 1, "endPort": 65535}], "SCTP", 65535, False),
    ([{"port": 65535, "endPort": 65535}], "TCP", 65535, True),
    ([{"port": 65535, "endPort": 65535}], "TCP", 65534, False),
    # several ports: OR
    ([{"port": 79, "endPort": 79}, {"protocol": "UDP", "port": "serve-81-udp"}], "UDP", 81, True),
    ([{"port": 79, "endPort": 79}, {"protocol": "UDP", "port": "serve-81-udp"}], "TCP", 81, False),
]


@pytest.mark.parametrize(("ports", "protocol", "port", "expected"), PORT_CASES)
def test_ports_ingress(ports, protocol, port, expected):
    assert allowed(
        [policy("p", "x", POD_A, ingress=[{"ports": ports}])], YA, XA, protocol, port
    ) is (expected)


@pytest.mark.parametrize(("ports", "protocol", "port", "expected"), PORT_CASES)
def test_ports_egress(ports, protocol, port, expected):
    """Egress ports mean the destination port, named ports resolve on the destination pod."""
    assert allowed(
        [policy("p", "x", POD_A, egress=[{"ports": ports}])], XA, YA, protocol, port
    ) is (expected)


@pytest.mark.parametrize(
    "ports",
    [[{"port": "serve-80-tcp"}], [{"protocol": "UDP", "port": "serve-80-udp"}]],
)
def test_named_port_never_matches_a_non_pod_destination(ports):
    protocol = ports[0].get("protocol", "TCP")
    pol = [policy("p", "x", POD_A, egress=[{"ports": ports}])]
    assert allowed(pol, XA, EXTERNAL, protocol, 80) is False
    assert allowed(pol, XA, YA, protocol, 80) is True


def test_named_port_resolves_per_destination_pod():
    # the same name on two destinations with different numbers
    other = Endpoint(
        kind="pod",
        ip="10.0.2.9",
        namespace="y",
        labels={"pod": "d"},
        namespace_labels=namespace_labels("y"),
        ports=(ContainerPort("serve-80-tcp", 8080, "TCP"),),
        name="d",
    )
    pol = [policy("p", "x", POD_A, egress=[{"ports": [{"port": "serve-80-tcp"}]}])]
    assert [allowed(pol, XA, other, "TCP", p) for p in (80, 8080)] == [False, True]
    assert [allowed(pol, XA, YA, "TCP", p) for p in (80, 8080)] == [True, False]


# --------------------------------------------------------------------------------------------
# ipBlock: except with host bits, IPv6, families never mixing
#
# IPBlock: "IPBlock describes a particular CIDR (Ex. "192.168.1.0/24","2001:db8::/64") that is
# allowed to the pods matched by a NetworkPolicySpec's podSelector. The except entry describes
# CIDRs that should not be included within this rule."
# IPBlock.except: "except is a slice of CIDRs that should not be included within an IPBlock ...
# Except values will be rejected if they are outside the cidr range". (The API server's
# ValidateIPBlock rejects an except that is not a strict subset of cidr.)
# DESIGN §4: "CIDRs may carry host bits (192.168.242.213/24 means the /24); IPv4 blocks never admit
# IPv6."
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        # destinations: y/a 10.0.2.1, y/b 10.0.2.2, y/c 10.0.2.3, x/b 10.0.1.2, external
        ({"cidr": "10.0.2.77/24"}, (True, True, True, False, False)),
        ({"cidr": "10.0.2.77/24", "except": ["10.0.2.2/31"]}, (True, False, False, False, False)),
        ({"cidr": "10.0.2.77/24", "except": ["10.0.2.3/31"]}, (True, False, False, False, False)),
        (
            {"cidr": "10.0.2.0/24", "except": ["10.0.2.1/32", "10.0.2.3/32"]},
            (False, True, False, False, False),
        ),
        ({"cidr": "10.0.0.0/8", "except": ["10.0.2.200/23"]}, (False, False, False, True, False)),
        ({"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}, (False, False, False, False, True)),
        ({"cidr": "203.0.113.9/32"}, (False, False, False, False, True)),
    ],
)
def test_ipblock_except_with_host_bits(block, expected):
    pol = [policy("p", "x", POD_A, egress=[{"to": [{"ipBlock": block}]}])]
    ev = Evaluator(pol)
    got = tuple(ev.evaluate(XA, d, "TCP", 80).allowed for d in (YA, YB, YC, XB, EXTERNAL))
    assert got == expected


@pytest.mark.parametrize(
    "block",
    [
        {"cidr": "10.0.2.0/24", "except": ["10.0.2.9/24"]},  # host bits, same prefix: not strict
        {"cidr": "10.0.2.0/24", "except": ["10.0.3.0/25"]},  # outside
        {"cidr": "10.0.2.0/24", "except": ["10.0.0.0/16"]},  # wider
        {"cidr": "2001:db8::/64", "except": ["10.0.0.0/8"]},  # other family
    ],
)
def test_ipblock_except_must_be_strict_subset(block):
    with pytest.raises(PolicyError, match="except"):
        Evaluator([policy("p", "x", POD_A, egress=[{"to": [{"ipBlock": block}]}])])


def _v6_pod(ns: str, name: str, ip: str) -> Endpoint:
    return Endpoint(
        kind="pod",
        ip=ip,
        namespace=ns,
        labels={"pod": name},
        namespace_labels=namespace_labels(ns),
        name=name,
    )


# An IPv6 single-stack copy of part of the model.
XA6 = _v6_pod("x", "a", "fd00:1::1")
YA6 = _v6_pod("y", "a", "fd00:2::1")
YB6 = _v6_pod("y", "b", "fd00:2::2")
ZA6 = _v6_pod("z", "a", "fd00:3::1")


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        # destinations: y/a6, y/b6, z/a6, external v6 2001:db8::9, external v4
        ({"cidr": "fd00:2::/64"}, (True, True, False, False, False)),
        ({"cidr": "fd00:2::77/64"}, (True, True, False, False, False)),  # host bits
        ({"cidr": "fd00:2::/64", "except": ["fd00:2::2/128"]}, (True, False, False, False, False)),
        ({"cidr": "fd00::/16", "except": ["fd00:2::/64"]}, (False, False, True, False, False)),
        ({"cidr": "::/0"}, (True, True, True, True, False)),
        ({"cidr": "0.0.0.0/0"}, (False, False, False, False, True)),
        ({"cidr": "2001:db8::/32"}, (False, False, False, True, False)),
    ],
)
def test_ipv6_blocks(block, expected):
    ev = Evaluator([policy("p", "x", POD_A, egress=[{"to": [{"ipBlock": block}]}])])
    dests = (YA6, YB6, ZA6, EXTERNAL6, EXTERNAL)
    assert tuple(ev.evaluate(XA6, d, "TCP", 80).allowed for d in dests) == expected


@pytest.mark.parametrize(
    ("cidr", "src", "expected"),
    [
        ("0.0.0.0/0", EXTERNAL, True),
        ("0.0.0.0/0", EXTERNAL6, False),
        ("0.0.0.0/0", MAPPED6, False),  # IPv4-mapped IPv6 text is an IPv6 address
        ("203.0.113.0/24", MAPPED6, False),
        ("::/0", EXTERNAL6, True),
        ("::/0", EXTERNAL, False),
        ("::/0", MAPPED6, True),
        ("::ffff:0:0/96", MAPPED6, True),
        ("::ffff:0:0/96", EXTERNAL, False),  # and an IPv4 address is not its mapped form
    ],
)
def test_ip_families_never_mix(cidr, src, expected):
    pol = [policy("p", "x", POD_A, ingress=[{"from": [{"ipBlock": {"cidr": cidr}}]}])]
    assert allowed(pol, src, XA) is expected


# --------------------------------------------------------------------------------------------
# Policies never reach across namespaces
#
# NetworkPolicySpec.podSelector: "podSelector selects the pods to which this NetworkPolicy object
# applies ... An empty selector matches all pods in this namespace." (the policy's namespace)
# Network Policies concept: "podSelector: This selects particular Pods in the same namespace as
# the NetworkPolicy which should be allowed as ingress sources or egress destinations."
# --------------------------------------------------------------------------------------------


def test_policy_never_isolates_pods_of_another_namespace():
    pols = [
        policy("deny-all", "y", {}, ingress=[], egress=[]),
        policy("deny-pod-a", "z", POD_A, ingress=[], egress=[]),
    ]
    ev = Evaluator(pols)
    assert ev.policies_selecting(XA, "ingress") == []
    assert ev.policies_selecting(XA, "egress") == []
    assert ev.policies_selecting(ZB, "ingress") == []
    assert ev.policies_selecting(ZA, "egress") == ["z/deny-pod-a"]
    assert [ev.evaluate(XA, XB, "TCP", 80).allowed, ev.evaluate(ZB, XA, "TCP", 80).allowed] == [
        True,
        True,
    ]
    # traffic that touches y or z/a is cut by their own side only
    assert ev.evaluate(XA, YA, "TCP", 80).allowed is False
    assert ev.evaluate(ZA, XA, "TCP", 80).allowed is False
    assert ev.evaluate(ZB, ZA, "TCP", 80).allowed is False


@pytest.mark.parametrize(
    ("peer", "sources_allowed"),
    [
        # sources: x/b, y/b, z/b (all labelled pod=b)
        ({"podSelector": POD_B}, (True, False, False)),
        ({"namespaceSelector": ns_is("x"), "podSelector": POD_B}, (True, False, False)),
        ({"namespaceSelector": ns_is("y"), "podSelector": POD_B}, (False, True, False)),
        ({"namespaceSelector": {}, "podSelector": POD_B}, (True, True, True)),
    ],
)
def test_pod_selector_peer_means_the_policy_namespace(peer, sources_allowed):
    ev = Evaluator([policy("p", "x", POD_A, ingress=[{"from": [peer]}])])
    assert tuple(ev.evaluate(s, XA, "TCP", 80).allowed for s in (XB, YB, ZB)) == sources_allowed


def test_policy_without_namespace_lives_in_default():
    pol = _raw("p", "x", podSelector={}, policyTypes=["Ingress"])
    del pol["metadata"]["namespace"]
    ev = Evaluator([pol])
    assert ev.namespaces == ("default",)
    assert ev.evaluate(YA, XA, "TCP", 80).allowed is True


# --------------------------------------------------------------------------------------------
# ipblock_matches_pods, both directions
#
# Network Policies concept, ipBlock: "These should be cluster-external IPs, since Pod IPs are
# ephemeral and unpredictable." Whether a pod IP inside an ipBlock matches is left to the
# implementation (DESIGN §4: an option; Calico and Cilium: yes).
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("matches_pods", [True, False])
@pytest.mark.parametrize("direction", ["ingress", "egress"])
def test_ipblock_matches_pods_option(matches_pods, direction):
    key = "from" if direction == "ingress" else "to"
    rules = [{key: [{"ipBlock": {"cidr": "10.0.0.0/8"}}, {"podSelector": POD_B}]}]
    ev = Evaluator(
        [policy("p", "x", POD_A, **{direction: rules})], ipblock_matches_pods=matches_pods
    )
    others = (XB, XC, YA, NODE, HOST_NET, EXTERNAL)

    def ok(other):
        if direction == "ingress":
            return ev.evaluate(other, XA, "TCP", 80).allowed
        return ev.evaluate(XA, other, "TCP", 80).allowed

    # x/b by podSelector always; pods in 10/8 only when the option is on; non-pods by IP always
    expected = (True, matches_pods, matches_pods, True, True, False)
    assert tuple(ok(o) for o in others) == expected


# --------------------------------------------------------------------------------------------
# One-sided checks between a pod and a non-pod
#
# NetworkPolicySpec.ingress: "Traffic is allowed to a pod if there are no NetworkPolicies
# selecting the pod ... OR if the traffic matches at least one ingress rule"; .egress likewise
# for traffic from a pod. Only the pod end of a connection has policies; DESIGN §4: "Pod-to-pod
# needs the source's egress AND the destination's ingress".
# --------------------------------------------------------------------------------------------

ONE_SIDED = [
    policy("deny-all", "x", {}, ingress=[], egress=[]),
    policy(
        "a-from-external",
        "x",
        POD_A,
        ingress=[{"from": [{"ipBlock": {"cidr": "203.0.113.0/24"}}], "ports": [{"port": 443}]}],
    ),
    policy(
        "b-to-external",
        "x",
        POD_B,
        egress=[{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}]}],
    ),
]


@pytest.mark.parametrize(
    ("src", "dst", "port", "egress_side", "ingress_side", "verdict"),
    [
        # (applies, isolated, allowed) per side
        (EXTERNAL, XA, 443, (False, False, True), (True, True, True), True),
        (EXTERNAL, XA, 80, (False, False, True), (True, True, False), False),
        (NODE, XA, 443, (False, False, True), (True, True, False), False),  # 10.0.0.10 not in /24
        (XA, EXTERNAL, 443, (True, True, False), (False, False, True), False),
        (XB, EXTERNAL, 443, (True, True, True), (False, False, True), True),
        (XB, NODE, 443, (True, True, False), (False, False, True), False),  # excepted 10/8
        (XB, XA, 443, (True, True, False), (True, True, False), False),  # pod-to-pod: both sides
        (YA, XA, 443, (True, False, True), (True, True, False), False),
        (EXTERNAL, NODE, 22, (False, False, True), (False, False, True), True),
        (HOST_NET, XA, 443, (False, False, True), (True, True, False), False),
    ],
)
def test_external_pod_one_sided(src, dst, port, egress_side, ingress_side, verdict):
    v = Evaluator(ONE_SIDED).evaluate(src, dst, "TCP", port)
    assert (v.egress.applies, v.egress.isolated, v.egress.allowed) == egress_side
    assert (v.ingress.applies, v.ingress.isolated, v.ingress.allowed) == ingress_side
    assert v.allowed is verdict
