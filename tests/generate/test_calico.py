"""The proposal as Calico NetworkPolicies / StagedNetworkPolicies: valid against Calico's own
CRD schemas, selectors that Calico reads back as the IR's, hostile labels refused, and the
same rules as the NetworkPolicy rendering of the same IR once both are read back."""

from __future__ import annotations

import jsonschema
import pytest
import yaml
from conftest import SAMPLE_FLOWS, SHARED

import recommender
from recommender.generate.calico import RenderError, render_calico, selector_expression
from recommender.generate.ir import Peer, PolicyIR, PortSpec, Rule
from recommender.generate.k8s import render_policy
from recommender.netpol.breadth import measure_breadth
from recommender.netpol.calico import compile_object
from recommender.netpol.calico_selector import compile_expression, conjoin
from recommender.netpol.evaluator import Evaluator
from recommender.netpol.model import Selector
from recommender.netpol.networkpolicy import compile_policy
from recommender.verify import replay

CRDS = SHARED / "schemas/calico/projectcalico.org-v3"


def _schema(name):
    crd = yaml.safe_load((CRDS / f"projectcalico.org_{name}.yaml").read_text())
    (version,) = crd["spec"]["versions"]
    return version["schema"]["openAPIV3Schema"]


SCHEMAS = {False: _schema("networkpolicies"), True: _schema("stagednetworkpolicies")}


@pytest.fixture(scope="module")
def rec():
    return recommender.propose(recommender.observe([SAMPLE_FLOWS]))


def workload(**kw):
    base = dict(
        namespace="shop",
        name="allow-web",
        role="workload",
        workload="shop/web",
        workload_kind="Deployment",
        match_labels={"app": "web"},
    )
    return PolicyIR(**{**base, **kw})


def validate(obj, staged):
    jsonschema.validate(obj, SCHEMAS[staged])


@pytest.mark.parametrize("staged", [False, True])
def test_every_sample_policy_is_valid_against_calicos_crd(rec, staged):
    assert rec.ir
    for ir in rec.ir:
        obj = render_calico(ir, staged=staged)
        validate(obj, staged)
        assert obj["kind"] == ("StagedNetworkPolicy" if staged else "NetworkPolicy")
        assert (obj["spec"].get("stagedAction") == "Set") is staged
        assert obj["metadata"] == render_policy(ir)["metadata"]


def test_a_workload_policy_reads_as_calico_writes_it():
    ir = workload(
        ingress=[
            Rule(
                [Peer("workload", "shop/front", "shop", (("app", "front"),))],
                [PortSpec("TCP", 8080), PortSpec("TCP", 9000, 9010), PortSpec("UDP", 53)],
            )
        ],
        egress=[
            Rule(
                [
                    Peer("workload", "data/db", "data", (("app", "db"),)),
                    Peer("address", "192.0.2.7", address_kind="external"),
                    Peer("cidr", "198.51.100.0/24", excepts=("198.51.100.128/25",)),
                    Peer("address", "2001:db8::1", address_kind="external"),
                ],
                [PortSpec("TCP", 5432, name="postgres")],
            )
        ],
    )
    obj = render_calico(ir)
    assert obj["apiVersion"] == "projectcalico.org/v3"
    assert obj["spec"] == {
        "tier": "default",
        "selector": "app == 'web'",
        "types": ["Ingress", "Egress"],
        "ingress": [
            {
                "action": "Allow",
                "protocol": "TCP",
                "source": {"selector": "app == 'front'"},
                "destination": {"ports": [8080, "9000:9010"]},
            },
            {
                "action": "Allow",
                "protocol": "UDP",
                "source": {"selector": "app == 'front'"},
                "destination": {"ports": [53]},
            },
        ],
        "egress": [
            {
                "action": "Allow",
                "protocol": "TCP",
                "destination": {
                    "selector": "app == 'db'",
                    "namespaceSelector": "projectcalico.org/name == 'data'",
                    "ports": ["postgres"],
                },
            },
            {
                "action": "Allow",
                "protocol": "TCP",
                "destination": {
                    "nets": ["198.51.100.0/24"],
                    "notNets": ["198.51.100.128/25"],
                    "ports": ["postgres"],
                },
            },
            {
                "action": "Allow",
                "protocol": "TCP",
                "destination": {"nets": ["192.0.2.7/32"], "ports": ["postgres"]},
            },
            {
                "action": "Allow",
                "protocol": "TCP",
                "destination": {"nets": ["2001:db8::1/128"], "ports": ["postgres"]},
            },
        ],
    }
    validate(obj, False)


def test_the_default_deny_selects_every_endpoint_of_the_namespace():
    ir = PolicyIR(namespace="shop", name="default-deny", role="default-deny")
    obj = render_calico(ir, staged=True)
    assert obj["spec"] == {
        "tier": "default",
        "selector": "all()",
        "types": ["Ingress", "Egress"],
        "stagedAction": "Set",
    }
    validate(obj, True)
    (pol,) = compile_object(obj)
    assert pol.subject == Selector() and pol.isolates == ("ingress", "egress")
    assert pol.rules == ()


def test_selectors_across_namespaces_and_expressions():
    peer = Peer(
        "selector",
        "shop/*",
        "shop",
        (("tier", "api"),),
        match_expressions=(("track", "DoesNotExist", ()), ("env", "NotIn", ("dev",))),
        namespaces=("shop", "data"),
    )
    obj = render_calico(workload(ingress=[Rule([peer], [])]))
    assert obj["spec"]["ingress"] == [
        {
            "action": "Allow",
            "source": {
                "selector": "tier == 'api' && !has(track) && env not in {'dev'}",
                "namespaceSelector": "projectcalico.org/name in {'shop', 'data'}",
            },
        }
    ]
    validate(obj, False)


# Hostile label values: each must read back as exactly the value written, never as more
# expression. (key, value)
HOSTILE = [
    ("app", "x' || all() || a == 'y"),
    ("app", 'x" || all() || a == "y'),
    ("app", "x) || (all()"),
    ("app", "a && b"),
    ("app", "{}"),
    ("app", ""),
    ("app", " spaced "),
    ("app", "x\ny"),
    ("app.kubernetes.io/name", "ünïcode"),
]


@pytest.mark.parametrize(("key", "value"), HOSTILE)
@pytest.mark.parametrize("staged", [False, True])
def test_hostile_values_stay_values(key, value, staged):
    peer = Peer("workload", "data/db", "data", ((key, value),))
    ir = workload(match_labels={key: value}, ingress=[Rule([peer], [PortSpec("TCP", 80)])])
    obj = render_calico(ir, staged=staged)
    validate(obj, staged)
    want = Selector.of({key: value})
    assert compile_expression(obj["spec"]["selector"]).terms == (want,)
    source = obj["spec"]["ingress"][0]["source"]
    assert compile_expression(source["selector"]).terms == (want,)
    # and through YAML, as it is written to disk
    again = yaml.safe_load(yaml.safe_dump(obj))
    (pol,) = compile_object(again)
    assert pol.subject == want


@pytest.mark.parametrize(
    ("labels", "expressions", "message"),
    [
        ({"app": "both ' and \""}, (), "holds both quote characters"),
        ({"bad key": "x"}, (), "label key 'bad key' is not a Calico selector label"),
        ({"a)||all(": "x"}, (), "is not a Calico selector label"),
        ({}, (("k", "Gt", ("1",)),), "unknown selector operator 'Gt'"),
    ],
)
def test_what_calico_cannot_quote_is_refused(labels, expressions, message):
    with pytest.raises(RenderError, match=message.replace("(", r"\(").replace(")", r"\)")):
        selector_expression(labels, expressions)


def test_a_namespace_name_is_quoted_too():
    peer = Peer("workload", "x/db", "we'ird", (("app", "db"),))
    obj = render_calico(workload(ingress=[Rule([peer], [])]))
    assert obj["spec"]["ingress"][0]["source"]["namespaceSelector"] == (
        'projectcalico.org/name == "we\'ird"'
    )


def _canonical(sel):
    return None if sel is None else conjoin(sel)


def _pairs(pol):
    """(direction, peer, port) for every rule: what the policy admits, selectors canonical."""
    out = set()
    for r in pol.rules:
        for peer in r.peers or (None,):
            key = None
            if peer is not None:
                key = (_canonical(peer.pods), _canonical(peer.namespaces), peer.block)
            for port in r.ports or (None,):
                out.add((r.direction, key, port, r.action))
    return out


def test_read_back_the_calico_policies_admit_what_the_networkpolicies_admit(rec):
    for ir in rec.ir:
        (calico,) = compile_object(render_calico(ir))
        k8s = compile_policy(render_policy(ir))
        assert _canonical(calico.subject) == _canonical(k8s.subject), ir.name
        assert calico.isolates == k8s.isolates
        assert _pairs(calico) == _pairs(k8s), ir.name
        assert not calico.unjudged and not any(r.unjudged for r in calico.rules)


#: A policy that passes everything on from Calico's admin tier: it changes no verdict, and
#: makes the evaluator walk the tiers instead of its additive NetworkPolicy fast path.
PASS_ALL = {
    "apiVersion": "projectcalico.org/v3",
    "kind": "GlobalNetworkPolicy",
    "metadata": {"name": "pass-all"},
    "spec": {"tier": "kube-admin", "types": ["Ingress", "Egress"], "ingress": [{"action": "Pass"}]},
}


@pytest.mark.parametrize(("staged", "tiered"), [(False, False), (True, False), (False, True)])
def test_round_trip_gives_the_networkpolicy_verdicts_on_the_sample(rec, staged, tiered):
    """Emit -> read -> evaluate: every observed connection of the sample gets the verdict the
    NetworkPolicy rendering of the same IR gives it (and the proposal allows them all)."""
    calico = [p for ir in rec.ir for p in compile_object(render_calico(ir, staged=staged))]
    if tiered:
        calico += compile_object(PASS_ALL)
    assert Evaluator(calico).network_policy_only is not tiered
    obs = rec.observation
    verdicts = {}
    for name, evaluator in (("k8s", Evaluator(rec.policies)), ("calico", Evaluator(calico))):
        replayed = replay(
            obs.connections, evaluator, obs.pods, share_classes=False, cluster=obs.cluster
        )
        verdicts[name] = replayed[["exempt", "allowed"]]
    assert not verdicts["calico"]["allowed"].empty
    assert verdicts["calico"].equals(verdicts["k8s"])
    judged = verdicts["calico"][~verdicts["calico"]["exempt"]]
    assert judged["allowed"].all() == (rec.coverage == 1.0)


def test_the_calico_rendering_has_the_networkpolicy_breadth(rec):
    """The issue's bar: the sample proposal in this kind allows what the NetworkPolicy one
    allows, no more: the same breadth, counted over the policies read back."""
    calico = [p for ir in rec.ir for p in compile_object(render_calico(ir))]
    obs = rec.observation
    figures = {}
    for name, policies in (("k8s", rec.policies), ("calico", calico)):
        breadth = measure_breadth(
            Evaluator(policies),
            obs.pods,
            obs.workload_connections,
            resolvers=rec.synthesis.resolvers,
            namespaces=rec.synthesis.namespaces,
        )
        figures[name] = (breadth.in_cluster, breadth.universe, breadth.external_addresses)
    assert figures["k8s"][1] > 0  # counted (a set breadth cannot count gets zeros)
    assert figures["calico"] == figures["k8s"]
