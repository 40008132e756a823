"""Orientation, de-duplication and aggregation: normalized flows -> connections.

A connection is (client endpoint, server endpoint, protocol, server port). Hubble reports
each packet class at several observation points on two nodes, so counting records would
count the same connection many times; ``flows`` here counts distinct 5-tuples instead.
Records that must never become rules (replies, unknown orientation, L7 duplicates,
denied traffic, ICMP, pre-DNAT service addresses) are set aside here and counted by reason;
those that still went through are kept, folded by endpoints and ports, for the at-risk
check (:mod:`recommender.at_risk`), each with an example file:line.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .connection_names import NAME_COLUMNS, NameTracker
from .folding import (
    EXAMPLE,
    FOLD_AT,
    FoldedRows,
    Numbering,
    SourceFiles,
    grouped,
    recoded,
    split_examples,
    with_column,
)
from .schema import CONNECTION_SCHEMA, POLICY_PROTOCOLS

if TYPE_CHECKING:  # pandas is imported where tables are built: ingest workers never need it
    import pandas as pd

#: Verdicts that mean the traffic went through (``audit``: it would be denied, but was not).
PASSING_VERDICTS = ("allowed", "redirected", "audit", "unknown")

_FLOW_COLUMNS = [
    "source_file",
    "source_record",
    "time_start",
    "time_end",
    "observer",
    "is_reply",
    "verdict",
    "protocol",
    "l7_protocol",
    "flows",
    "aggregated",
    "dst_service_namespace",
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
    *NAME_COLUMNS,
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


#: Reasons whose records still stand for traffic that went through: the at-risk check
#: (:mod:`recommender.at_risk`) replays them against the proposal. Denied records do not:
#: they were not allowed in the window.
ASIDE_REASONS = ("reply", "orientation", "l7", "icmp", "pre_dnat", "no_port", "no_identity")
#: Columns of :attr:`ConnectionSet.aside`, one row per distinct set-aside traffic shape.
ASIDE_KEY = [
    *(f"src_{c}" for c in ENDPOINT_KEY),
    *(f"dst_{c}" for c in ENDPOINT_KEY),
    "protocol",
    "src_port",
    "dst_port",
    "dst_service_namespace",
    "dst_service_name",
    "reason",
]
#: Columns of :attr:`ConnectionSet.services`: connections whose records named the Service
#: the client addressed (what a pre-DNAT record of that client and Service reached).
SERVICE_KEY = [*CONNECTION_KEY, "dst_service_namespace", "dst_service_name"]


@dataclass
class ConnectionSet:
    """Connections plus the accounting of the records that did not become one."""

    table: pd.DataFrame
    records_used: int = 0
    excluded: Counter = field(default_factory=Counter)
    #: Records set aside for a reason in ASIDE_REASONS, folded by ASIDE_KEY: ``records``,
    #: ``first_seen``, ``last_seen`` and an ``example_file``/``example_line``. Each keeps
    #: the ports ASIDE_PORTS says (the others are null).
    aside: pd.DataFrame | None = None
    #: Distinct SERVICE_KEY rows (see above).
    services: pd.DataFrame | None = None

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


#: The reasons :func:`excluded_by_class` decides (the first ones tested).
CLASS_REASONS = ("reply", "orientation", "l7", "denied", "icmp")


def excluded_by_class(
    is_reply: bool | None, l7_protocol: str | None, verdict: str | None, protocol: str | None
) -> bool:
    """Whether a record is set aside whatever its endpoints, ports and time: the scalar form
    of the CLASS_REASONS masks of :func:`_reason_masks` (a fast parser folds such records
    across time and the ports :func:`aside_ports_by_class` leaves out)."""
    return (
        is_reply is not False
        or l7_protocol is not None
        or verdict not in PASSING_VERDICTS
        or protocol not in POLICY_PROTOCOLS
    )


#: The ports a set-aside record keeps, by reason (bit 1: source port, bit 2: destination
#: port): what the at-risk check replays. A reply stands for the request it answers (its
#: source port is the server's); a record of unknown direction may be either; ICMP and
#: records without a port are judged without one.
ASIDE_PORTS = {
    "reply": 1,
    "orientation": 3,
    "l7": 2,
    "denied": 0,
    "icmp": 0,
    "pre_dnat": 2,
    "no_port": 0,
    "no_identity": 2,
}


def aside_ports_by_class(
    is_reply: bool | None, l7_protocol: str | None, verdict: str | None, protocol: str | None
) -> int:
    """ASIDE_PORTS of a record that :func:`excluded_by_class` sets aside, from the same
    fields, in the order the reasons are tested (a fast parser folds such records across
    the ports this leaves out)."""
    if is_reply:
        return ASIDE_PORTS["reply"]
    if is_reply is None:
        return ASIDE_PORTS["orientation"]
    if l7_protocol is not None:
        return ASIDE_PORTS["l7"]
    if verdict not in PASSING_VERDICTS:
        return ASIDE_PORTS["denied"]
    return ASIDE_PORTS["icmp"]


def _reason_masks(t: pa.Table) -> list[tuple[str, pa.ChunkedArray]]:
    """(reason key, mask) in the order tested; the first mask that holds wins."""

    def text(name: str) -> pa.ChunkedArray:
        col = t.column(name)
        return pc.cast(col, pa.string()) if pa.types.is_dictionary(col.type) else col

    is_reply = t.column("is_reply")
    masks = [
        ("reply", pc.fill_null(is_reply, False)),
        ("orientation", pc.is_null(is_reply)),
        ("l7", pc.is_valid(t.column("l7_protocol"))),
        ("denied", pc.invert(pc.is_in(text("verdict"), pa.array(PASSING_VERDICTS)))),
        ("icmp", pc.invert(pc.is_in(text("protocol"), pa.array(POLICY_PROTOCOLS)))),
        # A service name on a destination that is neither a pod nor a node (the API
        # server's endpoints are nodes) means the address is still the ClusterIP.
        (
            "pre_dnat",
            pc.and_(
                pc.is_valid(t.column("dst_service_name")),
                pc.invert(pc.is_in(text("dst_kind"), pa.array(["pod", "node"]))),
            ),
        ),
        ("no_port", pc.is_null(t.column("dst_port"))),
    ]
    anonymous = None
    for side in ("src", "dst"):
        is_pod = pc.equal(text(f"{side}_kind"), "pod")
        missing_name = pc.or_(
            pc.is_null(t.column(f"{side}_namespace")), pc.is_null(t.column(f"{side}_pod"))
        )
        side_anonymous = pc.if_else(is_pod, missing_name, pc.is_null(t.column(f"{side}_ip")))
        anonymous = side_anonymous if anonymous is None else pc.or_(anonymous, side_anonymous)
    masks.append(("no_identity", anonymous))
    return [(key, pc.fill_null(mask, False)) for key, mask in masks]


#: Columns of a folded batch (FLOW_SCHEMA plus these), where one row stands for several
#: records that agree on every column :data:`COLUMNS_READ` names and on the hour of their
#: times (records set aside by :func:`excluded_by_class` need only agree on their class,
#: ports and what the pod bookkeeping reads: endpoints and addresses): how many records, the row
#: number (from the batch's first record) of the latest of them, and its time
#: (``time_start`` is the earliest time, ``time_end`` the latest end). A fast parser folds
#: records this way so that fewer rows reach the Arrow kernels here.
FOLDED_RECORDS = "folded_records"
FOLDED_RANK_ROW = "folded_rank_row"
FOLDED_TIME_LAST = "folded_time_last"
FOLDED_COLUMNS = (FOLDED_RECORDS, FOLDED_RANK_ROW, FOLDED_TIME_LAST)

#: What one batch's connection rows are folded by first (see
#: :meth:`StreamingAggregator._facts_of`).
_BATCH_KEY = [
    *CONNECTION_KEY,
    "src_port_t",
    "observer",
    "aggregated",
    "hour",
    "dst_service_namespace",
    "dst_service_name",
]
_NS_PER_HOUR = 3_600_000_000_000
_BATCH_AGGS = [
    ("records", "sum"),
    ("flows", "sum"),
    ("first_seen", "min"),
    ("last_seen", "max"),
    (EXAMPLE, "min"),
]
#: Connection facts (see :meth:`StreamingAggregator._facts_of`), each a connection's number
#: (``conn``), a kind, and a value: the row per connection (its figures; no value) and its
#: distinct client ports, hours, observers and Services (these two by their numbers).
_SUMMARY, _PORT, _HOUR, _OBSERVER, _SERVICE = range(5)
_FACT_KEY = ["conn", "kind", "value"]
_FACT_AGGS = [
    ("records", "sum"),
    ("flows_aggr", "sum"),
    ("first_seen", "min"),
    ("last_seen", "max"),
    (EXAMPLE, "min"),
]
_SERVICE_COLUMNS = ["dst_service_namespace", "dst_service_name"]
_REASON_KEYS = list(EXCLUSION_REASONS)
_CODE = {key: i for i, key in enumerate(_REASON_KEYS)}
_ASIDE_CODES = np.asarray([_CODE[k] for k in ASIDE_REASONS], dtype=np.int8)
_KEPT_PORTS = np.asarray([ASIDE_PORTS[k] for k in _REASON_KEYS], dtype=np.int8)
_ASIDE_AGGS = [
    ("records", "sum"),
    ("first_seen", "min"),
    ("last_seen", "max"),
    (EXAMPLE, "min"),
]
#: A set-aside traffic shape is ASIDE_KEY but for the ports: set-aside rows are folded by
#: its number (``shape``) and the ports.
_ASIDE_SHAPE = [c for c in ASIDE_KEY if c not in ("src_port", "dst_port")]
_ASIDE_FOLD_KEY = ["shape", "src_port", "dst_port"]

_POD_SIDE_COLUMNS = (
    "kind",
    "namespace",
    "pod",
    "ip",
    "labels",
    "namespace_labels",
    "workload_kind",
    "workload_name",
    "service_account",
)
#: Every flow column the aggregator reads: records that agree on these (and on the hour of
#: their times) count the same, whatever their other columns say (see FOLDED_RECORDS);
#: ``source_record`` only names an example line (a folded row gives its first record's).
COLUMNS_READ = frozenset(
    {*_FLOW_COLUMNS, "src_name_aggr", "dst_name_aggr"}
    | {f"{side}_{c}" for side in ("src", "dst") for c in _POD_SIDE_COLUMNS}
)
#: What the record ranked highest says about a pod.
_POD_ENTRY_FIELDS = (
    "labels",
    "namespace_labels",
    "workload_kind",
    "workload_name",
    "service_account",
)
POD_COLUMNS = [
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


class StreamingAggregator:
    """Fold flow batches into connections and pods as they stream past.

    Memory holds the distinct facts of each connection (its figures, and apart from them
    its client ports, hours, observers and Services: see :meth:`_facts_of`), one row per
    set-aside traffic shape and one entry per pod, never the records themselves nor
    anything per file: the same connections in more records, files or hours take no more
    rows (DESIGN §9). Client ports are bounded by the port space (65,536 per connection).
    """

    def __init__(self, fold_at: int = FOLD_AT) -> None:
        """``fold_at``: rows added before the held rows are folded again (see
        :class:`recommender.folding.FoldedRows`)."""
        self.excluded: Counter = Counter()
        self.records_used = 0
        self._files = SourceFiles()
        self._conns = Numbering(CONNECTION_KEY)
        self._observers = Numbering(["observer"])
        self._services = Numbering(_SERVICE_COLUMNS)
        self._shapes = Numbering(_ASIDE_SHAPE)
        self._facts = FoldedRows(_FACT_KEY, _FACT_AGGS, self._files, fold_at)
        self._pods: dict[tuple[str, str], dict] = {}
        self._row = 0
        self._aside = FoldedRows(_ASIDE_FOLD_KEY, _ASIDE_AGGS, self._files, fold_at)
        self._names = NameTracker(CONNECTION_KEY)

    def rows_held(self) -> tuple[int, int]:
        """(connection fact rows, set-aside rows) held once folded: what memory grows with
        (one row per distinct fact, whatever the records, files or hours behind it)."""
        facts, aside = self._facts.table(), self._aside.table()
        return (0 if facts is None else facts.num_rows, 0 if aside is None else aside.num_rows)

    def add(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Fold in a batch of flow rows: FLOW_SCHEMA rows, one per record, or folded rows
        (see :data:`FOLDED_COLUMNS`), each standing for several records."""
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        folded = FOLDED_RECORDS in table.column_names
        weights = table.column(FOLDED_RECORDS) if folded else None
        records = (pc.sum(weights).as_py() or 0) if folded else table.num_rows
        table = _with_aggregate_names(table)
        self._add_pods(table)
        self._names.add_answers(table, weights)
        codes = np.full(table.num_rows, -1, dtype=np.int8)
        w = None if weights is None else weights.to_numpy(zero_copy_only=False)
        for i, (key, mask) in enumerate(_reason_masks(table)):
            hit = mask.to_numpy(zero_copy_only=False) & (codes < 0)
            codes[hit] = i
            n = int(hit.sum()) if w is None else int(w[hit].sum())
            if n:
                self.excluded[EXCLUSION_REASONS[key]] += n
        remaining = pa.array(codes < 0)
        aside = np.isin(codes, _ASIDE_CODES)
        if aside.any():
            self._add_aside(table.filter(pa.array(aside)), codes[aside], weights, aside)
        self._row += records
        selected = [*_FLOW_COLUMNS, FOLDED_RECORDS] if folded else _FLOW_COLUMNS
        used = _as_strings(table.select(selected).filter(remaining))
        if used.num_rows == 0:
            return
        if folded:
            counts = used.column(FOLDED_RECORDS)
            self.records_used += pc.sum(counts).as_py() or 0
        else:
            counts = pa.chunked_array([pa.array([1] * used.num_rows, pa.int64())], pa.int64())
            self.records_used += used.num_rows
        self._facts.add(self._facts_of(self._connection_rows(used, counts, folded)))

    def _connection_rows(self, used: pa.Table, counts: pa.ChunkedArray, folded: bool) -> pa.Table:
        """Rows that become connections -> one batch's rows folded by _BATCH_KEY."""
        cols = _endpoint_columns(used)
        cols["protocol"] = used.column("protocol")
        cols["port"] = pc.cast(used.column("dst_port"), pa.int64())
        self._names.add_flows(pa.table({k: cols[k] for k in CONNECTION_KEY}), used["dst_names"])
        # Client ports are what tells connections apart; aggregated rows bring their count.
        cols["src_port_t"] = pc.fill_null(pc.cast(used.column("src_port"), pa.int64()), -1)
        cols["observer"] = pc.fill_null(used.column("observer"), "")
        cols["aggregated"] = used.column("aggregated")
        cols["records"] = counts
        # A folded row stands for ``counts`` records that each carry the same ``flows``.
        cols["flows"] = (
            pc.multiply(used.column("flows"), counts) if folded else used.column("flows")
        )
        # Clock hours with traffic: how regular a connection is (a rule's confidence).
        epoch_ns = pc.cast(pc.cast(used.column("time_start"), pa.timestamp("ns")), pa.int64())
        cols["hour"] = pc.divide(epoch_ns, _NS_PER_HOUR)
        cols["first_seen"] = used.column("time_start")
        cols["last_seen"] = used.column("time_end")
        cols[EXAMPLE] = self._files.examples(used["source_file"], used["source_record"])
        cols["dst_service_namespace"] = used.column("dst_service_namespace")
        cols["dst_service_name"] = used.column("dst_service_name")
        return grouped(pa.table(cols), _BATCH_KEY, _BATCH_AGGS)

    def _add_aside(
        self, t: pa.Table, codes: np.ndarray, weights: pa.ChunkedArray | None, mask: np.ndarray
    ) -> None:
        """Fold set-aside records (see ConnectionSet.aside) into the aside rows."""
        t = _as_strings(t.select([*_FLOW_COLUMNS]))
        cols: dict[str, pa.Array | pa.ChunkedArray] = _endpoint_columns(t)
        reason = np.asarray(_REASON_KEYS, dtype=object)[codes]
        cols["protocol"] = t.column("protocol")
        kept = _KEPT_PORTS[codes]
        keep_src, keep_dst = (kept & 1).astype(bool), (kept & 2).astype(bool)
        null = pa.scalar(None, pa.int32())
        cols["src_port"] = pc.if_else(pa.array(keep_src), t.column("src_port"), null)
        cols["dst_port"] = pc.if_else(pa.array(keep_dst), t.column("dst_port"), null)
        dnat = pa.array(codes == _CODE["pre_dnat"])
        for c in ("dst_service_namespace", "dst_service_name"):
            cols[c] = pc.if_else(dnat, t.column(c), pa.scalar(None, pa.string()))
        cols["reason"] = pa.array(reason.tolist(), pa.string())
        if weights is None:
            cols["records"] = pa.array(np.ones(t.num_rows, dtype=np.int64))
        else:
            cols["records"] = pa.array(weights.to_numpy(zero_copy_only=False)[mask])
        cols["first_seen"] = t.column("time_start")
        cols["last_seen"] = t.column("time_end")
        cols[EXAMPLE] = self._files.examples(t["source_file"], t["source_record"])
        rows = pa.table(cols)
        rows = rows.append_column("shape", self._shapes.number(rows.select(_ASIDE_SHAPE)))
        self._aside.add(
            grouped(
                rows.select([*_ASIDE_FOLD_KEY, *(c for c, _ in _ASIDE_AGGS)]),
                _ASIDE_FOLD_KEY,
                _ASIDE_AGGS,
            )
        )

    def _facts_of(self, rows: pa.Table) -> pa.Table:
        """One batch's connection rows (folded by _BATCH_KEY) -> its connection facts: a
        row per connection with its figures (records, what aggregated rows count as flows,
        first and last seen, example), and a row per distinct value of each of a client
        port of a non-aggregated row, an hour, a named observer and a Service (figures
        null). Their cross product, a row per client port *and* hour *and* observer (and
        file), is what grew with the records."""
        aggregated = rows.column("aggregated")
        conn = self._conns.number(rows.select(CONNECTION_KEY))
        figures = {
            "records": rows.column("records"),
            "flows_aggr": pc.if_else(aggregated, rows["flows"], pa.scalar(0, pa.int64())),
            "first_seen": rows.column("first_seen"),
            "last_seen": rows.column("last_seen"),
            EXAMPLE: rows.column(EXAMPLE),
        }
        parts = [_fact_rows(conn, _SUMMARY, pa.nulls(rows.num_rows, pa.int64()), figures)]
        port = pc.if_else(aggregated, pa.scalar(None, pa.int64()), rows["src_port_t"])
        for kind, values in ((_PORT, port), (_HOUR, rows.column("hour"))):
            valid = pc.fill_null(pc.is_valid(values), False)
            parts.append(_fact_rows(conn.filter(valid), kind, values.filter(valid), figures))
        named = pc.fill_null(pc.not_equal(rows.column("observer"), ""), False)
        observers = self._observers.number(rows.filter(named))
        parts.append(_fact_rows(conn.filter(named), _OBSERVER, observers, figures))
        named = pc.is_valid(rows.column("dst_service_name"))
        services = self._services.number(rows.filter(named))
        parts.append(_fact_rows(conn.filter(named), _SERVICE, services, figures))
        return grouped(pa.concat_tables(parts), _FACT_KEY, _FACT_AGGS)

    def shift_lines(self, offset: int) -> None:
        """Add ``offset`` to every example line: for an aggregator that read a part of a
        file starting at line ``offset + 1`` (a parallel range)."""
        if offset:
            self._facts.shift_lines(offset)
            self._aside.shift_lines(offset)

    def merge(self, other: StreamingAggregator) -> None:
        """Fold in an aggregator that saw the records *after* all of this one's.

        The result is the one a single aggregator would give for this one's batches
        followed by ``other``'s: folded rows are folded again (its file numbers renumbered
        here), and pod entries keep the same rank rule, ``other``'s row numbers shifted
        past this one's rows.
        """
        self.excluded.update(other.excluded)
        self.records_used += other.records_used
        self._names.merge(other._names)
        files = self._files.absorb(other._files)
        shapes = self._shapes.absorb(other._shapes)
        self._aside.extend(other._aside, lambda t: _recoded(t, files, {"shape": shapes}))
        numbers = {
            "conn": self._conns.absorb(other._conns),
            _OBSERVER: self._observers.absorb(other._observers),
            _SERVICE: self._services.absorb(other._services),
        }
        self._facts.extend(other._facts, lambda t: _recoded(t, files, numbers))
        offset = self._row
        for key, theirs in other._pods.items():
            has_labels, time, row = theirs["rank"]
            rank = (has_labels, time, row + offset)
            entry = self._pods.get(key)
            if entry is None:
                entry = self._pods[key] = dict(theirs)
                entry["ips"] = set(theirs["ips"])
                entry["rank"] = rank
                continue
            entry["first_seen"] = min(entry["first_seen"], theirs["first_seen"])
            entry["last_seen"] = max(entry["last_seen"], theirs["last_seen"])
            entry["ips"] |= theirs["ips"]
            if entry["rank"] is None or rank > entry["rank"]:
                entry["rank"] = rank
                for c in _POD_ENTRY_FIELDS:
                    entry[c] = theirs[c]
        self._row += other._row

    def partial_table(self) -> pa.Table | None:
        """The connection facts folded into one table (None when there are none)."""
        return self._facts.table()

    def set_partial_table(self, table: pa.Table | None) -> None:
        """Replace the connection facts (with a table from :meth:`partial_table`)."""
        self._facts.replace(table)

    def _add_pods(self, table: pa.Table) -> None:
        n = table.num_rows
        positions = pa.array(np.arange(n, dtype=np.int64))
        if FOLDED_RECORDS in table.column_names:
            # A folded row: its records' first and last times, and the rank (last time,
            # row) of the latest of them, as a row per record would give.
            last = table.column(FOLDED_TIME_LAST)
            rows = pc.add(table.column(FOLDED_RANK_ROW), pa.scalar(self._row, pa.int64()))
        else:
            last = table.column("time_start")
            rows = pa.array(np.arange(self._row, self._row + n, dtype=np.int64))
        for side in ("src", "dst"):
            t = table.select([f"{side}_{c}" for c in _POD_SIDE_COLUMNS])
            t = t.rename_columns(list(_POD_SIDE_COLUMNS))
            mask = pc.and_(
                pc.equal(pc.cast(t.column("kind"), pa.string()), "pod"),
                pc.and_(pc.is_valid(t.column("namespace")), pc.is_valid(t.column("pod"))),
            )
            # Only the columns the spans need are filtered and sorted; the other columns
            # are read for the one row picked per pod.
            keys = pa.table(
                {
                    "namespace": t.column("namespace"),
                    "pod": t.column("pod"),
                    "ip": t.column("ip"),
                    "first": table.column("time_start"),
                    "time": last,
                    "row": rows,
                    "pos": positions,
                    "has_labels": pc.is_valid(t.column("labels")),
                }
            )
            keys = _as_strings(keys.filter(pc.fill_null(mask, False)))
            if keys.num_rows == 0:
                continue
            # The latest record with labels speaks for the pod (labels rarely change).
            order = pc.sort_indices(
                keys, [("has_labels", "ascending"), ("time", "ascending"), ("row", "ascending")]
            )
            span = (
                keys.take(order)
                .group_by(["namespace", "pod"], use_threads=False)
                .aggregate(
                    [
                        ("first", "min"),
                        ("time", "max"),
                        ("time", "last"),
                        ("row", "last"),
                        ("pos", "last"),
                        ("ip", "distinct"),
                    ]
                )
            )
            picked = _as_strings(t.take(span.column("pos_last"))).to_pydict()
            spans = span.to_pydict()
            spans["time_min"] = spans.pop("first_min")
            for i, (ns, pod) in enumerate(zip(spans["namespace"], spans["pod"], strict=True)):
                has_labels = picked["labels"][i] is not None
                rank = (has_labels, spans["time_last"][i], spans["row_last"][i])
                entry = self._pods.get((ns, pod))
                ips = {ip for ip in spans["ip_distinct"][i] if ip is not None}
                if entry is None:
                    entry = self._pods[(ns, pod)] = {
                        "first_seen": spans["time_min"][i],
                        "last_seen": spans["time_max"][i],
                        "ips": ips,
                        "rank": None,
                    }
                else:
                    entry["first_seen"] = min(entry["first_seen"], spans["time_min"][i])
                    entry["last_seen"] = max(entry["last_seen"], spans["time_max"][i])
                    entry["ips"] |= ips
                if entry["rank"] is None or rank > entry["rank"]:
                    entry["rank"] = rank
                    for c in _POD_ENTRY_FIELDS:
                        entry[c] = picked[c][i]

    def connections(self) -> ConnectionSet:
        import pandas as pd

        aside = self._aside_frame()
        facts = self._facts.ranked_table()
        if facts is None:
            empty = pd.DataFrame({f.name: pd.Series(dtype=object) for f in CONNECTION_SCHEMA})
            services = pd.DataFrame({c: pd.Series(dtype=object) for c in SERVICE_KEY})
            return ConnectionSet(empty, 0, Counter(self.excluded), aside, services)
        services = self._services_frame(facts)
        key = list(CONNECTION_KEY)
        # One 5-tuple seen at several observation points or nodes is one connection: a
        # connection's flows are its distinct client ports, plus what aggregated rows count.
        # Each fact holds one kind of value, the others null: one grouping computes them all.
        kind = facts.column("kind")
        value = facts.column("value")
        for name, code in (("client_port", _PORT), ("hour", _HOUR), ("observer", _OBSERVER)):
            mine = pc.equal(kind, pa.scalar(code, pa.int8()))
            facts = facts.append_column(name, pc.if_else(mine, value, None))
        valid = pc.CountOptions(mode="only_valid")
        grouped = facts.group_by("conn", use_threads=False).aggregate(
            [
                ("records", "sum"),
                ("first_seen", "min"),
                ("last_seen", "max"),
                ("hour", "distinct"),
                ("client_port", "count_distinct", valid),
                ("flows_aggr", "sum"),
                ("observer", "count_distinct", valid),
                (EXAMPLE, "min"),
            ]
        )
        keys = self._conns.table().take(grouped.column("conn"))
        out = pa.table(
            [*keys.columns, *grouped.drop_columns(["conn", f"{EXAMPLE}_min"]).columns],
            names=[
                *keys.column_names,
                *grouped.drop_columns(["conn", f"{EXAMPLE}_min"]).column_names,
            ],
        ).to_pandas()
        out["active_hours"] = [tuple(sorted(h)) for h in out.pop("hour_distinct")]
        out["flows"] = out.pop("client_port_count_distinct") + out.pop("flows_aggr_sum")
        examples = grouped.column(f"{EXAMPLE}_min").combine_chunks()
        files = self._files.by_rank()
        out["example_file"], out["example_line"] = split_examples(examples, files)
        out = out.rename(
            columns={
                "records_sum": "records",
                "first_seen_min": "first_seen",
                "last_seen_max": "last_seen",
                "observer_count_distinct": "observers",
            }
        )
        for col in key:
            out[col] = out[col].astype(object).where(out[col].notna(), None)
        out["verdict"] = "allowed"
        out["dst_names"], out["dst_name_answers"] = self._names.names_of(out)
        out["flows"] = out["flows"].astype("int64")
        out["records"] = out["records"].astype("int64")
        out["observers"] = out["observers"].astype("int64")
        out["port"] = out["port"].astype("int32")
        out = out[[f.name for f in CONNECTION_SCHEMA]]
        order = key
        out = out.sort_values(order, na_position="first", kind="mergesort")
        return ConnectionSet(
            out.reset_index(drop=True), self.records_used, Counter(self.excluded), aside, services
        )

    def _services_frame(self, facts: pa.Table) -> pd.DataFrame:
        """ConnectionSet.services: the distinct connections whose records named a Service
        (any order: it is a set)."""
        named = facts.filter(pc.equal(facts.column("kind"), pa.scalar(_SERVICE, pa.int8())))
        conns = self._conns.table().take(named.column("conn"))
        services = self._services.table().take(named.column("value"))
        table = pa.table([*conns.columns, *services.columns], names=SERVICE_KEY)
        return _frame(_plain_columns(table, SERVICE_KEY), SERVICE_KEY)

    def _aside_frame(self) -> pd.DataFrame:
        """ConnectionSet.aside: the set-aside rows, one per ASIDE_KEY."""
        import pandas as pd

        columns = [*ASIDE_KEY, "records", "first_seen", "last_seen", "example_file"]
        columns.append("example_line")
        t = self._aside.ranked_table()
        if t is None:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        t = t.combine_chunks()
        shapes = self._shapes.table().take(t.column("shape"))
        data = _plain_columns(shapes, _ASIDE_SHAPE)
        data.update(_plain_columns(t, ["src_port", "dst_port"]))
        data["records"] = t.column("records").to_numpy()
        times = t.select(["first_seen", "last_seen"]).to_pandas()
        data["first_seen"] = times["first_seen"]
        data["last_seen"] = times["last_seen"]
        examples = t.column(EXAMPLE).combine_chunks()
        data["example_file"], data["example_line"] = split_examples(examples, self._files.by_rank())
        return _frame(data, columns)  # in grouping order: the at-risk check sorts its report

    def pods(self) -> pd.DataFrame:
        import pandas as pd

        if not self._pods:
            return pd.DataFrame(columns=POD_COLUMNS)
        rows = []
        for (ns, pod), e in sorted(self._pods.items()):
            rows.append(
                {
                    "namespace": ns,
                    "pod": pod,
                    # None = unknown (the log gave the pod no Kubernetes identity), {} = none
                    "labels": dict(e["labels"]) if e["labels"] is not None else None,
                    "namespace_labels": dict(e["namespace_labels"] or {}),
                    "workload_kind": e["workload_kind"],
                    "workload_name": e["workload_name"],
                    "service_account": e["service_account"],
                    "ips": tuple(sorted(e["ips"])),
                    "first_seen": e["first_seen"],
                    "last_seen": e["last_seen"],
                }
            )
        out = pd.DataFrame(rows, columns=POD_COLUMNS)
        for col in ("first_seen", "last_seen"):
            out[col] = pd.to_datetime(out[col], utc=True)
        return out


def _fact_rows(conn: pa.Array, kind: int, values: pa.Array, figures: dict) -> pa.Table:
    """Connection facts of one kind: the figures for _SUMMARY rows, null for the others."""
    n = len(conn)
    cols = {"conn": conn, "kind": pa.array(np.full(n, kind, dtype=np.int8)), "value": values}
    for name, column in figures.items():
        cols[name] = column if kind == _SUMMARY else pa.nulls(n, column.type)
    return pa.table(cols)


def _recoded(t: pa.Table, files: np.ndarray, numbers: dict) -> pa.Table:
    """Folded rows of another aggregator with this one's numbers: ``files`` maps its file
    numbers (in examples), ``numbers`` its numbers by column (``conn``, ``shape``) or, for
    the ``value`` of facts, by kind."""
    t = with_column(t, EXAMPLE, recoded(t.column(EXAMPLE), files))
    for name, table in numbers.items():
        if np.array_equal(table, np.arange(len(table))):
            continue  # numbered alike (nothing to renumber, or the same keys in order)
        if isinstance(name, str):
            t = with_column(t, name, pc.take(pa.array(table, pa.int64()), t.column(name)))
            continue
        mine = pc.equal(t.column("kind"), pa.scalar(name, pa.int8()))
        value = t.column("value")
        renumbered = pc.take(pa.array(table, pa.int64()), pc.if_else(mine, value, 0))
        t = with_column(t, "value", pc.if_else(mine, renumbered, value))
    return t


def _frame(data: dict, columns: list[str]) -> pd.DataFrame:
    """A DataFrame whose text columns stay object arrays (None for null), not converted to
    pandas strings and back."""
    import pandas as pd

    return pd.DataFrame(
        {
            c: pd.Series(data[c], dtype=object)
            if getattr(data[c], "dtype", None) == np.dtype(object)
            else data[c]
            for c in columns
        },
        columns=columns,
    )


def _plain_columns(t: pa.Table, names: list[str]) -> dict:
    """Columns as numpy arrays, which is how the at-risk check reads endpoint keys: text as
    objects with None for nulls, each distinct value one shared ``str`` (endpoint keys
    repeat a lot), numbers as floats with NaN for nulls."""
    out = {}
    for name in names:
        col = t.column(name).combine_chunks()
        if pa.types.is_dictionary(col.type):
            col = pc.cast(col, pa.string())
        if not pa.types.is_string(col.type):
            out[name] = col.to_numpy(zero_copy_only=False)
            continue
        encoded = pc.dictionary_encode(col)
        values = np.append(encoded.dictionary.to_numpy(zero_copy_only=False), None)
        positions = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
        out[name] = values[positions]
    return out


def _endpoint_columns(t: pa.Table) -> dict:
    """The ENDPOINT_KEY columns of both sides: pods are identified by name (their IP
    churns), everything else by address (or by the name of the set it stands for)."""
    cols = {}
    for side in ("src", "dst"):
        is_pod = pc.fill_null(pc.equal(t.column(f"{side}_kind"), "pod"), False)
        for c in ENDPOINT_KEY:
            cols[f"{side}_{c}"] = t.column(f"{side}_{c}")
        cols[f"{side}_ip"] = pc.if_else(
            is_pod, pa.scalar(None, pa.string()), t.column(f"{side}_ip")
        )
        cols[f"{side}_pod"] = pc.if_else(
            is_pod, t.column(f"{side}_pod"), pa.scalar(None, pa.string())
        )
    return cols


def _with_aggregate_names(table: pa.Table) -> pa.Table:
    """Pods known only by an aggregated name (Calico `frontend-7f9c5d8b6-*`, Goldmane)
    stand for the pods behind it: the name is their identity, never a pod name in YAML.
    Other endpoints known only by a name (Calico ``pub``/``pvt``, a NetworkSet or host
    endpoint without its address) take the name where the address would be: see
    :mod:`recommender.address_sets`."""
    for side in ("src", "dst"):
        pod, aggr = table.column(f"{side}_pod"), table.column(f"{side}_name_aggr")
        if aggr.null_count == len(aggr):
            continue
        is_pod = pc.fill_null(
            pc.equal(pc.cast(table.column(f"{side}_kind"), pa.string()), "pod"), False
        )
        filled = pc.if_else(pc.and_(is_pod, pc.is_null(pod)), aggr, pod)
        table = table.set_column(table.schema.get_field_index(f"{side}_pod"), f"{side}_pod", filled)
        ip = table.column(f"{side}_ip")
        named = pc.if_else(pc.and_(pc.invert(is_pod), pc.is_null(ip)), aggr, ip)
        table = table.set_column(table.schema.get_field_index(f"{side}_ip"), f"{side}_ip", named)
    return table


def build_connections(flows: pa.Table) -> ConnectionSet:
    """Aggregate request records into one row per connection (see module docstring)."""
    agg = StreamingAggregator()
    agg.add(flows)
    return agg.connections()


def observed_pods(flows: pa.Table) -> pd.DataFrame:
    """Every pod seen on either side of any record, with its latest labels.

    Replies count too: they carry the same endpoint metadata. Returns one row per
    (namespace, pod) with labels and namespace labels as dicts.
    """
    agg = StreamingAggregator()
    agg._add_pods(_with_aggregate_names(flows))
    return agg.pods()
