import json

import pandas as pd
import pytest
from conftest import REAL_FLOWS

from recommender.ingest.errors import InputError
from recommender.ingest.inventory import enrich_pods, read_inventory

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
    assert inv.conflicts == [
        "nodes duckboat-01, duckboat-02 share the address 10.9.150.105",
        "11 pod(s) on node duckboat-01 report hostIP 192.168.1.91, which is not among the "
        "node's addresses (10.9.150.105)",
    ]
    # Every node address, whoever reports it: both nodes' shared one, and the pods' hostIP
    # (shared by the four host-network pods).
    assert inv.node_addresses() == {
        "10.9.150.105": ("duckboat-01", "duckboat-02"),
        "192.168.1.91": ("duckboat-01",),
    }


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


@pytest.mark.parametrize(
    "doc, what",
    [
        (
            {"flow": {"verdict": "FORWARDED"}, "node_name": "kind-worker", "time": "2025"},
            "a JSON object with keys 'flow', 'node_name', 'time', not a Kubernetes object",
        ),
        ({"kind": "PodList", "items": [{"a": 1}, 2]}, "'PodList' whose 2 items are not Kubernetes"),
        ({"items": [{"kind": "Pod", "metadata": {}}]}, "kind None, not a List"),
        ({"kind": "Pod", "items": {}}, "kind 'Pod', not a List"),
        ([{"srcaddr": "10.0.0.1"}, 3], "a JSON array of 2 values, none a Kubernetes object"),
        ("kubectl get pods", "a JSON string"),
        (None, "a JSON null"),
        ({"kind": "NetworkPolicy", "spec": {}}, "keys 'kind', 'spec', not a Kubernetes object"),
    ],
)
def test_a_file_that_is_not_kubectl_output_is_refused(tmp_path, doc, what):
    path = tmp_path / "inv.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError) as info:
        read_inventory([path])
    message = str(info.value)
    assert message.startswith(f"{path}: not kubectl output: ") and what in message
    assert "\n" not in message and "kubectl get pods" in message


def _typed(pod: dict) -> dict:
    """A pod as a typed list (``PodList``) holds it: without its kind."""
    return {k: v for k, v in pod.items() if k != "kind"}


@pytest.mark.parametrize(
    "doc, pods",
    [
        ({"apiVersion": "v1", "kind": "List", "items": [], "metadata": {}}, []),
        ({"kind": "PodList", "items": [_typed(_pod("web-1", {"app": "web"}))]}, ["web-1"]),
        (_pod("web-1", {"app": "web"}), ["web-1"]),
        ([_pod("web-1", {"app": "web"}), "junk"], ["web-1"]),
    ],
)
def test_kubectl_shapes_are_read(tmp_path, doc, pods):
    path = tmp_path / "inv.json"
    path.write_text(json.dumps(doc))
    assert read_inventory([path]).pods["pod"].tolist() == pods


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
            {
                "namespace": "shop",
                "pod": "web-1",
                "labels": {"app": "web"},
                "namespace_labels": {},
                "workload_kind": None,
                "workload_name": None,
                "service_account": None,
                "ips": ("10.0.0.9",),
                "first_seen": None,
                "last_seen": None,
            }
        ]
    )
    out = enrich_pods(observed, inv).set_index("pod")
    assert out.loc["web-1", "labels"] == {"app": "web", "pod-template-hash": "abc"}
    assert out.loc["web-1", "ports"] == (("http", 8080, "TCP"),)
    assert out.loc["web-1", "namespace_labels"] == {
        "team": "a",
        "kubernetes.io/metadata.name": "shop",
    }
    assert bool(out.loc["idle-1", "observed"]) is False
    assert "agent" not in out.index  # host-network pods are never selectable


def test_real_pods_keep_host_ip_service_account_and_lifetime():
    inv = read_inventory([INV / "honeycomb-pods.json"])
    pods = inv.pods.set_index(["namespace", "pod"])
    grafana = pods.loc[("olly", "grafana-7db5dff8ff-vwrnf")]
    assert grafana["host_ip"] == "192.168.1.91"
    assert grafana["created"] == 1593039721 * 10**9  # 2020-06-24T23:02:01Z
    assert grafana["ended"] is None
    assert set(pods["service_account"].dropna()) >= {"default"}


def _kpod(name, **meta):
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", **meta},
        "spec": {"terminationGracePeriodSeconds": 10},
        "status": {"podIP": "10.0.0.9", "phase": meta.pop("phase", "Running")},
    }


def test_lifetimes_and_snapshots(tmp_path):
    done = _kpod("job-1", creationTimestamp="2026-01-01T00:00:00Z")
    done["status"].update(
        phase="Succeeded",
        containerStatuses=[{"state": {"terminated": {"finishedAt": "2026-01-01T00:05:00Z"}}}],
    )
    deleting = _kpod(
        "web-1",
        creationTimestamp="2026-01-01T00:00:00Z",
        deletionTimestamp="2026-01-01T01:00:00Z",
    )
    first = tmp_path / "a.json"
    first.write_text(json.dumps({"kind": "List", "items": [done, _kpod("web-1")]}))
    second = tmp_path / "b.json"
    second.write_text(json.dumps({"kind": "List", "items": [deleting]}))
    inv = read_inventory([first, second])
    pods = inv.pods.set_index("pod")
    t0 = 1767225600 * 10**9  # 2026-01-01T00:00:00Z
    assert pods.loc["job-1", "ended"] == t0 + 300 * 10**9
    # Seen running, then terminating: the widest known lifetime, ending after the grace.
    assert pods.loc["web-1", "created"] == t0
    assert pods.loc["web-1", "ended"] == t0 + 3610 * 10**9
    assert type(pods.loc["web-1", "ended"]) is int  # exact nanoseconds, not a float
    assert "address 10.0.0.9 is claimed by pods shop/job-1, shop/web-1" in inv.conflicts[0]


def test_services_endpoint_slices_and_pod_cidrs(tmp_path):
    items = [
        {
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {
                "clusterIP": "10.96.0.20",
                "clusterIPs": ["10.96.0.20", "fd00::20"],
                "selector": {"app": "web"},
                "ports": [
                    {"name": "http", "port": 80, "targetPort": "http"},
                    {"name": "metrics", "port": 9090, "targetPort": "9091", "protocol": "TCP"},
                    {"port": 53, "protocol": "UDP"},
                ],
            },
        },
        {
            "kind": "Service",
            "metadata": {"name": "headless", "namespace": "shop"},
            "spec": {"clusterIP": "None", "ports": [{"port": 80}]},
        },
        {
            "kind": "EndpointSlice",
            "metadata": {
                "name": "web-abc",
                "namespace": "shop",
                "labels": {"kubernetes.io/service-name": "web"},
            },
            "endpoints": [
                {
                    "addresses": ["10.0.0.9"],
                    "conditions": {"ready": False},
                    "targetRef": {"kind": "Pod", "name": "web-1"},
                }
            ],
            "ports": [{"name": "http", "port": 8080}],
        },
        {
            "kind": "Node",
            "metadata": {"name": "n1"},
            "spec": {"podCIDRs": ["10.244.1.0/24", "fd00:1::/64"]},
            "status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.2"}]},
        },
    ]
    path = tmp_path / "inv.json"
    path.write_text(json.dumps({"kind": "List", "items": items}))
    inv = read_inventory([path])
    assert inv.rejected == []
    web = inv.services[("shop", "web")]
    assert web.cluster_ips == ("10.96.0.20", "fd00::20")
    assert web.selector == (("app", "web"),)
    assert [(p.name, p.port, p.target, p.protocol) for p in web.ports] == [
        ("http", 80, "http", "TCP"),
        ("metrics", 9090, 9091, "TCP"),
        (None, 53, None, "UDP"),
    ]
    assert inv.services[("shop", "headless")].cluster_ips == ()
    (es,) = inv.endpoint_slices
    assert (es.service, es.ports) == ("web", (("http", 8080, "TCP"),))
    assert es.endpoints[0].pod == ("shop", "web-1") and es.endpoints[0].ready is False
    assert inv.pod_cidrs == {"n1": ("10.244.1.0/24", "fd00:1::/64")}
    assert inv.summary()["services"] == 2


@pytest.mark.parametrize(
    "bad, reason",
    [
        (
            {"kind": "Service", "metadata": {"name": "x"}, "spec": {"clusterIP": "nope"}},
            "invalid clusterIP",
        ),
        (
            {
                "kind": "Service",
                "metadata": {"name": "x"},
                "spec": {"ports": [{"port": 80, "targetPort": "no such name!"}]},
            },
            "invalid port name",
        ),
        (
            {"kind": "Service", "metadata": {"name": "x"}, "spec": {"ports": 5}},
            "ports is not a list",
        ),
        (
            {"kind": "Service", "metadata": {"name": "x"}, "spec": {"ports": [{"port": 70000}]}},
            "invalid service port",
        ),
        ({"kind": "Service", "metadata": {"name": "../x"}, "spec": {}}, "invalid service name"),
        (
            {"kind": "EndpointSlice", "metadata": {"name": "x"}, "endpoints": []},
            "without a kubernetes.io/service-name",
        ),
        (
            {
                "kind": "EndpointSlice",
                "metadata": {"name": "x", "labels": {"kubernetes.io/service-name": "x"}},
                "endpoints": [{"addresses": ["1.2.3"]}],
            },
            "invalid endpoint address",
        ),
        (
            {"kind": "Node", "metadata": {"name": "n"}, "spec": {"podCIDR": "10.0.0.0/33"}},
            "invalid podCIDR",
        ),
        (dict(_kpod("p", creationTimestamp="yesterday")), "invalid creationTimestamp"),
    ],
)
def test_hostile_services_and_slices_are_rejected(tmp_path, bad, reason):
    path = tmp_path / "inv.json"
    path.write_text(json.dumps({"kind": "List", "items": [bad]}))
    inv = read_inventory([path])
    assert len(inv.rejected) == 1 and reason in inv.rejected[0], inv.rejected
