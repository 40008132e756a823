"""``netpol-recommender explain`` on the sample: the proposal made from sample_flows, then
connections explained over it (an observed one allowed, a pair never observed denied),
text and JSON, exit codes by verdict, and one-line errors (exit 2) for what it cannot
answer."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner
from conformance.truth import cluster
from conftest import ROOT, SAMPLE_FLOWS
from explain_truth import L7_POLICY, inventory_document

from recommender.cli import main
from recommender.sim import kubectl_inventory, shop_cluster


@pytest.fixture(scope="module")
def policies(tmp_path_factory):
    out = tmp_path_factory.mktemp("proposal")
    result = CliRunner().invoke(main, ["recommend", str(SAMPLE_FLOWS), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out / "policies"


def _explain(policies, *args):
    return CliRunner().invoke(
        main, ["explain", *args, "--policies", str(policies), "--flows", str(SAMPLE_FLOWS)]
    )


def _in_order(lines: list[str], wanted: list[str]) -> bool:
    """Every wanted line appears, in this order (other lines between them)."""
    it = iter(lines)
    return all(any(line == want for line in it) for want in wanted)


def test_an_observed_connection_is_allowed_and_the_deciding_rules_are_named(policies):
    result = _explain(policies, "shop/frontend", "shop/cart", "8080")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:4] == [
        "ALLOWED: shop/frontend -> shop/cart on 8080/TCP",
        "source shop/frontend: workload, 3 pods",
        "destination shop/cart: workload, 4 pods",
        "12 pod pairs: 12 allowed",
    ]
    assert _in_order(
        lines,
        [
            "12 pod pairs on 8080/TCP, one explanation: ALLOWED",
            "  egress at the source: ALLOWED: allowed by shop/allow-frontend egress[1]",
            "    selected for egress by, in the order considered:",
            "      egress[1] to app.kubernetes.io/name in (cart,catalog,checkout) in namespace "
            "shop on 8080/TCP: ALLOWS (decides)",
            "  ingress at the destination: ALLOWED: allowed by shop/allow-cart ingress[0]",
            "      ingress[0] from app.kubernetes.io/name in (checkout,frontend) in namespace "
            "shop on 8080/TCP: ALLOWS (decides)",
            "  decided: both sides allow",
        ],
    ), result.output


def test_a_pair_never_observed_is_denied_rule_by_rule(policies):
    result = _explain(policies, "shop/frontend", "data/postgres", "5432/tcp")
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0] == "DENIED: shop/frontend -> data/postgres on 5432/TCP"
    assert _in_order(
        lines,
        [
            "  egress at the source: DENIED: denied: isolated by shop/allow-frontend, "
            "shop/default-deny, no rule matches",
            "  ingress at the destination: DENIED: denied: isolated by data/allow-postgres, "
            "data/default-deny, no rule matches",
            "    1. data/allow-postgres (tier networkpolicy, order 1000000, priority 1000) "
            "selects app.kubernetes.io/name=postgres in namespace data",
            "      ingress[0] from app.kubernetes.io/name in (catalog,report) in namespace shop "
            "on 5432/TCP: no match",
            "        peer: not app.kubernetes.io/name in (catalog,report) in namespace shop: pod "
            "labels: app.kubernetes.io/name is frontend, not in (catalog,report); port: "
            "5432/TCP is among 5432/TCP",
            "    2. data/default-deny (tier networkpolicy, order 1000000, priority 1000) selects "
            "every pod in namespace data",
            "      no ingress rules: admits nothing",
            "  decided: egress at the source and ingress at the destination deny",
        ],
    ), result.output


def test_addresses_outside_and_of_a_pod(policies):
    outside = _explain(policies, "57.112.56.0", "ingress-nginx/ingress-nginx-controller", "443")
    assert outside.exit_code == 0, outside.output
    assert "source 57.112.56.0: address" in outside.output
    assert "egress at the source: ALLOWED: allowed: not a pod" in outside.output
    pod = _explain(policies, "10.244.1.80", "data/redis", "6379")
    assert pod.exit_code == 1, pod.output
    assert "source 10.244.1.80: the address of pod shop/frontend-cxxqckcwgm-rgwfx" in pod.output


def test_json_is_one_document_with_the_same_verdict(policies):
    result = _explain(policies, "shop/checkout", "shop/payments", "8443", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["verdict"] == "ALLOWED" and doc["pairs"]["allowed"] == 4
    assert doc["source"]["kind"] == "workload" and len(doc["source"]["endpoints"]) == 2
    (group,) = doc["explanations"]
    rules = [r for p in group["ingress"]["policies"] for r in p["rules"]]
    deciding = [r["rule"] for r in rules if r["outcome"] == "allows"]
    assert deciding == group["ingress"]["allowed_by"] and deciding


def test_a_named_port_resolves_with_an_inventory(policies, tmp_path):
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps(kubectl_inventory(shop_cluster())), encoding="utf-8")
    result = _explain(
        policies, "shop/catalog", "data/postgres", "tcp-postgresql", "--inventory", str(inventory)
    )
    assert result.exit_code == 0, result.output
    assert "on 5432/TCP, one explanation: ALLOWED" in result.output
    without = _explain(policies, "shop/catalog", "data/postgres", "tcp-postgresql")
    assert without.exit_code == 2
    assert "container ports of data/postgres-0 are unknown" in without.output


def test_inventory_alone_and_exit_3_when_unjudged(tmp_path):
    l7 = L7_POLICY
    (tmp_path / "l7.yaml").write_text(yaml.safe_dump(l7), encoding="utf-8")
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps(inventory_document(cluster().values())), encoding="utf-8")
    args = ["explain", "--policies", str(tmp_path), "--inventory", str(inventory)]
    unjudged = CliRunner().invoke(main, [*args, "x/a", "y/a", "80"])
    assert unjudged.exit_code == 3, unjudged.output
    assert unjudged.output.startswith("UNJUDGED: x/a -> y/a on 80/TCP")
    assert "decided: ingress at the destination leaves it unjudged" in unjudged.output
    other_port = CliRunner().invoke(main, [*args, "x/a", "y/a", "81"])
    assert other_port.exit_code == 1 and other_port.output.startswith("DENIED")


@pytest.mark.parametrize(
    "args,message",
    [
        (["shop/frontnd", "shop/cart", "8080"], "close matches: shop/frontend"),
        (["shop/frontend", "shop/cart", "70000"], "a port number is 1-65535"),
        (["shop/frontend", "shop/cart", "8080/icmp"], "protocol must be TCP, UDP or SCTP"),
        (["shop/frontend", "999.1.1.1", "443"], "not an IPv4/IPv6 address"),
        (["shop/frontend", "a/b/c", "443"], "expected namespace/pod"),
        (["shop/front\x1b[2Jend", "shop/cart", "8080"], "expected namespace/pod"),
        (["shop/frontend", "shop/cart", "8080\n/tcp"], "expected a number 1-65535"),
    ],
)
def test_bad_arguments_fail_in_one_line_with_exit_2(policies, args, message):
    result = _explain(policies, *args)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("error: ")
    assert message in result.output and "\x1b" not in result.output


def test_unreadable_inputs_fail_in_one_line_with_exit_2(policies, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "p.yaml").write_text("kind: NetworkPolicy\napiVersion: networking.k8s.io/v1\n")
    cases = [
        (["--policies", str(bad), "--flows", str(SAMPLE_FLOWS)], "metadata"),
        (["--policies", str(policies)], "give --inventory FILE or --flows INPUT"),
        (["--policies", str(policies), "--inventory", str(bad / "p.yaml")], "not kubectl"),
        (["--policies", str(policies), "--flows", str(tmp_path / "none")], "no such file"),
    ]
    for extra, message in cases:
        result = CliRunner().invoke(main, ["explain", "shop/frontend", "shop/cart", "80", *extra])
        assert result.exit_code == 2, (extra, result.output)
        assert result.output.count("\n") == 1 and message in result.output, result.output


def test_help_teaches_with_an_example_and_the_exit_codes():
    result = CliRunner().invoke(main, ["explain", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "netpol-recommender explain shop/frontend data/postgres 5432" in text
    assert "0 ALLOWED" in text and "1 DENIED" in text and "3 UNJUDGED" in text
    assert "explain" in CliRunner().invoke(main, ["--help"]).output


def test_dns_name_judges_a_cilium_to_fqdns_rule(tmp_path):
    cnp = {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": "to-api", "namespace": "x"},
        "spec": {
            "endpointSelector": {"matchLabels": {"pod": "a"}},
            "egress": [{"toFQDNs": [{"matchPattern": "*.example.com"}]}],
        },
    }
    (tmp_path / "cnp.yaml").write_text(yaml.safe_dump(cnp), encoding="utf-8")
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps(inventory_document(cluster().values())), encoding="utf-8")
    args = ["explain", "x/a", "2001:db8::9", "443", "--policies", str(tmp_path)]
    args += ["--inventory", str(inventory)]
    named = CliRunner().invoke(main, [*args, "--dns-name", "api.example.com"])
    assert named.exit_code == 0, named.output
    assert "egress at the source: ALLOWED: allowed by CiliumNetworkPolicy x/to-api" in named.output
    unnamed = CliRunner().invoke(main, args)
    assert unnamed.exit_code == 1 and "no DNS name of the peer is known" in unnamed.output
    bad = CliRunner().invoke(main, [*args, "--dns-name", "bad name"])
    assert bad.exit_code == 2 and bad.output.startswith("error: DNS name 'bad name'")


def test_the_example_in_docs_explain_md_is_what_the_command_prints(policies):
    doc = (ROOT / "docs" / "explain.md").read_text(encoding="utf-8")
    command = "$ netpol-recommender explain shop/checkout data/redis 6379 "
    block = doc.split(command, 1)[1].split("\n```", 1)[0]
    printed = block.split("\n", 1)[1]
    result = _explain(policies, "shop/checkout", "data/redis", "6379")
    assert result.exit_code == 1
    assert result.output.rstrip("\n") == printed
