"""Breadth over pod classes equals breadth by brute force: every (pod, pod, port) of small random
clusters evaluated one by one through Evaluator.evaluate. Plus hand-checked cases."""

from __future__ import annotations

import random
from collections import Counter

import pandas as pd
import pytest

from recommender.netpol import breadth_count
from recommender.netpol.breadth import external_breadth, measure_breadth
from recommender.netpol.evaluator import Evaluator
from recommender.netpol.model import ContainerPort, Endpoint
from recommender.netpol.networkpolicy import compile_policies

NS_NAME = "kubernetes.io/metadata.name"
DNS = (("UDP", 53), ("TCP", 53))

# --------------------------------------------------------------------------------------------
# Random clusters and policies
# --------------------------------------------------------------------------------------------

PORT_NAMES = ["http", "metrics", "dns", None]
PORT_NUMBERS = [53, 80, 443, 5432, 8080, 9090]
IP_POOLS = ["10.0.0.{}", "10.0.1.{}", "192.168.1.{}", "fd00::{:x}"]
CIDRS = [
    {"cidr": "10.0.0.0/16"},
    {"cidr": "10.0.0.0/16", "except": ["10.0.1.0/24"]},
    {"cidr": "10.0.0.5/32"},
    {"cidr": "0.0.0.0/0", "except": ["192.168.0.0/16"]},
    {"cidr": "fd00::/64"},
    {"cidr": "192.168.1.7/24"},  # host bits: the /24
]
POLICY_PORTS = [
    {"port": 80},
    {"protocol": "UDP", "port": 53},
    {"port": 8000, "endPort": 9100},
    {"port": 443, "endPort": 443},
    {"port": "http"},
    {"protocol": "UDP", "port": "dns"},
    {"port": "metrics"},
    {"port": "http"},
    {"protocol": "TCP"},
    {"protocol": "UDP"},
    {},
]


def _ip(rng: random.Random) -> str:
    return rng.choice(IP_POOLS).format(rng.randint(1, 9))


def _random_ns_labels(rng: random.Random, namespaces: list[str]) -> dict[str, dict[str, str]]:
    ns_labels = {}
    for ns in namespaces:
        labels = {}
        if rng.random() < 0.7:
            labels["team"] = rng.choice(["x", "y"])
        if rng.random() < 0.5:
            labels["env"] = rng.choice(["prod", "dev"])
        if rng.random() < 0.3:
            labels[NS_NAME] = ns
        ns_labels[ns] = labels
    return ns_labels


def _random_pod_labels(rng: random.Random, w: int, tier: str) -> dict[str, str] | None:
    labels: dict[str, str] | None = {"pod-template-hash": f"h{rng.randint(0, 9)}"}
    if rng.random() < 0.85:
        labels["app"] = f"w{w}"
    if rng.random() < 0.8:
        labels["tier"] = tier
    if rng.random() < 0.5:
        labels["version"] = rng.choice(["v1", "v2"])
    if rng.random() < 0.3:
        labels["shared"] = "yes"
    if rng.random() < 0.08:
        labels = None
    return labels


def _random_ports(rng: random.Random) -> list | None:
    if rng.random() < 0.2:
        return None
    return [
        (
            rng.choice(PORT_NAMES),
            rng.choice(PORT_NUMBERS),
            rng.choice(["TCP", "TCP", "UDP", None]),
        )
        for _ in range(rng.randint(0, 3))
    ]


def _random_wconns(rng: random.Random, workloads: list[str]) -> pd.DataFrame:
    conns = []
    for _ in range(rng.randint(0, 8)):
        proto, port = rng.choice([("TCP", 80), ("TCP", 8080), ("TCP", 5432), ("UDP", 53)])
        src = ("workload", rng.choice(workloads))
        if rng.random() < 0.2:
            src = ("external", _ip(rng))
        dst = ("workload", rng.choice(workloads))
        if rng.random() < 0.1:
            dst = ("external", _ip(rng))
        conns.append(
            {
                "src_type": src[0],
                "src_id": src[1],
                "dst_type": dst[0],
                "dst_id": dst[1],
                "protocol": proto,
                "port": port,
            }
        )
    return pd.DataFrame(
        conns, columns=["src_type", "src_id", "dst_type", "dst_id", "protocol", "port"]
    )


def random_cluster(rng: random.Random, *, with_ports: bool | None = None):
    """(pods table, workload connections, resolvers) of a small random cluster."""
    namespaces = rng.sample(["a", "b", "c"], rng.randint(1, 3))
    ns_labels = _random_ns_labels(rng, namespaces)
    with_ports = rng.random() < 0.7 if with_ports is None else with_ports
    rows = []
    workloads = []
    for w in range(rng.randint(1, 5)):
        ns = rng.choice(namespaces)
        workload = f"{ns}/w{w}"
        workloads.append(workload)
        tier = rng.choice(["web", "db"])
        for p in range(rng.randint(1, 3)):
            labels = _random_pod_labels(rng, w, tier)
            nsl = dict(ns_labels[ns])
            if rng.random() < 0.1:
                nsl["env"] = "dev"  # a stale record: namespace labels differ between pods
            ips = tuple(sorted({_ip(rng) for _ in range(rng.choice([0, 1, 1, 1, 2]))}))
            row = {
                "namespace": ns,
                "pod": f"w{w}-{p}",
                "labels": labels,
                "namespace_labels": nsl,
                "ips": ips,
                "workload": workload,
            }
            if with_ports:
                row["ports"] = _random_ports(rng)
            rows.append(row)
    pods = pd.DataFrame(rows)
    wconns = _random_wconns(rng, workloads)
    resolvers = rng.sample(workloads, rng.choice([0, 0, 1]))
    return pods, wconns, resolvers


# --------------------------------------------------------------------------------------------
# Brute force, straight from the definition
def _selector(rng: random.Random, pods: pd.DataFrame) -> dict:
    choice = rng.random()
    if choice < 0.25:
        return {}
    apps = sorted({w.split("/")[1] for w in pods["workload"]}) or ["w0"]
    sel: dict = {}
    if choice < 0.7:
        key = rng.choice(["app", "tier", "version", "shared"])
        value = {
            "app": rng.choice(apps),
            "tier": rng.choice(["web", "db"]),
            "version": rng.choice(["v1", "v2"]),
            "shared": "yes",
        }[key]
        sel["matchLabels"] = {key: value}
    if choice >= 0.5:
        key = rng.choice(["app", "tier", "version", "shared"])
        op = rng.choice(["In", "NotIn", "Exists", "DoesNotExist"])
        expr = {"key": key, "operator": op}
        if op in ("In", "NotIn"):
            pool = {"app": apps, "tier": ["web", "db"], "version": ["v1", "v2"]}.get(key, ["yes"])
            expr["values"] = rng.sample(pool, rng.randint(1, len(pool)))
        sel["matchExpressions"] = [expr]
    return sel


def _ns_selector(rng: random.Random, namespaces: list[str]) -> dict:
    return rng.choice(
        [
            {},
            {"matchLabels": {"team": rng.choice(["x", "y"])}},
            {"matchLabels": {NS_NAME: rng.choice(namespaces)}},
            {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]},
            {"matchExpressions": [{"key": "env", "operator": "Exists"}]},
        ]
    )


def _peer(rng: random.Random, pods: pd.DataFrame, namespaces: list[str]) -> dict:
    kind = rng.random()
    if kind < 0.35:
        return {"podSelector": _selector(rng, pods)}
    if kind < 0.6:
        return {"namespaceSelector": _ns_selector(rng, namespaces)}
    if kind < 0.8:
        return {
            "podSelector": _selector(rng, pods),
            "namespaceSelector": _ns_selector(rng, namespaces),
        }
    return {"ipBlock": dict(rng.choice(CIDRS))}


def _rule(rng: random.Random, key: str, pods: pd.DataFrame, namespaces: list[str]) -> dict | None:
    rule: dict = {}
    shape = rng.random()
    if shape < 0.1:
        rule[key] = []
    elif shape < 0.8:
        rule[key] = [_peer(rng, pods, namespaces) for _ in range(rng.randint(1, 2))]
    ports = rng.random()
    if ports < 0.1:
        rule["ports"] = []
    elif ports < 0.75:
        rule["ports"] = [dict(rng.choice(POLICY_PORTS)) for _ in range(rng.randint(1, 2))]
    return None if not rule and rng.random() < 0.2 else rule


def random_policies(rng: random.Random, pods: pd.DataFrame) -> list[dict]:
    namespaces = sorted(set(pods["namespace"])) + ["elsewhere"]
    policies = []
    for i in range(rng.randint(0, 5)):
        spec: dict = {"podSelector": _selector(rng, pods)}
        types = rng.choice([None, None, ["Ingress"], ["Egress"], ["Ingress", "Egress"]])
        if types is not None:
            spec["policyTypes"] = types
        for direction, key in (("ingress", "from"), ("egress", "to")):
            shape = rng.random()
            if shape < 0.3:
                continue
            if shape < 0.4:
                spec[direction] = []
            else:
                spec[direction] = [
                    _rule(rng, key, pods, namespaces) for _ in range(rng.randint(1, 2))
                ]
        ns = rng.choice(namespaces[:-1] if rng.random() < 0.9 else namespaces)
        policies.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": f"p{i}", "namespace": ns},
                "spec": spec,
            }
        )
    return policies


# --------------------------------------------------------------------------------------------


def _endpoint(row) -> Endpoint:
    nsl = dict(row.namespace_labels or {})
    nsl.setdefault(NS_NAME, row.namespace)
    ports = getattr(row, "ports", None)
    return Endpoint(
        kind="pod",
        ip=row.ips[0] if len(row.ips) else None,
        namespace=row.namespace,
        labels=dict(row.labels),
        namespace_labels=nsl,
        ports=tuple(ContainerPort(n, p, proto or "TCP") for n, p, proto in ports or ()),
        name=row.pod,
    )


def _brute_universe(pods, wconns, resolvers):
    """(known pods by workload, port universe, expected elements), by their definitions."""
    by_workload: dict[str, list[Endpoint]] = {}
    declared = set()
    for row in pods.itertuples(index=False):
        for _, port, proto in getattr(row, "ports", None) or ():
            declared.add((proto or "TCP", port))
        if row.labels is not None:
            by_workload.setdefault(row.workload, []).append(_endpoint(row))
    inner = wconns[wconns["dst_type"] == "workload"]
    ports = sorted(
        {(p, int(n)) for p, n in zip(inner["protocol"], inner["port"], strict=True)}
        | set(DNS)
        | declared
    )
    expected = set()
    for r in wconns.itertuples(index=False):
        if r.src_type == "workload" and r.dst_type == "workload":
            expected.add((r.src_id, r.dst_id, r.protocol, int(r.port)))
        if r.src_type == "workload":
            for resolver in resolvers:
                for proto, port in DNS:
                    expected.add((r.src_id, resolver, proto, port))
    return by_workload, ports, expected


def _brute_element(evaluator, by_workload, src, dst, proto, port, rules=None):
    """(allowed from some pod of src to some pod of dst, the per-policy names that allowed);
    ``rules``, a set, collects the rules (``RuleRef`` text) that matched an allowed pair."""
    names: set[str] = set()
    allowed = False
    for s in by_workload[src]:
        for d in by_workload[dst]:
            v = evaluator.evaluate(s, d, proto, port)
            if not v.allowed:
                continue
            allowed = True
            if rules is not None:
                rules |= {str(r) for r in (*v.egress.allowed_by, *v.ingress.allowed_by)}
            names |= {r.policy_key for r in v.egress.allowed_by}
            names |= {r.policy_key for r in v.ingress.allowed_by}
            if not v.egress.isolated:
                names.add(f"(egress of {src} not isolated)")
            if not v.ingress.isolated:
                names.add(f"(ingress of {dst} not isolated)")
    return allowed, names


def brute_force(evaluator, pods, wconns, resolvers, namespaces=None, max_examples=10):
    """(broad count, universe, per policy, examples, unbounded rules, per rule), by the
    definitions, one ``Evaluator.evaluate`` per (pod, pod, port)."""
    by_workload, ports, expected = _brute_universe(pods, wconns, resolvers)
    count = universe = 0
    per_policy: Counter = Counter()
    per_rule: Counter = Counter()
    examples = []
    for src in sorted(by_workload):
        for dst in sorted(by_workload):
            if namespaces and not (
                src.split("/")[0] in namespaces or dst.split("/")[0] in namespaces
            ):
                continue
            for proto, port in ports:
                universe += 1
                if (src, dst, proto, port) in expected:
                    continue
                rules: set[str] = set()
                allowed, names = _brute_element(
                    evaluator, by_workload, src, dst, proto, port, rules
                )
                if not allowed:
                    continue
                count += 1
                per_policy.update(names)
                per_rule.update(rules)
                if len(examples) < max_examples:
                    element = {"src": src, "dst": dst, "protocol": proto, "port": port}
                    examples.append({**element, "allowed_by": sorted(names)})
    external, unbounded, external_rules, _ = external_breadth(evaluator.policies, wconns)
    per_policy.update(external)
    per_rule.update(external_rules)
    per_rule = Counter({k: v for k, v in per_rule.items() if v})
    return count, universe, dict(per_policy), examples, unbounded, dict(per_rule)


def _check(seed: int, *, chunk_bytes: int | None = None, monkeypatch=None) -> None:
    rng = random.Random(seed)
    pods, wconns, resolvers = random_cluster(rng)
    policies = random_policies(rng, pods)
    evaluator = Evaluator(policies, ipblock_matches_pods=rng.random() < 0.6)
    namespaces = None
    if rng.random() < 0.25:
        namespaces = rng.sample(sorted(set(pods["namespace"])), 1)
    max_examples = rng.choice([0, 3, 10, 1000])
    per_rule = rng.random() < 0.5
    if chunk_bytes is not None:
        monkeypatch.setattr(breadth_count, "_CHUNK_BYTES", chunk_bytes)
    fast = measure_breadth(
        evaluator,
        pods,
        wconns,
        resolvers=resolvers,
        namespaces=namespaces,
        max_examples=max_examples,
        per_rule=per_rule,
    )
    count, universe, per_policy, examples, unbounded, rules = brute_force(
        evaluator, pods, wconns, resolvers, namespaces, max_examples
    )
    where = f"seed {seed}: {policies}"
    assert fast.universe == universe, where
    assert fast.in_cluster == count, where
    assert fast.per_policy == per_policy, where
    assert fast.examples == examples, where
    assert fast.unbounded == unbounded, where
    assert fast.per_rule == (rules if per_rule else {}), where


@pytest.mark.parametrize("block", range(8))
def test_breadth_over_classes_equals_brute_force(block):
    for seed in range(block * 25, block * 25 + 25):
        _check(seed)


@pytest.mark.parametrize("block", range(2))
def test_breadth_in_small_row_chunks_equals_brute_force(block, monkeypatch):
    # One workload per chunk: the chunked path (per-policy parts across chunks) is exercised.
    for seed in range(1000 + block * 25, 1000 + block * 25 + 25):
        _check(seed, chunk_bytes=1, monkeypatch=monkeypatch)


def test_random_cases_are_not_trivial():
    """The generator reaches the interesting shapes (guards against a silent regression)."""
    broad = isolated = named = several_rules = 0
    for seed in range(100):
        rng = random.Random(seed)
        pods, wconns, resolvers = random_cluster(rng)
        policies = random_policies(rng, pods)
        b = measure_breadth(Evaluator(policies), pods, wconns, resolvers=resolvers, per_rule=True)
        broad += b.in_cluster > 0
        isolated += any(not k.startswith("(") for k in b.per_policy)
        several_rules += len(b.per_rule) > len([k for k in b.per_policy if "/" in k])
        named += "ports" in pods.columns and any(
            "port" in p and isinstance(p["port"], str)
            for pol in policies
            for d in ("ingress", "egress")
            for r in pol["spec"].get(d) or []
            for p in (r or {}).get("ports") or []
        )
    assert broad > 50 and isolated > 30 and named > 10 and several_rules > 10


# --------------------------------------------------------------------------------------------
# Hand cases
# --------------------------------------------------------------------------------------------


def _pod(ns, name, workload, labels, ip=None, ports=None):
    return {
        "namespace": ns,
        "pod": name,
        "labels": labels,
        "namespace_labels": {NS_NAME: ns},
        "ips": (ip,) if ip else (),
        "workload": f"{ns}/{workload}",
        "ports": ports,
    }


def _np(name, ns, **spec):
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def _wconns(*edges):
    return pd.DataFrame(
        [
            {
                "src_type": "workload",
                "src_id": s,
                "dst_type": "workload",
                "dst_id": d,
                "protocol": p,
                "port": n,
            }
            for s, d, p, n in edges
        ],
        columns=["src_type", "src_id", "dst_type", "dst_id", "protocol", "port"],
    )


def test_named_port_resolves_per_pod_and_only_where_declared():
    pods = pd.DataFrame(
        [
            _pod("shop", "client-0", "client", {"app": "client"}, ports=[]),
            # a rollout: the new pod serves "http" on another number
            _pod("shop", "web-0", "web", {"app": "web"}, ports=[("http", 8080, "TCP")]),
            _pod("shop", "web-1", "web", {"app": "web"}, ports=[("http", 9090, "TCP")]),
            # "http" over UDP never matches a TCP named port
            _pod("shop", "db-0", "db", {"app": "db"}, ports=[("http", 5432, "UDP")]),
        ]
    )
    policies = [
        _np("deny", "shop", podSelector={}, policyTypes=["Ingress", "Egress"]),
        _np(
            "client-out",
            "shop",
            podSelector={"matchLabels": {"app": "client"}},
            policyTypes=["Egress"],
            egress=[{"ports": [{"port": "http"}]}],
        ),
        _np(
            "in",
            "shop",
            podSelector={},
            ingress=[{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}],
        ),
    ]
    wconns = _wconns(("shop/client", "shop/web", "TCP", 8080))
    b = measure_breadth(Evaluator(policies), pods, wconns, resolvers=[])
    # universe: 3 workloads^2 x {TCP 8080, TCP 9090, UDP 5432, DNS x 2}
    assert b.universe == 9 * 5 and b.ports == 5
    # client -> web on 9090 (web-1's "http") is broad; 8080 was observed; db's UDP "http"
    # never matches: the named port in the policy is TCP.
    assert b.in_cluster == 1
    assert b.examples == [
        {
            "src": "shop/client",
            "dst": "shop/web",
            "protocol": "TCP",
            "port": 9090,
            "allowed_by": ["shop/client-out", "shop/in"],
        }
    ]
    assert b.per_policy == {"shop/client-out": 1, "shop/in": 1}
    assert b.pod_classes == 4


def test_ipblock_matches_pod_ips_only_when_the_option_is_on():
    pg = [("pg", 5432, "TCP")]
    pods = pd.DataFrame(
        [
            _pod("shop", "client-0", "client", {"app": "client"}, ip="10.0.0.2"),
            _pod("data", "db-0", "db", {"app": "db"}, ip="10.0.9.4", ports=pg),
            _pod("data", "db-1", "db", {"app": "db"}, ip="10.0.1.4", ports=pg),  # excepted
        ]
    )
    block = {"cidr": "10.0.0.0/16", "except": ["10.0.1.0/24"]}
    policies = [
        _np(
            "out",
            "shop",
            podSelector={},
            policyTypes=["Ingress", "Egress"],
            egress=[{"to": [{"ipBlock": block}], "ports": [{"port": 5432}]}],
        ),
        _np("open-in", "data", podSelector={}, ingress=[{}]),
    ]
    wconns = _wconns(("shop/client", "data/db", "TCP", 80))
    on = measure_breadth(Evaluator(policies), pods, wconns, resolvers=[])
    assert on.pod_classes == 3  # db-0 and db-1 differ: only db-0 is in the block
    assert on.universe == 2 * 2 * 4  # TCP 80, TCP 5432, DNS x 2
    # client -> db on 5432 (through db-0's IP), and db -> db on every port
    assert on.in_cluster == 1 + 4
    assert on.examples[-1] == {
        "src": "shop/client",
        "dst": "data/db",
        "protocol": "TCP",
        "port": 5432,
        "allowed_by": ["data/open-in", "shop/out"],
    }
    assert on.per_policy["data/open-in"] == 5
    assert on.per_policy["(egress of data/db not isolated)"] == 4
    assert on.per_policy["shop/out"] == 1 + on.external_addresses
    evaluator = Evaluator(policies, ipblock_matches_pods=False)
    off = measure_breadth(evaluator, pods, wconns, resolvers=[])
    assert off.pod_classes == 2
    assert off.in_cluster == 4
    assert off.per_policy["shop/out"] == off.external_addresses


def test_namespace_restriction_counts_pairs_with_one_side_in_scope():
    pods = pd.DataFrame(
        [
            _pod("a", "x-0", "x", {"app": "x"}),
            _pod("b", "y-0", "y", {"app": "y"}),
            _pod("c", "z-0", "z", {"app": "z"}),
        ]
    )
    wconns = _wconns(("a/x", "b/y", "TCP", 80))
    b = measure_breadth(Evaluator([]), pods, wconns, resolvers=[], namespaces=["a"])
    # pairs touching a: 3 x 3 - 2 x 2 = 5, times 3 ports (80, DNS x 2), minus the observed one
    assert b.universe == 5 * 3
    assert b.in_cluster == 5 * 3 - 1
    assert all("a/" in e["src"] + e["dst"] for e in b.examples)
    assert b.per_policy["(egress of b/y not isolated)"] == 3  # b/y -> a/x on 3 ports
    assert b.per_policy["(egress of a/x not isolated)"] == 3 * 3 - 1


def test_pods_with_unknown_labels_are_left_out():
    pods = pd.DataFrame(
        [
            _pod("a", "x-0", "x", {"app": "x"}),
            _pod("a", "x-1", "x", None),  # the workload is still known through x-0
            _pod("a", "ghost-0", "ghost", None),  # no known pod: not in the universe
        ]
    )
    b = measure_breadth(Evaluator([]), pods, _wconns(), resolvers=[])
    assert b.workloads == 1 and b.pod_classes == 1
    assert b.universe == 1 * 1 * 2 and b.in_cluster == 2


def test_breadth_is_measured_on_the_evaluators_own_compiled_policies():
    pods = pd.DataFrame([_pod("a", "x-0", "x", {"app": "x"})])
    deny = _np("deny", "a", podSelector={})
    assert measure_breadth(Evaluator([]), pods, _wconns(), resolvers=[]).in_cluster == 2
    # a default deny of ingress: x -> x is allowed on nothing, from dicts or compiled alike
    for evaluator in (Evaluator([deny]), Evaluator(compile_policies([deny]))):
        b = measure_breadth(evaluator, pods, _wconns(), resolvers=[])
        assert (b.in_cluster, b.per_policy) == (0, {})


def test_no_pods_no_breadth():
    pods = pd.DataFrame(columns=["namespace", "pod", "labels", "namespace_labels", "ips"])
    pods["workload"] = []
    b = measure_breadth(Evaluator([]), pods, _wconns(), resolvers=[])
    assert (b.in_cluster, b.universe, b.per_policy, b.examples) == (0, 0, {}, [])


def test_external_breadth_counts_only_rules_the_policy_enforces():
    block = {"ipBlock": {"cidr": "192.0.2.0/24", "except": ["192.0.2.0/25"]}}
    ingress_only = _np(
        "in",
        "a",
        podSelector={},
        policyTypes=["Ingress"],
        ingress=[{"from": [block], "ports": [{"port": 80, "endPort": 81}, {"port": "http"}]}],
        # written, but egress is not isolated: it has no effect, bounded or not
        egress=[{"to": [block], "ports": [{"port": 443}]}, {}],
    )
    open_rule = _np("open", "a", podSelector={}, ingress=[{"ports": [{"port": 22}]}])
    external = pd.DataFrame(
        [
            {"src_type": "external", "src_id": "192.0.2.200", "dst_type": "workload"}
            | {"dst_id": "a/x", "protocol": "TCP", "port": 80},
            {"src_type": "external", "src_id": "192.0.2.1", "dst_type": "workload"}
            | {"dst_id": "a/x", "protocol": "TCP", "port": 80},  # in the except
        ]
    )
    per_policy, unbounded, _, _ = external_breadth(
        Evaluator([ingress_only, open_rule]).policies, external
    )
    # 128 addresses x ports 80-81, minus the one observed (address, port); the named port
    # counts one port per address
    assert per_policy == {"a/in": 128 * 2 - 1 + 128}
    assert unbounded == ["a/open ingress[0]"]
