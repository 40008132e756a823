"""`netpol-recommender verify` on the upstream e2e examples: the policies of each scenario
as YAML files, the 9x9 probes as Hubble flow records, the pods and namespaces as a kubectl
inventory (for named ports). The exit code and the denied connections must match the
upstream truth table."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from recommender.cli import main

from .test_upstream_e2e import SCENARIOS
from .truth import CONTAINER_PORTS, NAMESPACES, POD_IPS, PODS, namespace_labels, parse_matrix
from .truth import pod_labels as default_pod_labels

# every scenario whose ipBlocks match pod addresses (verify's default, as Calico and Cilium)
CASES = [s for s in SCENARIOS if s.ipblock_matches_pods]


def _labels(scenario, pod: str) -> dict[str, str]:
    return dict(scenario.pod_labels.get(pod, default_pod_labels(pod.split("/")[1])))


def _ns_labels(scenario, ns: str) -> dict[str, str]:
    return dict(scenario.namespace_labels.get(ns, namespace_labels(ns)))


def _endpoint(scenario, pod: str) -> dict:
    ns, name = pod.split("/")
    labels = [f"k8s:{k}={v}" for k, v in sorted(_labels(scenario, pod).items())]
    labels += [f"k8s:io.kubernetes.pod.namespace={ns}"]
    labels += [
        f"k8s:io.cilium.k8s.namespace.labels.{k}={v}"
        for k, v in sorted(_ns_labels(scenario, ns).items())
    ]
    return {"namespace": ns, "pod_name": name, "labels": labels}


def _flows(scenario) -> str:
    lines = []
    for i, src in enumerate(PODS):
        for j, dst in enumerate(PODS):
            flow = {
                "time": f"2026-11-01T12:00:{i:02d}.{j:06d}Z",
                "verdict": "FORWARDED",
                "IP": {"source": POD_IPS[src], "destination": POD_IPS[dst], "ipVersion": "IPv4"},
                "l4": {
                    scenario.protocol: {
                        "source_port": 40000 + 10 * i + j,
                        "destination_port": scenario.port,
                    }
                },
                "source": _endpoint(scenario, src),
                "destination": _endpoint(scenario, dst),
                "Type": "L3_L4",
                "is_reply": False,
                "traffic_direction": "EGRESS",
            }
            lines.append(json.dumps({"flow": flow, "node_name": "node-1"}))
    return "\n".join(lines) + "\n"


def _inventory(scenario) -> dict:
    items = [
        {"kind": "Namespace", "metadata": {"name": ns, "labels": _ns_labels(scenario, ns)}}
        for ns in NAMESPACES
    ]
    ports = [
        {"name": p.name, "containerPort": p.port, "protocol": p.protocol} for p in CONTAINER_PORTS
    ]
    for pod in PODS:
        ns, name = pod.split("/")
        items.append(
            {
                "kind": "Pod",
                "metadata": {"name": name, "namespace": ns, "labels": _labels(scenario, pod)},
                "spec": {"containers": [{"name": "serve", "ports": ports}]},
                "status": {"podIP": POD_IPS[pod]},
            }
        )
    return {"apiVersion": "v1", "kind": "List", "items": items}


@pytest.mark.parametrize("scenario", CASES, ids=lambda s: s.name)
def test_verify_cli_matches_the_upstream_truth_table(scenario, tmp_path):
    policies = tmp_path / "policies"
    policies.mkdir()
    for i, pol in enumerate(scenario.policies):
        (policies / f"{i:02d}.yaml").write_text(yaml.safe_dump(pol))
    (tmp_path / "flows.jsonl").write_text(_flows(scenario))
    (tmp_path / "inventory.json").write_text(json.dumps(_inventory(scenario)))
    result = CliRunner().invoke(
        main,
        [
            "verify",
            "--policies",
            str(policies),
            str(tmp_path / "flows.jsonl"),
            "--inventory",
            str(tmp_path / "inventory.json"),
            "--json",
        ],
    )
    expected = parse_matrix(scenario.expected)
    denied_expected = {cell for cell, allowed in expected.items() if not allowed}
    assert result.exit_code == (1 if denied_expected else 0), result.output[-2000:]
    report = json.loads(result.output)
    assert report["judged"] == 81
    denied = {(c["src"], c["dst"]) for c in report["connections"] if not c["allowed"]}
    assert denied == denied_expected
