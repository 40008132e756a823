"""The pods ``explain`` judges, from an inventory and/or flow logs."""

from __future__ import annotations

import json

import pytest
from conformance.truth import cluster
from explain_truth import inventory_document

from recommender.explain_endpoints import ExplainError
from recommender.explain_pods import known_pods
from recommender.netpol.model import ContainerPort


def test_no_pods_known_says_where_to_get_them():
    with pytest.raises(ExplainError, match="--inventory FILE or --flows INPUT"):
        known_pods()


def test_an_inventory_alone_gives_pods_labels_namespaces_and_ports(tmp_path):
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(inventory_document(cluster().values())), encoding="utf-8")
    known = known_pods(inventory=[path])
    assert len(known) == 9
    (ep,) = known.resolve("z/c").endpoints
    assert ep.labels == {"pod": "c"} and ep.ip == "10.0.3.3"
    assert ep.namespace_labels == {"ns": "z", "kubernetes.io/metadata.name": "z"}
    assert ContainerPort("serve-81-sctp", 81, "SCTP") in ep.ports
