"""The cluster-scoped baseline (``--baseline``): one BaselineAdminNetworkPolicy ``v1alpha1``
or ClusterNetworkPolicy ``v1alpha2`` (Baseline tier) instead of the default-deny per
namespace, valid against network-policy-api's own CRDs, read back by the reader."""

from __future__ import annotations

import copy

import pytest
import yaml
from conftest import SAMPLE_FLOWS, SHARED

import recommender
from recommender.generate.baseline import (
    BASELINE_KINDS,
    BASELINE_PRIORITY,
    covered_namespaces,
    render_baseline,
    resolver_peers,
)
from recommender.generate.ir import Peer, PolicyIR
from recommender.netpol.admin import compile_object
from recommender.netpol.endpoints import pod_endpoint
from recommender.netpol.evaluator import Evaluator
from recommender.netpol.model import BASELINE_TIER, Action, Endpoint, Selector
from recommender.netpol.networkpolicy import compile_policies
from recommender.selectors import Selection
from recommender.verify import replay

SCHEMAS = SHARED / "schemas/network-policy-api"
#: The CRD of each baseline kind: (file under a channel directory, served version).
CRDS = {
    "baseline-admin-network-policy": (
        "v0.1.8/{channel}/policy.networking.k8s.io_baselineadminnetworkpolicies.yaml",
        "v1alpha1",
    ),
    "cluster-network-policy": (
        "v0.2.0/{channel}/policy.networking.k8s.io_clusternetworkpolicies.yaml",
        "v1alpha2",
    ),
}
CHANNELS = ("standard", "experimental")


# --------------------------------------------------------------------------------------------
# network-policy-api's CRD schemas
# --------------------------------------------------------------------------------------------


def json_schema(node):
    """A CRD's OpenAPI v3 (structural) schema as JSON Schema: ``x-kubernetes-*`` keywords
    dropped (jsonschema ignores them; the CEL rules they carry are asserted by hand), and an
    object that lists its properties admits no others (the API server would prune them
    silently; an object we write must have none)."""
    if isinstance(node, list):
        return [json_schema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: json_schema(v) for k, v in node.items() if not str(k).startswith("x-kubernetes-")}
    if "properties" in node and "additionalProperties" not in node:
        out["additionalProperties"] = False
    return out


def crd_validator(kind: str, channel: str):
    # The [test] extra installs [schema]: a missing jsonschema fails here, never skips.
    import jsonschema

    path, version = CRDS[kind]
    crd = yaml.safe_load((SCHEMAS / path.format(channel=channel)).read_text(encoding="utf-8"))
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    schema = json_schema(served["schema"]["openAPIV3Schema"])
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


@pytest.fixture(scope="module")
def validators():
    return {(k, c): crd_validator(k, c) for k in BASELINE_KINDS for c in CHANNELS}


def _errors(validators, kind, obj):
    return {c: [e.message for e in validators[kind, c].iter_errors(obj)] for c in CHANNELS}


# --------------------------------------------------------------------------------------------
# The sample proposal
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rec():
    return recommender.propose(recommender.observe([str(SAMPLE_FLOWS)]))


@pytest.fixture(scope="module")
def rendered(rec):
    peers = resolver_peers(rec.synthesis.resolvers, rec.selections)
    return {kind: render_baseline(kind, rec.ir, peers) for kind in BASELINE_KINDS}


@pytest.mark.parametrize("kind", BASELINE_KINDS)
def test_the_sample_baseline_validates_against_both_channels_of_its_crd(validators, rendered, kind):
    assert _errors(validators, kind, rendered[kind]) == {c: [] for c in CHANNELS}


def test_the_banp_is_the_singleton_and_the_cnp_sits_last_in_the_baseline_tier(rendered):
    banp = rendered["baseline-admin-network-policy"]
    assert (banp["apiVersion"], banp["kind"]) == (
        "policy.networking.k8s.io/v1alpha1",
        "BaselineAdminNetworkPolicy",
    )
    # the CRD's CEL rule (not checked by jsonschema): self.metadata.name == 'default'
    assert banp["metadata"]["name"] == "default"
    cnp = rendered["cluster-network-policy"]
    assert (cnp["apiVersion"], cnp["kind"]) == (
        "policy.networking.k8s.io/v1alpha2",
        "ClusterNetworkPolicy",
    )
    assert (cnp["spec"]["tier"], cnp["spec"]["priority"]) == ("Baseline", BASELINE_PRIORITY)
    for obj in rendered.values():
        assert obj["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "netpol-recommender"}
        assert obj["metadata"]["annotations"] == {"netpol-recommender/role": "default-deny"}
        assert "namespace" not in obj["metadata"]


def test_its_subject_is_exactly_the_namespaces_the_default_denies_covered(rec, rendered):
    denies = [
        p
        for p in rec.policies
        if p["metadata"]["annotations"].get("netpol-recommender/role") == "default-deny"
    ]
    namespaces = sorted(p["metadata"]["namespace"] for p in denies)
    assert namespaces == ["data", "ingress-nginx", "monitoring", "shop"]
    assert covered_namespaces(rec.ir) == namespaces == rec.synthesis.namespaces
    for obj in rendered.values():
        assert obj["spec"]["subject"] == {
            "namespaces": {
                "matchExpressions": [
                    {"key": "kubernetes.io/metadata.name", "operator": "In", "values": namespaces}
                ]
            }
        }


def _np_dns_peers(policies):
    """The peers of the NetworkPolicy output's egress rules on UDP and TCP 53."""
    found = []
    for pol in policies:
        for rule in pol["spec"].get("egress", []):
            ports = {(p["protocol"], p["port"]) for p in rule.get("ports", [])}
            if {("UDP", 53), ("TCP", 53)} <= ports:
                found += [p for p in rule["to"] if p not in found]
    return found


def test_the_dns_rule_names_the_resolver_as_the_networkpolicy_output_does(rec, rendered):
    (np_peer,) = _np_dns_peers(rec.policies)
    assert np_peer == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
    }
    banp = rendered["baseline-admin-network-policy"]["spec"]["egress"][0]
    assert banp == {
        "name": "allow-dns",
        "action": "Allow",
        "to": [{"pods": np_peer}],
        "ports": [
            {"portNumber": {"protocol": "TCP", "port": 53}},
            {"portNumber": {"protocol": "UDP", "port": 53}},
        ],
    }
    cnp = rendered["cluster-network-policy"]["spec"]["egress"][0]
    assert cnp == {
        "name": "allow-dns",
        "action": "Accept",
        "to": [{"pods": np_peer}],
        "protocols": [
            {"tcp": {"destinationPort": {"number": 53}}},
            {"udp": {"destinationPort": {"number": 53}}},
        ],
    }


@pytest.mark.parametrize("kind", BASELINE_KINDS)
def test_the_reader_reads_it_back_dns_then_deny_all(rendered, kind):
    (pol,) = compile_object(rendered[kind])
    assert pol.tier == BASELINE_TIER and pol.isolates == ("ingress", "egress")
    for ns in ("data", "ingress-nginx", "monitoring", "shop"):
        assert pol.namespaces.matches({"kubernetes.io/metadata.name": ns})
    for ns in ("kube-system", "default", "cilium"):
        assert not pol.namespaces.matches({"kubernetes.io/metadata.name": ns})
    assert pol.subject == Selector()
    (deny_in,) = pol.rules_of("ingress")
    dns, deny_out = pol.rules_of("egress")
    assert (dns.action, deny_in.action, deny_out.action) == (
        Action.ALLOW,
        Action.DENY,
        Action.DENY,
    )
    assert {(p.protocol, p.start) for p in dns.ports} == {("TCP", 53), ("UDP", 53)}
    assert deny_in.ports is None and deny_out.ports is None
    assert [str(p.block.network) for p in deny_out.peers if p.block] == ["0.0.0.0/0", "::/0"]


# --------------------------------------------------------------------------------------------
# Other proposals
# --------------------------------------------------------------------------------------------


def test_no_default_deny_no_baseline_and_unknown_kinds_are_refused():
    workload = PolicyIR("shop", "allow-web", "workload", workload="shop/web")
    assert render_baseline("cluster-network-policy", [workload], []) is None
    with pytest.raises(ValueError, match="baseline kind must be one of"):
        render_baseline("networkpolicy", [workload], [])


def test_without_an_observed_resolver_the_assumed_kube_dns_is_named():
    assumed = resolver_peers(["kube-system/kube-dns (assumed)"], {})
    assert assumed == [
        Peer("workload", "kube-system/kube-dns", "kube-system", (("k8s-app", "kube-dns"),))
    ]
    assert resolver_peers([], {}) == assumed


def _hostile_proposal():
    """Many namespaces with long names, and two resolvers, one picked by matchExpressions
    only (NotIn and DoesNotExist)."""
    namespaces = [f"team-{i:03d}-" + "x" * 50 for i in range(60)]
    policies = [PolicyIR(ns, "default-deny", "default-deny") for ns in namespaces]
    selections = {
        "dns/coredns": Selection({"app.kubernetes.io/name": "coredns"}, True),
        "dns/unbound": Selection(
            {},
            True,
            match_expressions=(("tier", "NotIn", ("edge", "test")), ("canary", "DoesNotExist", ())),
        ),
    }
    return policies, resolver_peers(["dns/coredns", "dns/unbound"], selections), namespaces


@pytest.mark.parametrize("kind", BASELINE_KINDS)
def test_hostile_values_still_validate_and_read_back(validators, kind):
    policies, resolvers, namespaces = _hostile_proposal()
    obj = render_baseline(kind, policies, resolvers)
    assert _errors(validators, kind, obj) == {c: [] for c in CHANNELS}
    (pol,) = compile_object(obj)
    assert all(pol.namespaces.matches({"kubernetes.io/metadata.name": ns}) for ns in namespaces)
    dns = pol.rules_of("egress")[0]
    unbound = dns.peers[1]
    assert unbound.pods.matches({"tier": "core"})
    assert not unbound.pods.matches({"tier": "edge"})
    assert not unbound.pods.matches({"tier": "core", "canary": "1"})


@pytest.mark.parametrize(
    "kind, path, value",
    [
        ("baseline-admin-network-policy", ("spec", "egress", 0, "action"), "Pass"),
        ("baseline-admin-network-policy", ("spec", "priority"), 5),
        ("cluster-network-policy", ("spec", "egress", 0, "action"), "Allow"),
        ("cluster-network-policy", ("spec", "tier"), "NetworkPolicy"),
        ("cluster-network-policy", ("spec", "priority"), 1001),
        ("cluster-network-policy", ("spec", "ingress", 0, "from", 0), {"networks": ["::/0"]}),
    ],
)
def test_the_crd_schema_refuses_what_the_api_server_would(validators, rendered, kind, path, value):
    obj = copy.deepcopy(rendered[kind])
    node = obj
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert all(_errors(validators, kind, obj).values())


# --------------------------------------------------------------------------------------------
# The baseline judged: the same verdicts as the per-namespace default-denies
# --------------------------------------------------------------------------------------------


def _is_default_deny(obj) -> bool:
    return obj["metadata"].get("annotations", {}).get("netpol-recommender/role") == "default-deny"


def _evaluators(rec, baseline):
    """(the NetworkPolicy proposal, the same with its default-denies replaced by
    ``baseline``), each as an evaluator."""
    np_version = compile_policies(rec.policies)
    workloads = compile_policies([p for p in rec.policies if not _is_default_deny(p)])
    assert len(workloads) == len(np_version) - 4  # one default-deny per covered namespace
    return Evaluator(np_version), Evaluator(workloads + compile_object(baseline))


@pytest.mark.parametrize("kind", BASELINE_KINDS)
def test_the_baseline_proposal_allows_every_observed_connection_the_np_one_does(
    rec, rendered, kind
):
    obs = rec.observation
    with_np, with_baseline = _evaluators(rec, rendered[kind])
    a = replay(obs.connections, with_np, obs.pods, share_classes=False, cluster=obs.cluster)
    b = replay(obs.connections, with_baseline, obs.pods, share_classes=False, cluster=obs.cluster)
    assert len(a) == len(obs.connections) > 100
    assert a["allowed"].tolist() == b["allowed"].tolist()
    assert a["exempt"].tolist() == b["exempt"].tolist()
    assert all(a["allowed"])  # coverage 100%: every observed connection


@pytest.mark.parametrize("kind", BASELINE_KINDS)
def test_and_every_pod_pair_on_every_observed_port_alike(rec, rendered, kind):
    obs = rec.observation
    with_np, with_baseline = _evaluators(rec, rendered[kind])
    pods = [pod_endpoint(row) for row in obs.pods.itertuples(index=False)]
    ports = sorted(set(zip(obs.connections["protocol"], obs.connections["port"], strict=True)))
    assert ("UDP", 53) in ports and len(pods) == 24
    differ, allowed = [], 0
    for src in pods:
        for dst in pods:
            for protocol, port in ports:
                x = with_np.evaluate(src, dst, protocol, int(port))
                y = with_baseline.evaluate(src, dst, protocol, int(port))
                allowed += x.allowed
                if (x.allowed, x.judged) != (y.allowed, y.judged):
                    differ.append((src.name, dst.name, protocol, port))
    assert differ == []
    assert 0 < allowed < len(pods) ** 2 * len(ports)  # some allowed, most denied


def test_where_they_differ_a_pod_no_workload_policy_selects(rec, rendered):
    """The baseline's documented difference: a pod of a covered namespace that no workload
    policy selects (none in the sample) may resolve names, and ingress from outside the
    cluster reaches it (these kinds' ingress peers are pods and namespaces only); pods still
    cannot reach it, nor it them."""
    with_np, with_baseline = _evaluators(rec, rendered["cluster-network-policy"])
    quiet = Endpoint(
        kind="pod",
        ip="10.244.9.9",
        namespace="shop",
        labels={"app.kubernetes.io/name": "quiet"},
        namespace_labels={"kubernetes.io/metadata.name": "shop"},
        name="quiet-0",
    )
    pods = {r.pod: pod_endpoint(r) for r in rec.observation.pods.itertuples(index=False)}
    coredns, cart = pods["coredns-sttmdgf6n-6lt95"], pods["cart-4wr7nsxsp-dxmvt"]
    internet = Endpoint(kind="external", ip="198.51.100.7", name="198.51.100.7")
    cases = [
        (quiet, coredns, "UDP", 53, False, True),
        (quiet, coredns, "TCP", 53, False, True),
        (internet, quiet, "TCP", 443, False, True),
        (quiet, coredns, "TCP", 9153, False, False),
        (quiet, internet, "TCP", 443, False, False),
        (quiet, cart, "TCP", 8080, False, False),
        (cart, quiet, "TCP", 8080, False, False),
    ]
    for src, dst, protocol, port, np_allows, baseline_allows in cases:
        assert with_np.evaluate(src, dst, protocol, port).allowed is np_allows
        assert with_baseline.evaluate(src, dst, protocol, port).allowed is baseline_allows
