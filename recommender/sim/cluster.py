"""The ground truth of a simulated cluster: nodes, pods, Services, and the connections its
traffic contains.

Every generator builds a :class:`SimCluster`; every renderer (Hubble, Calico, AWS VPC,
kubectl inventory) reads one, so the rendered logs can be checked against the edges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "EdgeTraffic",
    "SimCluster",
    "SimEdge",
    "SimNode",
    "SimPod",
    "SimService",
    "probe_edges",
]


@dataclass(frozen=True)
class SimNode:
    """A Kubernetes node: ``ip`` is its InternalIP, ``pod_cidr`` its pod range."""

    name: str
    ip: str
    pod_cidr: str = ""


@dataclass(frozen=True)
class SimPod:
    """One pod. ``labels`` are the Kubernetes API labels (including churn labels such as
    ``pod-template-hash``); :func:`recommender.sim.hubble_labels` gives what Hubble shows.

    ``workload_kind``/``workload_name`` name the top-level owner (Deployment,
    StatefulSet, CronJob); ``owner_kind``/``owner_name`` the direct controller
    (ReplicaSet ``cart-7d4b9c8f6``, StatefulSet, Job ``report-29372070``).
    ``end`` is None for pods still running at the end of the window.
    ``ports`` are the container ports ``(name, port, protocol)``; ``probe_ports`` the
    ports the kubelet probes (they need not be declared container ports).
    """

    namespace: str
    name: str
    workload_kind: str
    workload_name: str
    labels: dict[str, str] = field(hash=False)
    ip: str
    node: str
    start: datetime
    end: datetime | None
    ports: tuple[tuple[str | None, int, str], ...]
    service_account: str = "default"
    owner_kind: str = ""
    owner_name: str = ""
    probe_ports: tuple[int, ...] = ()

    @property
    def workload(self) -> str:
        """``namespace/workload_name``, the form used in :class:`SimEdge`."""
        return f"{self.namespace}/{self.workload_name}"

    def alive(self, when: datetime) -> bool:
        return self.start <= when and (self.end is None or when < self.end)


@dataclass(frozen=True)
class SimService:
    """A Service. ``ports`` are ``(name, port, target_port, protocol)``."""

    namespace: str
    name: str
    cluster_ip: str
    selector: dict[str, str] = field(hash=False)
    ports: tuple[tuple[str | None, int, int, str], ...]
    type: str = "ClusterIP"


@dataclass(frozen=True)
class SimEdge:
    """One client→server connection of the ground truth (requests only).

    ``src``/``dst``: ``"ns/workload"`` for pods, ``"node"`` for node sources (kubelet
    probes from the pod's own node, and LoadBalancer traffic SNATed by another node),
    or an IP address for external peers (Internet clients, external APIs, the
    kube-apiserver). ``port`` is the port the server listens on (post-DNAT).
    """

    src: str
    dst: str
    protocol: str
    port: int


@dataclass(frozen=True)
class EdgeTraffic:
    """How the renderers produce the traffic of one edge.

    ``count``: connections over 6 hours (scaled to the window, at least ``minimum``).
    ``style``: ``"tcp"`` (request/response), ``"dns"`` (UDP query/answer, A+AAAA),
    ``"probe"`` (kubelet from the server pod's node) or ``"snat"`` (client address
    replaced by another node's address). ``service``: ``(namespace, name)`` of the
    Service the client addressed. ``names``: DNS names of an external destination
    (Hubble ``destination_names``). ``l7_dns``: the client's DNS goes through the
    Cilium DNS proxy (``Type: L7`` records). ``keepalive``: a connection is already
    open when the window starts (no SYN is seen for it). ``queries``: names the client
    resolves (DNS edges).
    """

    count: int = 6
    style: str = "tcp"
    service: tuple[str, str] | None = None
    names: tuple[str, ...] = ()
    l7_dns: bool = False
    keepalive: bool = False
    minimum: int = 3
    queries: tuple[str, ...] = ()


@dataclass
class SimCluster:
    name: str
    nodes: list[SimNode]
    pods: list[SimPod]
    #: namespace -> namespace labels (always with ``kubernetes.io/metadata.name``)
    namespaces: dict[str, dict[str, str]]
    #: ground truth: every client->server connection the traffic contains (requests only)
    edges: list[SimEdge]
    start: datetime
    end: datetime
    services: list[SimService] = field(default_factory=list)
    #: per-edge traffic profile; edges without one get ``EdgeTraffic()`` defaults
    traffic: dict[SimEdge, EdgeTraffic] = field(default_factory=dict)
    #: human notes (what is tricky in this cluster), used in the sample README
    notes: list[str] = field(default_factory=list)

    def pods_of(self, workload: str) -> list[SimPod]:
        """Pods of ``"ns/name"`` (all of them, over the whole window)."""
        return [p for p in self.pods if p.workload == workload]

    def workloads(self) -> list[str]:
        """Every ``"ns/name"`` workload, in pod order."""
        return list(dict.fromkeys(p.workload for p in self.pods))

    def node(self, name: str) -> SimNode:
        return next(n for n in self.nodes if n.name == name)

    def pod_by_name(self, namespace: str, name: str) -> SimPod | None:
        return next((p for p in self.pods if p.namespace == namespace and p.name == name), None)


def probe_edges(cluster: SimCluster) -> dict[SimEdge, EdgeTraffic]:
    """The kubelet probes of every workload's probe ports, from each pod's own node."""
    edges = {}
    for wl in cluster.workloads():
        pods = cluster.pods_of(wl)
        for port in pods[0].probe_ports:
            edges[SimEdge("node", wl, "TCP", port)] = EdgeTraffic(
                count=10 * len(pods), style="probe"
            )
    return edges
