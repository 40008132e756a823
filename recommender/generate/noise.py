"""Confidence per connection, and leaving one-off noise out, in the open.

``--min-flows N`` leaves out connections seen fewer than N times; ``--min-age D`` leaves out
connections whose last sighting is less than D after the first. Nothing is dropped
silently: every connection left out comes back as a :class:`LeftOut` with its evidence and
the reason, for the summary.

The same rule applies to every connection, DNS and node sources included. DNS queries are
frequent, so they rarely fall under a threshold; and each workload that gets egress rules
still gets DNS to the resolver from synthesis whatever happened to its own DNS rows. Node
sources never become rules, so filtering them only moves them from "node sources" to "left
out" in the report; call :func:`split_noise` after setting them aside to keep them listed
as node sources. Resolvers are best found on the unfiltered table.

With the defaults (``min_flows=1``, no ``min_age``) nothing is left out, not even a row
that counted zero flows (an aggregated record can).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from ..options import SynthesisOptions


@dataclass(frozen=True)
class LeftOut:
    """One connection left out as noise, with the evidence it had."""

    src: str
    dst: str
    protocol: str
    port: int
    flows: int
    first_seen: datetime | None
    last_seen: datetime | None
    #: distinct clock hours / days with traffic (0 when the table does not say)
    hours: int
    days: int
    #: e.g. "fewer than 3 flows; seen over 0:02:00, less than 1:00:00"
    reason: str
    #: "workload" or the endpoint kind of an address (external, node, ...)
    src_type: str = ""
    dst_type: str = ""


def _timestamp(value: Any) -> datetime | None:
    if value is None:
        return None
    ts = pd.Timestamp(value)
    return None if pd.isna(ts) else ts.to_pydatetime(warn=False)


def _count(row: Any, name: str) -> int:
    value = _get(row, name)
    try:
        return 0 if value is None or pd.isna(value) else int(value)
    except (TypeError, ValueError):
        return 0


def _get(row: Any, name: str) -> Any:
    if isinstance(row, dict):
        return row.get(name)
    if isinstance(row, pd.Series):
        return row.get(name)
    return getattr(row, name, None)


def _span(first: datetime | None, last: datetime | None) -> timedelta | None:
    if first is None or last is None:
        return None
    return last - first


def _reasons(flows: int, span: timedelta | None, options: SynthesisOptions) -> list[str]:
    reasons = []
    if options.min_flows > 1 and flows < options.min_flows:
        reasons.append(f"fewer than {options.min_flows} flows")
    if options.min_age is not None:
        if span is None:
            reasons.append(f"first or last sighting unknown, cannot show {options.min_age}")
        elif span < options.min_age:
            reasons.append(f"seen over {span}, less than {options.min_age}")
    return reasons


def split_noise(
    wconns: pd.DataFrame, options: SynthesisOptions
) -> tuple[pd.DataFrame, list[LeftOut]]:
    """Rows passing ``flows >= min_flows`` and ``last_seen - first_seen >= min_age`` (both
    inclusive, ``min_age`` only when set), and the rest as :class:`LeftOut` entries sorted by
    (src, dst, protocol, port, src_type, dst_type). Kept rows keep their order and columns,
    with a fresh index; kept + left out is every input row. A row whose first or last
    sighting is unknown cannot show ``min_age`` and is left out when it is set."""
    if wconns.empty or (options.min_flows <= 1 and options.min_age is None):
        return wconns.reset_index(drop=True), []
    keep: list[bool] = []
    left_out: list[LeftOut] = []
    for row in wconns.itertuples(index=False):
        flows = _count(row, "flows")
        first, last = _timestamp(row.first_seen), _timestamp(row.last_seen)
        reasons = _reasons(flows, _span(first, last), options)
        keep.append(not reasons)
        if reasons:
            left_out.append(
                LeftOut(
                    src=str(row.src_id),
                    dst=str(row.dst_id),
                    protocol=str(row.protocol),
                    port=int(row.port),
                    flows=flows,
                    first_seen=first,
                    last_seen=last,
                    hours=_count(row, "hours"),
                    days=_count(row, "days"),
                    reason="; ".join(reasons),
                    src_type=str(row.src_type),
                    dst_type=str(row.dst_type),
                )
            )
    left_out.sort(key=lambda e: (e.src, e.dst, e.protocol, e.port, e.src_type, e.dst_type))
    kept = wconns[pd.Series(keep, index=wconns.index)].reset_index(drop=True)
    return kept, left_out


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def confidence(row: Any) -> dict[str, Any]:
    """Evidence of one connection for report.json: flows, first/last seen (ISO 8601, "Z"
    for UTC, None when unknown), distinct hours and days with traffic (0 when the table
    has no such column). ``row`` is an ``itertuples`` row, a Series, a dict or a
    :class:`LeftOut`."""
    return {
        "flows": _count(row, "flows"),
        "first_seen": _iso(_timestamp(_get(row, "first_seen"))),
        "last_seen": _iso(_timestamp(_get(row, "last_seen"))),
        "hours": _count(row, "hours"),
        "days": _count(row, "days"),
    }
