"""How complete the observation window looks: the question every flow-based proposal
leaves open (a weekly job, a monthly report, a failover path never seen).

Computed from an observation's pod-level connection table and its pods
(:attr:`recommender.results.Observation.window`), never from the proposal, so every
proposal of one capture reports the same figures. The unit is the **workload
connection** — (source, destination, protocol, port) with a pod end standing for its
workload and any other end for its address — which is what a rule is about: a new
replica of a known workload talking to a known peer is nothing new. Time is cut in UTC
clock hours, the buckets of the connection table's ``active_hours``.

- **Discovery curve**: per clock hour, how many workload connections were first seen in it
  (``new``) and how many were known by its end (``total``); report.json lists the hours
  with something new (the steps of the curve), :meth:`Window.curve_table` every hour.
- **Chance the next connection is new**: the estimated coverage deficit of incidence data
  (Chao & Jost 2012, *Ecology* 93:2533; Chao et al. 2014, *Ecological Monographs* 84:45;
  the Good–Turing frequency of singletons corrected with the doubletons), the hours with
  traffic being the sampling units::

      1 - C = (Q1 / U) * ((T - 1) * Q1 / ((T - 1) * Q1 + 2 * Q2))

  T: hours in which any connection was active; U: connection-hours (the sum over
  connections of the hours each was active in); Q1, Q2: connections active in exactly one
  and exactly two hours. Without doubletons the correction is Chao's
  ``(T - 1) * (Q1 - 1) / ((T - 1) * (Q1 - 1) + 2)``; a window of one hour gives plain
  Good–Turing, Q1 / U = 1: nothing can be said.
- **Per workload**: when its last never-before-seen connection appeared (either end).
- **Periodic traffic** (:func:`find_period`), with its period in whole hours.
- **Saturated**: at least two hours with traffic, no new connection in the last
  ``max(1 h, a quarter of the window)``, and a chance below :data:`SATURATION_CHANCE`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

NS_PER_SECOND = 1_000_000_000
NS_PER_HOUR = 3600 * NS_PER_SECOND
#: Below this chance that the next connection is new (and with nothing new lately), the
#: window is saturated.
SATURATION_CHANCE = 0.01
#: The quiet time a saturated window ends with: this share of the window, at least ...
QUIET_SHARE = 0.25
#: ... this long.
QUIET_MIN = timedelta(hours=1)
#: A schedule fires at a fixed time: burst starts this close to whole periods apart.
START_TOLERANCE = timedelta(minutes=10)
#: Bursts needed when no end of the connection is a job (a new pod per burst).
MIN_BURSTS_WITHOUT_JOB = 3
#: Periodic groups the one-line verdict names before "and N more".
VERDICT_GROUPS = 3
UNIT = (
    "workload connection: (source, destination, protocol, port); a pod end is its "
    "workload, any other end its address"
)
ESTIMATOR = (
    "Chao-Jost incidence coverage deficit: (Q1/U) * ((T-1)*Q1 / ((T-1)*Q1 + 2*Q2)); "
    "without doubletons (Q1/U) * ((T-1)*(Q1-1) / ((T-1)*(Q1-1) + 2))"
)

Key = tuple[str, str, str, int]
PodKey = tuple[str, str]


@dataclass(frozen=True)
class CurvePoint:
    """One clock hour of the discovery curve."""

    hour: datetime
    new: int
    total: int


@dataclass(frozen=True)
class WorkloadDiscovery:
    """When a workload's last never-before-seen connection appeared (it was either end)."""

    workload: str
    connections: int
    last_new: datetime
    #: From ``last_new`` to the end of the window.
    quiet: timedelta


@dataclass(frozen=True)
class Periodic:
    """A workload connection that recurs: its period and the rule that found it."""

    src: str
    dst: str
    protocol: str
    port: int
    period_hours: int
    #: "hour of day" or "bursts" (see :func:`find_period`).
    rule: str
    #: When each occurrence began: its first record ("bursts"), its clock hour ("hour of day").
    occurrences: tuple[datetime, ...]


@dataclass(frozen=True)
class Track:
    """One workload connection's timing, gathered from its pod-level rows."""

    key: Key
    first_ns: int
    last_ns: int
    #: Epoch clock hours with traffic (sorted, distinct).
    hours: tuple[int, ...]
    #: Each pod-level row's first record time (ns).
    row_starts: tuple[int, ...]
    #: The pods of its workload ends ((namespace, pod)), per end ("src", "dst").
    pods: dict[str, frozenset[PodKey]]


def new_connection_chance(singletons: int, doubletons: int, incidences: int, units: int) -> float:
    """The estimated chance that the next connection is one never seen: 1 - C of the
    module docstring, with Chao's correction for no doubletons, ``(T - 1) * (Q1 - 1) /
    ((T - 1) * (Q1 - 1) + 2)``, as SpadeR's ``Chat.Sam`` computes it. 0 with no singleton;
    with one unit (T = 1) plain Good-Turing, Q1 / U: nothing can be said."""
    if singletons == 0 or incidences == 0:
        return 0.0
    if units < 2:
        return singletons / incidences
    if doubletons:
        spread = (units - 1) * singletons
        correction = spread / (spread + 2 * doubletons)
    else:
        spread = (units - 1) * (singletons - 1)
        correction = spread / (spread + 2)
    return singletons / incidences * correction


def bursts(hours: Iterable[int]) -> list[tuple[int, int]]:
    """Maximal runs of consecutive clock hours, as (first, last) hours."""
    runs: list[tuple[int, int]] = []
    for h in sorted(set(hours)):
        if runs and h == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], h)
        else:
            runs.append((h, h))
    return runs


def find_period(
    hours: Sequence[int],
    row_starts: Sequence[int] = (),
    job_ends: bool | Callable[[], bool] = False,
) -> tuple[int, str] | None:
    """(period in hours, rule) when a connection recurs, else None. Both rules need at
    least two bursts (maximal runs of active clock hours, idle between):

    - **hour of day**: active on at least two UTC days, always in the same clock hour of
      the day (or two adjacent ones, for traffic that crosses the hour); the period is
      24 h times the greatest common divisor of the gaps between those days.
    - **bursts**: each burst at most half the period long, bursts starting exactly
      ``period`` hours apart; every burst's first record is known (a pod-level row starts
      in its first hour: ``row_starts`` in epoch ns) and consecutive first records are a
      whole period apart within :data:`START_TOLERANCE` (a schedule fires at a fixed
      time, chance traffic does not); and either :data:`MIN_BURSTS_WITHOUT_JOB` bursts, or
      ``job_ends``: an end of the connection is a job, a new pod per burst none of which
      was seen outside its burst (what a CronJob does: the sample's ``shop/report`` at
      06:30 and 09:30).
      ``job_ends`` may be a function, asked only when the rest holds.
    """
    runs = bursts(hours)
    if len(runs) < 2:
        return None
    daily = _daily_period(runs)
    if daily is not None:
        return daily, "hour of day"
    gaps = {b[0] - a[0] for a, b in zip(runs, runs[1:], strict=False)}
    period = min(gaps)
    if len(gaps) != 1 or any(2 * (last - first + 1) > period for first, last in runs):
        return None
    starts = [_burst_start(run, row_starts) for run in runs]
    if any(s is None for s in starts):
        return None
    tolerance = START_TOLERANCE.total_seconds() * NS_PER_SECOND
    for a, b in zip(starts, starts[1:], strict=False):
        if abs(b - a - period * NS_PER_HOUR) > tolerance:
            return None
    if len(runs) < MIN_BURSTS_WITHOUT_JOB and not (job_ends() if callable(job_ends) else job_ends):
        return None
    return period, "bursts"


def _daily_period(runs: list[tuple[int, int]]) -> int | None:
    """The hour-of-day rule's period (:func:`find_period`), or None."""
    of_day: set[int] = set()
    for first, last in runs:
        of_day.update(h % 24 for h in range(first, last + 1))
        if len(of_day) > 2:
            return None
    low, high = min(of_day), max(of_day)
    if len(of_day) == 2 and high - low not in (1, 23):
        return None
    days = sorted({h // 24 for run in runs for h in run})
    if len(days) < 2:
        return None
    return 24 * math.gcd(*(b - a for a, b in zip(days, days[1:], strict=False)))


def _burst_start(run: tuple[int, int], row_starts: Sequence[int]) -> int | None:
    """The burst's first record time, when a pod-level row starts in its first hour."""
    inside = [s for s in row_starts if run[0] <= s // NS_PER_HOUR <= run[1]]
    first = min(inside, default=None)
    return first if first is not None and first // NS_PER_HOUR == run[0] else None


def _job_ends(track: Track, lifetimes: dict[PodKey, tuple[int, int]]) -> bool:
    """Whether an end's pods each lived (first to last record, any traffic) inside one
    burst of this connection: a new pod per run."""
    spans = [(a * NS_PER_HOUR, (b + 1) * NS_PER_HOUR) for a, b in bursts(track.hours)]
    for pods in track.pods.values():
        known = [lifetimes.get(p) for p in pods]
        if pods and all(
            life is not None and any(lo <= life[0] and life[1] < hi for lo, hi in spans)
            for life in known
        ):
            return True
    return False


def _end(kind: Any, ns: Any, pod: Any, ip: Any, workload_of: dict) -> tuple[str | None, bool]:
    """(identity, is a pod) of one end, as ``workloads.workload_connections`` names it."""
    if kind == "pod":
        return workload_of.get((ns, pod)), True
    return (ip if isinstance(ip, str) else None), False


def connection_tracks(connections: pd.DataFrame, pods: pd.DataFrame) -> list[Track]:
    """The pod-level connections folded to workload connections, with their timing; the
    same keys as :func:`recommender.workloads.workload_connections` (ends without an
    identity are dropped, as its grouping drops them). Times at the epoch are unknown
    (:func:`_known_times`): a connection with no known time gets no track."""
    return gather_tracks(connections, pods)[0]


def gather_tracks(connections: pd.DataFrame, pods: pd.DataFrame) -> tuple[list[Track], int]:
    """:func:`connection_tracks`, and how many workload connections have no known time at
    all (left out of every figure, and counted so the window says so)."""
    workload_of = dict(
        zip(zip(pods["namespace"], pods["pod"], strict=True), pods["workload"], strict=True)
    )
    times: dict[Key, list[int]] = {}
    hours: dict[Key, set[int]] = defaultdict(set)
    starts: dict[Key, list[int]] = defaultdict(list)
    ends: dict[Key, dict[str, set[PodKey]]] = defaultdict(lambda: {"src": set(), "dst": set()})
    sides = [f"{side}_{c}" for side in ("src", "dst") for c in ("kind", "namespace", "pod", "ip")]
    rows = zip(
        *(
            connections[c].to_numpy(dtype=object)
            for c in (*sides, "protocol", "port", "active_hours")
        ),
        _epoch_ns(connections["first_seen"]),
        _epoch_ns(connections["last_seen"]),
        strict=True,
    )
    untimed: set[Key] = set()
    for sk, sn, sp, si, dk, dn, dp, di, proto, port, active, first_ns, last_ns in rows:
        src, src_pod = _end(sk, sn, sp, si, workload_of)
        dst, dst_pod = _end(dk, dn, dp, di, workload_of)
        if src is None or dst is None or proto is None or pd.isna(port):
            continue
        key = (src, dst, str(proto), int(port))
        known = _known_times(first_ns, last_ns, active)
        if known is None:
            untimed.add(key)
            continue
        first, last, active_hours = known
        span = times.setdefault(key, [first, last])
        span[0], span[1] = min(span[0], first), max(span[1], last)
        hours[key].update(active_hours)
        starts[key].append(first)
        if src_pod:
            ends[key]["src"].add((sn, sp))
        if dst_pod:
            ends[key]["dst"].add((dn, dp))
    tracks = [
        Track(
            key=key,
            first_ns=times[key][0],
            last_ns=times[key][1],
            hours=tuple(sorted(map(int, hours[key]))),
            row_starts=tuple(sorted(starts[key])),
            pods={side: frozenset(found) for side, found in ends[key].items()},
        )
        for key in sorted(times)
    ]
    return tracks, len(untimed - times.keys())


def _known_times(first: int, last: int, active: Iterable[int]) -> tuple[int, int, set[int]] | None:
    """(first, last, hours) of a pod-level row, leaving out what is unknown: a time at the
    epoch is what a reader writes for a record without times (``ingest.aws_vpc``'s
    ``TIME_UNKNOWN``), so hour 0 is no hour; a first or last time at the epoch becomes the
    start or end of its known hours. None when no time is known."""
    hours = set(active)
    hours.discard(0)
    if not hours:
        return None
    first = first if first > 0 else min(hours) * NS_PER_HOUR
    last = last if last > 0 else (max(hours) + 1) * NS_PER_HOUR - 1
    return first, last, hours


def _epoch_ns(column: pd.Series) -> list[int]:
    """UTC timestamps as integer nanoseconds since the epoch (whatever the column's unit)."""
    if column.empty:
        return []
    return pd.to_datetime(column, utc=True).dt.as_unit("ns").astype("int64").tolist()


def _time(ns: int) -> datetime:
    """An instant in UTC, to the nanosecond (a pandas Timestamp: a datetime)."""
    return pd.Timestamp(ns, tz="UTC")


def _lifetimes(pods: pd.DataFrame) -> dict[PodKey, tuple[int, int]]:
    """(first, last) record time of each pod seen in traffic (quiet pods have none)."""
    if pods.empty or "first_seen" not in pods.columns:
        return {}
    seen = pods[pods["first_seen"].notna() & pods["last_seen"].notna()]
    return dict(
        zip(
            zip(seen["namespace"], seen["pod"], strict=True),
            zip(_epoch_ns(seen["first_seen"]), _epoch_ns(seen["last_seen"]), strict=True),
            strict=True,
        )
    )


@dataclass(frozen=True)
class Window:
    """The window's adequacy figures (module docstring); :attr:`verdict` says it in a line."""

    start: datetime | None
    end: datetime | None
    #: Distinct workload connections (S).
    connections: int
    #: Clock hours in which any connection was active (T).
    buckets: int
    #: Connection-hours (U), and connections active in exactly one (Q1) and two (Q2) hours.
    incidences: int
    singletons: int
    doubletons: int
    #: The chance the next connection is new (None without connections).
    new_chance: float | None
    #: The discovery curve's steps: the clock hours in which connections were first seen
    #: (:meth:`curve_table` fills in the hours between).
    curve: tuple[CurvePoint, ...]
    last_new: datetime | None
    #: The quiet time a saturated window ends with, and the connections new within it.
    quiet: timedelta
    new_recently: int
    saturated: bool
    workloads: tuple[WorkloadDiscovery, ...]
    periodic: tuple[Periodic, ...]
    #: Workload connections with no known time (e.g. AWS VPC records without start/end):
    #: in none of the figures above, and said so in the verdict.
    untimed: int = 0

    @property
    def span(self) -> timedelta:
        """First record to last record of the connections."""
        if self.start is None or self.end is None:
            return timedelta(0)
        return self.end - self.start

    @property
    def saturated_after(self) -> timedelta | None:
        """Window start to its last new connection, in whole hours up (when saturated)."""
        if not self.saturated or self.start is None or self.last_new is None:
            return None
        hours = max(1, math.ceil((self.last_new - self.start) / timedelta(hours=1)))
        return timedelta(hours=hours)

    @property
    def verdict(self) -> str:
        """One line: saturated or still discovering, the chance, the periodic traffic."""
        left_out = (
            f"; {_plural(self.untimed, 'connection')} without times left out"
            if self.untimed
            else ""
        )
        return _verdict_core(self) + _periodic_clause(self.periodic) + left_out

    def curve_table(self) -> pd.DataFrame:
        """The discovery curve, every clock hour of the window (hour, new, total): to plot."""
        if self.start is None or self.end is None:
            return pd.DataFrame(columns=["hour", "new", "total"])
        steps = {p.hour: p.new for p in self.curve}
        hours = pd.date_range(
            pd.Timestamp(self.start).floor("h"), pd.Timestamp(self.end).floor("h"), freq="h"
        )
        new = [steps.get(h, 0) for h in hours]
        return pd.DataFrame({"hour": hours, "new": new, "total": pd.Series(new).cumsum()})

    def to_dict(self) -> dict[str, Any]:
        """report.json's ``window``: plain JSON types, sorted lists."""
        after = self.saturated_after
        return {
            "unit": UNIT,
            "bucket": "1h",
            "start": _iso(self.start),
            "end": _iso(self.end),
            "span_seconds": int(self.span.total_seconds()),
            "connections": self.connections,
            "untimed_connections": self.untimed,
            "buckets": self.buckets,
            "incidences": self.incidences,
            "singletons": self.singletons,
            "doubletons": self.doubletons,
            "new_connection_chance": (
                round(self.new_chance, 6) if self.new_chance is not None else None
            ),
            "estimator": ESTIMATOR,
            "last_new": _iso(self.last_new),
            "quiet_seconds": int(self.quiet.total_seconds()),
            "new_in_quiet": self.new_recently,
            "saturated": self.saturated,
            "saturated_after_seconds": int(after.total_seconds()) if after else None,
            "verdict": self.verdict,
            "curve": [{"hour": _iso(p.hour), "new": p.new, "total": p.total} for p in self.curve],
            "workloads": [
                {
                    "workload": w.workload,
                    "connections": w.connections,
                    "last_new": _iso(w.last_new),
                    "quiet_seconds": int(w.quiet.total_seconds()),
                }
                for w in self.workloads
            ],
            "periodic": [
                {
                    "src": p.src,
                    "dst": p.dst,
                    "protocol": p.protocol,
                    "port": p.port,
                    "period_hours": p.period_hours,
                    "rule": p.rule,
                    "occurrences": [_iso(t) for t in p.occurrences],
                }
                for p in self.periodic
            ],
        }


def assess_window(connections: pd.DataFrame, pods: pd.DataFrame) -> Window:
    """The window figures of an observation's connection table (pod level, with
    ``first_seen``, ``last_seen`` and ``active_hours``) and its pods (with workloads)."""
    tracks, untimed = gather_tracks(connections, pods)
    if not tracks:
        return Window(
            None, None, 0, 0, 0, 0, 0, None, (), None, QUIET_MIN, 0, False, (), (), untimed
        )
    start_ns = min(t.first_ns for t in tracks)
    end_ns = max(t.last_ns for t in tracks)
    counts = [len(t.hours) for t in tracks]
    units = len({h for t in tracks for h in t.hours})
    chance = new_connection_chance(counts.count(1), counts.count(2), sum(counts), units)
    quiet = max(QUIET_MIN, (_time(end_ns) - _time(start_ns)) * QUIET_SHARE)
    recent_from = end_ns - int(quiet.total_seconds() * NS_PER_SECOND)
    recent = sum(t.first_ns > recent_from for t in tracks)
    last_new = max(t.first_ns for t in tracks)
    return Window(
        start=_time(start_ns),
        end=_time(end_ns),
        connections=len(tracks),
        buckets=units,
        incidences=sum(counts),
        singletons=counts.count(1),
        doubletons=counts.count(2),
        new_chance=chance,
        curve=_curve(tracks),
        last_new=_time(last_new),
        quiet=quiet,
        new_recently=recent,
        saturated=units >= 2 and recent == 0 and chance < SATURATION_CHANCE,
        workloads=_workloads(tracks, end_ns),
        periodic=_periodic(tracks, _lifetimes(pods)),
        untimed=untimed,
    )


def _curve(tracks: list[Track]) -> tuple[CurvePoint, ...]:
    """The discovery curve's steps: each clock hour in which connections were first seen,
    with how many, and how many were known by its end (hours between: nothing new)."""
    new: dict[int, int] = defaultdict(int)
    for t in tracks:
        new[t.first_ns // NS_PER_HOUR] += 1
    points, total = [], 0
    for hour in sorted(new):
        total += new[hour]
        points.append(CurvePoint(_time(hour * NS_PER_HOUR), new[hour], total))
    return tuple(points)


def _workloads(tracks: list[Track], end_ns: int) -> tuple[WorkloadDiscovery, ...]:
    """Per workload (an end that is a pod's workload): its connections, its last new one."""
    last: dict[str, int] = {}
    count: dict[str, int] = defaultdict(int)
    for t in tracks:
        for side, workload in (("src", t.key[0]), ("dst", t.key[1])):
            if t.pods[side]:
                last[workload] = max(t.first_ns, last.get(workload, t.first_ns))
                count[workload] += 1
    end = _time(end_ns)
    return tuple(
        WorkloadDiscovery(w, count[w], _time(last[w]), end - _time(last[w])) for w in sorted(last)
    )


def _periodic(
    tracks: list[Track], lifetimes: dict[PodKey, tuple[int, int]]
) -> tuple[Periodic, ...]:
    found = []
    for t in tracks:
        period = find_period(t.hours, t.row_starts, lambda t=t: _job_ends(t, lifetimes))
        if period is None:
            continue
        if period[1] == "bursts":
            starts = [_burst_start(run, t.row_starts) or 0 for run in bursts(t.hours)]
        else:
            starts = [first * NS_PER_HOUR for first, _ in _daily_runs(t.hours)]
        found.append(
            Periodic(
                *t.key,
                period_hours=period[0],
                rule=period[1],
                occurrences=tuple(_time(s) for s in starts),
            )
        )
    return tuple(found)


def _daily_runs(hours: Sequence[int]) -> list[tuple[int, int]]:
    """One occurrence per day: its first and last active hour."""
    days: dict[int, list[int]] = defaultdict(list)
    for h in sorted(hours):
        days[h // 24].append(h)
    return [(hs[0], hs[-1]) for _, hs in sorted(days.items())]


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat().replace("+00:00", "Z") if ts is not None else None


def duration_text(span: timedelta) -> str:
    """A duration as people say it: 45 min, 6 h, 1.5 h, 3 d (one decimal at most)."""
    seconds = span.total_seconds()
    if seconds < 3600:
        return f"{max(0, round(seconds / 60))} min"
    if seconds < 72 * 3600:
        return f"{_one_decimal(seconds / 3600)} h"
    return f"{_one_decimal(seconds / 86400)} d"


def _one_decimal(x: float) -> str:
    return f"{x:.1f}".removesuffix(".0")


def chance_text(chance: float) -> str:
    """0.4%, <0.1% (never rounded to a false 0), 0%."""
    if chance == 0:
        return "0%"
    if chance < 0.001:
        return "<0.1%"
    return f"{_one_decimal(chance * 100)}%"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _verdict_core(w: Window) -> str:
    if not w.connections or w.new_chance is None:
        if w.untimed:
            return "no connection has a known time: nothing to judge the window by"
        return "no connections observed: nothing to judge the window by"
    if w.buckets < 2:
        return (
            f"too short to judge: {_plural(w.connections, 'connection')} seen within one "
            "clock hour — observe longer"
        )
    span, quiet = duration_text(w.span), duration_text(w.quiet)
    chance = f"{chance_text(w.new_chance)} chance the next connection is new"
    if w.saturated:
        after = w.saturated_after or timedelta(0)
        return f"saturated after {duration_text(after)} of {span}; {chance}"
    if w.new_recently:
        return (
            f"still discovering: {_plural(w.new_recently, 'new connection')} in the last "
            f"{quiet} of {span}; {chance} — observe longer"
        )
    return (
        f"not saturated: no new connection in the last {quiet} of {span}, but a {chance} "
        "— observe longer"
    )


def _periodic_clause(periodic: Sequence[Periodic]) -> str:
    """ "; periodic: shop/report every 3 h (4 connections)", grouped by source and period."""
    if not periodic:
        return ""
    groups: dict[tuple[str, int], int] = defaultdict(int)
    for p in periodic:
        groups[(p.src, p.period_hours)] += 1
    shown = sorted(groups.items(), key=lambda kv: (-kv[1], kv[0]))
    parts = [
        f"{src} every {duration_text(timedelta(hours=hours))} ({_plural(n, 'connection')})"
        for (src, hours), n in shown[:VERDICT_GROUPS]
    ]
    more = len(shown) - VERDICT_GROUPS
    return "; periodic: " + ", ".join(parts) + (f" and {more} more" if more > 0 else "")
