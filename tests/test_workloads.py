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
