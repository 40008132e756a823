"""Replay, coverage and breadth, measured by the evaluator on hand-written policies."""

import copy

from conftest import address, flow, flows_table, pod

from recommender.accounting import RecordCounts
from recommender.connections import build_connections, observed_pods
from recommender.pipeline import recommend_from_flows
from recommender.semantics import Evaluator
from recommender.verify import coverage, measure_breadth, replay
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
    breadth = measure_breadth(evaluator, pods, wconns, [], resolvers=[])
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
    breadth = measure_breadth(Evaluator(policies), pods, wconns, policies, resolvers=[])
    assert breadth.in_cluster == 0
    by_name["allow-web"]["spec"]["egress"] = [{"to": [{"podSelector": {}}]}]
    breadth = measure_breadth(Evaluator(policies), pods, wconns, policies, resolvers=[])
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
    breadth = measure_breadth(Evaluator(policies), pods, wconns, policies, resolvers=[])
    assert breadth.external_addresses == 256 - 64
