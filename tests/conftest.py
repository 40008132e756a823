"""Shared test helpers: build small normalized flow tables by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from recommender.netpol.model import ContainerPort, Endpoint
from recommender.schema import FLOW_SCHEMA, SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REAL_FLOWS = SHARED / "real-flows"
SAMPLE_FLOWS = ROOT / "sample_flows"

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

_DEFAULTS: dict[str, Any] = {
    "schema_version": SCHEMA_VERSION,
    "source_format": "hubble",
    "source_file": "test.jsonl",
    "reporter": "unknown",
    "direction": "egress",
    "is_reply": False,
    "verdict": "allowed",
    "ip_family": 4,
    "protocol": "TCP",
    "flows": 1,
    "aggregated": False,
    "src_kind": "pod",
    "dst_kind": "pod",
}


def pod(namespace: str, name: str, labels: dict[str, str], ip: str, **extra: Any) -> dict:
    """Endpoint fields for a pod, to splice into a flow row with a side prefix."""
    return {
        "kind": "pod",
        "namespace": namespace,
        "pod": name,
        "labels": labels,
        "ip": ip,
        "namespace_labels": {"kubernetes.io/metadata.name": namespace},
        **extra,
    }


def address(ip: str, kind: str = "external", reserved: str | None = "world") -> dict:
    return {"kind": kind, "ip": ip, "reserved": reserved, "labels": None}


def flow(
    src: dict, dst: dict, port: int, *, sport: int = 40000, seconds: float = 0, **fields: Any
) -> dict:
    """One normalized record from src to dst:port (a request unless is_reply says so)."""
    row = dict(_DEFAULTS)
    row["time_start"] = row["time_end"] = T0 + timedelta(seconds=seconds)
    for side, ep in (("src", src), ("dst", dst)):
        for key, value in ep.items():
            row[f"{side}_{key}"] = value
    row["src_port"] = sport
    row["dst_port"] = port
    if isinstance(row.get("src_labels"), dict):
        row["src_labels"] = sorted(row["src_labels"].items())
    if isinstance(row.get("dst_labels"), dict):
        row["dst_labels"] = sorted(row["dst_labels"].items())
    for side in ("src", "dst"):
        nl = row.get(f"{side}_namespace_labels")
        if isinstance(nl, dict):
            row[f"{side}_namespace_labels"] = sorted(nl.items())
    row.update(fields)
    return row


def flows_table(rows: list[dict]) -> pa.Table:
    """Rows as a FLOW_SCHEMA table; each row is line N of ``source_file`` unless it says."""
    for i, row in enumerate(rows, 1):
        row.setdefault("source_record", i)
    return pa.Table.from_pylist(rows, schema=FLOW_SCHEMA)


def sim_endpoint(pod: Any, cluster: Any) -> Endpoint:
    """A simulated pod as the API server sees it: real labels (churn labels included) and
    container ports."""
    return Endpoint(
        kind="pod",
        ip=pod.ip,
        namespace=pod.namespace,
        labels=dict(pod.labels),
        namespace_labels=cluster.namespaces[pod.namespace],
        ports=tuple(ContainerPort(name, port, proto) for name, port, proto in pod.ports),
        name=pod.name,
    )


@pytest.fixture
def make_flows():
    return flows_table
