"""What the proof evaluates (``recommender.generate.proof``): the rendered NetworkPolicy
dicts untouched without fqdn peers; with them, every policy compiled and each fqdn peer a
model FQDN peer in its place, judged on the names the destination was reached by."""

from __future__ import annotations

from recommender.generate.ir import Evidence, Peer, PolicyIR, PortSpec, Rule
from recommender.generate.k8s import render_policy
from recommender.generate.proof import fqdn_match, proof_policies
from recommender.netpol.evaluator import Evaluator
from recommender.netpol.model import Endpoint, FQDNMatch, IPBlock, PortMatch
from recommender.netpol.model import Peer as ModelPeer

HTTPS = PortSpec("TCP", 443)


def _policy(*peers: Peer) -> PolicyIR:
    rule = Rule(
        list(peers),
        [HTTPS, PortSpec("TCP", 8000, 8100)],
        [Evidence("x", "TCP", 443, 1, None, None)],
    )
    return PolicyIR(
        "shop",
        "allow-web",
        "workload",
        workload="shop/web",
        workload_kind="Deployment",
        match_labels={"app": "web"},
        egress=[
            Rule([Peer("address", "1.1.1.1", None, (), "external")], [PortSpec("UDP", 53)]),
            rule,
        ],
    )


def test_without_fqdn_peers_the_rendered_dicts_are_evaluated_as_they_are():
    ir = _policy(Peer("address", "93.184.216.34", None, (), "external"))
    rendered = [render_policy(ir)]
    assert proof_policies([ir], rendered) == rendered


def test_fqdn_peers_become_model_fqdn_peers_in_place():
    ir = _policy(
        Peer("address", "151.101.1.69", None, (), "external"),
        Peer("fqdn", "api.example.com", None, (), "external", members=("93.184.216.34",)),
        Peer("fqdn", "*.cdn.example.net", None, (), "external"),
    )
    deny = PolicyIR("shop", "default-deny", "default-deny")
    [compiled_deny, policy] = proof_policies([deny, ir], [render_policy(deny), render_policy(ir)])
    assert compiled_deny.name == "default-deny" and not compiled_deny.rules
    first, second = policy.rules_of("egress")
    assert first.peers[0].block is not None and first.peers[0].fqdn is None
    assert (second.index, second.peers[0].block.cidr_text) == (1, "151.101.1.69/32")
    assert second.peers[1:] == (
        ModelPeer(fqdn=FQDNMatch(name="api.example.com")),
        ModelPeer(fqdn=FQDNMatch(pattern="*.cdn.example.net")),
    )
    assert second.ports == (PortMatch("TCP", 443, 443), PortMatch("TCP", 8000, 8100))
    assert isinstance(second.peers[0].block, IPBlock)


def test_fqdn_match():
    assert fqdn_match("a.example.com") == FQDNMatch(name="a.example.com")
    assert fqdn_match("*.example.com") == FQDNMatch(pattern="*.example.com")


def test_the_proof_allows_the_address_only_when_reached_by_the_name():
    ir = _policy(Peer("fqdn", "api.example.com", None, (), "external", members=("93.184.216.34",)))
    evaluator = Evaluator(proof_policies([ir], [render_policy(ir)]))
    web = Endpoint(
        "pod", "10.0.0.1", "shop", {"app": "web"}, {"kubernetes.io/metadata.name": "shop"}
    )

    def allowed(names: tuple[str, ...], ip: str = "93.184.216.34", port: int = 443) -> bool:
        dst = Endpoint("external", ip, name=ip, names=names)
        return evaluator.evaluate(web, dst, "TCP", port).allowed

    assert allowed(("api.example.com",))
    assert allowed(("api.example.com",), ip="203.0.113.7")  # the name, wherever it resolves
    assert not allowed(())  # the same address reached without the name
    assert not allowed(("www.example.com",))
    assert not allowed(("api.example.com",), port=22)
