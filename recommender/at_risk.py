"""At-risk traffic: observed traffic that went through in the window and that the policies
will deny, although the coverage figure does not judge it.

Coverage judges connections (a client, a server, a port). Some observed traffic never
becomes one: replies, records whose direction is unknown, L7 proxy records, ICMP, records
whose port or peer was aggregated away, peers known only by a name, pods whose labels the
log does not carry, node sources, connections left out as noise. Each of these still went
through, and the proposal may deny it. This module replays all of it against the same
policies, with the same independent evaluator, and counts what would break:

* a reply stands for the request it answers (its ends swapped, its source port the
  server's): at risk when that request is denied;
* a record of unknown orientation is at risk only when *neither* direction is allowed
  (NetworkPolicy is stateful: the replies of an allowed connection pass);
* L7 and port-less records (ICMP, a port aggregated away) are judged as they are: a
  port-less record passes only a rule without ``ports``;
* a record to a Service address (pre-DNAT) passes when a connection of the same client
  through the same Service reached a backend that is allowed;
* an end with no identity at all, or known only by a name NetworkPolicy cannot state
  (a NetworkSet, a host endpoint), passes only a rule that admits everyone;
* a pod whose labels are unknown is judged as a pod with no labels (a namespace
  default-deny selects it all the same);
* a node source passes when it is the destination pod's own node (Hubble's ``host``
  identity, or the node the inventory puts the pod on); a remote node (LoadBalancer or
  NodePort traffic SNATed by another node, host-network peers) is judged by its address.
  A node source the log cannot place is counted as unchecked, not at risk;
* a connection left out as noise (``--min-flows``, ``--min-age``) is judged as it is.

Records, distinct connections (client, server, protocol, port at workload level) and
examples with file:line are reported; :attr:`AtRisk.total` is what ``--strict`` checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .connections import CONNECTION_KEY, ENDPOINT_KEY, ConnectionSet
from .netpol.evaluator import Evaluator
from .validate import printable
from .verify import EXEMPT_SOURCE_KINDS, NAMED_REASON, replay

__all__ = ["REASONS", "AtRisk", "find_at_risk"]

#: Why traffic is at risk, in the order reports list them: key -> what it is.
REASONS = {
    "node": "from another node (LoadBalancer/NodePort SNAT or a host-network peer): "
    "NetworkPolicy sees the node address",
    "named": "peer known only by a name (a NetworkSet or host endpoint) NetworkPolicy cannot state",
    "no_identity": "an end with neither a pod identity nor an address",
    "labels_unknown": "pods whose labels the log does not carry (an inventory gives them)",
    "orientation": "direction never resolved, and neither direction is allowed",
    "reply": "replies of connections the policies deny",
    "l7": "L7 proxy records of connections the policies deny",
    "pre_dnat": "to a Service address never seen reaching an allowed backend",
    "icmp": "ICMP or another protocol NetworkPolicy cannot state without opening all",
    "no_port": "no destination port (aggregated away by the log)",
    "noise": "left out as noise (--min-flows / --min-age)",
}
#: What a user can do about each reason.
HINTS = {
    "node": "--allow-node-sources admits them by address",
    "labels_unknown": "--inventory gives their labels",
    "orientation": "TCP flags or an --inventory orient them",
    "named": "SUMMARY.md says what would express them",
    "noise": "lower --min-flows / --min-age to keep them",
}
#: How many at-risk examples the report keeps.
MAX_EXAMPLES = 20
NO_PORT = -1
_NO_IDENTITY = "(no identity)"
_COLUMNS = [
    "reason",
    "src",
    "dst",
    "protocol",
    "port",
    "records",
    "example_file",
    "example_line",
    "why",
]


@dataclass
class AtRisk:
    """What the policies will deny of the observed traffic that coverage does not judge."""

    #: one row per (reason, src, dst, protocol, port); port -1 = no port
    table: pd.DataFrame
    #: node-source connections whose node the log does not place (own node or remote?)
    unchecked_node_sources: int = 0
    notes: list[str] = field(default_factory=list)
    #: connections whose verdict the evaluator cannot judge (a matching unjudged rule):
    #: counted apart, neither at risk nor passing
    unjudged: int = 0

    @property
    def records(self) -> int:
        return int(self.table["records"].sum()) if len(self.table) else 0

    @property
    def connections(self) -> int:
        """Distinct (src, dst, protocol, port), whatever the reason."""
        if not len(self.table):
            return 0
        return len(self.table.drop_duplicates(["src", "dst", "protocol", "port"]))

    @property
    def total(self) -> int:
        return self.records

    def by_reason(self) -> dict[str, dict[str, int]]:
        """Records and connections of each reason present, in :data:`REASONS` order (the
        reasons absent are not filtered for: 0.3 ms each, on every run)."""
        out = {}
        present = set(self.table["reason"])
        for key in REASONS:
            if key in present:
                rows = self.table[self.table["reason"] == key]
                out[key] = {
                    "records": int(rows["records"].sum()),
                    "connections": len(rows.drop_duplicates(["src", "dst", "protocol", "port"])),
                }
        return out

    def examples(self, limit: int = MAX_EXAMPLES) -> list[dict[str, Any]]:
        if not len(self.table):
            return []  # the usual case, without iterating an empty frame (0.4 ms)
        return [
            {
                "reason": r.reason,
                "src": r.src,
                "dst": r.dst,
                "port": port_text(r.protocol, r.port),
                "records": int(r.records),
                "file": r.example_file,
                "line": None if pd.isna(r.example_line) else int(r.example_line),
                "why": r.why,
            }
            for r in self.table.head(limit).itertuples(index=False)
        ]

    def headline(self) -> str:
        """One line: how much observed traffic the policies will deny, or that none is."""
        if not len(self.table):
            return "at risk: 0 (every observed connection passes the independent evaluator)"
        return (
            f"at risk: {self.connections} connection{'s' if self.connections != 1 else ''} "
            f"({self.records} records) of observed traffic would be DENIED, outside the "
            "coverage figure"
        )

    def lines(self, examples: int = 5) -> list[str]:
        """The headline, a line per reason with its hint, and the first examples."""
        out = [self.headline()]
        for key, figures in self.by_reason().items():
            hint = HINTS.get(key)
            out.append(
                f"  {figures['connections']:>6} conn {figures['records']:>8} records  "
                f"{REASONS[key]}" + (f" ({hint})" if hint else "")
            )
        for e in self.examples(examples):
            where = f"{e['file']}:{e['line']}: " if e["file"] else ""
            what = f"{e['src']} -> {e['dst']} {e['port']}"
            out.append(f"  e.g. {printable(where + what)} ({e['records']} records)")
        if self.unchecked_node_sources:
            out.append(
                f"  {self.unchecked_node_sources} node-source connection(s) not checked: the log "
                "does not say whether the node is the pod's own (an --inventory would)"
            )
        if self.unjudged:
            out.append(
                f"  {self.unjudged} connection(s) not judged: a matching rule is outside what "
                "the evaluator judges (see the policies' 'not judged' warnings)"
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "connections": self.connections,
            "by_reason": {k: {**v, "what": REASONS[k]} for k, v in self.by_reason().items()},
            "examples": self.examples(),
            "unchecked_node_sources": self.unchecked_node_sources,
            **({"unjudged": self.unjudged} if self.unjudged else {}),
        }


def port_text(protocol: Any, port: Any) -> str:
    if port is None or pd.isna(port) or int(port) < 0:
        return str(protocol)
    return f"{int(port)}/{protocol}"


def find_at_risk(
    conn_set: ConnectionSet,
    replayed: pd.DataFrame,
    evaluator: Evaluator,
    pods: pd.DataFrame,
    *,
    cluster: tuple[str, ...] = (),
    node_addresses: dict[str, tuple[str, ...]] | None = None,
) -> AtRisk:
    """Replay what coverage does not judge (see the module docstring).

    ``replayed``: every connection of ``conn_set`` as :func:`recommender.verify.replay`
    returned it (``exempt``, ``allowed``, ``reasons``); ``cluster``: the known cluster
    ranges (for ``pub``/``pvt``); ``node_addresses``: address -> node names, from an
    inventory (:meth:`~recommender.ingest.inventory.Inventory.node_addresses`), to place
    node sources (with the pods' ``node`` and ``host_ip`` columns).
    """
    where = _PodNodes(pods, node_addresses)
    groups = _Groups()
    parts = []
    exempt = replayed[replayed["exempt"]]
    if len(exempt):
        parts.append(_candidates_from_connections(exempt, groups))
    aside = conn_set.aside
    if aside is not None and len(aside):
        parts.extend(_candidates_from_aside(aside, conn_set.services, replayed, groups))
    parts = [p for p in parts if len(p["group"])]
    if not parts:
        return AtRisk(pd.DataFrame(columns=_COLUMNS))
    cands = _candidate_frame(parts)
    workload_of = _workload_of(pods)
    for side in ("src", "dst"):
        names = _names(cands, side, workload_of)
        cands[f"{side}_name"] = pd.Series(names, dtype=object, index=cands.index)
    # Records of a connection coverage judges (its replies, L7 records, records of unknown
    # direction that match it either way) are counted there, denied or allowed: their
    # group needs no evaluation.
    judged = _judged(replayed)
    key_columns = ("src_name", "dst_name", "protocol", "port")
    keys = zip(*(cands[c].to_numpy(dtype=object) for c in key_columns), strict=True)
    of_judged = np.fromiter((k in judged for k in keys), dtype=bool, count=len(cands))
    of_judged &= cands["reason"].isin(_RECORD_REASONS).to_numpy()
    settled = pd.Series(of_judged).groupby(cands["group"].to_numpy()).transform("any")
    unchecked: set[int] = set()
    unjudged: set[int] = set()
    allowed = cands["allowed"].to_numpy(dtype=bool) | of_judged
    why = cands["why"].to_numpy(dtype=object).copy()
    rows = np.flatnonzero(cands["judge"].to_numpy() & ~settled.to_numpy(dtype=bool))
    if len(rows):
        sub = cands.iloc[rows].reset_index(drop=True)
        out = replay(
            sub[[*CONNECTION_KEY, "flows"]],
            evaluator,
            pods,
            cluster=cluster,
            judge_all=True,
        )
        allowed[rows] = out["allowed"].to_numpy(dtype=bool)
        why[rows] = out["reasons"].to_numpy(dtype=object)
        for k in np.flatnonzero([bool(u) for u in out["unjudged"].tolist()]):
            unjudged.add(int(sub["group"].iloc[k]))  # counted apart, not at risk
            allowed[rows[k]] = True
        node = sub["src_kind"].isin(EXEMPT_SOURCE_KINDS).to_numpy()
        denied = np.flatnonzero(node & ~allowed[rows])
        group = sub["group"].to_numpy()
        for k, own in zip(denied, where.own_nodes(sub, denied), strict=True):
            if own is None:  # not placed: counted as unchecked, not at risk
                unchecked.add(int(group[k]))
                allowed[rows[k]] = True
            elif own:
                allowed[rows[k]] = True
                why[rows[k]] = "node source: the destination pod's own node always reaches it"
    cands["allowed"], cands["why"] = allowed, why
    covered = cands.groupby("group", sort=False)["allowed"].transform("any")
    risky = cands[~covered.to_numpy(dtype=bool)]
    risky = risky.drop_duplicates("group", keep="first")  # a group's first candidate shows it
    return AtRisk(_summarize(risky), len(unchecked), unjudged=len(unjudged - unchecked))


def _judged(replayed: pd.DataFrame) -> set[tuple]:
    """(src, dst, protocol, port) of the connections coverage judges: records that belong to
    one of them (replies, L7) are counted there (denied or allowed), not as at risk."""
    if "src_workload" not in replayed.columns:
        return set()
    judged = replayed[~replayed["exempt"].astype(bool)]
    columns = [judged[c] for c in ("src_workload", "dst_workload", "protocol")]
    columns.append(judged["port"].astype(int))
    return set(zip(*(c.to_numpy(dtype=object) for c in columns), strict=True))


# --------------------------------------------------------------------------- candidates


def _side_columns(df: pd.DataFrame, frm: str, to: str) -> dict[str, Any]:
    return {f"{to}_{c}": df[f"{frm}_{c}"].to_numpy(dtype=object) for c in ENDPOINT_KEY}


def _candidates(
    df: pd.DataFrame,
    *,
    swap: bool,
    port: Any,
    reason: Any,
    group: np.ndarray,
    judge: bool | np.ndarray = True,
) -> dict[str, np.ndarray]:
    """The candidate columns of one kind of traffic (one frame of them all is built once,
    by :func:`_candidate_frame`: a frame per kind cost 1 ms each)."""
    n = len(df)
    cols: dict[str, Any] = {}
    cols.update(_side_columns(df, "dst" if swap else "src", "src"))
    cols.update(_side_columns(df, "src" if swap else "dst", "dst"))
    cols["protocol"] = df["protocol"].to_numpy(dtype=object)
    cols["port"] = np.asarray(port, dtype=np.int64)
    cols["flows"] = np.ones(n, dtype=np.int64)
    cols["records"] = df["records"].to_numpy(dtype=np.int64)
    cols["reason"] = reason if not isinstance(reason, str) else np.full(n, reason, dtype=object)
    cols["group"] = group
    cols["judge"] = np.broadcast_to(np.asarray(judge, dtype=bool), (n,)).copy()
    cols["allowed"] = np.zeros(n, dtype=bool)
    cols["why"] = np.full(n, "", dtype=object)
    cols["example_file"] = df["example_file"].to_numpy(dtype=object)
    cols["example_line"] = df["example_line"].to_numpy(dtype=object)
    return cols


def _candidate_frame(parts: list[dict[str, np.ndarray]]) -> pd.DataFrame:
    """The candidates of every kind in one frame, in order. Text stays in object arrays:
    pandas' own strings would be converted and iterated slowly. One index for the frame and
    every column: pandas then neither unions nor reindexes them."""
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    index = pd.RangeIndex(len(cols["group"]))
    return pd.DataFrame(
        {
            k: pd.Series(v, dtype=object, index=index) if v.dtype == np.dtype(object) else v
            for k, v in cols.items()
        },
        index=index,
    )


def _ports(values: pd.Series) -> np.ndarray:
    return values.fillna(NO_PORT).astype(np.int64).to_numpy()


class _Groups:
    """Group ids: the candidates of one piece of traffic share one (any allowed: covered)."""

    def __init__(self) -> None:
        self.next = 0

    def take(self, n: int) -> np.ndarray:
        start, self.next = self.next, self.next + n
        return np.arange(start, start + n, dtype=np.int64)


def _candidates_from_connections(exempt: pd.DataFrame, groups: _Groups) -> dict[str, np.ndarray]:
    """Connections reported rather than judged, each its own group."""
    reasons = exempt["reasons"].astype(str)
    kind = np.select(
        [
            reasons.str.startswith("node source").to_numpy(),
            reasons.str.startswith("pod labels unknown").to_numpy(),
            reasons.str.startswith(NAMED_REASON).to_numpy(),
            reasons.str.startswith("left out as noise").to_numpy(),
        ],
        ["node", "labels_unknown", "named", "noise"],
        default="",
    )
    if (kind == "").any():  # a new exemption must get an at-risk reason of its own
        raise ValueError(f"unexpected exemption: {reasons[kind == ''].iloc[0]}")
    df = exempt.reset_index(drop=True)
    if "example_file" not in df.columns:
        df = df.assign(example_file=None, example_line=None)
    return _candidates(
        df,
        swap=False,
        port=df["port"].astype(np.int64).to_numpy(),
        reason=kind.astype(object),
        group=groups.take(len(df)),
    )


def _anonymous(df: pd.DataFrame) -> pd.DataFrame:
    """Ends with no identity become non-pod ends with no address (match no selector or
    ipBlock); a pod end without its name cannot be looked up."""
    df = df.copy()
    for side in ("src", "dst"):
        is_pod = df[f"{side}_kind"].eq("pod")
        nameless = is_pod & (df[f"{side}_namespace"].isna() | df[f"{side}_pod"].isna())
        if nameless.any():  # rare; the assignments cost 1 ms even when they select nothing
            df.loc[nameless, f"{side}_kind"] = "unknown"
            df.loc[nameless, [f"{side}_namespace", f"{side}_pod"]] = None
    return df


def _candidates_from_aside(
    aside: pd.DataFrame,
    services: pd.DataFrame | None,
    replayed: pd.DataFrame,
    groups: _Groups,
) -> list[dict[str, np.ndarray]]:
    parts = []
    aside = _anonymous(aside)
    by = aside.groupby("reason", sort=True)
    for reason, rows in by:
        rows = rows.reset_index(drop=True)
        group = groups.take(len(rows))
        if reason == "reply":
            src_port = _ports(rows["src_port"])
            parts.append(_candidates(rows, swap=True, port=src_port, reason=reason, group=group))
        elif reason == "orientation":
            dst_port, src_port = _ports(rows["dst_port"]), _ports(rows["src_port"])
            parts.append(_candidates(rows, swap=False, port=dst_port, reason=reason, group=group))
            parts.append(_candidates(rows, swap=True, port=src_port, reason=reason, group=group))
        elif reason == "pre_dnat":
            parts.append(_pre_dnat(rows, services, replayed, group))
        else:
            port = _ports(rows["dst_port"])
            if reason in ("icmp", "no_port"):
                port = np.full(len(rows), NO_PORT, dtype=np.int64)
            parts.append(_candidates(rows, swap=False, port=port, reason=reason, group=group))
    return parts


def _key(row: Any, cols: list[str]) -> tuple:
    return tuple(None if pd.isna(v) else v for v in (getattr(row, c) for c in cols))


def _pre_dnat(
    rows: pd.DataFrame, services: pd.DataFrame | None, replayed: pd.DataFrame, group: np.ndarray
) -> dict[str, np.ndarray]:
    """A record to a Service address passes when a connection of the same client through
    the same Service was judged allowed; no judging of its own (the backend is unknown)."""
    src_cols = [f"src_{c}" for c in ENDPOINT_KEY]
    svc_cols = ["dst_service_namespace", "dst_service_name"]
    allowed_conns = {
        _key(r, list(CONNECTION_KEY))
        for r in replayed[replayed["allowed"] & ~replayed["exempt"]].itertuples(index=False)
    }
    reached: set[tuple] = set()
    if services is not None and len(services):
        for r in services.itertuples(index=False):
            if _key(r, list(CONNECTION_KEY)) in allowed_conns:
                reached.add(_key(r, src_cols + svc_cols))
    cols = _candidates(
        rows,
        swap=False,
        port=_ports(rows["dst_port"]),
        reason="pre_dnat",
        group=group,
        judge=False,
    )
    ok = np.array(
        [_key(r, src_cols + svc_cols) in reached for r in rows.itertuples(index=False)],
        dtype=bool,
    )
    cols["allowed"] = ok
    why = "no connection of this client through this Service reached an allowed backend"
    cols["why"] = np.where(ok, "", why).astype(object)
    return cols


# --------------------------------------------------------------------------- node sources


class _PodNodes:
    """Where pods run, to tell a pod's own node from another node."""

    def __init__(self, pods: pd.DataFrame, node_addresses: dict[str, tuple[str, ...]] | None):
        self.addresses: dict[tuple[str, str], set[str]] = {}
        if node_addresses is None or "node" not in pods.columns:
            return
        of_node: dict[str, set[str]] = {}
        for ip, names in node_addresses.items():
            for name in names:
                of_node.setdefault(name, set()).add(ip)
        hosts = pods["host_ip"] if "host_ip" in pods.columns else [None] * len(pods)
        for ns, pod, node, host in zip(
            pods["namespace"], pods["pod"], pods["node"], hosts, strict=True
        ):
            found = set(of_node.get(node, ())) if isinstance(node, str) else set()
            if isinstance(host, str):
                found.add(host)
            if found:
                self.addresses[(ns, pod)] = found

    def own_nodes(self, df: pd.DataFrame, rows: np.ndarray) -> list[bool | None]:
        """For each of ``rows`` of ``df``: True: the source is the destination pod's node;
        False: another node; None: the log and the inventory cannot say. (Column arrays,
        not ``df.iloc[row]``: building a row Series took 0.1 ms, 8,276 of them at 2,000
        workloads.)"""
        columns = ("src_reserved", "dst_kind", "dst_namespace", "dst_pod", "src_ip")
        values = [df[c].to_numpy(dtype=object)[rows] for c in columns]
        return [self._own_node(*v) for v in zip(*values, strict=True)]

    def _own_node(self, reserved: Any, dst_kind: Any, ns: Any, pod: Any, ip: Any) -> bool | None:
        if reserved == "host":
            return True
        if reserved == "remote-node":
            return False
        if dst_kind == "pod":
            found = self.addresses.get((ns, pod))
            if found is not None and isinstance(ip, str):
                return ip in found
        return None


# --------------------------------------------------------------------------- report


def _names(df: pd.DataFrame, side: str, workload_of: dict) -> list[str]:
    """The name of each row's ``side`` end. From object arrays: iterating the string
    columns themselves took 0.3 s per side at 2,000 workloads."""
    columns = (f"{side}_kind", f"{side}_namespace", f"{side}_pod", f"{side}_ip")
    out = []
    for kind, ns, pod, ip in zip(*(df[c].to_numpy(dtype=object) for c in columns), strict=True):
        if kind == "pod":
            out.append(workload_of.get((ns, pod), f"{ns}/{pod}"))
        elif isinstance(ip, str):
            out.append(ip)
        else:
            out.append(_NO_IDENTITY)
    return out


#: Reasons a whole connection carries (its replies and L7 records are the same traffic).
_CONNECTION_REASONS = ("node", "named", "labels_unknown", "noise")
#: Reasons of records that belong to a connection: counted with it when it is at risk.
_RECORD_REASONS = ("reply", "orientation", "l7")


def _fold_into_connections(grouped: pd.DataFrame) -> pd.DataFrame:
    """Records (replies, L7, unknown orientation) of a connection that is itself at risk
    count with that connection's row, not as a second piece of traffic."""
    key = ["src", "dst", "protocol", "port"]
    primary = grouped[grouped["reason"].isin(_CONNECTION_REASONS)]
    if not len(primary):
        return grouped
    rows = primary[key].itertuples(index=False)
    at = {tuple(k): i for i, k in zip(primary.index, rows, strict=True)}
    drop = []
    for i, row in grouped[grouped["reason"].isin(_RECORD_REASONS)].iterrows():
        j = at.get(tuple(row[key]))
        if j is not None:
            grouped.loc[j, "records"] += row["records"]
            drop.append(i)
    return grouped.drop(index=drop)


def _workload_of(pods: pd.DataFrame) -> dict:
    if "workload" not in pods.columns:
        return {}
    return dict(
        zip(zip(pods["namespace"], pods["pod"], strict=True), pods["workload"], strict=True)
    )


def _summarize(risky: pd.DataFrame) -> pd.DataFrame:
    if not len(risky):
        return pd.DataFrame(columns=_COLUMNS)
    df = pd.DataFrame(
        {
            "reason": risky["reason"].to_numpy(dtype=object),
            "src": risky["src_name"].to_numpy(dtype=object),
            "dst": risky["dst_name"].to_numpy(dtype=object),
            "protocol": risky["protocol"].to_numpy(dtype=object),
            "port": risky["port"].to_numpy(dtype=np.int64),
            "records": risky["records"].to_numpy(dtype=np.int64),
            "example_file": risky["example_file"].to_numpy(dtype=object),
            "example_line": risky["example_line"].to_numpy(dtype=object),
            "why": risky["why"].astype(str).to_numpy(dtype=object),
        }
    )
    order = {k: i for i, k in enumerate(REASONS)}
    df["example"] = [
        (f, int(line)) if isinstance(f, str) and not pd.isna(line) else ("\uffff", 0)
        for f, line in zip(df["example_file"], df["example_line"], strict=True)
    ]
    key = ["reason", "src", "dst", "protocol", "port"]
    grouped = (
        df.groupby(key, sort=False, dropna=False)
        .agg(
            records=("records", "sum"),
            example=("example", "min"),
            why=("why", "min"),
        )
        .reset_index()
    )
    grouped = _fold_into_connections(grouped)
    grouped["example_file"] = [None if f == "\uffff" else f for f, _ in grouped["example"]]
    grouped["example_line"] = [None if f == "\uffff" else line for f, line in grouped["example"]]
    grouped["rank"] = grouped["reason"].map(order)
    grouped = grouped.sort_values(
        ["rank", "records", "src", "dst", "protocol", "port"],
        ascending=[True, False, True, True, True, True],
        kind="mergesort",
    )
    return grouped[_COLUMNS].reset_index(drop=True)
