"""What ``explain`` is asked about: the two endpoints and the port, from the user's words.

SRC and DST are ``namespace/pod``, ``namespace/workload`` or an IPv4/IPv6 address; PORT is
a number or a container port name, with an optional ``/TCP``, ``/UDP`` or ``/SCTP``. The
pods come from what the run knows (:class:`KnownPods`: an inventory, observed flows or
both), since a verdict depends on labels that only they carry. Every input is checked
here, and a name that matches nothing fails with the close matches, in one line.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from .netpol.model import NS_NAME_LABEL, ContainerPort, Endpoint
from .validate import canonical_ip, is_dns1123_label, is_dns1123_subdomain, truncated_repr

__all__ = [
    "PROTOCOLS",
    "ExplainError",
    "KnownPods",
    "Named",
    "PortQuery",
    "dns_names",
    "parse_port",
]

#: Transport protocols a connection may be explained on.
PROTOCOLS = ("TCP", "UDP", "SCTP")
#: A container port name (IANA_SVC_NAME): lower case letters, digits and single dashes,
#: at most 15, at least one letter.
_PORT_NAME_RE = re.compile(r"(?=.*[a-z])[a-z0-9](?:-?[a-z0-9])*", re.ASCII)
#: A DNS name: dot-separated labels of letters, digits, ``-`` and ``_`` (lower case here).
_DNS_NAME_RE = re.compile(
    r"[a-z0-9_](?:[-a-z0-9_]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[-a-z0-9_]{0,61}[a-z0-9_])?)*",
    re.ASCII,
)
_CLOSE_MATCHES = 5


class ExplainError(ValueError):
    """The question cannot be answered as asked: one line that says what to change."""


@dataclass(frozen=True, slots=True)
class PortQuery:
    """The destination port asked about: a number, or a container port name resolved on
    each destination pod; and the protocol."""

    protocol: str
    number: int | None = None
    name: str | None = None

    def __str__(self) -> str:
        return f"{self.number if self.name is None else self.name}/{self.protocol}"

    def resolve(self, dst: Endpoint) -> int:
        """The port number on ``dst``: the number asked, or ``dst``'s container port of
        that name and protocol."""
        if self.name is None:
            return self.number  # type: ignore[return-value]
        if dst.kind != "pod":
            raise ExplainError(f"port {self}: a named port needs a destination pod, not an address")
        for cp in dst.ports:
            if cp.name == self.name and cp.protocol == self.protocol:
                return cp.port
        known = ", ".join(f"{cp.name}:{cp.port}/{cp.protocol}" for cp in dst.ports if cp.name)
        where = f"{dst.namespace}/{dst.name}"
        if not dst.ports:
            raise ExplainError(
                f"port {self}: the container ports of {where} are unknown "
                "(give --inventory, or the port number)"
            )
        raise ExplainError(
            f"port {self}: {where} has no container port of that name "
            f"(named ports: {known or 'none'})"
        )


def parse_port(text: str) -> PortQuery:
    """``PORT[/PROTO]``: a number 1-65535 or a port name, then TCP (the default), UDP or
    SCTP in any case."""
    if not isinstance(text, str) or not text or len(text) > 40:
        raise ExplainError(f"port {truncated_repr(text)}: expected PORT[/PROTO], e.g. 443/TCP")
    port, slash, proto = text.partition("/")
    protocol = proto.upper() if slash else "TCP"
    if protocol not in PROTOCOLS:
        raise ExplainError(
            f"port {truncated_repr(text)}: protocol must be TCP, UDP or SCTP (any case)"
        )
    if port.isascii() and port.isdigit():
        number = int(port)
        if not 1 <= number <= 65535:
            raise ExplainError(f"port {truncated_repr(text)}: a port number is 1-65535")
        return PortQuery(protocol, number=number)
    if len(port) <= 15 and _PORT_NAME_RE.fullmatch(port):
        return PortQuery(protocol, name=port)
    raise ExplainError(
        f"port {truncated_repr(text)}: expected a number 1-65535 or a container port name"
    )


def dns_names(names: Iterable[str]) -> tuple[str, ...]:
    """DNS names an address was reached by (what Cilium ``toFQDNs`` and AdminNetworkPolicy
    ``domainNames`` peers are judged on): lower case, without the trailing dot, checked."""
    out = []
    for name in names:
        text = name.lower().removesuffix(".") if isinstance(name, str) else ""
        if len(text) > 253 or not _DNS_NAME_RE.fullmatch(text):
            raise ExplainError(f"DNS name {truncated_repr(name)}: not a DNS name")
        out.append(text)
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True, slots=True)
class Named:
    """One side as the user named it, and the endpoints it stands for."""

    text: str
    #: "pod", "workload", "pod address" (an address a known pod holds), "node" or "address"
    kind: str
    endpoints: tuple[Endpoint, ...]

    def reached_as(self, names: Sequence[str]) -> Named:
        """This address side, reached by the DNS ``names`` (already :func:`dns_names`)."""
        if not names:
            return self
        if self.kind not in ("address", "node"):
            raise ExplainError(f"{self.text}: DNS names apply to an address outside the pods")
        eps = tuple(replace(ep, names=tuple(names)) for ep in self.endpoints)
        return replace(self, endpoints=eps)


def _ports(value: Any) -> tuple[ContainerPort, ...]:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ()
    return tuple(ContainerPort(*p) for p in value)


def _mapping(value: Any) -> dict[str, str]:
    """Labels, or none when the table holds none (None, or pandas' NaN)."""
    return dict(value) if isinstance(value, Mapping) else {}


def _endpoint(row: Mapping[str, Any]) -> Endpoint:
    ips = row.get("ips")
    return Endpoint(
        kind="pod",
        ip=ips[0] if ips is not None and len(ips) else None,
        namespace=row["namespace"],
        labels=dict(row["labels"]),
        namespace_labels={NS_NAME_LABEL: row["namespace"], **_mapping(row.get("namespace_labels"))},
        ports=_ports(row.get("ports")),
        name=row["pod"],
    )


class KnownPods:
    """The pods a run knows (one row per pod: ``namespace``, ``pod``, ``labels``,
    ``namespace_labels``, ``workload_name``, ``ips``, optionally ``ports``), indexed once
    for every question asked of them; and the node addresses, so that an address can be
    told to be a node's."""

    def __init__(self, pods: pd.DataFrame, node_ips: Iterable[str] = ()) -> None:
        self._rows: list[dict[str, Any]] = pods.to_dict("records") if len(pods) else []
        self._by_name: dict[str, list[int]] = {}
        self._by_workload: dict[str, list[int]] = {}
        self._by_ip: dict[str, list[int]] = {}
        for i, row in enumerate(self._rows):
            ns = row["namespace"]
            self._by_name.setdefault(f"{ns}/{row['pod']}", []).append(i)
            workload = row.get("workload_name")
            if isinstance(workload, str) and workload:
                self._by_workload.setdefault(f"{ns}/{workload}", []).append(i)
            for ip in row.get("ips") if row.get("ips") is not None else ():
                self._by_ip.setdefault(ip, []).append(i)
        self.node_ips = frozenset(node_ips)

    def __len__(self) -> int:
        return len(self._rows)

    def resolve(self, text: str) -> Named:
        """``namespace/pod``, ``namespace/workload`` or an address -> its endpoints."""
        if not isinstance(text, str) or not text or len(text) > 320:
            raise ExplainError(f"{truncated_repr(text)}: expected namespace/name or an address")
        if "/" not in text:
            return self._address(text)
        ns, _, name = text.partition("/")
        if not is_dns1123_label(ns) or not is_dns1123_subdomain(name):
            raise ExplainError(
                f"{truncated_repr(text)}: expected namespace/pod, namespace/workload or an "
                "IPv4/IPv6 address"
            )
        by_pod = self._by_name.get(text, [])
        rows = sorted(set(by_pod) | set(self._by_workload.get(text, [])))
        if not rows:
            raise ExplainError(self._no_match(text))
        kind = "pod" if set(rows) == set(by_pod) else "workload"
        return Named(text, kind, tuple(self._endpoints(text, rows)))

    def _endpoints(self, text: str, rows: Sequence[int]) -> list[Endpoint]:
        chosen = sorted((self._rows[i] for i in rows), key=lambda r: (r["namespace"], r["pod"]))
        unknown = [r["pod"] for r in chosen if not isinstance(r["labels"], Mapping)]
        if unknown:
            raise ExplainError(
                f"{text}: the labels of pod {unknown[0]} are unknown (the flow log did not "
                "carry them): give --inventory"
            )
        return [_endpoint(r) for r in chosen]

    def _address(self, text: str) -> Named:
        ip = canonical_ip(text)
        if ip is None:
            raise ExplainError(
                f"{truncated_repr(text)}: not an IPv4/IPv6 address (a pod or workload is "
                "written namespace/name)"
            )
        rows = self._by_ip.get(ip, [])
        if rows:
            return Named(text, "pod address", tuple(self._endpoints(text, rows)))
        if ip in self.node_ips:
            return Named(text, "node", (Endpoint(kind="node", ip=ip, name=ip),))
        return Named(text, "address", (Endpoint(kind="external", ip=ip, name=ip),))

    def _no_match(self, text: str) -> str:
        if not self._rows:
            return f"{text}: no pods are known: give --inventory FILE or --flows INPUT"
        names = sorted(set(self._by_name) | set(self._by_workload))
        close = difflib.get_close_matches(text, names, n=_CLOSE_MATCHES, cutoff=0.6)
        if close:
            return f"{text}: no pod or workload by that name; close matches: {', '.join(close)}"
        ns = text.partition("/")[0]
        here = sorted(n for n in self._by_workload if n.startswith(f"{ns}/"))
        if here:
            shown = ", ".join(here[:_CLOSE_MATCHES]) + (", ..." if len(here) > 5 else "")
            return f"{text}: no pod or workload by that name; workloads of {ns}: {shown}"
        spaces = sorted({r["namespace"] for r in self._rows})
        return (
            f"{text}: no pod or workload by that name; known namespaces: "
            + ", ".join(spaces[:10])
            + (", ..." if len(spaces) > 10 else "")
        )
