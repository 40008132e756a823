"""The network-policy-api reader: AdminNetworkPolicy / BaselineAdminNetworkPolicy
``v1alpha1`` and ClusterNetworkPolicy ``v1alpha2`` compiled into the policy model, every real
policy of ``../shared/real-policies/network-policy-api/`` read, refusals one line each."""

from __future__ import annotations

import copy
import ipaddress

import pytest
import yaml
from conftest import SHARED

from recommender.netpol.admin import KINDS, compile_object
from recommender.netpol.identities import fqdn_matches
from recommender.netpol.model import (
    ADMIN_TIER,
    BASELINE_TIER,
    Action,
    Endpoint,
    FQDNMatch,
    IPBlock,
    Peer,
    PolicyError,
    PortMatch,
    Requirement,
    Selector,
)

REAL = SHARED / "real-policies/network-policy-api"


def _ns(name: str) -> Selector:
    return Selector.of({"kubernetes.io/metadata.name": name})


# --------------------------------------------------------------------------------------------
# Every real policy: compiled (name, tier, priority, directions, rules) or refused (reason)
# --------------------------------------------------------------------------------------------

#: file -> one outcome per YAML document: ("compiled", name, tier, priority, isolates,
#: rule count), ("refused", message), or ("other kind", kind) for a document another reader
#: reads. The two v0.1.8 user-story samples write the namespaces peer in the pre-v0.1.5 form
#: ``namespaces: {namespaceSelector: ...}``, which the v0.1.8 CRD does not define (the
#: README's note): refused, naming the field.
_OLD_PEER = (
    "spec.ingress[0].from[0].namespaces: namespaceSelector is not a field of the v0.1.8 "
    "namespaces peer, which is a label selector itself (matchLabels/matchExpressions)"
)
EXPECTED = {
    "v0.1.8/conformance/base/admin_network_policy/standard-egress-inline-cidr-rules.yaml": [
        ("compiled", "inline-cidr-as-peers-example", ADMIN_TIER, 85, ("egress",), 2)
    ],
    "v0.1.8/conformance/base/admin_network_policy/standard-gress-rules-combined.yaml": [
        ("compiled", "gress-rules", ADMIN_TIER, 15, ("ingress", "egress"), 14)
    ],
    "v0.1.8/conformance/base/api_integration/standard-anp-np-banp.yaml": [
        ("compiled", "pass-example", ADMIN_TIER, 10, ("ingress", "egress"), 2),
        ("other kind", "NetworkPolicy"),
        ("compiled", "default", BASELINE_TIER, 0, ("ingress", "egress"), 2),
    ],
    "v0.1.8/conformance/base/baseline_admin_network_policy/standard-egress-inline-cidr-rules.yaml": [  # noqa: E501
        ("compiled", "default", BASELINE_TIER, 0, ("egress",), 2)
    ],
    "v0.1.8/site-src/user-story-examples/user-story-1.yaml": [
        ("refused", f"AdminNetworkPolicy cluster-wide-deny-example: {_OLD_PEER}")
    ],
    "v0.1.8/site-src/user-story-examples/user-story-3.yaml": [
        ("compiled", "pub-svc-delegate-example", ADMIN_TIER, 20, ("egress",), 1)
    ],
    "v0.1.8/site-src/user-story-examples/user-story-5.yaml": [
        ("refused", f"BaselineAdminNetworkPolicy default: {_OLD_PEER}")
    ],
    "v0.2.0/pkg/crdtest/testdata/valid/deny-with-ports.yaml": [
        ("compiled", "deny-with-ports", ADMIN_TIER, 0, ("ingress",), 1)
    ],
    "v0.2.0/site-src/user-story-examples/user-story-1.yaml": [
        ("compiled", "cluster-wide-deny-example", ADMIN_TIER, 10, ("ingress",), 1)
    ],
    "v0.2.0/site-src/user-story-examples/user-story-3.yaml": [
        ("compiled", "pub-svc-delegate-example", ADMIN_TIER, 20, ("egress",), 1)
    ],
    "v0.2.0/site-src/user-story-examples/user-story-5.yaml": [
        ("compiled", "default", BASELINE_TIER, 10, ("ingress",), 1)
    ],
}


def _docs(rel: str) -> list[dict]:
    return list(yaml.safe_load_all((REAL / rel).read_text(encoding="utf-8")))


def test_the_table_names_every_real_policy_file():
    assert sorted(str(p.relative_to(REAL)) for p in REAL.rglob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_every_real_policy_is_compiled_or_refused_with_its_reason(rel):
    docs = _docs(rel)
    assert len(docs) == len(EXPECTED[rel])
    for doc, expected in zip(docs, EXPECTED[rel], strict=True):
        if expected[0] == "other kind":
            assert (doc["apiVersion"], doc["kind"]) not in KINDS
            assert doc["kind"] == expected[1]
        elif expected[0] == "refused":
            with pytest.raises(PolicyError) as err:
                compile_object(doc)
            assert str(err.value) == expected[1]
        else:
            (pol,) = compile_object(doc)
            _, name, tier, priority, isolates, count = expected
            got = (pol.name, pol.tier, pol.priority, pol.isolates, len(pol.rules))
            assert got == (name, tier, priority, isolates, count)
            assert pol.namespace is None and pol.kind == doc["kind"]
            assert all(r.unjudged == "" for r in pol.rules)


def test_kinds_are_the_three_cluster_scoped_kinds():
    expected = {
        ("policy.networking.k8s.io/v1alpha1", "AdminNetworkPolicy"),
        ("policy.networking.k8s.io/v1alpha1", "BaselineAdminNetworkPolicy"),
        ("policy.networking.k8s.io/v1alpha2", "ClusterNetworkPolicy"),
    }
    assert set(KINDS) == expected


# --------------------------------------------------------------------------------------------
# What the real policies compile into
# --------------------------------------------------------------------------------------------


def test_rules_keep_their_order_actions_and_ports():
    (pol,) = compile_object(
        _docs("v0.1.8/conformance/base/admin_network_policy/standard-gress-rules-combined.yaml")[0]
    )
    assert pol.namespaces == _ns("network-policy-conformance-gryffindor")
    assert pol.subject.matches_all
    egress = pol.rules_of("egress")
    assert [r.action for r in egress] == [
        Action.ALLOW,
        Action.DENY,
        Action.PASS,
        Action.DENY,
        Action.PASS,
        Action.ALLOW,
        Action.DENY,
    ]
    assert [r.index for r in egress] == list(range(7))
    assert egress[0].peers == (Peer(namespaces=_ns("network-policy-conformance-ravenclaw")),)
    assert egress[0].ports is None
    assert egress[3].ports == (
        PortMatch("TCP", 80, 80),
        PortMatch("UDP", 53, 53),
        PortMatch("SCTP", 9003, 9003),
    )
    ingress = pol.rules_of("ingress")
    assert [r.index for r in ingress] == list(range(7))
    assert ingress[5].ports == (
        PortMatch("TCP", 80, 80),
        PortMatch("UDP", 5353, 5353),
        PortMatch("SCTP", 9003, 9003),
    )


def test_pods_subject_and_peer_and_networks():
    (pol,) = compile_object(
        _docs(
            "v0.1.8/conformance/base/admin_network_policy/standard-egress-inline-cidr-rules.yaml"
        )[0]
    )
    house = {"conformance-house": "gryffindor"}
    assert (pol.namespaces, pol.subject) == (Selector.of(house), Selector.of(house))
    allow, deny = pol.rules
    slytherin = Selector.of({"conformance-house": "slytherin"})
    assert allow.peers == (Peer(pods=slytherin, namespaces=slytherin),)
    assert deny.action is Action.DENY
    assert deny.peers == (
        Peer(block=IPBlock(ipaddress.ip_network("0.0.0.0/0"))),
        Peer(block=IPBlock(ipaddress.ip_network("::/0"))),
    )


def test_v1alpha2_protocols_and_named_ports():
    (pol,) = compile_object(_docs("v0.2.0/pkg/crdtest/testdata/valid/deny-with-ports.yaml")[0])
    (rule,) = pol.rules
    assert rule.action is Action.DENY
    # pods peer with empty selectors: every pod of every namespace
    assert rule.peers == (Peer(pods=Selector(), namespaces=Selector()),)
    named = [PortMatch(p, name=n) for n in ("http", "monitoring") for p in ("TCP", "UDP", "SCTP")]
    assert rule.ports == (
        PortMatch("TCP", 8080, 8080),
        PortMatch("TCP", 8080, 9090),
        PortMatch("UDP", 8080, 8080),
        PortMatch("UDP", 9090, 9090),
        *named,
    )


def test_v1alpha2_accept_pass_and_baseline_tier():
    (story3,) = compile_object(_docs("v0.2.0/site-src/user-story-examples/user-story-3.yaml")[0])
    (rule,) = story3.rules
    assert rule.action is Action.PASS
    assert story3.namespaces == Selector() and story3.subject == Selector()
    (story5,) = compile_object(_docs("v0.2.0/site-src/user-story-examples/user-story-5.yaml")[0])
    assert (story5.tier, story5.priority, story5.rules[0].action) == (
        BASELINE_TIER,
        10,
        Action.DENY,
    )
    accept = copy.deepcopy(_docs("v0.2.0/site-src/user-story-examples/user-story-5.yaml")[0])
    accept["spec"]["ingress"][0]["action"] = "Accept"
    assert compile_object(accept)[0].rules[0].action is Action.ALLOW


# --------------------------------------------------------------------------------------------
# Unjudged rules: compiled, with the reason
# --------------------------------------------------------------------------------------------


def _anp(egress=None, ingress=None, **spec):
    body = {"priority": 5, "subject": {"namespaces": {}}, **spec}
    if egress is not None:
        body["egress"] = egress
    if ingress is not None:
        body["ingress"] = ingress
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": "AdminNetworkPolicy",
        "metadata": {"name": "p"},
        "spec": body,
    }


def _cnp(**spec):
    body = {"tier": "Admin", "priority": 5, "subject": {"namespaces": {}}, **spec}
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha2",
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": "c"},
        "spec": body,
    }


def test_a_nodes_peer_is_compiled_and_unjudged():
    obj = _anp([{"action": "Deny", "to": [{"nodes": {"matchLabels": {"role": "control"}}}]}])
    (rule,) = compile_object(obj)[0].rules
    assert rule.peers == (Peer(nodes=Selector.of({"role": "control"})),)
    assert rule.unjudged == "nodes peer: node labels are not in flow logs"


def test_domain_names_exact_and_wildcard_of_one_or_more_labels():
    names = ["API.Example.com.", "*.kubernetes.io"]
    (rule,) = compile_object(_anp([{"action": "Allow", "to": [{"domainNames": names}]}]))[0].rules
    assert rule.peers == (
        Peer(fqdn=FQDNMatch(name="api.example.com")),
        Peer(fqdn=FQDNMatch(pattern="**.kubernetes.io")),
    )
    assert rule.unjudged == ""
    # the CRD's own examples of '*.kubernetes.io', judged on the observed names
    wildcard = rule.peers[1].fqdn
    for name, matches in [
        ("www.kubernetes.io", True),
        ("latest.blog.kubernetes.io", True),
        ("kubernetes.io", False),
        ("wikipedia.org", False),
        ("my-kubernetes.io", False),
    ]:
        outside = Endpoint(kind="external", ip="203.0.113.7", names=(name,))
        assert fqdn_matches(wildcard, outside) is matches, name


@pytest.mark.parametrize("field", ["sameLabels", "notSameLabels"])
def test_same_labels_peers_cover_every_namespace_unjudged(field):
    obj = _anp(ingress=[{"action": "Allow", "from": [{"namespaces": {field: ["tenant"]}}]}])
    (rule,) = compile_object(obj)[0].rules
    assert rule.peers == (Peer(namespaces=Selector()),)
    assert rule.unjudged == (
        f"namespaces.{field}: relates the peer's namespace labels to the subject's, which the "
        "compiled model does not state"
    )


def test_match_expressions_in_subjects_and_peers():
    expr = {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["dev"]}]}
    obj = _cnp(
        subject={"pods": {"podSelector": expr}},
        ingress=[{"action": "Accept", "from": [{"pods": {"podSelector": {}}}]}],
    )
    (pol,) = compile_object(obj)
    assert pol.subject == Selector.of(None, [Requirement("env", "NotIn", ("dev",))])
    # v1alpha2 may leave out namespaceSelector: every namespace
    assert pol.namespaces == Selector()
    assert pol.rules[0].peers == (Peer(pods=Selector(), namespaces=Selector()),)


def test_a_v1alpha2_protocol_without_destination_port_is_every_port_of_it():
    obj = _cnp(egress=[{"action": "Deny", "to": [{"namespaces": {}}], "protocols": [{"udp": {}}]}])
    assert compile_object(obj)[0].rules[0].ports == (PortMatch("UDP"),)


# --------------------------------------------------------------------------------------------
# Refusals: one line naming the object and the field
# --------------------------------------------------------------------------------------------

_TO_ALL = [{"namespaces": {}}]


def _set(obj, path, value):
    obj = copy.deepcopy(obj)
    node = obj
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return obj


_DELETE = object()
_BASE = _anp([{"action": "Deny", "to": _TO_ALL}])
_BANP = {
    "apiVersion": "policy.networking.k8s.io/v1alpha1",
    "kind": "BaselineAdminNetworkPolicy",
    "metadata": {"name": "default"},
    "spec": {"subject": {"namespaces": {}}, "egress": [{"action": "Deny", "to": _TO_ALL}]},
}
_CNP = _cnp(egress=[{"action": "Deny", "to": _TO_ALL}])

REFUSALS = [
    (_BASE, ("spec", "tier"), "Admin", "AdminNetworkPolicy p: spec: unknown field(s) tier"),
    (
        _BASE,
        ("spec", "priority"),
        _DELETE,
        "AdminNetworkPolicy p: spec.priority: is required",
    ),
    (
        _BASE,
        ("spec", "priority"),
        1001,
        "AdminNetworkPolicy p: spec.priority: must be an integer in 0-1000, got 1001",
    ),
    (
        _BASE,
        ("spec", "subject"),
        {"namespaces": {}, "pods": {"namespaceSelector": {}, "podSelector": {}}},
        "AdminNetworkPolicy p: spec.subject: exactly one of namespaces, pods must be set",
    ),
    (
        _BASE,
        ("spec", "subject"),
        {"pods": {"podSelector": {}}},
        "AdminNetworkPolicy p: spec.subject.pods.namespaceSelector: is required",
    ),
    (
        _BASE,
        ("spec", "egress", 0, "action"),
        "Accept",
        "AdminNetworkPolicy p: spec.egress[0].action: 'Accept' is not one of Allow, Deny, Pass",
    ),
    (
        _BASE,
        ("spec", "egress", 0, "to"),
        [],
        "AdminNetworkPolicy p: spec.egress[0].to: must list at least one peer",
    ),
    (
        _BASE,
        ("spec", "egress", 0, "to"),
        [{}],
        "AdminNetworkPolicy p: spec.egress[0].to[0]: exactly one of namespaces, pods, networks, "
        "nodes, domainNames must be set",
    ),
    (
        _BASE,
        ("spec", "egress", 0, "to"),
        [{"networks": ["10.0.0.0"]}],
        "AdminNetworkPolicy p: spec.egress[0].to[0].networks[0]: invalid CIDR '10.0.0.0'",
    ),
    (
        _BASE,
        ("spec", "egress", 0, "to"),
        [{"domainNames": ["example.com"]}],
        "AdminNetworkPolicy p: spec.egress[0].to[0].domainNames: domainNames is only supported "
        "in Allow/Accept rules",
    ),
    (
        _BASE,
        ("spec", "egress", 0, "ports"),
        [],
        "AdminNetworkPolicy p: spec.egress[0].ports: must not be empty (leave it out for every "
        "port)",
    ),
    (
        _BASE,
        ("spec", "egress", 0, "ports"),
        [{"portNumber": {"protocol": "ICMP", "port": 1}}],
        "AdminNetworkPolicy p: spec.egress[0].ports[0].portNumber.protocol: unknown protocol "
        "'ICMP' (TCP, UDP or SCTP)",
    ),
    (
        _BASE,
        ("spec", "egress", 0, "ports"),
        [{"portRange": {"start": 90, "end": 80}}],
        "AdminNetworkPolicy p: spec.egress[0].ports[0].portRange: start 90 must be less than "
        "end 80",
    ),
    (
        _BASE,
        ("spec", "egress", 0, "ports"),
        [{"portNumber": {"port": 80}, "namedPort": "http"}],
        "AdminNetworkPolicy p: spec.egress[0].ports[0]: exactly one of portNumber, portRange, "
        "namedPort must be set",
    ),
    (
        _anp([{"action": "Deny", "to": [{"networks": ["10.0.0.0/8"]}]}]),
        ("spec", "egress", 0, "ports"),
        [{"namedPort": "http"}],
        "AdminNetworkPolicy p: spec.egress[0]: named ports cannot be used with networks, nodes "
        "or domainNames peers",
    ),
    (
        _anp(ingress=[{"action": "Deny", "from": _TO_ALL}]),
        ("spec", "ingress", 0, "from"),
        [{"networks": ["10.0.0.0/8"]}],
        "AdminNetworkPolicy p: spec.ingress[0].from[0]: unknown field(s) networks",
    ),
    (
        _BASE,
        ("metadata", "namespace"),
        "shop",
        "AdminNetworkPolicy p: metadata.namespace: a cluster-scoped kind has none",
    ),
    (
        _BASE,
        ("apiVersion",),
        "policy.networking.k8s.io/v1alpha2",
        "AdminNetworkPolicy p: apiVersion/kind: policy.networking.k8s.io/v1alpha2 "
        "AdminNetworkPolicy is not one of policy.networking.k8s.io/v1alpha1 AdminNetworkPolicy, "
        "policy.networking.k8s.io/v1alpha1 BaselineAdminNetworkPolicy, "
        "policy.networking.k8s.io/v1alpha2 ClusterNetworkPolicy",
    ),
    (
        _BANP,
        ("metadata", "name"),
        "tenant",
        "BaselineAdminNetworkPolicy tenant: metadata.name: must be 'default', the singleton's "
        "name the CRD requires",
    ),
    (
        _BANP,
        ("spec", "egress", 0, "action"),
        "Pass",
        "BaselineAdminNetworkPolicy default: spec.egress[0].action: 'Pass' is not one of "
        "Allow, Deny",
    ),
    (
        _BANP,
        ("spec", "egress", 0, "to"),
        [{"domainNames": ["example.com"]}],
        "BaselineAdminNetworkPolicy default: spec.egress[0].to[0]: unknown field(s) domainNames",
    ),
    (
        _anp([{"action": "Allow", "to": [{"domainNames": ["example.com"]}]}]),
        ("spec", "egress", 0, "to", 0, "domainNames", 0),
        "ex*.com",
        "AdminNetworkPolicy p: spec.egress[0].to[0].domainNames[0]: invalid domain name 'ex*.com'",
    ),
    (
        _BANP,
        ("spec", "priority"),
        3,
        "BaselineAdminNetworkPolicy default: spec: unknown field(s) priority",
    ),
    (
        _CNP,
        ("spec", "tier"),
        "NetworkPolicy",
        "ClusterNetworkPolicy c: spec.tier: 'NetworkPolicy' is not Admin or Baseline",
    ),
    (
        _CNP,
        ("spec", "egress", 0, "action"),
        "Allow",
        "ClusterNetworkPolicy c: spec.egress[0].action: 'Allow' is not one of Accept, Deny, Pass",
    ),
    (
        _CNP,
        ("spec", "egress", 0, "ports"),
        [{"portNumber": {"port": 80}}],
        "ClusterNetworkPolicy c: spec.egress[0]: unknown field(s) ports",
    ),
    (
        _CNP,
        ("spec", "egress", 0, "protocols"),
        [{"tcp": {"destinationPort": {"range": {"start": 80, "end": 80}}}}],
        "ClusterNetworkPolicy c: spec.egress[0].protocols[0].tcp.destinationPort.range: start 80 "
        "must be less than end 80",
    ),
    (
        _CNP,
        ("spec", "egress", 0, "protocols"),
        [{"icmp": {"type": 8}}],
        "ClusterNetworkPolicy c: spec.egress[0].protocols[0]: unknown field(s) icmp",
    ),
    (
        _CNP,
        ("spec", "subject"),
        {"pods": {"namespaceSelector": {}}},
        "ClusterNetworkPolicy c: spec.subject.pods.podSelector: is required",
    ),
    (
        _CNP,
        ("spec", "egress", 0, "to"),
        [{"namespaces": {"matchExpressions": [{"key": "a", "operator": "Equals"}]}}],
        "ClusterNetworkPolicy c: spec.egress[0].to[0].namespaces.matchExpressions[0].operator: "
        "unknown operator 'Equals' (expected In, NotIn, Exists or DoesNotExist)",
    ),
]


@pytest.mark.parametrize("obj, path, value, message", REFUSALS)
def test_what_the_crds_do_not_admit_is_refused_in_one_line(obj, path, value, message):
    compile_object(obj)  # the object before the change compiles
    with pytest.raises(PolicyError) as err:
        compile_object(_set(obj, path, value))
    assert str(err.value) == message
    assert "\n" not in str(err.value)
