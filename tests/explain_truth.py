"""The conformance truth tables (``tests/conformance/``) as questions for ``explain``: every
scenario of the NetworkPolicy (upstream e2e), Cilium, Calico and admin-precedence suites,
with its policies, its pods and the verdict its table expects for each pod pair.

Also the two ways ``explain`` learns the pods: a pods table (as a run's observation holds
it) and a kubectl inventory document (what ``--inventory`` reads).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from conformance import (
    test_admin_precedence,
    test_calico_truth,
    test_cilium_truth,
    test_upstream_e2e,
)
from conformance.truth import cluster, parse_matrix

from recommender.netpol.evaluator import Evaluator
from recommender.netpol.model import Endpoint
from recommender.netpol.read import compile_objects


@dataclass(frozen=True)
class Case:
    """One scenario: its policies (as written), how the suite judges them, its pods and
    the expected verdict per (source, destination) name (``namespace/pod``)."""

    suite: str
    name: str
    policies: tuple[Mapping[str, Any], ...]
    ipblock_matches_pods: bool
    pods: tuple[Endpoint, ...]
    protocol: str
    port: int
    expected: Mapping[tuple[str, str], bool]

    @property
    def id(self) -> str:
        return f"{self.suite}: {self.name}"

    def evaluator(self) -> Evaluator:
        compiled = compile_objects(self.policies)[0]
        return Evaluator(compiled, ipblock_matches_pods=self.ipblock_matches_pods)

    @property
    def cli_reproducible(self) -> bool:
        """The CLI judges ipBlocks on pods as the evaluator's default for the set does."""
        compiled = compile_objects(self.policies)[0]
        return Evaluator(compiled).ipblock_matches_pods == self.ipblock_matches_pods


def name(ep: Endpoint) -> str:
    return f"{ep.namespace}/{ep.name}"


def _by_name(endpoints: Mapping[str, Endpoint], matrix: Mapping) -> dict:
    return {
        (name(endpoints[s]), name(endpoints[d])): want
        for (s, d), want in matrix.items()
        if want is not None
    }


def _upstream() -> Iterator[Case]:
    for s in test_upstream_e2e.SCENARIOS:
        endpoints = cluster(
            pod_label_overrides=s.pod_labels, namespace_label_overrides=s.namespace_labels
        )
        yield Case(
            "upstream e2e",
            s.name,
            tuple(s.policies),
            s.ipblock_matches_pods,
            tuple(endpoints.values()),
            s.protocol,
            s.port,
            _by_name(endpoints, parse_matrix(s.expected)),
        )


def _cilium() -> Iterator[Case]:
    endpoints = cluster()
    for s in test_cilium_truth.SCENARIOS:
        expected = _by_name(endpoints, parse_matrix(s.table))
        pods = tuple(endpoints.values())
        yield Case("cilium", s.name, tuple(s.policies), False, pods, s.protocol, s.port, expected)


def _calico() -> Iterator[Case]:
    for s in test_calico_truth.SCENARIOS:
        endpoints = cluster(pod_label_overrides=s.pod_labels)
        expected = _by_name(endpoints, parse_matrix(s.table))
        pods = tuple(endpoints.values())
        yield Case("calico", s.name, tuple(s.objects), True, pods, "TCP", 80, expected)


def _admin() -> Iterator[Case]:
    endpoints = test_admin_precedence.endpoints()
    for s in test_admin_precedence.SCENARIOS:
        expected = _by_name(endpoints, test_admin_precedence.parse(s.expected))
        pods = tuple(endpoints.values())
        yield Case("admin", s.name, tuple(s.policies), True, pods, s.protocol, s.port, expected)


def all_cases() -> list[Case]:
    """Every scenario of the four suites."""
    return [*_upstream(), *_cilium(), *_calico(), *_admin()]


def pods_frame(pods: Iterable[Endpoint]) -> pd.DataFrame:
    """The pods as a run's observation holds them (one row per pod)."""
    return pd.DataFrame(
        [
            {
                "namespace": ep.namespace,
                "pod": ep.name,
                "labels": dict(ep.labels),
                "namespace_labels": dict(ep.namespace_labels),
                "workload_name": ep.name,
                "ips": (ep.ip,),
                "ports": tuple((cp.name, cp.port, cp.protocol) for cp in ep.ports),
            }
            for ep in pods
        ]
    )


def inventory_document(pods: Iterable[Endpoint]) -> dict[str, Any]:
    """The pods and their namespaces as ``kubectl get pods,namespaces -A -o json`` prints
    them."""
    pods = list(pods)
    namespaces = {ep.namespace: dict(ep.namespace_labels) for ep in pods}
    items: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ns, "labels": labels},
        }
        for ns, labels in sorted(namespaces.items())
    ]
    for ep in pods:
        ports = [
            {"name": cp.name, "containerPort": cp.port, "protocol": cp.protocol} for cp in ep.ports
        ]
        items.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": ep.name, "namespace": ep.namespace, "labels": dict(ep.labels)},
                "spec": {"containers": [{"name": "serve", "ports": ports}]},
                "status": {"phase": "Running", "podIP": ep.ip},
            }
        )
    return {"apiVersion": "v1", "kind": "List", "items": items}


#: A Cilium policy whose only rule is L7 (HTTP): a rule the evaluator cannot judge.
L7_POLICY: dict[str, Any] = {
    "apiVersion": "cilium.io/v2",
    "kind": "CiliumNetworkPolicy",
    "metadata": {"name": "l7", "namespace": "y"},
    "spec": {
        "endpointSelector": {"matchLabels": {"pod": "a"}},
        "ingress": [
            {
                "toPorts": [
                    {
                        "ports": [{"port": "80", "protocol": "TCP"}],
                        "rules": {"http": [{"method": "GET"}]},
                    }
                ]
            }
        ],
    },
}
