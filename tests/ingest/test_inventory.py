import json

import pandas as pd
import pytest
from conftest import REAL_FLOWS

from recommender.ingest.inventory import enrich_pods, read_inventory
from recommender.ingest.sources import InputError

INV = REAL_FLOWS / "k8s-inventory"


def test_real_kubelet_pod_list():
    inv = read_inventory([INV / "honeycomb-pods.json"])
    pods = inv.pods.set_index(["namespace", "pod"])
    assert len(pods) == 11
    assert pods.index.get_level_values(0).nunique() == 8
    assert int(pods["host_network"].sum()) == 4
    host = pods[pods["host_network"]]
    assert {ips for ips in host["ips"]} == {("192.168.1.91",)}
    grafana = pods.loc[("olly", "grafana-7db5dff8ff-vwrnf")]
    assert grafana["ports"] == (("service", 80, "TCP"), ("grafana", 3000, "TCP"))
    assert (grafana["owner_kind"], grafana["owner_name"]) == ("ReplicaSet", "grafana-7db5dff8ff")
    assert grafana["labels"]["pod-template-hash"] == "7db5dff8ff"
    assert inv.objects == {"Pod": 11}
    assert inv.rejected == [] and inv.conflicts == []


def test_dirty_node_list_reports_the_shared_address():
    inv = read_inventory([INV / "honeycomb-nodes.json", INV / "honeycomb-pods.json"])
    assert inv.nodes == {"duckboat-01": ("10.9.150.105",), "duckboat-02": ("10.9.150.105",)}
    assert inv.conflicts == ["nodes duckboat-01, duckboat-02 share the address 10.9.150.105"]


def _pod(name, labels, ns="shop", **status):
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"containers": [{"ports": [{"name": "http", "containerPort": 8080}]}]},
        "status": {"podIP": "10.0.0.9", **status},
    }


@pytest.mark.parametrize(
    "bad, reason",
    [
        (_pod("x", {"app": "a\nb"}), "invalid label value"),
        (_pod("x", {"bad key!": "v"}), "invalid label key"),
        (_pod("../../etc", {}), "invalid pod name"),
        (_pod("x", {}, ns="../x"), "invalid namespace"),
        ("not an object", "not an object"),
    ],
)
def test_hostile_objects_are_rejected_and_the_rest_kept(tmp_path, bad, reason):
    path = tmp_path / "inv.json"
    path.write_text(json.dumps({"kind": "List", "items": [bad, _pod("good", {"app": "ok"})]}))
    inv = read_inventory([path])
    assert inv.pods["pod"].tolist() == ["good"]
    assert len(inv.rejected) == 1 and reason in inv.rejected[0]
    assert f"{path}:item 0" in inv.rejected[0]


def test_unreadable_inventory_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such inventory"):
        read_inventory([tmp_path / "missing.json"])
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not kubectl JSON"):
        read_inventory([bad])


def test_enrich_replaces_labels_adds_ports_and_quiet_pods(tmp_path):
    path = tmp_path / "inv.json"
    items = [
        _pod("web-1", {"app": "web", "pod-template-hash": "abc"}),
        _pod("idle-1", {"app": "idle"}),
        {"kind": "Namespace", "metadata": {"name": "shop", "labels": {"team": "a"}}},
        dict(_pod("agent", {"app": "agent"}), spec={"hostNetwork": True}),
    ]
    path.write_text(json.dumps({"kind": "List", "items": items}))
    inv = read_inventory([path])
    observed = pd.DataFrame(
        [
            {"namespace": "shop", "pod": "web-1", "labels": {"app": "web"},
             "namespace_labels": {}, "workload_kind": None, "workload_name": None,
             "service_account": None, "ips": ("10.0.0.9",), "first_seen": None,
             "last_seen": None}
        ]
    )
    out = enrich_pods(observed, inv).set_index("pod")
    assert out.loc["web-1", "labels"] == {"app": "web", "pod-template-hash": "abc"}
    assert out.loc["web-1", "ports"] == (("http", 8080, "TCP"),)
    assert out.loc["web-1", "namespace_labels"] == {
        "team": "a", "kubernetes.io/metadata.name": "shop"
    }
    assert bool(out.loc["idle-1", "observed"]) is False
    assert "agent" not in out.index  # host-network pods are never selectable
