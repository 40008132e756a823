"""The Calico reader: projectcalico.org/v3 policies compiled into the model, every real
policy under ../shared/real-policies/calico read, and what the model cannot state named.

Semantics from Calico's reference (docs.tigera.io/calico/latest/reference/resources/:
networkpolicy, globalnetworkpolicy, tier, networkset; tigera/docs ``calico/_includes/content``
``_rule.mdx``, ``_entityrule.mdx``, ``_selector-scopes.mdx``, ``_ports.mdx``) and felix's
policy sorter (``felix/calc/policy_sorter.go``: a missing order sorts as +infinity).
"""

from __future__ import annotations

import copy
import ipaddress
import math

import pytest
import yaml
from conftest import SHARED

from recommender.netpol.calico import (
    KINDS,
    compile_network_set,
    compile_object,
    compile_objects,
    compile_tier,
)
from recommender.netpol.model import (
    ADMIN_TIER,
    BASELINE_TIER,
    NETWORK_POLICY_TIER,
    NS_NAME_LABEL,
    Action,
    IPBlock,
    Peer,
    PolicyError,
    PortMatch,
    Selector,
    Tier,
)
from recommender.netpol.networkpolicy import compile_policy

REAL = SHARED / "real-policies" / "calico"
API = "projectcalico.org/v3"


def policy(spec, name="p", namespace="shop", kind="NetworkPolicy"):
    meta = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    return {"apiVersion": API, "kind": kind, "metadata": meta, "spec": spec}


def one(spec, **kw):
    pols = compile_object(policy(spec, **kw))
    assert len(pols) == 1, pols
    return pols[0]


def net(text):
    return ipaddress.ip_network(text)


# --------------------------------------------------------------------------------------------
# Every real Calico policy file
# --------------------------------------------------------------------------------------------

HTTP = "GlobalNetworkPolicy customer: spec.ingress[0].http: an L7 HTTP match"
SA = (
    "GlobalNetworkPolicy {}: spec.ingress[0].source.serviceAccounts: "
    "service accounts are not in flow logs"
)
TIER_UNKNOWN = "{}: spec.tier: Tier internal-access not given: its order is unknown"
SGNP_TIER = TIER_UNKNOWN.format("StagedGlobalNetworkPolicy internal-access.allow-tcp-6379")
SNP_TIER = TIER_UNKNOWN.format("StagedNetworkPolicy production/internal-access.allow-tcp-6379")

#: file -> every policy it compiles to: (kind, key, rule unjudged reasons, policy unjudged);
#: or the refusal of the object the reader does not read.
REAL_FILES = {
    "calico-v3.32.1/app-policy/config/demo/30-policy.yaml": [
        ("GlobalNetworkPolicy", "customer", (HTTP,), ()),
        ("GlobalNetworkPolicy", "summary", (SA.format("summary"),), ()),
        ("GlobalNetworkPolicy", "database", (SA.format("database"),), ()),
    ],
    "docs-static/allow-istio-pilot.yaml": [
        # no namespace: in "default", where the rule's selector (scoped to the policy's
        # namespace) and projectcalico.org/namespace == 'istio-system' never both hold
        ("NetworkPolicy", "default/allow-istio-pilot", (), ()),
    ],
    "docs-v3.32/external-ips-policy-allow-egress-external.yaml": [
        ("NetworkPolicy", "production/allow-egress-external", (), ()),
    ],
    "docs-v3.32/kubernetes-default-deny-deny-app-policy.yaml": [
        ("GlobalNetworkPolicy", "deny-app-policy", (), ()),
    ],
    "docs-v3.32/namespace-policy-allow-tcp-6379.yaml": [
        ("NetworkPolicy", "production/allow-tcp-6379", (), ()),
    ],
    "docs-v3.32/reference-globalnetworkpolicy.yaml": [
        ("GlobalNetworkPolicy", "allow-tcp-6379", (), ()),
    ],
    "docs-v3.32/reference-globalnetworkset.yaml": [],
    "docs-v3.32/reference-networkpolicy.yaml": [
        ("NetworkPolicy", "production/allow-tcp-6379", (), ()),
    ],
    "docs-v3.32/reference-networkset.yaml": [],
    "docs-v3.32/reference-stagedglobalnetworkpolicy.yaml": [
        (
            "StagedGlobalNetworkPolicy",
            "staged:internal-access.allow-tcp-6379",
            (SGNP_TIER, SGNP_TIER),  # the policy's reason taints each rule
            (SGNP_TIER,),
        ),
    ],
    "docs-v3.32/reference-stagedkubernetesnetworkpolicy.yaml": (
        "object #0: projectcalico.org/v3 StagedKubernetesNetworkPolicy is not a Calico kind"
    ),
    "docs-v3.32/reference-stagednetworkpolicy.yaml": [
        (
            "StagedNetworkPolicy",
            "production/staged:internal-access.allow-tcp-6379",
            (SNP_TIER, SNP_TIER),
            (SNP_TIER,),
        ),
    ],
}


def _docs(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_the_table_names_every_real_file():
    assert sorted(str(p.relative_to(REAL)) for p in REAL.rglob("*.yaml")) == sorted(REAL_FILES)


@pytest.mark.parametrize("rel", sorted(REAL_FILES))
def test_every_real_calico_file_is_read(rel):
    expected = REAL_FILES[rel]
    docs = _docs(REAL / rel)
    if isinstance(expected, str):
        with pytest.raises(PolicyError) as err:
            compile_objects(docs)
        assert str(err.value) == expected
        return
    policies, _ = compile_objects(docs)
    got = [
        (
            p.kind.removesuffix(".projectcalico.org"),
            p.key,
            tuple(r.unjudged for r in p.rules if r.unjudged),
            p.unjudged,
        )
        for p in policies
    ]
    assert got == expected


def test_the_staged_kubernetes_policy_is_the_networkpolicy_readers():
    (doc,) = _docs(REAL / "docs-v3.32/reference-stagedkubernetesnetworkpolicy.yaml")
    assert (doc["apiVersion"], doc["kind"]) not in KINDS
    assert compile_policy(doc).name == "staged:test-network-policy"


def test_the_reference_networkpolicy_compiles_to_what_the_docs_say():
    (doc,) = _docs(REAL / "docs-v3.32/reference-networkpolicy.yaml")
    (pol,) = compile_object(doc)
    assert pol.namespace == "production"
    assert pol.subject == Selector.of({"role": "database"})
    assert pol.isolates == ("ingress", "egress")
    assert pol.tier == NETWORK_POLICY_TIER and pol.priority == math.inf
    ingress, egress = pol.rules
    assert ingress.peers == (Peer(pods=Selector.of({"role": "frontend"})),)
    assert ingress.ports == (PortMatch("TCP", 6379, 6379),)
    assert ingress.action is Action.ALLOW
    assert (egress.peers, egress.ports) == (None, None)


def test_the_istio_rule_matches_no_peer_and_says_so():
    (doc,) = _docs(REAL / "docs-static/allow-istio-pilot.yaml")
    notes: list[str] = []
    (pol,) = compile_object(doc, notes=notes)
    assert pol.isolates == ("egress",) and pol.rules == () and pol.priority == 0
    assert notes == [
        "NetworkPolicy default/allow-istio-pilot: spec.egress[0]: matches no peer: skipped"
    ]
    # in its own namespace the same rule admits istio's pilot pods
    doc["metadata"]["namespace"] = "istio-system"
    (pol,) = compile_object(doc)
    assert pol.rules[0].peers == (Peer(pods=Selector.of({"istio": "pilot"})),)


def test_the_default_deny_globalnetworkpolicy_narrows_by_namespace():
    (doc,) = _docs(REAL / "docs-v3.32/kubernetes-default-deny-deny-app-policy.yaml")
    (pol,) = compile_object(doc)
    assert pol.namespace is None and pol.subject == Selector()
    system = ("calico-system", "kube-public", "kube-system", "tigera-operator")
    assert pol.namespaces == Selector.of({}, [(NS_NAME_LABEL, "NotIn", system)])
    assert pol.isolates == ("ingress", "egress")
    # a GlobalNetworkPolicy's rule selector looks in every namespace
    assert pol.rules[0].peers == (Peer(pods=Selector.of({"k8s-app": "kube-dns"})),)
    assert [r.ports for r in pol.rules] == [
        (PortMatch("UDP", 53, 53),),
        (PortMatch("TCP", 53, 53),),
    ]


def test_network_sets_from_the_docs_are_resolved_by_labels():
    sets = _docs(REAL / "docs-v3.32/reference-networkset.yaml")
    sets += _docs(REAL / "docs-v3.32/reference-globalnetworkset.yaml")
    gnp = policy(
        {
            "egress": [
                {"action": "Allow", "destination": {"selector": "role == 'external-database'"}}
            ]
        },
        name="to-db",
        namespace=None,
        kind="GlobalNetworkPolicy",
    )
    np = policy(
        {"egress": [{"action": "Allow", "destination": {"selector": "role == 'db'"}}]},
        name="to-db",
        namespace="staging",
    )
    np_global = policy(
        {
            "egress": [
                {
                    "action": "Allow",
                    "destination": {
                        "selector": "role == 'external-database'",
                        "namespaceSelector": "global()",
                    },
                }
            ]
        },
        name="to-global",
        namespace="staging",
    )
    policies, notes = compile_objects([*sets, gnp, np, np_global])
    blocks = (IPBlock(net("198.51.100.0/28")), IPBlock(net("203.0.113.0/24")))
    by_key = {p.key: p for p in policies}
    # the GlobalNetworkPolicy: pods with the label anywhere, and the global set's nets
    assert by_key["to-db"].rules[0].peers == (
        Peer(pods=Selector.of({"role": "external-database"})),
        *(Peer(block=b) for b in blocks),
    )
    # the namespaced policy: pods of its namespace, and the set of its namespace
    assert by_key["staging/to-db"].rules[0].peers == (
        Peer(pods=Selector.of({"role": "db"})),
        *(Peer(block=b) for b in blocks),
    )
    # global(): no pod, the global set only
    assert by_key["staging/to-global"].rules[0].peers == tuple(Peer(block=b) for b in blocks)
    assert notes == [
        "GlobalNetworkPolicy to-db: spec.egress[0].destination: selects network set "
        "a-name-for-the-set: 198.51.100.0/28, 203.0.113.0/24",
        "NetworkPolicy staging/to-db: spec.egress[0].destination: selects network set "
        "staging/external-database: 198.51.100.0/28, 203.0.113.0/24",
        "NetworkPolicy staging/to-global: spec.egress[0].destination: selects network set "
        "a-name-for-the-set: 198.51.100.0/28, 203.0.113.0/24",
    ]


# --------------------------------------------------------------------------------------------
# Policies: types, order, tiers, staged kinds, subjects
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "isolates"),
    [
        ({}, ("ingress",)),
        ({"ingress": [{"action": "Allow"}]}, ("ingress",)),
        ({"egress": [{"action": "Allow"}]}, ("egress",)),
        (
            {"ingress": [{"action": "Allow"}], "egress": [{"action": "Allow"}]},
            ("ingress", "egress"),
        ),
        ({"types": ["Egress"], "ingress": [{"action": "Allow"}]}, ("egress",)),
    ],
)
def test_types_default_as_the_reference_table_says(spec, isolates):
    pol = one(spec)
    assert pol.isolates == isolates
    assert all(r.direction in isolates for r in pol.rules)


def test_rules_of_a_direction_not_in_types_are_ignored():
    pol = one({"types": ["Egress"], "ingress": [{"action": "Deny"}]})
    assert pol.rules == () and pol.ignored == ("ingress",)


def test_order_is_the_priority_and_missing_order_comes_last():
    assert one({"order": 100}).priority == 100
    assert one({"order": 2.5}).priority == 2.5
    assert one({}).priority == math.inf
    with pytest.raises(PolicyError, match="spec.order: must be a number"):
        one({"order": "1"})


def test_tiers():
    assert one({"tier": "default"}).tier == NETWORK_POLICY_TIER
    assert one({"tier": "kube-admin"}).tier == ADMIN_TIER
    assert one({"tier": "kube-baseline"}).tier == BASELINE_TIER
    tier = {"apiVersion": API, "kind": "Tier", "metadata": {"name": "security"}}
    tier["spec"] = {"order": 100, "defaultAction": "Pass"}
    assert compile_tier(tier) == Tier(100.0, "security", "pass")
    pols, _ = compile_objects([tier, policy({"tier": "security"})])
    assert pols[0].tier == Tier(100.0, "security", "pass") and pols[0].unjudged == ()
    unordered = {**tier, "metadata": {"name": "late"}, "spec": {}}
    assert compile_tier(unordered) == Tier(math.inf, "late", "deny")
    with pytest.raises(PolicyError, match="Tier default: spec: Calico's default tier is order"):
        compile_tier({**tier, "metadata": {"name": "default"}, "spec": {"order": 5}})


def test_staged_policies_are_judged_as_if_enforced():
    (pol,) = compile_object(policy({"stagedAction": "Set"}, kind="StagedNetworkPolicy"))
    assert pol.name == "staged:p" and pol.kind == "StagedNetworkPolicy.projectcalico.org"
    notes: list[str] = []
    spec = {"stagedAction": "Delete"}
    assert (
        compile_object(policy(spec, kind="StagedGlobalNetworkPolicy", namespace=None), notes=notes)
        == []
    )
    assert notes == ["StagedGlobalNetworkPolicy p: spec.stagedAction: Delete enforces nothing"]
    with pytest.raises(PolicyError, match="spec: unknown field.s. stagedAction"):
        one({"stagedAction": "Set"})


def test_a_subject_that_is_an_or_is_several_policies():
    pols = compile_object(
        policy({"selector": "app == 'a' || app == 'b'", "ingress": [{"action": "Allow"}]})
    )
    assert [p.name for p in pols] == ["p#1", "p#2"]
    assert [p.subject for p in pols] == [Selector.of({"app": "a"}), Selector.of({"app": "b"})]
    assert pols[0].rules == pols[1].rules


def test_a_subject_that_selects_nothing_is_no_policy():
    notes: list[str] = []
    assert compile_object(policy({"selector": "!all()"}), notes=notes) == []
    assert notes == ["NetworkPolicy shop/p: spec.selector: selects no endpoint"]


def test_calico_namespace_labels_in_subjects():
    # a NetworkPolicy's own namespace decides a projectcalico.org/namespace term statically
    assert one({"selector": "projectcalico.org/namespace == 'shop' && app == 'a'"}).subject == (
        Selector.of({"app": "a"})
    )
    assert compile_object(policy({"selector": "projectcalico.org/namespace == 'other'"})) == []
    # a GlobalNetworkPolicy narrows its namespaces; projectcalico.org/name is the name label
    gnp = one(
        {
            "selector": "app == 'a' && projectcalico.org/namespace in {'x', 'y'}",
            "namespaceSelector": "projectcalico.org/name != 'y' && env == 'prod'",
        },
        namespace=None,
        kind="GlobalNetworkPolicy",
    )
    assert gnp.subject == Selector.of({"app": "a"})
    assert gnp.namespaces == Selector.of({NS_NAME_LABEL: "x", "env": "prod"})


def test_service_account_subjects_are_unjudged():
    pol = one({"serviceAccountSelector": "role == 'x'", "ingress": [{"action": "Allow"}]})
    reason = (
        "NetworkPolicy shop/p: spec.serviceAccountSelector: service accounts are not in flow logs"
    )
    assert pol.unjudged == (reason,)
    assert pol.rules[0].unjudged == reason
    assert one({"serviceAccountSelector": "all()"}).unjudged == ()


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (policy({"bogus": 1}), "NetworkPolicy shop/p: spec: unknown field(s) bogus"),
        (
            policy({"namespaceSelector": "all()"}),
            "NetworkPolicy shop/p: spec: unknown field(s) namespaceSelector",
        ),
        (policy({"selector": "a ="}), "NetworkPolicy shop/p: spec.selector: expected ==: 'a ='"),
        (
            policy({"types": ["Both"]}),
            "NetworkPolicy shop/p: spec.types: unknown type 'Both' (Ingress or Egress)",
        ),
        (
            policy({"doNotTrack": True}, namespace=None, kind="GlobalNetworkPolicy"),
            "GlobalNetworkPolicy p: spec.doNotTrack: "
            "applies to host endpoints only, outside the model",
        ),
        (
            policy({"ingress": [{}]}),
            "NetworkPolicy shop/p: spec.ingress[0].action: "
            "must be Allow, Deny, Pass or Log, got None",
        ),
        (
            policy({"ingress": [{"action": "Allow", "destination": {"ports": [80]}}]}),
            "NetworkPolicy shop/p: spec.ingress[0].destination.ports: "
            "need protocol TCP, UDP or SCTP",
        ),
        (
            policy(
                {
                    "ingress": [
                        {"action": "Allow", "protocol": "TCP", "destination": {"ports": ["9:1"]}}
                    ]
                }
            ),
            "NetworkPolicy shop/p: spec.ingress[0].destination.ports[0]: "
            "'9:1' is not a port range within 0-65535",
        ),
        (
            policy({"ingress": [{"action": "Allow", "protocol": "QUIC"}]}),
            "NetworkPolicy shop/p: spec.ingress[0].protocol: unknown protocol 'QUIC'",
        ),
        (
            policy({"ingress": [{"action": "Allow", "source": {"nets": ["10.0.0.0/33"]}}]}),
            "NetworkPolicy shop/p: spec.ingress[0].source.nets[0]: invalid CIDR '10.0.0.0/33': "
            "'10.0.0.0/33' does not appear to be an IPv4 or IPv6 network",
        ),
        (policy({}, name=""), "NetworkPolicy #0: metadata.name: is required"),
        (
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "x"},
            },
            "object #0: networking.k8s.io/v1 NetworkPolicy is not a Calico policy",
        ),
    ],
)
def test_malformed_objects_are_refused_in_one_line(obj, message):
    with pytest.raises(PolicyError) as err:
        compile_object(obj)
    assert str(err.value) == message


def test_duplicates_are_refused():
    with pytest.raises(PolicyError, match="NetworkPolicy shop/p: duplicate object"):
        compile_objects([policy({}), policy({})])


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------


def rule(**fields):
    return one({"ingress": [{"action": "Allow", **fields}]}).rules[0]


def egress(**fields):
    return one({"egress": [{"action": "Allow", **fields}]}).rules[0]


def test_actions():
    pol = one({"ingress": [{"action": "Deny"}, {"action": "Pass"}, {"action": "Allow"}]})
    assert [r.action for r in pol.rules] == [Action.DENY, Action.PASS, Action.ALLOW]


def test_log_decides_nothing_and_is_skipped_with_a_note():
    notes: list[str] = []
    (pol,) = compile_object(
        policy({"ingress": [{"action": "Log"}, {"action": "Deny"}]}), notes=notes
    )
    assert [(r.index, r.action) for r in pol.rules] == [(1, Action.DENY)]
    assert notes == ["NetworkPolicy shop/p: spec.ingress[0]: action Log decides nothing: skipped"]


def test_protocols_and_ports():
    got = rule(protocol="TCP", destination={"ports": [80, "8000:8080", "http", "443"]})
    assert got.ports == (
        PortMatch("TCP", 80, 80),
        PortMatch("TCP", 8000, 8080),
        PortMatch("TCP", name="http"),
        PortMatch("TCP", 443, 443),
    )
    assert rule(protocol="udp").ports == (PortMatch("UDP"),)
    assert rule(protocol=132).ports == (PortMatch("SCTP"),)
    assert rule().ports is None and rule().unjudged == ""


def test_protocols_without_ports_are_unjudged_any_port():
    got = rule(protocol="ICMP", icmp={"type": 8})
    assert got.ports is None
    assert got.unjudged == (
        "NetworkPolicy shop/p: spec.ingress[0].icmp: ICMP type/code match; "
        "NetworkPolicy shop/p: spec.ingress[0].protocol: "
        "ICMP (the model matches TCP, UDP, SCTP only)"
    )


def test_nets_and_not_nets():
    assert rule(source={"nets": ["10.0.0.0/8", "2001:db8::/32"]}).peers == (
        Peer(block=IPBlock(net("10.0.0.0/8"))),
        Peer(block=IPBlock(net("2001:db8::/32"))),
    )
    # notNets inside a net are its excepts; a net inside a notNet is gone
    got = rule(source={"nets": ["10.0.0.0/8", "10.1.2.0/24"], "notNets": ["10.1.0.0/16"]})
    assert got.peers == (Peer(block=IPBlock(net("10.0.0.0/8"), (net("10.1.0.0/16"),))),)
    # notNets alone: every address of both families but those
    assert rule(source={"notNets": ["10.0.0.0/8"]}).peers == (
        Peer(block=IPBlock(net("0.0.0.0/0"), (net("10.0.0.0/8"),))),
        Peer(block=IPBlock(net("::/0"))),
    )
    # a bare address is its /32
    assert rule(source={"nets": ["192.0.2.7"]}).peers == (Peer(block=IPBlock(net("192.0.2.7/32"))),)


def test_nets_with_a_selector_must_both_match():
    got = rule(source={"nets": ["10.0.0.0/8"], "selector": "app == 'a' || app == 'b'"})
    assert got.peers == (
        Peer(pods=Selector.of({"app": "a"}), block=IPBlock(net("10.0.0.0/8"))),
        Peer(pods=Selector.of({"app": "b"}), block=IPBlock(net("10.0.0.0/8"))),
    )


def test_rule_selectors_and_namespace_selectors():
    own = rule(source={"selector": "app == 'a'"})
    assert own.peers == (Peer(pods=Selector.of({"app": "a"})),)
    other = rule(
        source={"selector": "all()", "namespaceSelector": "projectcalico.org/name == 'data'"}
    )
    assert other.peers == (Peer(pods=Selector(), namespaces=Selector.of({NS_NAME_LABEL: "data"})),)
    every = rule(source={"namespaceSelector": "all()"})
    assert every.peers == (Peer(pods=Selector(), namespaces=Selector()),)
    both = rule(
        source={
            "selector": "projectcalico.org/namespace == 'data' && app == 'db'",
            "namespaceSelector": "env == 'prod'",
        }
    )
    assert both.peers == (
        Peer(
            pods=Selector.of({"app": "db"}),
            namespaces=Selector.of({NS_NAME_LABEL: "data", "env": "prod"}),
        ),
    )


def test_calico_endpoint_labels_in_rule_selectors():
    gnp_rule = one(
        {
            "ingress": [
                {
                    "action": "Allow",
                    "source": {
                        "selector": "projectcalico.org/namespace == 'data' && pcns.team == 'x'"
                    },
                }
            ]
        },
        namespace=None,
        kind="GlobalNetworkPolicy",
    ).rules[0]
    assert gnp_rule.peers == (
        Peer(pods=Selector(), namespaces=Selector.of({NS_NAME_LABEL: "data", "team": "x"})),
    )
    sa = rule(source={"selector": "projectcalico.org/serviceaccount == 'api'"})
    assert sa.peers == (Peer(pods=Selector()),)
    assert (
        sa.unjudged
        == "label projectcalico.org/serviceaccount is not in flow logs (read as any value)"
    )


def test_a_rule_selector_in_another_namespace_of_a_namespaced_policy_matches_nothing():
    notes: list[str] = []
    spec = {
        "ingress": [
            {"action": "Allow", "source": {"selector": "projectcalico.org/namespace == 'data'"}}
        ]
    }
    (pol,) = compile_object(policy(spec), notes=notes)
    assert pol.rules == ()
    assert notes == ["NetworkPolicy shop/p: spec.ingress[0]: matches no peer: skipped"]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (
            {"source": {"notSelector": "app == 'a'"}},
            "spec.ingress[0].source.notSelector: a negative selector match",
        ),
        ({"protocol": "TCP", "destination": {"notPorts": [22]}}, None),
        ({"notProtocol": "UDP"}, "spec.ingress[0].notProtocol: a negative protocol match"),
        (
            {"ipVersion": 4},
            "spec.ingress[0].ipVersion: an IP version match (read as both versions)",
        ),
        ({"http": {"methods": ["GET"]}}, "spec.ingress[0].http: an L7 HTTP match"),
        (
            {"source": {"services": {"name": "x"}}},
            "spec.ingress[0].source.services: Kubernetes Service match",
        ),
        (
            {"protocol": "TCP", "source": {"ports": [1000]}},
            "spec.ingress[0].source.ports: source ports are not in the model",
        ),
        (
            {"destination": {"selector": "app == 'a'"}},
            "spec.ingress[0].destination.selector: "
            "narrows the policy's own endpoints (not compiled)",
        ),
        (
            {"source": {"selector": "app contains 'x'"}},
            "spec.ingress[0].source.selector: app contains 'x' read as has(app)",
        ),
    ],
)
def test_what_the_model_cannot_state_is_dropped_and_unjudged(fields, reason):
    got = rule(**fields)
    assert got.unjudged
    if reason is not None:
        assert got.unjudged == f"NetworkPolicy shop/p: {reason}"
    # dropping only broadens: the peers are at most the selector's
    assert got.peers in (None, (Peer(pods=Selector.of({}, [("app", "Exists", ())])),))


def test_not_ports_are_unjudged_in_an_egress_rule_too():
    got = egress(protocol="TCP", destination={"ports": [443], "notPorts": [80]})
    assert got.ports == (PortMatch("TCP", 443, 443),)
    assert (
        got.unjudged
        == "NetworkPolicy shop/p: spec.egress[0].destination.notPorts: a negative port match"
    )


def test_a_network_set_with_unknown_domains_is_refused():
    obj = {
        "apiVersion": API,
        "kind": "GlobalNetworkSet",
        "metadata": {"name": "s"},
        "spec": {"allowedEgressDomains": ["example.com"]},
    }
    with pytest.raises(
        PolicyError, match="GlobalNetworkSet s: spec.allowedEgressDomains: domain sets"
    ):
        compile_network_set(obj)


# --------------------------------------------------------------------------------------------
# Hostile objects: refused in one line, never another exception
# --------------------------------------------------------------------------------------------

_VALUES = [None, 1, -1, 1.5, True, "", "x", "a ==", "1:2", [], [None], [1], {}, {"a": 1}]


def _paths(obj, prefix=()):
    if prefix:
        yield prefix
    items = (
        obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    )
    for key, value in items:
        yield from _paths(value, (*prefix, key))


def _set(obj, path, value):
    for key in path[:-1]:
        obj = obj[key]
    obj[path[-1]] = value


@pytest.mark.parametrize("rel", [r for r, e in sorted(REAL_FILES.items()) if isinstance(e, list)])
def test_every_field_of_the_real_files_replaced_by_junk_is_read_or_refused(rel):
    docs = _docs(REAL / rel)
    tried = 0
    for i, doc in enumerate(docs):
        for path in _paths(doc):
            for value in _VALUES:
                mutated = copy.deepcopy(docs)
                _set(mutated[i], path, value)
                try:
                    policies, notes = compile_objects(mutated)
                except PolicyError as exc:
                    assert "\n" not in str(exc)
                else:
                    assert isinstance(policies, list) and isinstance(notes, list)
                tried += 1
    assert tried > 0
