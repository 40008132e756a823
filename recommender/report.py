"""report.json of a proposal: the machine-readable twin of SUMMARY.md (DESIGN §2).

Deterministic (sorted everything, no timestamps) so the same flows in any order give the same
document; :meth:`recommender.results.Recommendation.to_dict` returns it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .generate.calico_staged import PROMOTE_COMMAND
from .generate.ir import NameEvidence, PolicyIR, Rule
from .generate.kinds import OutputKind, RenderedFile, policy_path, render_files
from .generate.noise import LeftOut
from .roles import Role
from .selector_basis import INVENTORY_FIX, selector_basis
from .selectors import label_selector
from .version import __version__

if TYPE_CHECKING:
    from .results import Recommendation, VerifyRun

#: The one-line promote step of ``--output-kind calico --staged``, run in the proposal
#: directory: each StagedNetworkPolicy becomes the Calico NetworkPolicy it stages.
CALICO_PROMOTE = (
    "sed -i -e 's#^kind: StagedNetworkPolicy$#kind: NetworkPolicy#' "
    "-e '/^  stagedAction: Set$/d' policies/*/*.yaml"
)

SCHEMA_NAME = "netpol-recommender/report"


REPORT_VERSION = 1


def iso(ts: Any) -> str | None:
    """ISO 8601 text of a timestamp (``Z`` for UTC). Cached per (type, instant, zone): a
    report at 2,000 workloads asks for ~31,000 of them, most repeated, and pandas'
    ``Timestamp.isoformat`` takes ~15 us each."""
    if ts is None:
        return None
    try:
        return _iso_cached(type(ts), ts, getattr(ts, "tzinfo", None))
    except TypeError:  # unhashable: not a timestamp
        return _iso_text(ts)


@lru_cache(maxsize=1 << 16)
def _iso_cached(kind: type, ts: Any, tz: Any) -> str:
    """``kind`` and ``tz`` are in the key because equal instants of another type or zone
    print differently."""
    return _iso_text(ts)


def _iso_text(ts: Any) -> str:
    if getattr(ts, "unit", None) == "ns" and isinstance(ts, datetime):
        return _nanosecond_iso(ts).replace("+00:00", "Z")
    try:
        return ts.isoformat().replace("+00:00", "Z")
    except AttributeError:
        return str(ts)


def _nanosecond_iso(ts: Any) -> str:
    """``Timestamp.isoformat()`` of a pandas timestamp of nanosecond unit (years 1677 to
    2262, so ``YYYY-MM-DDTHH:MM:SS`` is 19 characters), from datetime's C ``isoformat`` and
    the nanoseconds put after the microseconds as pandas puts them: pandas' own took
    4.4 us, 12,000 distinct instants in a report at 2,000 workloads."""
    text = datetime.isoformat(ts)
    nano = ts.nanosecond
    if not nano:
        return text
    if ts.microsecond:
        return f"{text[:26]}{nano:03d}{text[26:]}"
    return f"{text[:19]}.000000{nano:03d}{text[19:]}"


def port_text(p: Any) -> str:
    number = f"{p.port}-{p.end_port}" if p.end_port else str(p.port)
    return f"{p.name}={number}/{p.protocol}" if p.name else f"{number}/{p.protocol}"


def _rule_report(rule: Rule) -> dict[str, Any]:
    return {
        "peers": [
            {"peer": p.id, "kind": p.kind, **({"stands_for": list(p.members)} if p.members else {})}
            for p in rule.peers
        ],
        "ports": [port_text(p) for p in rule.ports],
        "why": rule.why,
        "evidence": [
            {
                "peer": e.peer,
                "port": f"{e.port}/{e.protocol}",
                "basis": e.basis,
                "flows": e.flows,
                "first_seen": iso(e.first_seen),
                "last_seen": iso(e.last_seen),
                "hours": e.hours,
                "days": e.days,
            }
            for e in rule.evidence
        ],
    }


def build_report(
    rec: Recommendation,
    *,
    output_kind: str = "networkpolicy",
    output: OutputKind | None = None,
    files: Sequence[RenderedFile] | None = None,
    rendered: VerifyRun | None = None,
) -> dict[str, Any]:
    """The machine-readable twin of SUMMARY.md (DESIGN §2). Output options other than the
    default (``output``, or just ``output_kind``) add ``output_kind``, ``output`` (kind,
    staged, baseline, external), ``promote`` for staged kinds (the one-line promote step)
    and, with ``rendered`` (the written files re-read and replayed), ``rendered``; the
    default adds nothing, so a NetworkPolicy proposal's report is unchanged. ``files``:
    what is written (the default-denies replaced by a baseline object, for one)."""
    output = output or OutputKind(kind=output_kind)
    files = files if files is not None else render_files(rec, output)
    return {
        **_output_report(rec, output, rendered),
        "schema": SCHEMA_NAME,
        "version": REPORT_VERSION,
        "tool_version": __version__,
        "inputs": sorted(rec.inputs),
        "namespaces": rec.namespaces,
        "at_risk": rec.at_risk.to_dict() if rec.at_risk is not None else None,
        "unexpressed_peers": rec.synthesis.unexpressed,
        "coverage": rec.coverage,
        "covered_connections": rec.covered,
        "connections": rec.judged,
        "denied_connections": [
            {
                "src": _endpoint_name(r, "src"),
                "dst": _endpoint_name(r, "dst"),
                "protocol": r.protocol,
                "port": int(r.port),
                "reasons": r.reasons,
            }
            for r in rec.denied.itertuples(index=False)
        ],
        "breadth": rec.breadth.total,
        "breadth_detail": rec.breadth.to_dict(),
        "policies": len(files),
        "policy_files": [_file_report(rec, f) for f in files],
        "workloads": len(rec.workloads),
        "records": rec.counts.to_dict(),
        "excluded_records": dict(sorted(rec.excluded.items())),
        "node_sources": _node_sources(rec.synthesis.node_sources),
        "exempt_connections": _exempt_counts(rec),
        "inventory": rec.inventory.summary() if rec.inventory is not None else None,
        "enrichment": rec.enrichment,
        "resolvers": rec.synthesis.resolvers,
        "options": {
            k: (str(v) if v is not None and not isinstance(v, int | str | bool) else v)
            for k, v in sorted(rec.options.reported().items())
        },
        "roles": [_role_report(r) for r in rec.synthesis.roles],
        "external_ranges": rec.synthesis.external,
        **_names_report(rec),
        "left_out": [_left_out_report(x) for x in rec.synthesis.left_out],
        "window": rec.window.to_dict(),
        "notes": rec.synthesis.notes,
        "unproven_selectors": _unproven_selectors(rec),
        **({"existing": rec.existing.to_dict()} if rec.existing is not None else {}),
    }


def _node_sources(frame: Any) -> list[dict[str, Any]]:
    """Connections from nodes and hosts, row by row: read as object arrays of the five
    columns used (``itertuples`` over all 15 took 25 ms at 2,000 workloads)."""
    if frame.empty:
        return []
    columns = ["src_id", "dst_id", "port", "protocol", "flows"]
    return [
        {"src": src, "dst": dst, "port": f"{int(port)}/{protocol}", "flows": int(flows)}
        for src, dst, port, protocol, flows in zip(
            *(frame[c].to_numpy(dtype=object) for c in columns), strict=True
        )
    ]


def _output_report(
    rec: Recommendation, output: OutputKind, rendered: VerifyRun | None
) -> dict[str, Any]:
    """The output options and the round trip's figures (nothing for the default)."""
    if output.is_default:
        return {}
    out: dict[str, Any] = {"output_kind": output.kind}
    if output.kind != "calico-staged":  # its report keeps the shape it always had
        out["output"] = output.to_dict()
    if output.staged_output:
        out["promote"] = PROMOTE_COMMAND if output.kind == "calico-staged" else CALICO_PROMOTE
    if rendered is not None:
        out["rendered"] = rendered_report(rec, output, rendered)
    return out


def rendered_report(rec: Recommendation, output: OutputKind, run: VerifyRun) -> dict[str, Any]:
    """The files as written, re-read by their kind's reader and replayed, beside the
    proposal's own proof: the same coverage and breadth, or what differs and why."""
    b = run.breadth
    figures = {
        "coverage": run.coverage,
        "covered_connections": run.covered,
        "connections": run.judged,
        "unjudged_connections": len(run.unjudged),
        "breadth": None if b.not_measured else b.total,
        "breadth_in_cluster": None if b.not_measured else b.in_cluster,
        "breadth_external_addresses": None if b.not_measured else b.external_addresses,
    }
    differences = []
    if (run.covered, run.judged) != (rec.covered, rec.judged):
        differences.append(
            f"coverage {run.covered}/{run.judged} connections, the proposal's proof "
            f"{rec.covered}/{rec.judged}"
        )
    if b.not_measured:
        differences.append("breadth not measured: " + "; ".join(b.not_measured))
    elif b.total != rec.breadth.total:
        differences.append(
            f"breadth {b.total:,} (in-cluster {b.in_cluster:,}, external "
            f"{b.external_addresses:,}), the NetworkPolicy form's {rec.breadth.total:,} "
            f"(in-cluster {rec.breadth.in_cluster:,}, external "
            f"{rec.breadth.external_addresses:,})"
        )
    names = b.external_names
    if names:
        figures["external_names"] = dict(sorted(names.items()))
    return {
        "kind": output.kind,
        **figures,
        "same_as_proposal": not differences,
        "differences": differences,
    }


def _file_report(rec: Recommendation, f: RenderedFile) -> dict[str, Any]:
    """One written file: its IR's report, or for the cluster-scoped baseline object what
    it is and which namespaces it covers."""
    if f.ir is not None:
        return _policy_report(rec, f.ir, f.path.as_posix())
    spec = f.obj.get("spec") or {}
    return {
        "file": f.path.as_posix(),
        "namespace": None,
        "name": f.key[1],
        "kind": f.obj["kind"],
        "role": "default-deny",
        "subject": spec.get("subject"),
        "breadth": 0,
    }


def _policy_report(rec: Recommendation, ir: PolicyIR, file: str) -> dict[str, Any]:
    """One policy's entry; ``file``: where it is written (its kind's path, not always
    :func:`policy_path`'s)."""
    entry: dict[str, Any] = {
        "file": file,
        "namespace": ir.namespace,
        "name": ir.name,
        "role": ir.role,
        "breadth": rec.breadth.per_policy.get(f"{ir.namespace}/{ir.name}", 0),
    }
    if ir.role == "workload":
        entry.update(
            {
                "workload": ir.workload,
                "workload_kind": ir.workload_kind,
                "selector": ir.match_labels,
                "selector_expressions": _expressions(ir.match_expressions),
                "selector_exact": ir.selector_exact,
                "selector_why": ir.selector_why,
                "swept_in": list(ir.swept_in),
                "ingress": [_rule_report(r) for r in ir.ingress],
                "egress": [_rule_report(r) for r in ir.egress],
            }
        )
    return entry


def _names_report(rec: Recommendation) -> dict[str, Any]:
    """The DNS names sections, each only when there is something to say (a capture without
    names reports what it always did): ``external_names``, the names behind the addresses
    and CIDRs of external egress rules; ``fqdn_names``, the evidence of each egress peer
    stated by DNS name."""
    out: dict[str, Any] = {}
    if rec.synthesis.external_names:
        out["external_names"] = rec.synthesis.external_names
    fqdn = [_name_evidence(ir, e) for ir in rec.ir for e in ir.names]
    if fqdn:
        out["fqdn_names"] = fqdn
    return out


def _name_evidence(ir: PolicyIR, e: NameEvidence) -> dict[str, Any]:
    return {
        "file": policy_path(ir).as_posix(),
        "workload": ir.workload,
        "peer": e.name,
        "kind": e.kind,
        "names": list(e.names),
        "addresses": list(e.addresses),
        "ports": list(e.ports),
        "dns_answers": e.answers,
        "flows": e.flows,
        "first_seen": iso(e.first_seen),
        "last_seen": iso(e.last_seen),
        "why": e.why,
    }


def _role_report(role: Role) -> dict[str, Any]:
    return {
        "namespace": role.namespace,
        "members": list(role.members),
        "selector": role.match_labels,
        "selector_expressions": _expressions(role.match_expressions),
        "cost": role.cost,
        "breadth": role.breadth,
        "external": role.external,
        "examples": [list(e) for e in role.examples],
        "why": role.why,
    }


def _left_out_report(x: LeftOut) -> dict[str, Any]:
    return {
        "src": x.src,
        "dst": x.dst,
        "port": f"{x.port}/{x.protocol}",
        "flows": x.flows,
        "first_seen": iso(x.first_seen),
        "last_seen": iso(x.last_seen),
        "hours": x.hours,
        "days": x.days,
        "reason": x.reason,
    }


def _expressions(exprs: Any) -> list[dict[str, Any]]:
    """matchExpressions as Kubernetes writes them (``[]`` when labels alone are exact)."""
    return label_selector({}, exprs).get("matchExpressions", [])


def _unproven_selectors(rec: Recommendation) -> dict[str, Any] | None:
    """The selectors exact only among the pods the logs showed: all of them without an
    inventory, those of namespaces the inventory has no pod of with one (None: none)."""
    basis = selector_basis(rec.ir, rec.pods, rec.selections)
    if rec.inventory is None:
        why = "no --inventory"
    else:
        covered = set(rec.inventory.pods["namespace"])
        basis = [n for n in basis if n["namespace"] not in covered]
        if not basis:
            return None
        why = "the inventory has no pod in these namespaces"
    return {
        "why": f"{why}: selectors are exact only among the pods the flow logs showed, with "
        "the labels the logs carried; pods never seen could be picked too",
        "fix": INVENTORY_FIX,
        "namespaces": basis,
    }


def _exempt_counts(rec: Recommendation) -> dict[str, int]:
    """Connections reported rather than judged, by reason (node sources, unknown labels)."""
    exempt = rec.replayed[rec.replayed["exempt"]]
    reasons = exempt["reasons"].str.split(":").str[0]
    return {str(k): int(v) for k, v in sorted(reasons.value_counts().items())}


def _endpoint_name(row: Any, side: str) -> str:
    if getattr(row, f"{side}_kind") == "pod":
        return f"{getattr(row, f'{side}_namespace')}/{getattr(row, f'{side}_pod')}"
    return str(getattr(row, f"{side}_ip"))
