"""Rendering the IR as networking.k8s.io/v1 NetworkPolicy objects and stable YAML."""

from __future__ import annotations

import yaml

from recommender.generate.ir import Peer, PolicyIR, PortSpec, Rule
from recommender.generate.k8s import MANAGED_BY, render_policy, to_yaml
from recommender.netpol.evaluator import Evaluator
from recommender.netpol.model import Endpoint


def endpoint(namespace: str, labels: dict[str, str], ip: str) -> Endpoint:
    return Endpoint(kind="pod", ip=ip, namespace=namespace, labels=labels, name=ip)


def _workload_policy(**rules) -> PolicyIR:
    return PolicyIR(
        namespace="shop",
        name="allow-api",
        role="workload",
        workload="shop/api",
        workload_kind="Deployment",
        match_labels={"app": "api"},
        **rules,
    )


def test_default_deny_isolates_every_pod_both_ways():
    obj = render_policy(PolicyIR("shop", "default-deny", "default-deny"))
    assert obj["apiVersion"] == "networking.k8s.io/v1" and obj["kind"] == "NetworkPolicy"
    assert obj["metadata"]["labels"] == {"app.kubernetes.io/managed-by": MANAGED_BY}
    assert obj["metadata"]["annotations"] == {f"{MANAGED_BY}/role": "default-deny"}
    assert obj["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_workload_policy_names_its_workload_and_states_each_peer_kind():
    web = Peer("workload", "shop/web", namespace="shop", match_labels=(("app", "web"),))
    prom = Peer("workload", "monitoring/prometheus", "monitoring", (("app", "prometheus"),))
    spread = Peer(
        "selector",
        "api-clients",
        namespace="shop",
        match_labels=(("tier", "client"),),
        namespaces=("billing", "shop"),
    )
    ingress = [
        Rule([web], [PortSpec("TCP", 8080)]),
        Rule([prom], [PortSpec("TCP", 9000, name="metrics")]),
        Rule([spread], [PortSpec("TCP", 8080)]),
    ]
    egress = [
        Rule([Peer("address", "2001:db8::1")], [PortSpec("TCP", 443)]),
        Rule(
            [Peer("cidr", "0.0.0.0/0", excepts=("10.0.0.0/8",))],
            [PortSpec("UDP", 30000, end_port=30010)],
        ),
    ]
    spec = render_policy(_workload_policy(ingress=ingress, egress=egress))
    assert spec["metadata"]["annotations"] == {f"{MANAGED_BY}/workload": "Deployment/api"}
    assert spec["spec"]["podSelector"] == {"matchLabels": {"app": "api"}}
    frm = [r["from"][0] for r in spec["spec"]["ingress"]]
    assert frm[0] == {"podSelector": {"matchLabels": {"app": "web"}}}
    assert frm[1] == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
        "podSelector": {"matchLabels": {"app": "prometheus"}},
    }
    assert frm[2] == {
        "namespaceSelector": {
            "matchExpressions": [
                {
                    "key": "kubernetes.io/metadata.name",
                    "operator": "In",
                    "values": ["billing", "shop"],
                }
            ]
        },
        "podSelector": {"matchLabels": {"tier": "client"}},
    }
    assert spec["spec"]["ingress"][1]["ports"] == [{"protocol": "TCP", "port": "metrics"}]
    to = [r["to"][0] for r in spec["spec"]["egress"]]
    assert to[0] == {"ipBlock": {"cidr": "2001:db8::1/128"}}
    assert to[1] == {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}
    assert spec["spec"]["egress"][1]["ports"] == [
        {"protocol": "UDP", "port": 30000, "endPort": 30010}
    ]


def test_a_policy_without_rules_still_isolates_both_ways():
    spec = render_policy(_workload_policy())["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in spec and "egress" not in spec


def test_rendered_policies_mean_what_the_ir_says():
    """The independent evaluator reads the rendered object as the IR intends."""
    web = Peer("workload", "shop/web", namespace="shop", match_labels=(("app", "web"),))
    obj = render_policy(_workload_policy(ingress=[Rule([web], [PortSpec("TCP", 8080)])]))
    evaluator = Evaluator([obj])
    src = endpoint("shop", {"app": "web"}, "10.0.0.1")
    dst = endpoint("shop", {"app": "api"}, "10.0.0.2")
    other = endpoint("shop", {"app": "db"}, "10.0.0.3")
    assert evaluator.evaluate(src, dst, "TCP", 8080).allowed
    assert not evaluator.evaluate(src, dst, "TCP", 8081).allowed
    assert not evaluator.evaluate(other, dst, "TCP", 8080).allowed


def test_yaml_is_stable_block_style_without_aliases():
    shared = ("10.0.0.0/8",)
    egress = [
        Rule([Peer("cidr", "0.0.0.0/0", excepts=shared)], [PortSpec("TCP", 443)]),
        Rule([Peer("cidr", "::/0", excepts=shared)], [PortSpec("TCP", 443)]),
    ]
    obj = render_policy(_workload_policy(egress=egress))
    text = to_yaml(obj)
    assert text == to_yaml(render_policy(_workload_policy(egress=egress)))
    assert "&" not in text and "*" not in text and "{" not in text
    assert text.startswith("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n")
    assert yaml.safe_load(text) == obj
