"""Sample records the ingest tests share, each written once."""

from __future__ import annotations

import copy
from typing import Any

#: The labels Hubble shows for bookinfo's productpage pod (cilium docs, observing flows).
PRODUCTPAGE_LABELS = [
    "k8s:app=productpage",
    "k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=bookinfo",
    "k8s:io.cilium.k8s.policy.cluster=kind-kind",
    "k8s:io.cilium.k8s.policy.serviceaccount=bookinfo-productpage",
    "k8s:io.kubernetes.pod.namespace=bookinfo",
]

_HUBBLE = {
    "flow": {
        "time": "2021-11-10T10:40:56.465597700Z",
        "verdict": "FORWARDED",
        "IP": {"source": "10.244.0.177", "destination": "10.244.0.110", "ipVersion": "IPv4"},
        "l4": {"TCP": {"source_port": 35128, "destination_port": 9080, "flags": {"SYN": True}}},
        "source": {
            "ID": 881,
            "identity": 3418,
            "namespace": "bookinfo",
            "labels": [],
            "pod_name": "productpage-v1-6b746f74dc-9rcxx",
        },
        "destination": {
            "identity": 11615,
            "namespace": "bookinfo",
            "labels": ["k8s:app=reviews", "k8s:io.kubernetes.pod.namespace=bookinfo"],
            "pod_name": "reviews-v2-7bf8c9648f-r7bs2",
        },
        "Type": "L3_L4",
        "node_name": "kind-control-plane",
        "event_type": {"type": 4, "sub_type": 3},
        "traffic_direction": "EGRESS",
        "trace_observation_point": "TO_STACK",
        "is_reply": False,
    },
    "node_name": "kind-control-plane",
    "time": "2021-11-10T10:40:56.465597700Z",
}


def hubble_record(source_labels: list[str], **flow: Any) -> dict:
    """A ``hubble observe -o jsonpb`` line (productpage -> reviews:9080, SYN) as a dict: the
    source pod with these labels, and ``flow`` keys added at the end of the flow."""
    record = copy.deepcopy(_HUBBLE)
    record["flow"]["source"]["labels"] = list(source_labels)
    record["flow"].update(flow)
    return record
