"""Orientation, de-duplication and aggregation: normalized flows -> connections.

A connection is (client endpoint, server endpoint, protocol, server port). Hubble reports
each packet class at several observation points on two nodes, so counting records would
count the same connection many times; ``flows`` here counts distinct 5-tuples instead.
Records that must never become rules (replies, unknown orientation, L7 duplicates,
denied traffic, ICMP, pre-DNAT service addresses) are set aside here and counted by reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .schema import CONNECTION_SCHEMA, POLICY_PROTOCOLS

#: Verdicts that mean the traffic went through (``audit``: it would be denied, but was not).
PASSING_VERDICTS = ("allowed", "redirected", "audit", "unknown")

_FLOW_COLUMNS = [
    "source_file",
    "time_start",
    "time_end",
    "observer",
    "is_reply",
    "verdict",
    "protocol",
    "l7_protocol",
    "flows",
    "aggregated",
    "dst_service_name",
    "src_kind",
    "src_namespace",
    "src_pod",
    "src_ip",
    "src_port",
    "src_reserved",
    "dst_kind",
    "dst_namespace",
    "dst_pod",
    "dst_ip",
    "dst_port",
    "dst_reserved",
]

ENDPOINT_KEY = ["kind", "namespace", "pod", "ip", "reserved"]
CONNECTION_KEY = [f"src_{c}" for c in ENDPOINT_KEY] + [f"dst_{c}" for c in ENDPOINT_KEY]
CONNECTION_KEY += ["protocol", "port"]

#: Why a normalized record did not become part of a connection, in the order tested.
EXCLUSION_REASONS = {
    "reply": "reply half of a connection (never a rule)",
    "orientation": "orientation unknown (no reply flag, trace reason or SYN)",
    "l7": "L7 proxy record (evidence only; its L3/L4 record carries the connection)",
    "denied": "denied or errored in the datapath (not observed allowed)",
    "icmp": "ICMP or other protocol (NetworkPolicy cannot express it without opening all)",
    "pre_dnat": "pre-DNAT service address (the backend record carries the connection)",
    "no_port": "no destination port",
    "no_identity": "an end with neither a pod identity nor an address",
}


@dataclass
class ConnectionSet:
    """Connections plus the accounting of the records that did not become one."""

    table: pd.DataFrame
    records_used: int = 0
    excluded: Counter = field(default_factory=Counter)

    def to_arrow(self) -> pa.Table:
        return pa.Table.from_pandas(self.table, schema=CONNECTION_SCHEMA, preserve_index=False)


def _as_strings(table: pa.Table) -> pa.Table:
    """Decode dictionary columns so pandas sees plain strings, not categoricals."""
    cols = []
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_dictionary(col.type):
            col = pc.cast(col, pa.string())
        cols.append(col)
    return pa.table(cols, names=table.column_names)


def classify_records(flows: pa.Table) -> pd.Series:
    """Return, per record, the exclusion reason key, or "" when it feeds a connection."""
    t = _as_strings(flows.select(_FLOW_COLUMNS))
    df = t.to_pandas()
    reason = pd.Series("", index=df.index, dtype=object)

    def mark(mask: pd.Series, key: str) -> None:
        reason[(reason == "") & mask.fillna(False).astype(bool)] = key

    is_reply = df["is_reply"]
    mark(is_reply.eq(True), "reply")
    mark(is_reply.isna(), "orientation")
    mark(df["l7_protocol"].notna(), "l7")
    mark(~df["verdict"].isin(PASSING_VERDICTS), "denied")
    mark(~df["protocol"].isin(POLICY_PROTOCOLS), "icmp")
    # A service name on a destination that is neither a pod nor a node (the API server's
    # endpoints are nodes) means the address is still the ClusterIP: pre-DNAT.
    mark(df["dst_service_name"].notna() & ~df["dst_kind"].isin(["pod", "node"]), "pre_dnat")
    mark(df["dst_port"].isna(), "no_port")
    for side in ("src", "dst"):
        is_pod = df[f"{side}_kind"].eq("pod")
        anonymous = (is_pod & (df[f"{side}_namespace"].isna() | df[f"{side}_pod"].isna())) | (
            ~is_pod & df[f"{side}_ip"].isna()
        )
        mark(anonymous, "no_identity")
    return reason


def build_connections(flows: pa.Table) -> ConnectionSet:
    """Aggregate request records into one row per connection (see module docstring)."""
    reasons = classify_records(flows)
    excluded = Counter(reasons[reasons != ""].map(EXCLUSION_REASONS).tolist())
    keep = pa.array((reasons == "").to_numpy())
    used = _as_strings(flows.select(_FLOW_COLUMNS).filter(keep)).to_pandas()
    if used.empty:
        empty = pd.DataFrame({f.name: pd.Series(dtype=object) for f in CONNECTION_SCHEMA})
        return ConnectionSet(empty, 0, excluded)

    for side in ("src", "dst"):
        # Pods are identified by name (their IP churns); everything else by address.
        is_pod = used[f"{side}_kind"].eq("pod")
        used.loc[is_pod, f"{side}_ip"] = None
        used.loc[~is_pod, f"{side}_pod"] = None
    used = used.rename(columns={"dst_port": "port"})
    used["port"] = used["port"].astype("int64")
    key = [c for c in CONNECTION_KEY]
    keyed = used[key].astype(object).where(used[key].notna(), "")
    used[key] = keyed

    # One 5-tuple seen at several observation points or nodes is one connection.
    tuple_key = key + ["src_port_t"]
    used["src_port_t"] = used["src_port"].fillna(-1).astype("int64")
    single = used[~used["aggregated"]]
    per_tuple = single.groupby(tuple_key, sort=False).size().reset_index()[key]
    flows_single = per_tuple.groupby(key, sort=False).size().rename("flows_single")
    flows_aggr = used[used["aggregated"]].groupby(key, sort=False)["flows"].sum()
    grouped = used.groupby(key, sort=False).agg(
        records=("flows", "size"),
        first_seen=("time_start", "min"),
        last_seen=("time_end", "max"),
        observers=("observer", "nunique"),
    )
    grouped = grouped.join(flows_single).join(flows_aggr.rename("flows_aggr"))
    grouped["flows"] = grouped["flows_single"].fillna(0) + grouped["flows_aggr"].fillna(0)
    out = grouped.reset_index()
    for col in key:
        values = out[col].astype(object)
        out[col] = values.where(values != "", None).astype(object)
    out["verdict"] = "allowed"
    out["flows"] = out["flows"].astype("int64")
    out["records"] = out["records"].astype("int64")
    out["observers"] = out["observers"].astype("int64")
    out["port"] = out["port"].astype("int32")
    out = out[[f.name for f in CONNECTION_SCHEMA]]
    out = out.sort_values(key, na_position="first", kind="mergesort").reset_index(drop=True)
    return ConnectionSet(out, int(len(used)), excluded)


def observed_pods(flows: pa.Table) -> pd.DataFrame:
    """Every pod seen on either side of any record, with its latest labels.

    Replies count too: they carry the same endpoint metadata. Returns one row per
    (namespace, pod) with labels and namespace labels as dicts.
    """
    parts = []
    for side in ("src", "dst"):
        cols = {
            "kind": f"{side}_kind",
            "namespace": f"{side}_namespace",
            "pod": f"{side}_pod",
            "ip": f"{side}_ip",
            "labels": f"{side}_labels",
            "namespace_labels": f"{side}_namespace_labels",
            "workload_kind": f"{side}_workload_kind",
            "workload_name": f"{side}_workload_name",
            "service_account": f"{side}_service_account",
            "time": "time_start",
        }
        t = flows.select(list(cols.values()))
        t = t.rename_columns(list(cols.keys()))
        mask = pc.and_(
            pc.equal(pc.cast(t.column("kind"), pa.string()), "pod"),
            pc.and_(pc.is_valid(t.column("namespace")), pc.is_valid(t.column("pod"))),
        )
        parts.append(t.filter(pc.fill_null(mask, False)))
    if not parts or sum(p.num_rows for p in parts) == 0:
        return pd.DataFrame(
            columns=[
                "namespace",
                "pod",
                "labels",
                "namespace_labels",
                "workload_kind",
                "workload_name",
                "service_account",
                "ips",
                "first_seen",
                "last_seen",
            ]
        )
    both = _as_strings(pa.concat_tables(parts))
    slim = both.select(["namespace", "pod", "ip", "time"]).to_pandas()
    slim["row"] = range(len(slim))
    span = slim.groupby(["namespace", "pod"], sort=True).agg(
        first_seen=("time", "min"), last_seen=("time", "max")
    )
    ips = (
        slim.dropna(subset=["ip"])
        .groupby(["namespace", "pod"])["ip"]
        .agg(lambda s: tuple(sorted(set(s))))
    )
    # The latest record with labels speaks for the pod (labels rarely change in place).
    has_labels = pc.is_valid(both.column("labels")).to_numpy(zero_copy_only=False)
    slim["has_labels"] = has_labels
    ordered = slim.sort_values(["has_labels", "time", "row"], kind="mergesort")
    last_rows = ordered.groupby(["namespace", "pod"], sort=True)["row"].last()
    picked = both.take(pa.array(last_rows.to_numpy())).to_pydict()
    out = pd.DataFrame(
        {
            "namespace": picked["namespace"],
            "pod": picked["pod"],
            # None = unknown (the log gave the pod no Kubernetes identity), {} = none
            "labels": [dict(x) if x is not None else None for x in picked["labels"]],
            "namespace_labels": [
                dict(x) if x is not None else {} for x in picked["namespace_labels"]
            ],
            "workload_kind": picked["workload_kind"],
            "workload_name": picked["workload_name"],
            "service_account": picked["service_account"],
        }
    )
    out = out.set_index(["namespace", "pod"]).join(span).join(ips.rename("ips"))
    out["ips"] = out["ips"].apply(lambda v: v if isinstance(v, tuple) else ())
    return out.reset_index()
