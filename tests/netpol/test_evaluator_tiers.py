"""Truth tables for the evaluator's tiers: admin / NetworkPolicy / baseline, Calico's ordered
tiers, Cilium's deny rules, entities, FQDN names, unjudged rules and cluster-scoped subjects.

Policies are built as compiled :class:`Policy` objects (the readers are tested on their own).
Every expected value is written out from the projects' documented semantics, cited above each
table; nothing is derived from the implementation.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace

import pytest

from recommender.netpol.evaluator import Evaluator, RuleRef
from recommender.netpol.model import (
    ADMIN_TIER,
    BASELINE_TIER,
    CILIUM_DENY_TIER,
    NETWORK_POLICY_TIER,
    Action,
    Endpoint,
    FQDNMatch,
    IPBlock,
    Peer,
    Policy,
    PortMatch,
    Rule,
    Selector,
    Tier,
)

from .builders import ext, pod

A = Action.ALLOW
D = Action.DENY
P = Action.PASS
EVERY = Selector()
WEB = pod("x", "web", "10.1.0.1", app="web")
DB = pod("x", "db", "10.1.0.3", app="db")
Y_DB = pod("y", "db", "10.2.0.3", app="db")
Z_DB = pod("z", "db", "10.3.0.3", app="db")


def rule(direction="ingress", index=0, action=A, peers=None, ports=None, unjudged=""):
    return Rule(direction, index, peers, ports, action, unjudged)


def policy(name, *rules, ns="x", tier=NETWORK_POLICY_TIER, priority=0, subject=EVERY, **kw):
    isolates = kw.pop("isolates", tuple(sorted({r.direction for r in rules})) or ("ingress",))
    return Policy(name, ns, subject, isolates, tuple(rules), tier, priority, **kw)


def app(value):
    return Selector.of({"app": value})


def ingress_allowed(policies, src=WEB, dst=DB, proto="TCP", port=80):
    """The destination's ingress side only (the source is not selected by any egress)."""
    return Evaluator(policies).evaluate(src, dst, proto, port).ingress


# --------------------------------------------------------------------------------------------
# AdminNetworkPolicy precedence. network-policy-api, "AdminNetworkPolicy" API reference and
# KEP-2091 (network-policy-api.sigs.k8s.io/api-overview/, /reference/spec/):
# ANP rules are evaluated before NetworkPolicy, lower priority first; Allow and Deny are final;
# Pass skips the remaining ANP rules and hands the traffic to NetworkPolicy; traffic no ANP
# rule matches goes to NetworkPolicy; BaselineAdminNetworkPolicy applies only to traffic that
# no NetworkPolicy isolates (and ANP passed or did not match); with none of them: allowed.
# Columns: policies, allowed, tier that decided.
# --------------------------------------------------------------------------------------------

ANP_ALLOW = policy("anp-allow", rule(action=A), ns=None, tier=ADMIN_TIER, priority=10)
ANP_DENY = policy("anp-deny", rule(action=D), ns=None, tier=ADMIN_TIER, priority=20)
ANP_PASS = policy("anp-pass", rule(action=P), ns=None, tier=ADMIN_TIER, priority=5)
ANP_OTHER_PORT = policy(
    "anp-other-port",
    rule(action=D, ports=(PortMatch("TCP", 443, 443),)),
    ns=None,
    tier=ADMIN_TIER,
    priority=1,
)
NP_DENY_ALL = policy("np-deny", isolates=("ingress",))
NP_ALLOW_WEB = policy("np-web", rule(peers=(Peer(pods=app("web")),)))
BANP_DENY = policy("default", rule(action=D), ns=None, tier=BASELINE_TIER, kind="BANP")
BANP_ALLOW = policy("default", rule(action=A), ns=None, tier=BASELINE_TIER, kind="BANP")


@pytest.mark.parametrize(
    ("policies", "allowed", "tier"),
    [
        pytest.param([], True, None, id="nothing-allows"),
        pytest.param([ANP_ALLOW, NP_DENY_ALL], True, ADMIN_TIER, id="anp-allow-beats-np"),
        pytest.param([ANP_DENY, NP_ALLOW_WEB], False, ADMIN_TIER, id="anp-deny-beats-np"),
        pytest.param([ANP_ALLOW, ANP_DENY], True, ADMIN_TIER, id="lower-priority-first"),
        pytest.param([ANP_PASS, ANP_DENY], True, None, id="pass-skips-later-anp-deny"),
        pytest.param(
            [ANP_PASS, ANP_DENY, NP_DENY_ALL], False, NETWORK_POLICY_TIER, id="pass-to-np-deny"
        ),
        pytest.param([ANP_PASS, NP_ALLOW_WEB], True, NETWORK_POLICY_TIER, id="pass-to-np-allow"),
        pytest.param([ANP_OTHER_PORT, NP_ALLOW_WEB], True, NETWORK_POLICY_TIER, id="no-match"),
        pytest.param([ANP_PASS, BANP_DENY], False, BASELINE_TIER, id="pass-to-banp-deny"),
        pytest.param([BANP_DENY, NP_ALLOW_WEB], True, NETWORK_POLICY_TIER, id="np-over-banp"),
        pytest.param(
            [BANP_ALLOW, NP_DENY_ALL], False, NETWORK_POLICY_TIER, id="np-isolation-over-banp"
        ),
        pytest.param([BANP_ALLOW], True, BASELINE_TIER, id="banp-allow"),
        pytest.param([ANP_DENY, BANP_ALLOW], False, ADMIN_TIER, id="anp-over-banp"),
    ],
)
def test_admin_networkpolicy_baseline_precedence(policies, allowed, tier):
    side = ingress_allowed(policies)
    assert (side.allowed, side.tier) == (allowed, tier)
    assert side.judged


def test_deny_and_pass_are_named():
    side = ingress_allowed([ANP_PASS, ANP_DENY, NP_DENY_ALL])
    assert side.passed_by == (RuleRef("", "anp-pass", "ingress", 0),)
    assert side.denied_by is None and side.allowed_by == ()
    denied = ingress_allowed([ANP_DENY, NP_ALLOW_WEB])
    assert denied.denied_by == RuleRef("", "anp-deny", "ingress", 0)
    assert denied.explain() == "ingress of x/db: denied by anp-deny ingress[0]"


# --------------------------------------------------------------------------------------------
# Calico ordered tiers. Calico docs, "Get started with policy tiers" / "Tier" resource
# (docs.tigera.io/calico/latest/network-policy/policy-tiers/tiered-policy): tiers in
# ascending `order`; in a tier, policies by `order`, rules in order, the first matching
# rule's action applies (Allow/Deny final, Pass: next tier); if policies of a tier select the
# endpoint and no rule matches, the tier's end-of-tier action applies (Deny, or Pass for a
# tier with defaultAction Pass); a tier with no policy selecting the endpoint is skipped.
# --------------------------------------------------------------------------------------------

SECURITY = Tier(100, "security", "deny")
PLATFORM = Tier(200, "platform", "pass")
WEB_PEER = (Peer(pods=app("web")),)


def calico(name, *rules, tier, order):
    return policy(name, *rules, tier=tier, priority=order, kind="GlobalNetworkPolicy", ns=None)


@pytest.mark.parametrize(
    ("policies", "allowed", "decider"),
    [
        pytest.param(
            [calico("a", rule(action=P, peers=WEB_PEER), tier=SECURITY, order=1)],
            True,
            None,
            id="pass-then-nothing",
        ),
        pytest.param(
            [
                calico(
                    "a", rule(action=A, ports=(PortMatch("TCP", 443, 443),)), tier=SECURITY, order=1
                )
            ],
            False,
            SECURITY,
            id="end-of-tier-deny",
        ),
        pytest.param(
            [calico("a", rule(action=A, ports=(PortMatch("UDP"),)), tier=PLATFORM, order=1)],
            True,
            None,
            id="end-of-tier-pass",
        ),
        pytest.param(
            [
                calico("first", rule(action=D, peers=WEB_PEER), tier=SECURITY, order=1),
                calico("second", rule(action=A), tier=SECURITY, order=2),
            ],
            False,
            SECURITY,
            id="order-first-deny",
        ),
        pytest.param(
            [
                calico("first", rule(action=A, peers=WEB_PEER), tier=SECURITY, order=5),
                calico("second", rule(action=D), tier=SECURITY, order=2),
            ],
            False,
            SECURITY,
            id="lower-order-first",
        ),
        pytest.param(
            [
                calico("p", rule(action=P), tier=SECURITY, order=1),
                calico("d", rule(action=D), tier=PLATFORM, order=1),
            ],
            False,
            PLATFORM,
            id="pass-to-next-tier-deny",
        ),
        pytest.param(
            [
                calico("p", rule(action=P), tier=SECURITY, order=1),
                calico("a", rule(action=A, ports=(PortMatch("UDP"),)), tier=PLATFORM, order=1),
                NP_DENY_ALL,
            ],
            False,
            NETWORK_POLICY_TIER,
            id="pass-pass-to-default-tier",
        ),
    ],
)
def test_calico_ordered_tiers(policies, allowed, decider):
    side = ingress_allowed(policies)
    assert (side.allowed, side.tier) == (allowed, decider)


def test_same_name_in_two_kinds_is_told_apart():
    np_ = policy("same", rule(action=A))
    gnp = calico("same", rule(action=A), tier=SECURITY, order=1)
    side = ingress_allowed([np_, replace(gnp, namespace="x")])
    assert side.allowed_by == (RuleRef("x", "same", "ingress", 0, "GlobalNetworkPolicy"),)
    assert str(side.allowed_by[0]) == "GlobalNetworkPolicy x/same ingress[0]"
    assert Evaluator([np_, replace(gnp, namespace="x")]).policies_selecting(DB, "ingress") == [
        "GlobalNetworkPolicy x/same",
        "x/same",
    ]


# --------------------------------------------------------------------------------------------
# Cilium deny policies. Cilium docs, "Deny Policies" (docs.cilium.io/en/stable/security/
# policy/language/#deny-policies): deny rules take precedence over allow rules whatever the
# order or policy they come from. The reader puts them in CILIUM_DENY_TIER (default pass);
# the allow part in NETWORK_POLICY_TIER isolates every direction the CNP has rules in.
# --------------------------------------------------------------------------------------------

CNP = "CiliumNetworkPolicy"


@pytest.mark.parametrize(
    ("policies", "allowed"),
    [
        pytest.param(
            [
                policy("allow", rule(peers=WEB_PEER), kind=CNP),
                policy("allow", rule(action=D, peers=WEB_PEER), tier=CILIUM_DENY_TIER, kind=CNP),
            ],
            False,
            id="deny-in-same-policy",
        ),
        pytest.param(
            [
                policy("b-deny", rule(action=D, peers=WEB_PEER), tier=CILIUM_DENY_TIER, kind=CNP),
                policy("a-allow", rule(), kind=CNP),
            ],
            False,
            id="deny-in-later-policy",
        ),
        pytest.param(
            [
                policy(
                    "deny",
                    rule(action=D, peers=(Peer(pods=app("x")),)),
                    tier=CILIUM_DENY_TIER,
                    kind=CNP,
                    isolates=("ingress",),
                ),
                policy("deny", rule(peers=WEB_PEER), kind=CNP),
            ],
            True,
            id="deny-not-matching",
        ),
        pytest.param(
            [
                policy(
                    "deny",
                    rule(action=D, peers=(Peer(pods=app("x")),)),
                    tier=CILIUM_DENY_TIER,
                    kind=CNP,
                )
            ],
            True,
            id="deny-only-isolates-nothing-else",
        ),
    ],
)
def test_cilium_deny_wins_over_allow(policies, allowed):
    assert ingress_allowed(policies).allowed is allowed


# --------------------------------------------------------------------------------------------
# Entities. Cilium docs, "Entities Based" (docs.cilium.io/en/stable/security/policy/
# language/#entities-based): world = outside the cluster (0.0.0.0/0); cluster = every
# endpoint of the local cluster, host and remote-node included; host = the local node;
# remote-node = other nodes; kube-apiserver; all = everything. The mapping onto the log's
# endpoint kinds is the table in recommender.netpol.identities.
# --------------------------------------------------------------------------------------------

INTERNET = ext("203.0.113.7")
INTERNET6 = ext("2001:db8::7")
APISERVER = Endpoint("node", "10.0.0.10", name="api", reserved="kube-apiserver")
MANAGED_API = Endpoint("external", "198.51.100.1", name="api", reserved="kube-apiserver")
HOST = Endpoint("node", "10.0.0.1", name="n1", reserved="host")
REMOTE = Endpoint("node", "10.0.0.2", name="n2", reserved="remote-node")
NODE = Endpoint("node", "10.0.0.3", name="n3")
UNKNOWN = Endpoint("unknown", "10.9.9.9", name="?")


@pytest.mark.parametrize(
    ("entity", "dst", "allowed"),
    [
        ("world", INTERNET, True),
        ("world", INTERNET6, True),
        ("world", Y_DB, False),
        ("world", HOST, False),
        ("world", MANAGED_API, True),
        ("world-ipv4", INTERNET, True),
        ("world-ipv4", INTERNET6, False),
        ("world-ipv6", INTERNET6, True),
        ("cluster", Y_DB, True),
        ("cluster", HOST, True),
        ("cluster", APISERVER, True),
        ("cluster", INTERNET, False),
        ("cluster", UNKNOWN, False),
        ("host", HOST, True),
        ("host", REMOTE, False),
        ("host", NODE, True),
        ("remote-node", REMOTE, True),
        ("remote-node", HOST, False),
        ("remote-node", NODE, True),
        ("kube-apiserver", APISERVER, True),
        ("kube-apiserver", MANAGED_API, True),
        ("kube-apiserver", HOST, False),
        ("kube-apiserver", INTERNET, False),
        ("all", INTERNET, True),
        ("all", UNKNOWN, True),
        ("all", Y_DB, True),
        ("health", HOST, False),
    ],
)
def test_entities(entity, dst, allowed):
    egress = policy("e", rule("egress", peers=(Peer(entity=entity),)), kind=CNP)
    v = Evaluator([egress]).evaluate(WEB, dst, "TCP", 443)
    assert v.egress.allowed is allowed


# --------------------------------------------------------------------------------------------
# FQDN. Cilium's FQDNSelector (CRD field descriptions, schemas/cilium, and
# pkg/fqdn/matchpattern): matchName exact; "*" alone any name; "*.cilium.io" one label;
# "*cilium.io" no dot; "sub*.cilium.io"; "**.cilium.io" one or more labels; no case; toFQDNs
# never applies to in-cluster addresses.
# --------------------------------------------------------------------------------------------


def named(*names):
    return Endpoint("external", "198.51.100.9", name="x", names=names)


@pytest.mark.parametrize(
    ("match", "names", "allowed"),
    [
        (FQDNMatch(name="api.example.com"), ("api.example.com",), True),
        (FQDNMatch(name="api.example.com"), ("API.Example.com.",), True),
        (FQDNMatch(name="api.example.com"), ("www.example.com",), False),
        (FQDNMatch(name="api.example.com"), (), False),
        (FQDNMatch(name="api.example.com"), ("x.org", "api.example.com"), True),
        (FQDNMatch(pattern="*"), ("anything.at.all",), True),
        (FQDNMatch(pattern="*.cilium.io"), ("www.cilium.io",), True),
        (FQDNMatch(pattern="*.cilium.io"), ("cilium.io",), False),
        (FQDNMatch(pattern="*.cilium.io"), ("a.b.cilium.io",), False),
        (FQDNMatch(pattern="*cilium.io"), ("cilium.io",), True),
        (FQDNMatch(pattern="*cilium.io"), ("sub-cilium.io",), True),
        (FQDNMatch(pattern="*cilium.io"), ("www.cilium.io",), False),
        (FQDNMatch(pattern="sub*.cilium.io"), ("subdomain.cilium.io",), True),
        (FQDNMatch(pattern="sub*.cilium.io"), ("www.cilium.io",), False),
        (FQDNMatch(pattern="**.cilium.io"), ("test.app.cilium.io",), True),
        (FQDNMatch(pattern="**.cilium.io"), ("app.cilium.io",), True),
        (FQDNMatch(pattern="**.cilium.io"), ("cilium.io",), False),
        (FQDNMatch(pattern="*.cilium.io"), ("wwwXcilium.io",), False),
    ],
)
def test_fqdn(match, names, allowed):
    egress = policy("f", rule("egress", peers=(Peer(fqdn=match),)), kind=CNP)
    assert Evaluator([egress]).evaluate(WEB, named(*names), "TCP", 443).egress.allowed is allowed


def test_fqdn_never_matches_pods():
    egress = policy("f", rule("egress", peers=(Peer(fqdn=FQDNMatch(pattern="*")),)), kind=CNP)
    target = replace(Y_DB, names=("db.y.svc.cluster.local",))
    assert not Evaluator([egress]).evaluate(WEB, target, "TCP", 443).egress.allowed


# --------------------------------------------------------------------------------------------
# Unjudged rules (issue 12 point 5): a matching rule the evaluator cannot judge (L7 HTTP,
# ICMP types, node peers) makes the side unjudged, never allowed; a judged allow in the same
# run of allows still allows (an L7 condition cannot take away another rule's allow); a
# judged deny before it decides.
# --------------------------------------------------------------------------------------------

L7 = "L7 HTTP rules"


@pytest.mark.parametrize(
    ("policies", "allowed", "judged"),
    [
        pytest.param([policy("p", rule(unjudged=L7), kind=CNP)], False, False, id="alone"),
        pytest.param(
            [policy("p", rule(unjudged=L7), rule(index=1), kind=CNP)], True, True, id="with-allow"
        ),
        pytest.param(
            [policy("p", rule(unjudged=L7, ports=(PortMatch("TCP", 8080, 8080),)), kind=CNP)],
            False,
            True,
            id="not-matching-port",
        ),
        pytest.param(
            [
                policy("p", rule(unjudged=L7), kind=CNP),
                policy("p", rule(action=D), tier=CILIUM_DENY_TIER, kind=CNP),
            ],
            False,
            True,
            id="deny-first",
        ),
        pytest.param(
            [
                policy(
                    "n",
                    rule(action=D, peers=(Peer(nodes=EVERY),), unjudged="node peers"),
                    ns=None,
                    tier=ADMIN_TIER,
                )
            ],
            True,
            True,
            id="node-peer-never-matches",
        ),
        pytest.param(
            [
                calico(
                    "c", rule(action=D, unjudged="ICMP type"), rule(index=1), tier=SECURITY, order=1
                )
            ],
            False,
            False,
            id="first-match-unjudged-deny",
        ),
    ],
)
def test_unjudged_rules(policies, allowed, judged):
    v = Evaluator(policies).evaluate(WEB, DB, "TCP", 80)
    assert (v.allowed, v.judged) == (allowed, judged)


def test_unjudged_is_named_and_explained():
    v = Evaluator([policy("p", rule(unjudged=L7), kind=CNP)]).evaluate(WEB, DB, "TCP", 80)
    ref = RuleRef("x", "p", "ingress", 0, CNP)
    assert v.unjudged_by == (ref,) and v.ingress.unjudged_reasons == (L7,)
    assert v.explain()[1] == f"ingress of x/db: unjudged: {ref}: {L7}"
    egress_deny = policy("q", rule("egress", action=D), tier=CILIUM_DENY_TIER, kind=CNP, ns="x")
    both = Evaluator([policy("p", rule(unjudged=L7), kind=CNP), egress_deny])
    decided = both.evaluate(WEB, DB, "TCP", 80)
    assert decided.judged and not decided.allowed and decided.unjudged_by == ()


# --------------------------------------------------------------------------------------------
# Cluster-scoped subjects (ANP spec.subject.namespaces / .pods; CCNP without a namespace):
# the policy selects pods of the namespaces its namespace selector matches; a pod selector in
# a peer without a namespace selector means every namespace.
# --------------------------------------------------------------------------------------------


def test_cluster_scoped_subject_by_namespace_labels():
    team_a = Selector.of({"team": "a"})  # x and y (builders.NS_LABELS), not z
    anp = policy(
        "a", rule(action=D), ns=None, tier=ADMIN_TIER, namespaces=team_a, subject=app("db")
    )
    ev = Evaluator([anp])
    assert not ev.evaluate(WEB, DB, "TCP", 80).allowed
    assert not ev.evaluate(WEB, Y_DB, "TCP", 80).allowed
    assert ev.evaluate(WEB, Z_DB, "TCP", 80).allowed
    assert ev.evaluate(DB, WEB, "TCP", 80).allowed  # subject selects app=db only
    by_name = Selector.of({"kubernetes.io/metadata.name": "y"})  # y has no such label: implied
    assert not Evaluator([replace(anp, namespaces=by_name)]).evaluate(WEB, Y_DB, "TCP", 80).allowed


def test_cluster_scoped_pod_peer_means_every_namespace():
    ccnp = policy(
        "c", rule(peers=(Peer(pods=app("web")),)), ns=None, kind="CiliumClusterwideNetworkPolicy"
    )
    z_web = pod("z", "web", "10.3.0.1", app="web")
    assert ingress_allowed([ccnp], src=z_web).allowed
    assert not ingress_allowed([ccnp], src=DB).allowed


# --------------------------------------------------------------------------------------------
# Calico nets with a selector: both must match (Calico "Rule" reference: a rule's selector and
# nets are ANDed). ICMP: a port entry of protocol ICMP without a number admits port-less ICMP.
# --------------------------------------------------------------------------------------------


def test_block_and_pods_both_must_match():
    both = Peer(pods=app("web"), block=IPBlock(ipaddress.ip_network("10.1.0.0/24")))
    pol = calico("c", rule(peers=(both,)), tier=SECURITY, order=1)
    assert ingress_allowed([pol]).allowed
    assert not ingress_allowed([pol], src=pod("x", "w2", "10.9.0.1", app="web")).allowed
    assert not ingress_allowed([pol], src=pod("x", "o", "10.1.0.9", app="other")).allowed


@pytest.mark.parametrize(
    ("ports", "proto", "port", "allowed"),
    [
        ((PortMatch("ICMP"),), "ICMP", None, True),
        ((PortMatch("ICMP"),), "ICMPv6", None, False),
        ((PortMatch("ICMPv6"),), "ICMPv6", None, True),
        ((PortMatch("TCP"),), "TCP", None, False),
        ((PortMatch("TCP"),), "ICMP", None, False),
        (None, "ICMP", None, True),
    ],
)
def test_icmp_port_entries(ports, proto, port, allowed):
    pol = policy("i", rule(ports=ports), kind=CNP)
    assert ingress_allowed([pol], proto=proto, port=port).allowed is allowed


# --------------------------------------------------------------------------------------------
# A peer that stands for a set of addresses (Calico's pub): allowed only when every address
# is, under tiers too.
# --------------------------------------------------------------------------------------------


def test_address_set_under_tiers():
    pub = Endpoint("external", None, name="pub", ranges=("198.51.100.0/24",))
    half = IPBlock(ipaddress.ip_network("198.51.100.0/25"))
    allow_all = policy("a", rule("egress"), kind=CNP)
    deny_half = policy(
        "d", rule("egress", action=D, peers=(Peer(block=half),)), tier=CILIUM_DENY_TIER, kind=CNP
    )
    assert Evaluator([allow_all]).evaluate(WEB, pub, "TCP", 443).allowed
    assert not Evaluator([allow_all, deny_half]).evaluate(WEB, pub, "TCP", 443).allowed
    world = policy("w", rule("egress", peers=(Peer(entity="world"),)), kind=CNP)
    assert Evaluator([world]).evaluate(WEB, pub, "TCP", 443).allowed


# A Cilium deny rule is named as the policy spells it (``ingressDeny[0]``), apart from the
# allow rule of the same index (``ingress[0]``); other kinds' rule names are unchanged.
def test_a_cilium_deny_rule_is_named_by_its_own_list():
    from recommender.netpol.cilium import compile_object

    spec = {
        "endpointSelector": {"matchLabels": {"app": "db"}},
        "ingress": [{"fromEndpoints": [{"matchLabels": {"app": "web"}}]}],
        "ingressDeny": [{"fromEndpoints": [{"matchLabels": {"app": "web"}}]}],
    }
    obj = {
        "apiVersion": "cilium.io/v2",
        "kind": CNP,
        "metadata": {"name": "p", "namespace": "x"},
        "spec": spec,
    }
    allow_part, deny_part = compile_object(obj)
    web = pod("x", "web", "10.1.0.1", app="web")
    db = pod("x", "db", "10.1.0.2", app="db")
    verdict = Evaluator([allow_part, deny_part]).evaluate(web, db, "TCP", 80)
    assert not verdict.allowed
    assert str(verdict.ingress.denied_by) == f"{CNP} x/p ingressDeny[0]"
    assert verdict.ingress.denied_by == RuleRef("x", "p", "ingress", 0, CNP, "ingressDeny")
    assert str(RuleRef.of(allow_part, allow_part.rules[0])) == f"{CNP} x/p ingress[0]"
    # no other kind has a section: its references are as before
    np_rule = Rule("ingress", 0)
    plain = Policy("q", "x", EVERY, ("ingress",), (np_rule,))
    assert RuleRef.of(plain, np_rule) == RuleRef("x", "q", "ingress", 0)
    admin = Policy("a", None, EVERY, ("ingress",), (Rule("ingress", 0, action=D),), ADMIN_TIER)
    assert str(RuleRef.of(admin, admin.rules[0])) == "a ingress[0]"
