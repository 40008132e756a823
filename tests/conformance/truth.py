"""The upstream e2e NetworkPolicy model and its truth tables, for the conformance suite.

Mirrors ``test/e2e/network/netpol`` in kubernetes/kubernetes (``model.go``, ``reachability.go``,
``truthtable.go``): namespaces x, y, z (labels ``ns: <name>`` and
``kubernetes.io/metadata.name: <name>``), each with pods a, b, c (label ``pod: <name>``); every pod
serves ports 80 and 81 on TCP, UDP and SCTP, with container port names ``serve-<port>-<protocol>``
(``serve-80-tcp``, ``serve-80-udp``, ``serve-80-sctp``, ``serve-81-tcp``, ...), as upstream's
``Container.PortName()`` builds them. Upstream pods get cluster IPs; here each namespace gets a /24
so that ipBlock scenarios have something to match:

    x/a 10.0.1.1  x/b 10.0.1.2  x/c 10.0.1.3
    y/a 10.0.2.1  y/b 10.0.2.2  y/c 10.0.2.3
    z/a 10.0.3.1  z/b 10.0.3.2  z/c 10.0.3.3

A truth table is written like upstream's ``TruthTable.PrettyPrint``: a header row naming the
destination pods (first cell ``-``), then one row per source pod; ``.`` is allowed, ``X`` denied.
Cells are separated by any whitespace.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from recommender.netpol.evaluator import Evaluator
from recommender.netpol.model import ContainerPort, Endpoint

NAMESPACES = ("x", "y", "z")
POD_NAMES = ("a", "b", "c")
#: Every pod, in upstream's order (namespace-major): x/a, x/b, x/c, y/a, ..., z/c.
PODS = tuple(f"{ns}/{name}" for ns in NAMESPACES for name in POD_NAMES)
PORTS = (80, 81)
PROTOCOLS = ("TCP", "UDP", "SCTP")

POD_IPS = {
    f"{ns}/{name}": f"10.0.{n + 1}.{p + 1}"
    for n, ns in enumerate(NAMESPACES)
    for p, name in enumerate(POD_NAMES)
}

#: One container port per (port, protocol), port-major as upstream's ``NewModel`` loops.
CONTAINER_PORTS = tuple(
    ContainerPort(f"serve-{port}-{protocol.lower()}", port, protocol)
    for port in PORTS
    for protocol in PROTOCOLS
)


def namespace_labels(ns: str) -> dict[str, str]:
    """Upstream ``Namespace.LabelSelector()`` plus the label the API server adds since 1.22."""
    return {"ns": ns, "kubernetes.io/metadata.name": ns}


def pod_labels(name: str) -> dict[str, str]:
    """Upstream ``Pod.LabelSelector()``."""
    return {"pod": name}


def cluster(
    *,
    pod_label_overrides: Mapping[str, Mapping[str, str]] | None = None,
    namespace_label_overrides: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, Endpoint]:
    """The nine pods as evaluator endpoints. Overrides replace the labels of a pod ("x/b") or a
    namespace ("y") entirely, as upstream's label-update steps leave them."""
    pod_over = dict(pod_label_overrides or {})
    ns_over = dict(namespace_label_overrides or {})
    endpoints = {}
    for key in PODS:
        ns, name = key.split("/")
        endpoints[key] = Endpoint(
            kind="pod",
            ip=POD_IPS[key],
            namespace=ns,
            labels=dict(pod_over.get(key, pod_labels(name))),
            namespace_labels=dict(ns_over.get(ns, namespace_labels(ns))),
            ports=CONTAINER_PORTS,
            name=name,
        )
    return endpoints


# --------------------------------------------------------------------------------------------
# Policy builders, after upstream's GenNetworkPolicy / SetSpecIngressRules / SetSpecEgressRules
# --------------------------------------------------------------------------------------------


def match_labels(**labels: str) -> dict[str, Any]:
    return {"matchLabels": dict(labels)}


def policy(
    name: str,
    ns: str,
    pod_selector: Mapping[str, Any],
    *,
    ingress: Iterable[Mapping[str, Any]] | None = None,
    egress: Iterable[Mapping[str, Any]] | None = None,
    policy_types: Iterable[str] | None = None,
) -> dict[str, Any]:
    """A NetworkPolicy. As upstream's ``SetSpecIngressRules``/``SetSpecEgressRules`` do, giving
    ``ingress`` (even empty) adds ``Ingress`` to policyTypes and giving ``egress`` adds
    ``Egress``, unless ``policy_types`` is passed explicitly."""
    spec: dict[str, Any] = {"podSelector": dict(pod_selector)}
    types = []
    if ingress is not None:
        spec["ingress"] = list(ingress)
        types.append("Ingress")
    if egress is not None:
        spec["egress"] = list(egress)
        types.append("Egress")
    spec["policyTypes"] = list(policy_types) if policy_types is not None else types
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


# --------------------------------------------------------------------------------------------
# Truth tables
# --------------------------------------------------------------------------------------------

Matrix = dict[tuple[str, str], bool]
_MARKS = {".": True, "X": False}


def parse_matrix(text: str) -> Matrix:
    """Parse a truth table (see the module docstring); strict about names, order and marks."""
    rows = [line.split() for line in text.strip().splitlines() if line.strip()]
    if not rows or rows[0] != ["-", *PODS]:
        raise ValueError(f"header must be '- {' '.join(PODS)}', got {rows[0] if rows else []}")
    body = rows[1:]
    if [row[0] for row in body] != list(PODS):
        raise ValueError(f"rows must be {', '.join(PODS)} in that order")
    matrix: Matrix = {}
    for row in body:
        src, marks = row[0], row[1:]
        if len(marks) != len(PODS) or any(m not in _MARKS for m in marks):
            raise ValueError(f"row {src} must have {len(PODS)} marks of '.' or 'X': {marks}")
        for dst, mark in zip(PODS, marks, strict=True):
            matrix[(src, dst)] = _MARKS[mark]
    return matrix


def format_matrix(cells: Mapping[tuple[str, str], str]) -> str:
    """Render one-character cells in the truth-table layout."""
    lines = ["-  " + "".join(f" {p}" for p in PODS)]
    for src in PODS:
        lines.append((src + "".join(f" {cells[(src, dst)]:^3}" for dst in PODS)).rstrip())
    return "\n".join(lines)


def render(matrix: Matrix) -> str:
    return format_matrix({k: "." if v else "X" for k, v in matrix.items()})


def probe(
    evaluator: Evaluator, endpoints: Mapping[str, Endpoint], protocol: str, port: int
) -> Matrix:
    """Every from->to pair on one protocol/port: pod-to-pod, so both sides are checked."""
    return {
        (src, dst): evaluator.evaluate(endpoints[src], endpoints[dst], protocol, port).allowed
        for src in PODS
        for dst in PODS
    }


@dataclass(frozen=True)
class Comparison:
    expected: Matrix
    observed: Matrix
    wrong: tuple[tuple[str, str], ...] = field(init=False)

    def __post_init__(self) -> None:
        wrong = tuple(k for k in self.expected if self.expected[k] != self.observed[k])
        object.__setattr__(self, "wrong", wrong)

    def report(self) -> str:
        """Expected, observed and a comparison table (``.`` agrees, ``X`` differs), as upstream's
        ``Reachability.PrintSummary`` prints them."""
        comparison = format_matrix({k: "X" if k in self.wrong else "." for k in self.expected})
        return (
            f"{len(self.wrong)} wrong of {len(self.expected)}\n\n"
            f"expected:\n{render(self.expected)}\n\n"
            f"observed:\n{render(self.observed)}\n\n"
            f"comparison:\n{comparison}"
        )
