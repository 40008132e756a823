"""Synthetic clusters and their traffic, for the sample files, tests and benchmarks (in the
spirit of ``sklearn.datasets``): generators build a :class:`SimCluster` (the ground truth:
pods, Services, and every client→server edge), renderers turn it into flow logs.

Generators: :func:`shop_cluster` (the sample shop of ``sample_flows/``), :func:`small_app`,
:func:`shop_app`, :func:`large_app` (``APPS`` by name), and the blocks they are built from
(:func:`rollout`, :func:`rollouts`).

Renderers, all walking the same connection plan (:func:`plan_connections`) for a seed:
:func:`hubble_records` / :func:`write_hubble` (Cilium Hubble), :func:`calico_records` /
:func:`write_calico` (Calico Enterprise), :func:`aws_vpc_lines` / :func:`write_aws_vpc`
(AWS VPC Flow Logs), and :func:`kubectl_inventory` (the cluster as ``kubectl get -o json``).

Everything is deterministic for a given seed. ``python -m recommender.sim OUT_DIR`` writes
the sample files (:mod:`recommender.sim.sample`).
"""

from .apps import APPS, large_app, shop_app, small_app
from .aws_vpc import aws_vpc_fields, aws_vpc_lines, write_aws_vpc
from .calico import calico_records, write_calico
from .clock import DEFAULT_START, to_ns
from .cluster import EdgeTraffic, SimCluster, SimEdge, SimNode, SimPod, SimService
from .hubble import hubble_labels, hubble_records, write_hubble
from .inventory import kubectl_inventory
from .sample import sample_readme
from .shop import GRPC_PORT, shop_cluster
from .traffic import EPHEMERAL_PORTS, Connection, Side, connection_counts, plan_connections
from .workloads import NAME_ALPHABET, rollout, rollouts

__all__ = [
    "APPS",
    "DEFAULT_START",
    "EPHEMERAL_PORTS",
    "GRPC_PORT",
    "NAME_ALPHABET",
    "Connection",
    "EdgeTraffic",
    "Side",
    "SimCluster",
    "SimEdge",
    "SimNode",
    "SimPod",
    "SimService",
    "aws_vpc_fields",
    "aws_vpc_lines",
    "calico_records",
    "connection_counts",
    "hubble_labels",
    "hubble_records",
    "kubectl_inventory",
    "large_app",
    "plan_connections",
    "rollout",
    "rollouts",
    "sample_readme",
    "shop_app",
    "shop_cluster",
    "small_app",
    "to_ns",
    "write_aws_vpc",
    "write_calico",
    "write_hubble",
]
