"""Replay, coverage and breadth, measured by the evaluator on hand-written policies."""

import copy
import random

import pandas as pd
from conftest import address, flow, flows_table, pod

from recommender.accounting import RecordCounts
from recommender.connections import build_connections, observed_pods
from recommender.netpol.breadth import measure_breadth
from recommender.netpol.evaluator import Evaluator
from recommender.netpol.model import Endpoint
from recommender.pipeline import recommend_from_flows
from recommender.verify import coverage, replay
from recommender.workloads import assign_workloads, workload_connections

WEB = pod("shop", "web-7d4b9c8f6-bcdfg", {"app": "web"}, "10.0.0.1")
API = pod("shop", "api-7d4b9c8f6-zzzzz", {"app": "api"}, "10.0.0.3")
DB = pod("shop", "db-0", {"app": "db"}, "10.0.0.4")
NODE = address("172.18.0.2", kind="node", reserved="host")


def _setup(rows):
    flows = flows_table(rows)
    conns = build_connections(flows).table
    pods = assign_workloads(observed_pods(flows))
    return conns, pods, workload_connections(conns, pods)


def _np(name, selector, **spec):
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"podSelector": {"matchLabels": selector} if selector else {}, **spec},
    }


ROWS = [flow(WEB, API, 8080), flow(API, DB, 5432), flow(NODE, API, 8081)]


def test_replay_denies_what_a_default_deny_blocks_and_names_the_policy():
    conns, pods, _ = _setup(ROWS)
    deny = _np("default-deny", None, policyTypes=["Ingress"])
    replayed = replay(conns, Evaluator([deny]), pods)
    share, ok, total = coverage(replayed)
    assert (ok, total) == (0, 2)
    assert share == 0.0
    assert replayed["exempt"].sum() == 1  # the kubelet probe is reported, not judged
    denied = replayed[~replayed["allowed"]]
    assert all("shop/default-deny" in r for r in denied["reasons"])


def test_no_policies_allow_everything_and_breadth_counts_the_rest():
    conns, pods, wconns = _setup(ROWS)
    evaluator = Evaluator([])
    assert coverage(replay(conns, evaluator, pods))[0] == 1.0
    breadth = measure_breadth(evaluator, pods, wconns, resolvers=[])
    # 3 workloads squared x 5 ports (8080, 5432, the probed 8081, 53/UDP, 53/TCP) minus the
    # 2 observed pairs (no resolver was seen, so there is no DNS allowance)
    assert breadth.universe == 3 * 3 * 5
    assert breadth.in_cluster == 45 - 2
    assert "(ingress of shop/db not isolated)" in breadth.per_policy


def test_widening_both_sides_costs_breadth_attributed_to_both_policies():
    rows = [flow(WEB, API, 8080), flow(API, DB, 5432)]
    rec = recommend_from_flows(flows_table(rows), RecordCounts())
    assert rec.coverage == 1.0 and rec.breadth.in_cluster == 0
    policies = copy.deepcopy(rec.policies)
    by_name = {p["metadata"]["name"]: p for p in policies}
    # widening one side alone adds nothing: the other side is still isolated
    by_name["allow-db"]["spec"]["ingress"][0]["from"] = [{"podSelector": {}}]
    conns, pods, wconns = _setup(rows)
    breadth = measure_breadth(Evaluator(policies), pods, wconns, resolvers=[])
    assert breadth.in_cluster == 0
    by_name["allow-web"]["spec"]["egress"] = [{"to": [{"podSelector": {}}]}]
    breadth = measure_breadth(Evaluator(policies), pods, wconns, resolvers=[])
    # web -> db:5432 is now allowed and was never observed
    assert breadth.in_cluster == 1
    assert breadth.per_policy["shop/allow-db"] == 1
    assert breadth.per_policy["shop/allow-web"] == 1
    assert breadth.examples[0]["src"] == "shop/web" and breadth.examples[0]["dst"] == "shop/db"
    assert breadth.unbounded == ["shop/allow-web egress[0]"]


def test_external_breadth_counts_addresses_beyond_the_observed_ones():
    world = address("93.184.216.34")
    rows = [flow(world, WEB, 443, sport=50000)]
    rec = recommend_from_flows(flows_table(rows), RecordCounts())
    assert rec.breadth.external_addresses == 0
    policies = copy.deepcopy(rec.policies)
    web = next(p for p in policies if p["metadata"]["name"] == "allow-web")
    web["spec"]["ingress"][0]["from"] = [
        {"ipBlock": {"cidr": "93.184.216.0/24", "except": ["93.184.216.0/26"]}}
    ]
    conns, pods, wconns = _setup(rows)
    breadth = measure_breadth(Evaluator(policies), pods, wconns, resolvers=[])
    assert breadth.external_addresses == 256 - 64


# --------------------------------------------------------------------------------------------
# Replay over classes equals replay row by row
# --------------------------------------------------------------------------------------------


def _reference_replay(conns, evaluator, pods):
    """The definition: every row evaluated on its own endpoints."""
    from netpol.test_breadth import _endpoint

    by_key = {(r.namespace, r.pod): r for r in pods.itertuples(index=False)}
    exempt, allowed, reasons, rules, unjudged = [], [], [], [], []
    for row in conns.itertuples(index=False):
        reason = ""
        if row.src_kind in ("node", "host_network_pod"):
            reason = "node source: always allowed from the resident node; not selectable"
        else:
            for side in ("src", "dst"):
                key = (getattr(row, f"{side}_namespace"), getattr(row, f"{side}_pod"))
                if getattr(row, f"{side}_kind") == "pod" and by_key[key].labels is None:
                    reason = (
                        f"pod labels unknown: {key[0]}/{key[1]} ({side}); no selector can name it"
                    )
                    break
        if reason:
            exempt.append(True)
            allowed.append(True)
            reasons.append(reason)
            rules.append(())
            unjudged.append(())
            continue
        ends = []
        for side in ("src", "dst"):
            kind, ip = getattr(row, f"{side}_kind"), getattr(row, f"{side}_ip")
            if kind == "pod":
                r = by_key[(getattr(row, f"{side}_namespace"), getattr(row, f"{side}_pod"))]
                ends.append(_endpoint(r))
            else:
                ends.append(Endpoint(kind=kind, ip=ip, name=ip))
        verdict = evaluator.evaluate(*ends, row.protocol, int(row.port))
        exempt.append(False)
        allowed.append(verdict.allowed)
        reasons.append("; ".join(verdict.explain()))
        cited = verdict.egress.allowed_by + verdict.ingress.allowed_by
        rules.append(tuple(sorted(cited)) if verdict.allowed else ())
        unjudged.append(verdict.unjudged_by)
    out = conns.copy()
    out["exempt"] = exempt
    out["allowed"] = allowed
    out["reasons"] = reasons
    out["allowed_by"] = rules
    out["unjudged"] = unjudged
    return out


def _random_conns(rng, pods, n):
    rows = []
    pod_rows = list(pods.itertuples(index=False))
    for _ in range(n):
        row = {}
        for side in ("src", "dst"):
            kind = rng.choice(["pod"] * 6 + ["external", "world", "node", "host_network_pod"])
            if kind == "pod":
                p = rng.choice(pod_rows)
                row |= {
                    f"{side}_kind": "pod",
                    f"{side}_namespace": p.namespace,
                    f"{side}_pod": p.pod,
                    f"{side}_ip": None,
                }
            else:
                ip = rng.choice(
                    ["10.0.0.{}", "10.0.1.{}", "192.168.1.{}", "fd00::{:x}", "8.8.8.{}"]
                )
                row |= {
                    f"{side}_kind": kind,
                    f"{side}_namespace": None,
                    f"{side}_pod": None,
                    f"{side}_ip": ip.format(rng.randint(1, 9)),
                }
        proto, port = rng.choice([("TCP", 80), ("TCP", 8080), ("TCP", 5432), ("UDP", 53)])
        rows.append(row | {"protocol": proto, "port": port, "flows": 1})
    return pd.DataFrame(rows)


def test_replay_over_classes_equals_replay_row_by_row():
    from netpol.test_breadth import random_cluster, random_policies

    for seed in range(120):
        rng = random.Random(seed)
        pods, _, _ = random_cluster(rng)
        policies = random_policies(rng, pods)
        evaluator = Evaluator(policies, ipblock_matches_pods=rng.random() < 0.6)
        conns = _random_conns(rng, pods, rng.randint(1, 40))
        expected = _reference_replay(conns, evaluator, pods)
        for share in (False, True):
            got = replay(conns, evaluator, pods, share_classes=share)
            pd.testing.assert_frame_equal(got, expected, obj=f"seed {seed}")


def test_replay_of_no_connections_adds_the_columns():
    conns, pods, _ = _setup(ROWS)
    empty = conns.iloc[:0]
    out = replay(empty, Evaluator([]), pods)
    assert list(out.columns) == [
        *conns.columns,
        "exempt",
        "allowed",
        "reasons",
        "allowed_by",
        "unjudged",
    ]
    assert coverage(out) == (1.0, 0, 0)


def test_unjudged_connections_are_counted_apart_never_allowed():
    """A rule the evaluator cannot judge (an L7 rule) leaves the verdict unknown: the
    connection is in coverage's total, never allowed, never a denial, and named by rule."""
    from recommender.netpol.evaluator import RuleRef
    from recommender.netpol.model import Peer, Policy, Rule, Selector
    from recommender.verify import unjudged_groups
    from recommender.verify_report.findings import unjudged_notes

    conns, pods, _ = _setup(ROWS)
    l7 = Rule("ingress", 0, (Peer(pods=Selector.of({"app": "web"})),), unjudged="L7 HTTP rules")
    cnp = Policy(
        "api", "shop", Selector.of({"app": "api"}), ("ingress",), (l7,), kind="CiliumNetworkPolicy"
    )
    replayed = replay(conns, Evaluator([cnp]), pods)
    ref = RuleRef("shop", "api", "ingress", 0, "CiliumNetworkPolicy")
    web_api = replayed[replayed["dst_pod"].eq(API["pod"]) & ~replayed["exempt"]]
    assert web_api["unjudged"].tolist() == [(ref,)]
    assert web_api["allowed"].tolist() == [False]
    share, ok, total = coverage(replayed)
    assert (ok, total) == (1, 2) and share < 1.0
    assert unjudged_groups(replayed) == [(f"{ref}: L7 HTTP rules", 1, 1)]
    assert [f.text for f in unjudged_notes(cnp)] == [
        "CiliumNetworkPolicy shop/api ingress[0]: not judged: L7 HTTP rules"
    ]


def test_address_endpoints_carry_the_names_the_connection_reached_them_by():
    from recommender.verify import PodIndex, address_endpoint

    ep = address_endpoint("external", "93.184.216.34", (), ["b.example.com", "a.example.com"])
    assert (ep.ip, ep.names) == ("93.184.216.34", ("a.example.com", "b.example.com"))
    assert address_endpoint("external", "93.184.216.34").names == ()
    assert address_endpoint("external", "pub", ("10.0.0.0/8",), ("a.example",)).names == (
        "a.example",
    )
    assert address_endpoint("networkset", "my-set", (), None).names == ()
    _, pods, _ = _setup(ROWS)
    index = PodIndex(pods)
    assert index.endpoint("external", None, None, "1.2.3.4", ("a.example",)).names == ("a.example",)
    assert index.endpoint("pod", "shop", WEB["pod"], None, ("a.example",)).names == ()


def test_replay_judges_an_fqdn_peer_on_each_connections_names():
    """The same address reached by two pods, only one of them by the name: an FQDN rule
    admits that one; endpoints that differ only in names are not one class."""
    from recommender.netpol.model import FQDNMatch, Peer, Policy, Rule, Selector

    ext = address("93.184.216.34")
    rows = [
        flow(WEB, ext, 443, dst_names=["API.example.com."]),
        flow(API, ext, 443, sport=40001),
    ]
    conns, pods, _ = _setup(rows)
    rule = Rule("egress", 0, (Peer(fqdn=FQDNMatch(name="api.example.com")),))
    cnp = Policy("out", "shop", Selector.of(), ("egress",), (rule,), kind="CiliumNetworkPolicy")
    replayed = replay(conns, Evaluator([cnp]), pods)
    verdicts = dict(zip(replayed["src_pod"], replayed["allowed"], strict=True))
    assert verdicts == {WEB["pod"]: True, API["pod"]: False}


def test_address_endpoints_carry_the_identity_the_log_gave_them():
    from recommender.verify import PodIndex, address_endpoint

    assert address_endpoint("node", "172.18.0.2", (), (), "kube-apiserver").reserved == (
        "kube-apiserver"
    )
    assert address_endpoint("external", "pub", ("10.0.0.0/8",), (), "world").reserved == "world"
    assert address_endpoint("node", "172.18.0.2", (), (), "").reserved is None
    assert address_endpoint("node", "172.18.0.2", (), (), float("nan")).reserved is None
    _, pods, _ = _setup(ROWS)
    index = PodIndex(pods)
    assert index.endpoint("node", None, None, "172.18.0.2", (), "host").reserved == "host"
    assert index.endpoint("pod", "shop", WEB["pod"], None, (), "host").reserved is None


def test_replay_judges_an_entity_peer_on_each_connections_identity():
    """The same address seen as the API server by one pod and with no identity by another:
    ``toEntities: [kube-apiserver]`` admits the first only; they are not one class."""
    from recommender.netpol.model import Peer, Policy, Rule, Selector

    apiserver = address("172.18.0.2", kind="node", reserved="kube-apiserver")
    bare = address("172.18.0.2", kind="node", reserved=None)
    conns, pods, _ = _setup([flow(WEB, apiserver, 6443), flow(API, bare, 6443, sport=40001)])
    rule = Rule("egress", 0, (Peer(entity="kube-apiserver"),))
    cnp = Policy("out", "shop", Selector.of(), ("egress",), (rule,), kind="CiliumNetworkPolicy")
    replayed = replay(conns, Evaluator([cnp], ipblock_matches_pods=False), pods)
    verdicts = dict(zip(replayed["src_pod"], replayed["allowed"], strict=True))
    assert verdicts == {WEB["pod"]: True, API["pod"]: False}


def test_the_sample_proposal_as_cilium_is_fully_covered_and_as_broad_as_networkpolicy():
    from conftest import SAMPLE_FLOWS

    import recommender
    from recommender.generate.cilium import render_policies
    from recommender.generate.k8s import render_policy
    from recommender.pipeline import check

    obs = recommender.observe([SAMPLE_FLOWS])
    rec = recommender.propose(obs)
    cilium = check(render_policies(rec.ir, rec.connections), obs)
    networkpolicy = check([render_policy(p) for p in rec.ir], obs)
    # the API server's connections are admitted by toEntities: [kube-apiserver]
    assert (cilium.coverage, networkpolicy.coverage) == (1.0, 1.0)
    assert cilium.breadth.not_measured == []
    assert cilium.breadth.in_cluster == networkpolicy.breadth.in_cluster > 0
    assert cilium.breadth.total == networkpolicy.breadth.total


def test_the_verify_command_reads_the_sample_proposal_rendered_as_cilium(tmp_path):
    import yaml
    from click.testing import CliRunner
    from conftest import SAMPLE_FLOWS

    import recommender
    from recommender.cli import main
    from recommender.generate.cilium import render_policies

    rec = recommender.propose(recommender.observe([SAMPLE_FLOWS]))
    for obj in render_policies(rec.ir, rec.connections):
        name = f"{obj['metadata']['namespace']}-{obj['metadata']['name']}.yaml"
        (tmp_path / name).write_text(yaml.safe_dump(obj), encoding="utf-8")
    args = ["verify", "--policies", str(tmp_path), str(SAMPLE_FLOWS)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "coverage 100.00%" in result.output
