"""The proposal as CiliumNetworkPolicies: Cilium's own terms for the same rules, valid against
Cilium's CRD schema (the main branch and the v1.17.3 release)."""

from __future__ import annotations

import re

import pytest
import yaml
from conftest import SAMPLE_FLOWS, SHARED

import recommender
from recommender.generate.cilium import (
    DNS_PROXY_RULES,
    POD_NAMESPACE_LABEL,
    render_policies,
    render_policy,
    reserved_identities,
)
from recommender.generate.ir import Peer, PolicyIR, PortSpec, Rule
from recommender.generate.k8s import render_policy as render_network_policy
from recommender.netpol.breadth import measure_breadth
from recommender.netpol.cilium import compile_object
from recommender.netpol.evaluator import Evaluator
from recommender.netpol.model import NETWORK_POLICY_TIER, Endpoint
from recommender.sim.apps import shop_app
from recommender.sim.calico import write_calico
from recommender.verify import PodIndex

CRDS = {
    version: SHARED / f"schemas/cilium/{version}/ciliumnetworkpolicies.yaml"
    for version in ("main", "v1.17.3")
}

DNS = Peer("workload", "kube-system/coredns", "kube-system", (("k8s-app", "kube-dns"),))
DNS_PORTS = [PortSpec("TCP", 53), PortSpec("UDP", 53)]


def workload(egress=(), ingress=(), labels=None) -> PolicyIR:
    return PolicyIR(
        "shop",
        "allow-api",
        "workload",
        workload="shop/api",
        workload_kind="Deployment",
        match_labels=labels or {"app": "api"},
        ingress=list(ingress),
        egress=list(egress),
    )


# --------------------------------------------------------------------------------------------
# Cilium's CRD schema
# --------------------------------------------------------------------------------------------


def json_schema(node):
    """A CRD's structural schema as JSON Schema: ``x-kubernetes-*`` keywords dropped, and an
    object type listing its properties (not a oneOf/anyOf branch) closed to others (the API
    server would prune them; an object we write must have none)."""
    if isinstance(node, list):
        return [json_schema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: json_schema(v) for k, v in node.items() if not str(k).startswith("x-kubernetes-")}
    closed = node.get("type") == "object" and "properties" in node
    if closed and not node.get("x-kubernetes-preserve-unknown-fields"):
        out.setdefault("additionalProperties", False)
    return out


def go_pattern(pattern: str) -> str:
    """A Go regular expression of the CRD in Python's dialect: ``\\PC`` (no character of
    Unicode class C) as "no control character", the only Go-only construct these CRDs use."""
    return pattern.replace(r"\PC", r"[^\x00-\x1f\x7f-\x9f]")


def validator_for_schema(schema):
    """A validator of a JSON Schema (:func:`json_schema`) that reads Go patterns."""
    # The [test] extra installs [schema]: a missing jsonschema fails here, never skips.
    import jsonschema

    def pattern(validator, patrn, instance, schema):
        if isinstance(instance, str) and not re.search(go_pattern(patrn), instance):
            yield jsonschema.ValidationError(f"{instance!r} does not match {patrn!r}")

    cls = jsonschema.validators.extend(jsonschema.Draft7Validator, {"pattern": pattern})
    return cls(schema)


def validator_for(path):
    crd = yaml.safe_load(path.read_text(encoding="utf-8"))
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v2"]
    return validator_for_schema(json_schema(version["schema"]["openAPIV3Schema"]))


@pytest.fixture(scope="module")
def validators():
    return {version: validator_for(path) for version, path in CRDS.items()}


def schema_errors(validators, obj) -> dict[str, list[str]]:
    return {
        version: [f"{list(e.path)}: {e.message}" for e in v.iter_errors(obj)]
        for version, v in validators.items()
    }


NO_ERRORS = {"main": [], "v1.17.3": []}


def test_the_schema_check_refuses_what_cilium_refuses(validators):
    obj = render_policy(workload(egress=[Rule([DNS], DNS_PORTS)]))
    assert schema_errors(validators, obj) == NO_ERRORS
    obj["spec"]["egress"][0]["toPorts"][0]["ports"][0]["port"] = 53  # an int, not a string
    obj["spec"]["egress"][0]["bogus"] = True
    errors = schema_errors(validators, obj)["main"]
    assert len(errors) == 2, errors


@pytest.fixture(scope="module")
def sample():
    obs = recommender.observe([SAMPLE_FLOWS])
    return {
        "exact": recommender.propose(obs),
        "nodes": recommender.propose(
            obs, recommender.SynthesisOptions(allow_node_sources=True, named_ports=True)
        ),
    }


@pytest.mark.parametrize("variant", ["exact", "nodes"])
def test_every_object_of_the_sample_proposal_validates(validators, sample, variant):
    rec = sample[variant]
    objects = render_policies(rec.ir, rec.connections)
    assert len(objects) == len(rec.policies)
    for obj in objects:
        assert schema_errors(validators, obj) == NO_ERRORS, obj["metadata"]["name"]


#: Valid Kubernetes label values that YAML 1.1 would read as something else than a string.
HOSTILE_VALUES = ["true", "null", "NULL", "0123", "1e3", "0x1F", "1_000", "1.5", "", "yes", "on"]


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_hostile_label_values_stay_strings_and_validate(validators, value):
    peer = Peer("workload", "data/db", "data", (("app.kubernetes.io/name", value),))
    policy = workload(
        egress=[Rule([peer], [PortSpec("TCP", 5432)])], labels={"example.com/role": value}
    )
    obj = render_policy(policy)
    assert schema_errors(validators, obj) == NO_ERRORS
    again = yaml.safe_load(recommender.generate.k8s.to_yaml(obj))
    assert again == obj
    assert again["spec"]["endpointSelector"] == {"matchLabels": {"example.com/role": value}}


# --------------------------------------------------------------------------------------------
# What the rendering says
# --------------------------------------------------------------------------------------------


def test_the_namespace_default_deny_isolates_both_directions_with_empty_rules():
    policy = PolicyIR("shop", "default-deny", "default-deny")
    obj = render_policy(policy)
    assert obj["metadata"] == render_network_policy(policy)["metadata"]
    assert obj["spec"] == {
        "endpointSelector": {},
        "enableDefaultDeny": {"ingress": True, "egress": True},
        "ingress": [{}],
        "egress": [{}],
    }


def test_a_workload_policy_keeps_the_metadata_and_selects_its_pods():
    policy = workload(ingress=[Rule([Peer("workload", "shop/web", "shop", (("app", "web"),))], [])])
    policy.match_expressions = (("track", "DoesNotExist", ()),)
    obj = render_policy(policy)
    assert (obj["apiVersion"], obj["kind"]) == ("cilium.io/v2", "CiliumNetworkPolicy")
    assert obj["metadata"] == render_network_policy(policy)["metadata"]
    assert obj["spec"]["endpointSelector"] == {
        "matchLabels": {"app": "api"},
        "matchExpressions": [{"key": "track", "operator": "DoesNotExist"}],
    }
    assert obj["spec"]["ingress"] == [
        {"fromEndpoints": [{"matchLabels": {POD_NAMESPACE_LABEL: "shop", "app": "web"}}]}
    ]
    assert obj["spec"]["egress"] == [{}]  # isolated, as the NetworkPolicy's policyTypes say


def test_a_peer_of_several_namespaces_names_them_with_an_in():
    peer = Peer(
        "selector",
        "{a,b}/{tier=db}",
        "a",
        (("tier", "db"),),
        match_expressions=(("app", "In", ("pg", "redis")),),
        namespaces=("a", "b"),
    )
    obj = render_policy(workload(egress=[Rule([peer], [PortSpec("TCP", 5432, 5433)])]))
    assert obj["spec"]["egress"] == [
        {
            "toEndpoints": [
                {
                    "matchLabels": {"tier": "db"},
                    "matchExpressions": [
                        {"key": POD_NAMESPACE_LABEL, "operator": "In", "values": ["a", "b"]},
                        {"key": "app", "operator": "In", "values": ["pg", "redis"]},
                    ],
                }
            ],
            "toPorts": [{"ports": [{"port": "5432", "endPort": 5433, "protocol": "TCP"}]}],
        }
    ]


def test_mixed_peer_kinds_become_one_rule_per_kind_with_the_same_ports():
    peers = [
        Peer("address", "93.184.216.34", address_kind="external"),
        Peer("workload", "data/db", "data", (("app", "db"),)),
        Peer("address", "2001:db8::1", address_kind="external"),
        Peer("address", "172.18.0.2", address_kind="node"),
    ]
    reserved = {"egress": {"172.18.0.2": ("kube-apiserver",)}}
    obj = render_policy(workload(egress=[Rule(peers, [PortSpec("TCP", 443)])]), reserved)
    ports = [{"ports": [{"port": "443", "protocol": "TCP"}]}]
    assert obj["spec"]["egress"] == [
        {
            "toCIDRSet": [{"cidr": "93.184.216.34/32"}, {"cidr": "2001:db8::1/128"}],
            "toPorts": ports,
        },
        {
            "toEndpoints": [{"matchLabels": {POD_NAMESPACE_LABEL: "data", "app": "db"}}],
            "toPorts": ports,
        },
        {"toEntities": ["kube-apiserver"], "toPorts": ports},
    ]


def test_the_public_range_keeps_the_networkpolicy_excepts():
    public = Peer(
        "cidr", "0.0.0.0/0", address_kind="external", excepts=("10.0.0.0/8", "192.168.0.0/16")
    )
    obj = render_policy(workload(ingress=[Rule([public], [PortSpec("TCP", 443)])]))
    assert obj["spec"]["ingress"][0]["fromCIDRSet"] == [
        {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "192.168.0.0/16"]}
    ]


def test_fqdn_peers_are_to_fqdns_and_the_resolver_rule_goes_through_the_dns_proxy():
    names = [Peer("fqdn", "API.example.com."), Peer("fqdn", "*.s3.amazonaws.com")]
    policy = workload(
        egress=[
            Rule([DNS], [PortSpec("TCP", 53), PortSpec("TCP", 9153), PortSpec("UDP", 53)]),
            Rule(names, [PortSpec("TCP", 443)]),
        ]
    )
    egress = render_policy(policy)["spec"]["egress"]
    assert egress[0]["toPorts"] == [
        {
            "ports": [{"port": "53", "protocol": "TCP"}, {"port": "53", "protocol": "UDP"}],
            "rules": DNS_PROXY_RULES,
        },
        {"ports": [{"port": "9153", "protocol": "TCP"}]},
    ]
    assert egress[1] == {
        "toFQDNs": [{"matchName": "api.example.com"}, {"matchPattern": "*.s3.amazonaws.com"}],
        "toPorts": [{"ports": [{"port": "443", "protocol": "TCP"}]}],
    }


def test_without_fqdn_peers_dns_stays_plain_l4():
    egress = render_policy(workload(egress=[Rule([DNS], DNS_PORTS)]))["spec"]["egress"]
    assert egress[0]["toPorts"] == [
        {"ports": [{"port": "53", "protocol": "TCP"}, {"port": "53", "protocol": "UDP"}]}
    ]


def test_a_named_port_is_written_by_name():
    rule = Rule([DNS], [PortSpec("TCP", 8080, name="http")])
    egress = render_policy(workload(egress=[rule]))["spec"]["egress"]
    assert egress[0]["toPorts"] == [{"ports": [{"port": "http", "protocol": "TCP"}]}]


def test_node_addresses_become_the_entities_the_logs_gave_them(sample):
    rec = sample["nodes"]
    reserved = reserved_identities(rec.connections)
    assert reserved["ingress"]["172.18.0.3"] == ("host", "remote-node")
    assert reserved["egress"]["172.18.0.2"] == ("kube-apiserver",)
    objects = {o["metadata"]["name"]: o for o in render_policies(rec.ir, rec.connections)}
    frontend = objects["allow-frontend"]["spec"]["ingress"]
    kubelet = {
        "fromEntities": ["host", "remote-node"],
        "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}]}],
    }
    assert kubelet in frontend
    text = yaml.safe_dump(list(objects.values()))
    assert "172.18.0." not in text  # no node address is written as a CIDR


def test_the_api_server_is_the_kube_apiserver_entity_in_the_sample(sample):
    rec = sample["exact"]
    objects = {o["metadata"]["name"]: o for o in render_policies(rec.ir, rec.connections)}
    egress = objects["allow-prometheus"]["spec"]["egress"]
    assert {
        "toEntities": ["kube-apiserver"],
        "toPorts": [{"ports": [{"port": "6443", "protocol": "TCP"}]}],
    } in egress


# --------------------------------------------------------------------------------------------
# Round trip: emit -> read -> evaluate, against the NetworkPolicy rendering of the same IR
# --------------------------------------------------------------------------------------------


def _endpoints(rec):
    """Every observed connection as (src, dst, protocol, port) endpoints, with the reserved
    identity the logs gave each non-pod end (what a Cilium entity is judged on)."""
    index = PodIndex(rec.pods)
    out = []
    for row in rec.connections.itertuples(index=False):
        ends = []
        for side in ("src", "dst"):
            kind, ip = getattr(row, f"{side}_kind"), getattr(row, f"{side}_ip")
            if kind == "pod":
                ends.append(
                    index.endpoint(
                        kind, getattr(row, f"{side}_namespace"), getattr(row, f"{side}_pod"), ip
                    )
                )
            else:
                reserved = getattr(row, f"{side}_reserved")
                ends.append(Endpoint(kind=kind, ip=ip, name=ip, reserved=reserved or None))
        out.append((*ends, row.protocol, None if row.port != row.port else int(row.port)))
    return out


def assert_same_verdicts(rec):
    """The Cilium rendering of ``rec``, read back, judges every observed connection as its
    NetworkPolicy rendering does; returns how many it allows."""
    cilium = [p for obj in render_policies(rec.ir, rec.connections) for p in compile_object(obj)]
    assert all(not r.unjudged for p in cilium for r in p.rules)
    assert all(p.tier == NETWORK_POLICY_TIER for p in cilium)
    by_cilium = Evaluator(cilium, ipblock_matches_pods=False)  # Cilium: CIDRs select no pod
    by_networkpolicy = Evaluator(rec.policies)
    connections = _endpoints(rec)
    differ = [
        (src.name, dst.name, protocol, port)
        for src, dst, protocol, port in connections
        if by_cilium.evaluate(src, dst, protocol, port).allowed
        != by_networkpolicy.evaluate(src, dst, protocol, port).allowed
    ]
    assert differ == []
    return sum(by_cilium.evaluate(*c).allowed for c in connections), len(connections)


def test_the_cilium_rendering_judges_the_sample_as_the_networkpolicy_rendering(sample):
    allowed, total = assert_same_verdicts(sample["exact"])
    assert 0 < allowed < total  # node sources are denied without --allow-node-sources
    allowed, total = assert_same_verdicts(sample["nodes"])
    assert allowed == total


def test_the_round_trip_holds_on_a_simulated_shop_logged_by_calico(tmp_path):
    write_calico(shop_app(), tmp_path, seed=7)
    obs = recommender.observe([str(tmp_path)])
    options = recommender.SynthesisOptions(generalize="role", allow_node_sources=True)
    allowed, total = assert_same_verdicts(recommender.propose(obs, options))
    assert allowed == total > 100


def test_fqdn_rules_read_back_allow_the_observed_names_only():
    names = [Peer("fqdn", "api.example.com"), Peer("fqdn", "*.s3.amazonaws.com")]
    policy = workload(egress=[Rule([DNS], DNS_PORTS), Rule(names, [PortSpec("TCP", 443)])])
    compiled = compile_object(render_policy(policy))
    assert [r.unjudged for p in compiled for r in p.rules] == ["", ""]
    evaluator = Evaluator(compiled, ipblock_matches_pods=False)
    api = Endpoint(kind="pod", namespace="shop", labels={"app": "api"}, name="api")
    coredns = Endpoint(
        kind="pod",
        namespace="kube-system",
        labels={"k8s-app": "kube-dns"},
        namespace_labels={"kubernetes.io/metadata.name": "kube-system"},
    )

    def external(*names):
        return Endpoint(kind="external", ip="52.216.8.21", reserved="world", names=names)

    assert evaluator.evaluate(api, coredns, "UDP", 53).allowed
    assert evaluator.evaluate(api, external("api.example.com"), "TCP", 443).allowed
    assert evaluator.evaluate(api, external("b.s3.amazonaws.com"), "TCP", 443).allowed
    assert not evaluator.evaluate(api, external("api.example.com"), "TCP", 80).allowed
    assert not evaluator.evaluate(api, external("evil.example.com"), "TCP", 443).allowed
    assert not evaluator.evaluate(api, external(), "TCP", 443).allowed


def test_a_node_address_without_an_identity_is_every_node():
    node = Peer("address", "10.0.0.5", address_kind="node")
    obj = render_policy(workload(ingress=[Rule([node], [PortSpec("TCP", 8080)])]), {})
    assert obj["spec"]["ingress"][0]["fromEntities"] == ["host", "remote-node"]


@pytest.mark.parametrize("variant", ["exact", "nodes"])
def test_the_cilium_rendering_of_the_sample_is_as_broad_as_the_networkpolicy_one(sample, variant):
    rec = sample[variant]
    compiled = [p for obj in render_policies(rec.ir, rec.connections) for p in compile_object(obj)]
    breadth = measure_breadth(
        Evaluator(compiled, ipblock_matches_pods=False),
        rec.pods,
        rec.workload_connections,
        resolvers=rec.synthesis.resolvers,
        namespaces=rec.synthesis.namespaces,
    )
    assert breadth.not_measured == []
    assert (breadth.in_cluster, breadth.external_addresses) == (
        rec.breadth.in_cluster,
        rec.breadth.external_addresses,
    )
    # The API server is admitted by its identity, not by an address: named, not counted.
    assert set(breadth.external_names.values()) == {"the API server's addresses"}
