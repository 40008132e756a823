"""External egress by DNS name: the names behind the addresses a workload reached.

The workload connections carry, per external destination, the DNS names it was reached
by (:mod:`recommender.connection_names`). From them:

* :func:`address_names`: (workload, direction, protocol, port, address) -> names;
* :func:`split_named`: with ``--external fqdn``, the egress addresses that have names
  leave the ipBlock planning;
* :func:`fqdn_entries`: those addresses as one ``fqdn`` peer per name, each with its
  :class:`~recommender.generate.ir.NameEvidence`; a pattern (``*.<parent>``) replaces the
  names under one parent only as :class:`~recommender.options.SynthesisOptions`
  ``fqdn_pattern_min`` allows (see :mod:`recommender.options` for that budget);
* :func:`names_behind`: for output kinds without FQDN support, the names behind each
  address or CIDR of the external egress rules, for the report.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..address_sets import is_address
from ..options import SynthesisOptions
from .ir import Evidence, NameEvidence, Peer, PortSpec, combine_evidence

#: (direction, protocol, port)
Key = tuple[str, str, int]
#: address -> (endpoint kind, evidence), per Key: one workload's address peers
KeyedAddresses = Mapping[Key, Mapping[str, tuple[str, Evidence]]]
#: (key, address) -> (names, DNS answers per name)
Names = dict[tuple[Key, str], tuple[tuple[str, ...], tuple[int, ...]]]
Entries = dict[Peer, dict[PortSpec, Evidence]]


def address_names(usable: pd.DataFrame) -> dict[str, Names]:
    """Per workload: the names of each external address it reached, by (egress key,
    address). Only external (world) addresses, and only addresses: a name is how the
    internet is reached, and a named set (Calico ``pub``) stands for addresses unknown."""
    out: dict[str, Names] = defaultdict(dict)
    if "dst_names" not in usable.columns:
        return out
    rows = usable[usable["src_type"].eq("workload") & usable["dst_type"].eq("external")]
    for row in rows.itertuples(index=False):
        if len(row.dst_names) and is_address(row.dst_id):
            key = ("egress", row.protocol, int(row.port))
            answers = tuple(int(n) for n in row.dst_name_answers)
            out[row.src_id][(key, row.dst_id)] = (tuple(row.dst_names), answers)
    return out


def split_named(
    addresses: KeyedAddresses, names: Names
) -> tuple[dict[Key, dict[str, tuple[str, Evidence]]], dict[Key, dict[str, tuple[str, Evidence]]]]:
    """(the egress addresses that have names, every other address), both keyed as given."""
    named: dict[Key, dict[str, tuple[str, Evidence]]] = defaultdict(dict)
    rest: dict[Key, dict[str, tuple[str, Evidence]]] = defaultdict(dict)
    for key, by_ip in addresses.items():
        for ip, value in by_ip.items():
            target = named if (key, ip) in names and value[0] == "external" else rest
            target[key][ip] = value
    return dict(named), dict(rest)


def _patterns(names: set[str], minimum: int | None) -> dict[str, str]:
    """Observed name -> the peer id that admits it: itself, or ``*.<parent>`` where at
    least ``minimum`` distinct names sit one label below a parent of two labels or more."""
    chosen = {n: n for n in names}
    if minimum is None:
        return chosen
    under: dict[str, list[str]] = defaultdict(list)
    for name in names:
        label, _, parent = name.partition(".")
        if parent.count(".") >= 1 and label != "*":
            under[parent].append(name)
    for parent, found in under.items():
        if len(found) >= minimum:
            for name in found:
                chosen[name] = f"*.{parent}"
    return chosen


def _address_order(ip: str) -> tuple[int, int]:
    addr = ipaddress.ip_address(ip)
    return addr.version, int(addr)


def fqdn_entries(
    named: Mapping[Key, Mapping[str, tuple[str, Evidence]]],
    names: Names,
    options: SynthesisOptions,
) -> tuple[Entries, list[NameEvidence]]:
    """One ``fqdn`` peer per name (or pattern) over the named addresses of one workload,
    admitted on the ports its addresses were reached on, with its evidence."""
    peer_ids = _patterns({n for (ns, _) in names.values() for n in ns}, options.fqdn_pattern_min)
    # peer id -> key -> address -> evidence; and per peer id: names, answers
    seen: dict[str, dict[Key, dict[str, Evidence]]] = defaultdict(lambda: defaultdict(dict))
    covered: dict[str, set[str]] = defaultdict(set)
    answers: dict[str, int] = defaultdict(int)
    for key, by_ip in named.items():
        for ip, (_, evidence) in by_ip.items():
            got, counts = names[(key, ip)]
            for name, count in zip(got, counts, strict=True):
                pid = peer_ids[name]
                seen[pid][key][ip] = evidence
                covered[pid].add(name)
                answers[pid] += count
    entries: Entries = {}
    proofs = []
    for pid in sorted(seen):
        addresses = tuple(
            sorted({ip for k in seen[pid] for ip in seen[pid][k]}, key=_address_order)
        )
        peer = Peer("fqdn", pid, None, (), "external", members=addresses)
        entries[peer] = {
            PortSpec(key[1], key[2]): combine_evidence(pid, seen[pid][key].values())
            for key in sorted(seen[pid])
        }
        proofs.append(_evidence(pid, sorted(covered[pid]), addresses, entries[peer], answers[pid]))
    return entries, proofs


def _evidence(
    pid: str,
    covered: list[str],
    addresses: tuple[str, ...],
    by_port: Mapping[PortSpec, Evidence],
    answers: int,
) -> NameEvidence:
    items = list(by_port.values())
    firsts = [e.first_seen for e in items if e.first_seen is not None]
    lasts = [e.last_seen for e in items if e.last_seen is not None]
    pattern = pid.startswith("*.")
    if pattern:
        why = (
            f"{len(covered)} names observed under {pid[2:]}: the pattern admits any name "
            "one label below it (unbounded breadth, asked for by fqdn_pattern_min)"
        )
    else:
        why = "observed name: admits exactly this name, at whatever address it resolves to"
    return NameEvidence(
        name=pid,
        names=tuple(covered),
        addresses=addresses,
        ports=tuple(f"{s.port}/{s.protocol}" for s in sorted(by_port)),
        answers=answers,
        flows=sum(e.flows for e in items),
        first_seen=min(firsts) if firsts else None,
        last_seen=max(lasts) if lasts else None,
        kind="pattern" if pattern else "name",
        why=why,
    )


def names_behind(workload: str, egress: Entries, names: Names) -> list[dict[str, Any]]:
    """The names behind each address or CIDR peer of one workload's external egress (for
    kinds that state egress by address): one entry per (port, peer) with names."""
    out = []
    for peer in sorted(egress, key=lambda p: (p.kind, p.id)):
        if peer.kind not in ("address", "cidr"):
            continue
        members = peer.members if peer.kind == "cidr" else (peer.id,)
        for spec in sorted(egress[peer]):
            key = ("egress", spec.protocol, spec.port)
            by_address = {ip: names[(key, ip)][0] for ip in members if (key, ip) in names}
            if not by_address:
                continue
            out.append(
                {
                    "workload": workload,
                    "direction": "egress",
                    "port": f"{spec.port}/{spec.protocol}",
                    "peer": peer.id,
                    "kind": peer.kind,
                    "names": sorted({n for ns in by_address.values() for n in ns}),
                    "addresses": [
                        {"address": ip, "names": list(by_address[ip])}
                        for ip in sorted(by_address, key=_address_order)
                    ],
                }
            )
    out.sort(key=lambda x: (x["port"], x["peer"]))
    return out
