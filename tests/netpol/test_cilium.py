"""The Cilium reader: every Cilium example policy the project ships is read, the L3/L4 subset
compiled as Cilium's docs define it, everything else named per rule or refused."""

from __future__ import annotations

import copy

import pytest
import yaml
from conftest import SHARED

from recommender.netpol.cilium import CILIUM_ALLOW_ONLY_TIER, KINDS, compile_object
from recommender.netpol.model import (
    CILIUM_DENY_TIER,
    NETWORK_POLICY_TIER,
    NS_NAME_LABEL,
    Action,
    FQDNMatch,
    Peer,
    PolicyError,
    PortMatch,
    Requirement,
    Selector,
)

REAL = SHARED / "real-policies/cilium"


def cnp(spec, name="p", namespace="shop", kind="CiliumNetworkPolicy"):
    meta = (
        {"name": name} if kind != "CiliumNetworkPolicy" else {"name": name, "namespace": namespace}
    )
    return {"apiVersion": "cilium.io/v2", "kind": kind, "metadata": meta, "spec": spec}


def one(spec, **kw):
    (policy,) = compile_object(cnp(spec, **kw))
    return policy


def egress(*rules):
    return {"endpointSelector": {"matchLabels": {"app": "api"}}, "egress": list(rules)}


def ns(name):
    return Selector.of({NS_NAME_LABEL: name})


# --------------------------------------------------------------------------------------------
# Every real Cilium policy: what it compiles to (policy key, tier, isolated directions, rules
# per action, unjudged reasons), or the reason it is refused
# --------------------------------------------------------------------------------------------

#: file -> [(key, tier, isolates, rule count, the unjudged reasons' distinctive words)]
REAL_OUTCOMES = {
    "kubernetes/clusterwide/wildcard-from-endpoints.yaml": [
        ("wildcard-from-endpoints", "networkpolicy", ("ingress",), 1, [])
    ],
    "kubernetes/namespace/kubedns-policy.yaml": [
        ("public/allow-to-kubedns", "networkpolicy", ("egress",), 1, [])
    ],
    "kubernetes/namespace/namespace-labels-policy.yaml": [
        (
            "default/alliance-only",
            "networkpolicy",
            ("ingress", "egress"),
            2,
            ["namespace.labels in a CiliumNetworkPolicy"] * 2,
        )
    ],
    "kubernetes/namespace/namespace-policy.yaml": [
        ("ns1/k8s-expose-across-namespace", "networkpolicy", ("ingress",), 1, [])
    ],
    "l3/cidr/cidr.yaml": [("default/cidr-rule", "networkpolicy", ("egress",), 2, [])],
    "l3/egress-default-deny/egress-default-deny.yaml": [
        ("default/deny-all-egress", "networkpolicy", ("egress",), 0, [])
    ],
    "l3/egress-deny/egress-deny.yaml": [
        ("default/deny-egress-example", "networkpolicy", ("egress",), 1, []),
        ("default/deny-egress-example", "cilium-deny", ("egress",), 1, []),
    ],
    "l3/entities/apiserver.yaml": [
        ("default/dev-to-kube-apiserver", "networkpolicy", ("egress",), 1, [])
    ],
    "l3/entities/from_world_deny.yaml": [
        ("external-lockdown", "networkpolicy", ("ingress",), 1, []),
        ("external-lockdown", "cilium-deny", ("ingress",), 1, []),
    ],
    "l3/entities/host.yaml": [("default/dev-to-host", "networkpolicy", ("egress",), 1, [])],
    "l3/entities/world.yaml": [
        ("default/from-world-to-role-public", "networkpolicy", ("ingress",), 1, [])
    ],
    "l3/fqdn/fqdn.yaml": [("default/to-fqdn", "networkpolicy", ("egress",), 2, [])],
    "l3/match-expressions/or-statement.yaml": [
        ("default/or-statement-policy", "networkpolicy", ("ingress",), 1, [])
    ],
    "l3/service/service.yaml": [
        (
            "default/service-rule",
            "networkpolicy",
            ("egress",),
            1,
            ["toServices[0]: service and cloud-group peers are not resolved"],
        )
    ],
    "l3/simple/l3.yaml": [("default/l3-rule", "networkpolicy", ("ingress",), 1, [])],
    "l4/cidr_l4_combined.yaml": [("default/cidr-l4-rule", "networkpolicy", ("egress",), 1, [])],
    "l4/l3_l4_combined.yaml": [("default/l4-rule", "networkpolicy", ("ingress",), 1, [])],
    "l4/l4.yaml": [("default/l4-rule", "networkpolicy", ("egress",), 1, [])],
    "l4/l4_port_range.yaml": [("default/l4-port-range-rule", "networkpolicy", ("egress",), 1, [])],
    "l7/dns/dns.yaml": [("default/tofqdn-dns-visibility", "networkpolicy", ("egress",), 2, [])],
}


def test_the_table_names_every_real_cilium_file():
    files = sorted(str(p.relative_to(REAL)) for p in REAL.rglob("*.yaml"))
    assert files == sorted(REAL_OUTCOMES)


@pytest.mark.parametrize("rel", sorted(REAL_OUTCOMES))
def test_every_real_cilium_policy_is_read(rel):
    (obj,) = list(yaml.safe_load_all((REAL / rel).read_text(encoding="utf-8")))
    assert (obj["apiVersion"], obj["kind"]) in KINDS
    got = []
    for pol in compile_object(obj):
        reasons = [r.unjudged for r in pol.rules if r.unjudged] + list(pol.unjudged)
        got.append((pol.key, pol.tier.name, pol.isolates, len(pol.rules), reasons))
    expected = REAL_OUTCOMES[rel]
    assert [g[:4] for g in got] == [e[:4] for e in expected]
    for (*_, reasons), (*_, words) in zip(got, expected, strict=True):
        assert len(reasons) == len(words), reasons
        for reason, word in zip(reasons, words, strict=True):
            assert word in reason


def test_the_real_fqdn_policy_compiles_names_and_patterns_and_judges_its_dns_rule():
    obj = yaml.safe_load((REAL / "l7/dns/dns.yaml").read_text(encoding="utf-8"))
    (pol,) = compile_object(obj)
    assert pol.subject == Selector.of({"org": "alliance"})  # any:org is the plain key
    dns, names = pol.rules
    assert dns.unjudged == ""  # DNS rules on port 53 only steer lookups through the proxy
    assert dns.peers == (
        Peer(pods=Selector.of({"k8s-app": "kube-dns"}), namespaces=ns("kube-system")),
    )
    assert {p.protocol for p in dns.ports} == {"TCP", "UDP", "SCTP"}  # protocol ANY
    assert [p.fqdn for p in names.peers] == [
        FQDNMatch(name="cilium.io"),
        FQDNMatch(name="sub.cilium.io"),
        FQDNMatch(name="service1.api.cilium.io"),
        FQDNMatch(pattern="special*service.api.cilium.io"),
    ]


def test_a_clusterwide_policy_selects_pods_of_any_namespace_unless_it_names_them():
    obj = yaml.safe_load(
        (REAL / "kubernetes/clusterwide/wildcard-from-endpoints.yaml").read_text(encoding="utf-8")
    )
    (pol,) = compile_object(obj)
    assert pol.namespace is None and pol.kind == "CiliumClusterwideNetworkPolicy"
    assert pol.namespaces == ns("kube-system")
    assert pol.subject == Selector.of({"k8s-app": "kube-dns"})
    (rule,) = pol.rules
    assert rule.peers == (Peer(pods=Selector()),)  # namespaces None: every namespace
    assert rule.ports == (PortMatch("UDP", 53, 53),)


def test_deny_rules_are_a_policy_of_their_own_in_the_deny_tier():
    obj = yaml.safe_load((REAL / "l3/egress-deny/egress-deny.yaml").read_text(encoding="utf-8"))
    allow, deny = compile_object(obj)
    assert (allow.tier, deny.tier) == (NETWORK_POLICY_TIER, CILIUM_DENY_TIER)
    assert allow.rules[0].peers == (Peer(entity="all"),)
    assert deny.rules[0].action == Action.DENY
    assert deny.rules[0].peers == (Peer(pods=Selector.of({"role": "backend"})),)


# --------------------------------------------------------------------------------------------
# Semantics of the subset
# --------------------------------------------------------------------------------------------


def test_the_empty_rule_only_isolates_and_a_ports_only_rule_admits_any_peer():
    pol = one(egress({}, {"toPorts": [{"ports": [{"port": "0", "protocol": "UDP"}]}]}))
    assert pol.isolates == ("egress",)
    (rule,) = pol.rules
    assert (rule.index, rule.peers, rule.ports) == (1, None, (PortMatch("UDP"),))


def test_an_l3_field_written_empty_selects_nothing():
    pol = one(egress({"toEndpoints": []}, {"toEntities": ["none"]}))
    assert pol.isolates == ("egress",) and pol.rules == ()


def test_namespace_label_keys_select_namespaces_in_any_source_spelling():
    pol = one(
        egress(
            {
                "toEndpoints": [
                    {"matchLabels": {"io.kubernetes.pod.namespace": "data", "k8s:app": "db"}},
                    {
                        "matchExpressions": [
                            {
                                "key": "any:io.kubernetes.pod.namespace",
                                "operator": "In",
                                "values": ["a", "b"],
                            }
                        ]
                    },
                ]
            }
        )
    )
    first, second = pol.rules[0].peers
    assert first == Peer(pods=Selector.of({"app": "db"}), namespaces=ns("data"))
    assert second.namespaces == Selector.of(requirements=[(NS_NAME_LABEL, "In", ("a", "b"))])


def test_a_reserved_label_alone_is_its_entity_and_other_sources_are_unjudged():
    pol = one(
        egress(
            {"toEndpoints": [{"matchLabels": {"reserved:host": ""}}]},
            {"toEndpoints": [{"matchLabels": {"io.cilium.k8s.policy.serviceaccount": "leia"}}]},
        )
    )
    host, account = pol.rules
    assert host.peers == (Peer(entity="host"),) and host.unjudged == ""
    assert account.peers is None  # any peer it matches is unjudged, never allowed
    assert "labels flow logs do not carry" in account.unjudged


def test_enable_default_deny_false_makes_allow_rules_additive():
    spec = egress({"toEntities": ["world"]})
    spec["enableDefaultDeny"] = {"egress": False}
    isolating, additive = compile_object(cnp(spec))
    assert (isolating.tier, isolating.isolates, isolating.rules) == (NETWORK_POLICY_TIER, (), ())
    assert additive.tier == CILIUM_ALLOW_ONLY_TIER and additive.tier.default == "pass"
    assert additive.isolates == ("egress",) and additive.rules[0].peers == (Peer(entity="world"),)


def test_a_deny_only_direction_is_isolated_by_its_allow_part():
    spec = {"endpointSelector": {}, "ingressDeny": [{"fromEntities": ["world"]}]}
    allow, deny = compile_object(cnp(spec))
    assert (allow.isolates, allow.rules) == (("ingress",), ())
    assert deny.isolates == ("ingress",)


@pytest.mark.parametrize(
    "port_rule, reason",
    [
        ({"ports": [{"port": "80"}], "rules": {"http": [{"method": "GET"}]}}, "rules.http"),
        ({"ports": [{"port": "8053"}], "rules": {"dns": [{"matchPattern": "*"}]}}, "rules.dns"),
        ({"ports": [{"port": "443"}], "serverNames": ["a.example.com"]}, "serverNames"),
        ({"ports": [{"port": "0", "protocol": "VRRP"}]}, "VRRP is outside"),
    ],
)
def test_what_l4_cannot_judge_is_named_on_the_rule(port_rule, reason):
    (rule,) = one(egress({"toEntities": ["world"], "toPorts": [port_rule]})).rules
    assert reason in rule.unjudged
    assert rule.peers == (Peer(entity="world"),)  # the L3/L4 part is still compiled


def test_icmps_requires_and_authentication_are_named():
    pol = one(
        egress(
            {
                "toEndpoints": [{}],
                "icmps": [{"fields": [{"type": 8}]}],
                "toRequires": [{"matchLabels": {"env": "prod"}}],
                "authentication": {"mode": "required"},
            }
        )
    )
    (rule,) = pol.rules
    assert pol.unjudged == (
        "shop/p: spec.egress[0].toRequires: narrows every rule selecting these pods; "
        "verdicts on them are not exact",
    )
    for word in ("icmps[0]: ICMP types", "toRequires", "authentication"):
        assert word in rule.unjudged
    assert rule.ports == (PortMatch("ICMP"), PortMatch("ICMPv6"))


def test_ports_ranges_names_and_any():
    (rule,) = one(
        egress(
            {
                "toPorts": [
                    {"ports": [{"port": "8000", "endPort": 8100, "protocol": "TCP"}]},
                    {"ports": [{"port": "http"}]},
                ]
            }
        )
    ).rules
    assert rule.ports == (
        PortMatch("TCP", 8000, 8100),
        PortMatch("TCP", name="http"),
        PortMatch("UDP", name="http"),
        PortMatch("SCTP", name="http"),
    )


def test_specs_compile_one_policy_each():
    obj = cnp(None)
    del obj["spec"]
    obj["specs"] = [egress({"toEntities": ["world"]}), egress({"toEntities": ["host"]})]
    names = [p.name for p in compile_object(obj)]
    assert names == ["p specs[0]", "p specs[1]"]


def test_a_cidr_set_keeps_its_excepts():
    (rule,) = one(egress({"toCIDRSet": [{"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}]})).rules
    (peer,) = rule.peers
    assert str(peer.block.network) == "0.0.0.0/0"
    assert [str(e) for e in peer.block.excepts] == ["10.0.0.0/8"]


# --------------------------------------------------------------------------------------------
# Refusals: one line naming the object and the field
# --------------------------------------------------------------------------------------------

BASE = egress({"toEndpoints": [{}]})


def _with(path, value):
    obj = cnp(copy.deepcopy(BASE))
    node = obj
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return obj


@pytest.mark.parametrize(
    "obj, message",
    [
        (
            _with(("spec", "egress", 0, "toCIDR"), ["1.2.3.4/32"]),
            "shop/p: spec.egress[0]: combining toEndpoints and toCIDR in one rule is not supported",
        ),
        (
            _with(("spec", "nodeSelector"), {}),
            "shop/p: spec.nodeSelector: host policies (nodes as subjects) are not read",
        ),
        (
            _with(
                ("spec", "endpointSelector"),
                {"matchLabels": {"k8s:io.kubernetes.pod.namespace": "x"}},
            ),
            "shop/p: spec.endpointSelector: selects another namespace than the policy's (shop)",
        ),
        (
            _with(
                ("spec", "endpointSelector"),
                {"matchLabels": {"io.cilium.k8s.policy.serviceaccount": "a"}},
            ),
            "shop/p: spec.endpointSelector: io.cilium.k8s.policy.serviceaccount: selects by labels",
        ),
        (
            _with(("spec", "endpointSelector"), {"matchLabels": {"reserved:host": ""}}),
            "shop/p: spec.endpointSelector: reserved:host: selects by labels flow logs do not",
        ),
        (
            _with(("spec", "egress", 0), {"toEntities": ["everyone"]}),
            "shop/p: spec.egress[0].toEntities[0]: unknown entity 'everyone'",
        ),
        (
            _with(("spec", "egress", 0), {"toPorts": [{"ports": [{"port": "80", "endPort": 79}]}]}),
            "shop/p: spec.egress[0].toPorts[0].ports[0].endPort: 79 must be a port from 80 to",
        ),
        (
            _with(("spec", "egress", 0), {"toFQDNs": [{"matchName": "a", "matchPattern": "*"}]}),
            "shop/p: spec.egress[0].toFQDNs[0]: needs exactly one of matchName or matchPattern",
        ),
        (
            _with(("spec", "egress", 0, "toPortz"), []),
            "shop/p: spec.egress[0]: unknown field(s) toPortz",
        ),
        (_with(("spec",), None), "shop/p: spec: is required (spec or specs)"),
        (
            _with(("kind",), "CiliumEndpoint"),
            "'cilium.io/v2' 'CiliumEndpoint': not a Cilium policy kind",
        ),
    ],
)
def test_a_malformed_or_unsupported_object_is_refused_with_one_line(obj, message):
    with pytest.raises(PolicyError) as err:
        compile_object(obj)
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_requirements_stay_as_written():
    (rule,) = one(
        egress(
            {
                "toEndpoints": [
                    {
                        "matchExpressions": [
                            {"key": "tier", "operator": "NotIn", "values": ["b", "a"]}
                        ]
                    }
                ]
            }
        )
    ).rules
    assert rule.peers[0].pods.requirements == (Requirement("tier", "NotIn", ("a", "b")),)
