"""The DNS names each connection to a non-pod destination was reached by.

Two sources, both from the flow log:

* a record's own destination names (Hubble ``destination_names``, Calico ``dest_domains``)
  on the records that become the connection;
* DNS answers (Hubble ``l7.dns``: ``query`` and ``ips``): the client pod that got the
  answer reached the name through any of its addresses, anywhere in the capture. The
  client is the answer's destination on a reply record and its source otherwise.

Names are compared and kept lower case without the trailing dot. Both tables are sets of
distinct rows (plus answer counts), so partial trackers merge exactly in any grouping
(streaming batches, parallel workers): the union of the parts is the whole.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

#: Flow columns the tracker reads (the connections aggregator folds records by these too).
NAME_COLUMNS = ("dst_names", "dns_query", "dns_ips")
#: The columns of one DNS answer sighting: the client pod, an answer address, the name.
ANSWER_KEY = ["namespace", "pod", "ip", "name"]
#: Rows kept before they are folded together again (bounds memory); once the distinct rows
#: outnumber half of it, twice as many as they are.
_COMPACT_AT = 200_000


def normalize(name: str) -> str:
    """A DNS name as names are compared: lower case, no trailing dot."""
    return name.lower().rstrip(".")


def _normalized(names: pa.Array) -> pa.Array:
    return pc.replace_substring_regex(pc.utf8_lower(names), pattern=r"\.+$", replacement="")


def _text(t: pa.Table, name: str) -> pa.ChunkedArray:
    col = t.column(name)
    return pc.cast(col, pa.string()) if pa.types.is_dictionary(col.type) else col


def _exploded(keys: pa.Table, lists: pa.Array, value: str) -> pa.Table:
    """One row per list item: the row's ``keys`` and the item as column ``value``."""
    parents = pc.list_parent_indices(lists)
    return keys.take(parents).append_column(value, pc.list_flatten(lists))


class NameTracker:
    """Collects names per connection key and DNS answers per client pod, as record
    batches stream past; :meth:`names_of` answers per finished connection."""

    def __init__(self, key: Sequence[str]) -> None:
        #: the connection key columns (client, server, protocol, port)
        self.key = list(key)
        self._flows: list[pa.Table] = []
        self._answers: list[pa.Table] = []
        self._rows = 0
        self._limit = _COMPACT_AT

    def add_flows(self, keys: pa.Table, names: pa.ChunkedArray) -> None:
        """The destination names of records that became connections (``keys``: their
        connection key columns, text decoded; pod destinations are skipped)."""
        mask = pc.and_(pc.is_valid(names), pc.not_equal(keys.column("dst_kind"), "pod"))
        mask = pc.fill_null(mask, False)
        if not pc.any(mask).as_py():
            return
        t = keys.select(self.key).append_column("names", names).filter(mask).combine_chunks()
        rows = _exploded(t.select(self.key), t.column("names").chunk(0), "name")
        rows = rows.set_column(len(self.key), "name", _normalized(rows.column("name")))
        self._keep(self._flows, rows.filter(pc.not_equal(rows.column("name"), "")))

    def add_answers(self, t: pa.Table, weights: pa.ChunkedArray | None = None) -> None:
        """The DNS answers among flow records (any record with ``dns_ips`` and a query),
        each counted once, or ``weights`` times for folded rows."""
        ips = t.column("dns_ips")
        if ips.null_count == len(ips):
            return
        mask = pc.and_(pc.is_valid(ips), pc.is_valid(t.column("dns_query")))
        reply = pc.fill_null(t.column("is_reply"), False)
        side = {
            c: pc.if_else(reply, _text(t, f"dst_{c}"), _text(t, f"src_{c}"))
            for c in ("kind", "namespace", "pod")
        }
        mask = pc.and_(mask, pc.equal(side["kind"], "pod"))
        mask = pc.and_(mask, pc.and_(pc.is_valid(side["namespace"]), pc.is_valid(side["pod"])))
        mask = pc.fill_null(mask, False)
        if not pc.any(mask).as_py():
            return
        count = weights if weights is not None else pa.array([1] * len(ips), pa.int64())
        base = pa.table(
            {
                "namespace": side["namespace"],
                "pod": side["pod"],
                "name": _normalized(_text(t, "dns_query")),
                "answers": count,
                "ips": ips,
            }
        )
        base = base.filter(mask).combine_chunks()
        rows = _exploded(base.drop_columns(["ips"]), base.column("ips").chunk(0), "ip")
        self._keep(self._answers, rows.select([*ANSWER_KEY, "answers"]))

    def _keep(self, parts: list[pa.Table], rows: pa.Table) -> None:
        if rows.num_rows == 0:
            return
        parts.append(_folded(rows, self._keys_of(parts)))
        self._rows += parts[-1].num_rows
        if self._rows > self._limit:
            self._compact()

    def _keys_of(self, parts: list[pa.Table]) -> list[str]:
        return [*self.key, "name"] if parts is self._flows else ANSWER_KEY

    def _compact(self) -> None:
        for parts in (self._flows, self._answers):
            if len(parts) > 1:
                parts[:] = [_folded(pa.concat_tables(parts), self._keys_of(parts))]
        self._rows = sum(t.num_rows for t in (*self._flows, *self._answers))
        self._limit = max(_COMPACT_AT, 2 * self._rows)  # folding again costs what was added

    def merge(self, other: NameTracker) -> None:
        """Fold in another tracker's rows (sets and sums: any order gives the same)."""
        self._flows.extend(other._flows)
        self._answers.extend(other._answers)
        self._rows += other._rows
        if self._rows > self._limit:
            self._compact()

    def names_of(self, conns: Any) -> tuple[list[tuple[str, ...]], list[tuple[int, ...]]]:
        """Per connection (a DataFrame with the key columns): its names (sorted, distinct)
        and, for each, how many DNS answers gave the client pod that address under it (0
        when only a record's destination names said it)."""
        by_conn: dict[tuple, set[str]] = defaultdict(set)
        for t in self._flows:
            for row in t.to_pylist():
                by_conn[tuple(row[k] for k in self.key)].add(row["name"])
        answers: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for t in self._answers:
            for row in t.to_pylist():
                answers[(row["namespace"], row["pod"], row["ip"])][row["name"]] += row["answers"]
        names_out, counts_out = [], []
        columns = [conns[k] for k in self.key]
        for values in zip(*columns, strict=True):
            row = dict(zip(self.key, values, strict=True))
            key = tuple(_plain(v) for v in values)
            got = dict.fromkeys(by_conn.get(key, ()), 0)
            if row["dst_kind"] != "pod" and row["src_kind"] == "pod":
                for name, n in answers.get(
                    (row["src_namespace"], row["src_pod"], row["dst_ip"]), {}
                ).items():
                    got[name] = got.get(name, 0) + n
            names = tuple(sorted(got))
            names_out.append(names)
            counts_out.append(tuple(got[n] for n in names))
        return names_out, counts_out


def _plain(v: Any) -> Any:
    """A key value as Arrow gives it back (numpy integers as ``int``)."""
    return int(v) if hasattr(v, "dtype") and v.dtype.kind in "iu" else v


def _folded(rows: pa.Table, key: list[str]) -> pa.Table:
    """Distinct ``key`` rows, summing ``answers`` when there is such a column."""
    aggs = [("answers", "sum")] if "answers" in rows.column_names else []
    out = rows.group_by(key, use_threads=False).aggregate(aggs)
    return out.rename_columns(["answers" if n == "answers_sum" else n for n in out.column_names])


def union_names(
    names: Iterable[Sequence[str]], counts: Iterable[Sequence[int]]
) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The names of several connections as one: distinct, sorted, answer counts summed."""
    total: dict[str, int] = defaultdict(int)
    for ns, cs in zip(names, counts, strict=True):
        for name, n in zip(ns, cs, strict=True):
            total[name] += int(n)
    ordered = tuple(sorted(total))
    return ordered, tuple(total[n] for n in ordered)
