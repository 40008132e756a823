"""Port lists of a rule: ranges of observed ports and container port names.

Both keep a rule exact. A range only joins ports that were all observed (8080, 8081,
8082 → 8080-8082), so it admits nothing new; a name is written only when every
destination pod declares that number under that name for that protocol, so it resolves
to the same number everywhere the rule applies.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .ir import PortSpec

ContainerPorts = Iterable[tuple[str | None, int, str]]


def compact_ports(ports: Sequence[PortSpec]) -> list[PortSpec]:
    """Merge runs of two or more consecutive numbered ports of one protocol into ranges."""
    named = [p for p in ports if p.name is not None]
    numbered = sorted({(p.protocol, n) for p in ports if p.name is None for n in p.numbers()})
    out: list[PortSpec] = []
    run: list[tuple[str, int]] = []

    def flush() -> None:
        if not run:
            return
        proto, first = run[0]
        last = run[-1][1]
        out.append(PortSpec(proto, first, last if last > first else None))
        run.clear()

    for proto, number in numbered:
        if run and (run[-1][0] != proto or run[-1][1] + 1 != number):
            flush()
        run.append((proto, number))
    flush()
    return sorted(out + named)


def name_ports(
    ports: Sequence[PortSpec], destinations: Sequence[ContainerPorts]
) -> tuple[list[PortSpec], list[str]]:
    """Write single ports by name when every destination pod names them alike.

    ``destinations``: the container ports of every pod the rule's traffic goes to.
    Returns the ports and, per named port, why.
    """
    if not destinations:
        return list(ports), []
    declared = [list(d) for d in destinations]
    out: list[PortSpec] = []
    why: list[str] = []
    for spec in ports:
        if spec.end_port is not None or spec.name is not None:
            out.append(spec)
            continue
        names = set()
        for pod_ports in declared:
            pod_names = {
                n for n, num, proto in pod_ports if num == spec.port and proto == spec.protocol
            }
            names.add(next(iter(pod_names)) if len(pod_names) == 1 else None)
        name = next(iter(names)) if len(names) == 1 else None
        if name:
            out.append(PortSpec(spec.protocol, spec.port, None, name))
            why.append(f"{spec.port}/{spec.protocol} is '{name}' on every destination pod")
        else:
            out.append(spec)
    return sorted(out), why
