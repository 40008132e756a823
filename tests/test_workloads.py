import pandas as pd
import pytest

from recommender.workloads import assign_workloads, workload_from_pod_name


@pytest.mark.parametrize(
    "pod, labels, expected",
    [
        ("cart-7d4b9c8f6-x2k9p", {}, ("Deployment", "cart")),
        ("coredns-5d78c9869d-hq6bz", {}, ("Deployment", "coredns")),
        ("my-api-server-75cb7d9c44-5ptzq", {}, ("Deployment", "my-api-server")),
        ("postgres-0", {}, ("StatefulSet", "postgres")),
        ("kafka-broker-12", {}, ("StatefulSet", "kafka-broker")),
        ("report-29371680-x7k2p", {}, ("CronJob", "report")),
        ("cilium-x7k2p", {"pod-template-generation": "1"}, ("DaemonSet", "cilium")),
        ("migrate-x7k2p", {"job-name": "migrate"}, ("Job", "migrate")),
        ("debug", {}, ("Pod", "debug")),
        ("web-abcde", {}, ("Pod", "web-abcde")),  # vowels never occur in generated suffixes
    ],
)
def test_workload_from_pod_name(pod, labels, expected):
    assert workload_from_pod_name(pod, labels) == expected


def test_flow_log_owner_wins_and_replicaset_maps_to_deployment():
    pods = pd.DataFrame(
        {
            "namespace": ["shop", "shop", "shop"],
            "pod": ["cart-7d4b9c8f6-x2k9p", "cart-5f6c7d8b9-q2w4z", "odd-name"],
            "labels": [{}, {}, {}],
            "workload_kind": ["ReplicaSet", None, "Deployment"],
            "workload_name": ["cart-7d4b9c8f6", None, "frontend"],
        }
    )
    out = assign_workloads(pods)
    assert out["workload"].tolist() == ["shop/cart", "shop/cart", "shop/frontend"]
    assert out["workload_kind"].tolist() == ["Deployment", "Deployment", "Deployment"]
    assert out["workload_source"].tolist() == ["flow log", "pod name", "flow log"]


@pytest.mark.parametrize(
    "aggregate, expected",
    [
        ("frontend-7f9c5d8b6-*", ("Deployment", "frontend")),
        ("report-29371680-*", ("CronJob", "report")),
        ("speaker-*", ("Workload", "speaker")),
    ],
)
def test_aggregated_names_map_to_their_workload(aggregate, expected):
    assert workload_from_pod_name(aggregate) == expected


def test_workload_connections_unite_the_names_of_their_pods_connections():
    from conftest import address, flow, flows_table, pod

    from recommender.connections import build_connections, observed_pods
    from recommender.workloads import workload_connections

    web1 = pod("shop", "web-7d4b9c8f6-bcdfg", {"app": "web"}, "10.0.0.1")
    web2 = pod("shop", "web-7d4b9c8f6-zzzzz", {"app": "web"}, "10.0.0.2")
    ext = address("93.184.216.34")
    flows = flows_table(
        [
            flow(web1, ext, 443, dst_names=["b.example.com"]),
            flow(web2, ext, 443, sport=40001, dst_names=["a.example.com", "b.example.com"]),
            flow(web1, web2, 8080, sport=40002),
        ]
    )
    conns = build_connections(flows).table
    wconns = workload_connections(conns, assign_workloads(observed_pods(flows)))
    by_dst = {
        r.dst_id: (r.dst_names, r.dst_name_answers, r.pods) for r in wconns.itertuples(index=False)
    }
    assert by_dst["93.184.216.34"] == (("a.example.com", "b.example.com"), (0, 0), 2)
    assert by_dst["shop/web"] == ((), (), 1)
    assert list(workload_connections(conns.iloc[:0], pd.DataFrame()).columns)[-2:] == [
        "dst_names",
        "dst_name_answers",
    ]
