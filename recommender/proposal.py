"""The output directory: policies/<ns>/<name>.yaml, SUMMARY.md and report.json.

Everything here is deterministic (no timestamps, sorted everything) so the same flows in
any order give byte-identical files, and every file is written atomically: a reviewer
never sees a half-written proposal, and a re-run removes the files it no longer proposes.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from . import __version__
from .at_risk import HINTS, REASONS
from .generate.ir import PolicyIR, Rule
from .generate.k8s import to_yaml
from .generate.noise import LeftOut
from .results import Recommendation
from .roles import Role
from .selector_basis import INVENTORY_COMMAND, INVENTORY_FIX, selector_basis
from .selectors import label_selector, selector_text
from .validate import is_dns1123_label, is_dns1123_subdomain

SCHEMA_NAME = "netpol-recommender/report"
REPORT_VERSION = 1


def write_atomic(path: Path, text: str) -> None:
    """Write via a temp file in the same directory, then rename over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# Characters that start markup or HTML anywhere in a line. Line-start markup (lists,
# headings) cannot occur: escaped values never begin a line.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")


def md(text: Any) -> str:
    """Escape text from logs for Markdown: no markup, no HTML, no line breaks."""
    flat = " ".join(str(text).split())
    return _MD_SPECIAL.sub(r"\\\1", flat)


def code(text: Any) -> str:
    """Text for a Markdown code span, where escapes would show: drop what could end it."""
    return " ".join(str(text).replace("`", "'").split())


def _iso(ts: Any) -> str | None:
    if ts is None:
        return None
    try:
        return ts.isoformat().replace("+00:00", "Z")
    except AttributeError:
        return str(ts)


def _safe_path(policy: PolicyIR) -> Path:
    """policies/<ns>/<name>.yaml, refusing anything that is not a Kubernetes name."""
    if not is_dns1123_label(policy.namespace) or not is_dns1123_subdomain(policy.name):
        raise ValueError(f"refusing unsafe output path for {policy.namespace!r}/{policy.name!r}")
    return Path("policies") / policy.namespace / f"{policy.name}.yaml"


def _port_text(p: Any) -> str:
    number = f"{p.port}-{p.end_port}" if p.end_port else str(p.port)
    return f"{p.name}={number}/{p.protocol}" if p.name else f"{number}/{p.protocol}"


def _rule_report(rule: Rule) -> dict[str, Any]:
    return {
        "peers": [
            {"peer": p.id, "kind": p.kind, **({"stands_for": list(p.members)} if p.members else {})}
            for p in rule.peers
        ],
        "ports": [_port_text(p) for p in rule.ports],
        "why": rule.why,
        "evidence": [
            {
                "peer": e.peer,
                "port": f"{e.port}/{e.protocol}",
                "basis": e.basis,
                "flows": e.flows,
                "first_seen": _iso(e.first_seen),
                "last_seen": _iso(e.last_seen),
                "hours": e.hours,
                "days": e.days,
            }
            for e in rule.evidence
        ],
    }


def build_report(rec: Recommendation) -> dict[str, Any]:
    """The machine-readable twin of SUMMARY.md (DESIGN §2)."""
    return {
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
        "policies": len(rec.policies),
        "policy_files": [_policy_report(rec, ir) for ir in rec.ir],
        "workloads": len(rec.workloads),
        "records": rec.counts.to_dict(),
        "excluded_records": dict(sorted(rec.excluded.items())),
        "node_sources": [
            {
                "src": r.src_id,
                "dst": r.dst_id,
                "port": f"{int(r.port)}/{r.protocol}",
                "flows": int(r.flows),
            }
            for r in rec.synthesis.node_sources.itertuples(index=False)
        ],
        "exempt_connections": _exempt_counts(rec),
        "inventory": rec.inventory.summary() if rec.inventory is not None else None,
        "enrichment": rec.enrichment,
        "resolvers": rec.synthesis.resolvers,
        "options": {
            k: (str(v) if v is not None and not isinstance(v, int | str | bool) else v)
            for k, v in sorted(vars(rec.options).items())
        },
        "roles": [_role_report(r) for r in rec.synthesis.roles],
        "external_ranges": rec.synthesis.external,
        "left_out": [_left_out_report(x) for x in rec.synthesis.left_out],
        "notes": rec.synthesis.notes,
        "unproven_selectors": _unproven_selectors(rec),
    }


def _policy_report(rec: Recommendation, ir: PolicyIR) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "file": _safe_path(ir).as_posix(),
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
        "first_seen": _iso(x.first_seen),
        "last_seen": _iso(x.last_seen),
        "hours": x.hours,
        "days": x.days,
        "reason": x.reason,
    }


def _expressions(exprs: Any) -> list[dict[str, Any]]:
    """matchExpressions as Kubernetes writes them (``[]`` when labels alone are exact)."""
    return label_selector({}, exprs).get("matchExpressions", [])


def _selector_text(labels: dict[str, str], exprs: list[dict[str, Any]]) -> str:
    return selector_text(labels, [(e["key"], e["operator"], e.get("values", ())) for e in exprs])


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


def _pct(x: float) -> str:
    return f"{x * 100:.2f}%"


def _at_risk_figure(rec: Recommendation) -> str:
    r = rec.at_risk
    if r is None or not r.total:
        return "0"
    return f"{r.connections:,} connections ({r.records:,} records)"


def _at_risk_section(rec: Recommendation) -> list[str]:
    """At-risk traffic first: what enforcing this proposal breaks that coverage leaves out."""
    r = rec.at_risk
    if r is None or not r.total:
        return ["**At risk: 0.** Every observed connection passes the independent evaluator.", ""]
    lines = [
        "## At risk",
        "",
        f"**{r.connections:,} observed connection(s) ({r.records:,} records) will be denied** "
        "by this proposal although the traffic went through in the window. The coverage "
        "figure below does not count them. Review them before merging:",
        "",
        "| reason | connections | records | what to do |",
        "|---|---|---|---|",
    ]
    for key, figures in r.by_reason().items():
        lines.append(
            f"| {md(REASONS[key])} | {figures['connections']:,} | {figures['records']:,} | "
            f"{md(HINTS.get(key, ''))} |"
        )
    lines += [
        "",
        "| source | destination | port | records | seen in | why |",
        "|---|---|---|---|---|---|",
    ]
    for e in r.examples():
        # The file, not the line: the same flows in another order give the same summary
        # (report.json and the command's output give the line).
        where = f"`{code(e['file'])}`" if e["file"] else ""
        lines.append(
            f"| {md(e['src'])} | {md(e['dst'])} | {md(e['port'])} | {e['records']:,} | "
            f"{where} | {md(e['why'])} |"
        )
    shown = len(r.examples())
    if len(r.table) > shown:
        lines.append("")
        lines.append(f"({len(r.table) - shown} more in report.json's `at_risk`.)")
    if r.unchecked_node_sources:
        lines += [
            "",
            f"{r.unchecked_node_sources} node-source connection(s) were not checked: the log "
            "does not say whether the node is the destination pod's own (an --inventory does).",
        ]
    lines.append("")
    return lines


def render_summary(rec: Recommendation, report: dict[str, Any]) -> str:
    """SUMMARY.md: ready to paste as a pull-request body."""
    lines = [
        "# NetworkPolicy proposal",
        "",
        f"Generated by netpol-recommender {md(__version__)} from {rec.counts.files} input file(s).",
        "",
        *_at_risk_section(rec),
        *_measures_table(rec, report),
        *_records_section(rec),
        *_node_sources_section(rec, report["node_sources"]),
        *_unexpressed_section(rec.synthesis.unexpressed),
        *_left_out_section(report["left_out"]),
        *_roles_section(report["roles"]),
        *_external_section(report["external_ranges"]),
        *_denied_section(rec, report["denied_connections"]),
        *_notes_section(rec),
        *_unproven_lines(report["unproven_selectors"]),
        "## Policies",
        "",
    ]
    for entry, ir in zip(report["policy_files"], rec.ir, strict=True):
        lines += _policy_section(entry, ir)
    return "\n".join(lines)


def _measures_table(rec: Recommendation, report: dict[str, Any]) -> list[str]:
    b = rec.breadth
    return [
        "| measure | value |",
        "|---|---|",
        f"| at risk (observed, denied, outside coverage) | **{_at_risk_figure(rec)}** |",
        f"| coverage (observed connections still allowed) | **{_pct(rec.coverage)}** "
        f"({rec.covered} of {rec.judged}) |",
        f"| breadth (allowed but never observed) | **{b.total:,}** |",
        f"| breadth in-cluster (workload pairs x ports) | {b.in_cluster:,} of {b.universe:,} |",
        f"| breadth external (addresses x ports beyond observed) | {b.external_addresses:,} |",
        f"| policies | {len(rec.policies)} |",
        f"| workloads | {len(rec.workloads)} |",
        f"| connections (pod level) | {len(rec.connections)} |",
        f"| connections reported, not judged | {sum(report['exempt_connections'].values())} |",
        "",
    ]


def _records_section(rec: Recommendation) -> list[str]:
    counts = rec.counts
    lines = [
        "## Records",
        "",
        f"Read {counts.read}: normalized {counts.normalized}, rejected {counts.rejected_total}, "
        f"filtered {counts.filtered_total}.",
        "",
    ]
    if counts.rejected or counts.filtered or rec.excluded:
        lines += ["| records | reason | count |", "|---|---|---|"]
        for reason, n in sorted(counts.rejected.items()):
            lines.append(f"| rejected | {md(reason)} | {n} |")
        for reason, n in sorted(counts.filtered.items()):
            lines.append(f"| filtered | {md(reason)} | {n} |")
        for reason, n in sorted(rec.excluded.items()):
            lines.append(f"| not a rule | {md(reason)} | {n} |")
        lines.append("")
    if counts.examples:
        lines += ["Rejected records (first few):", ""]
        lines += [f"- `{code(e)}`" for e in counts.examples[:10]]
        lines.append("")
    return lines


def _node_sources_section(rec: Recommendation, node_sources: list[dict[str, Any]]) -> list[str]:
    if not node_sources:
        return []
    lines = [
        "## Node and host sources",
        "",
        "NetworkPolicy cannot select nodes or host-network pods. A pod's own node always "
        "reaches it (kubelet probes); traffic from another node (LoadBalancer or NodePort "
        "SNAT) is judged by the node's address: it is listed under At risk unless "
        + (
            "--allow-node-sources admits it, as it does here."
            if rec.options.allow_node_sources
            else "--allow-node-sources admits it."
        ),
        "",
        "| source | destination | port | flows |",
        "|---|---|---|---|",
    ]
    for n in node_sources:
        lines.append(f"| {md(n['src'])} | {md(n['dst'])} | {md(n['port'])} | {n['flows']} |")
    return [*lines, ""]


def _unexpressed_section(unexpressed: list[dict[str, Any]]) -> list[str]:
    if not unexpressed:
        return []
    lines = [
        "## Peers NetworkPolicy cannot state",
        "",
        "The log names these peers without an address (a NetworkSet, a host endpoint): "
        "no rule admits them, and their traffic is at risk.",
        "",
        "| workload | direction | peer | kind | port | flows | what would express it |",
        "|---|---|---|---|---|---|---|",
    ]
    for u in unexpressed:
        lines.append(
            f"| {md(u['workload'])} | {u['direction']} | {md(u['peer'])} | {md(u['kind'])} "
            f"| {md(u['port'])} | {u['flows']} | {md(u['express'])} |"
        )
    return [*lines, ""]


def _left_out_section(left_out: list[dict[str, Any]]) -> list[str]:
    if not left_out:
        return []
    lines = [
        "## Left out as noise",
        "",
        "These connections were observed but left out by --min-flows / --min-age; "
        "enforcing the proposal denies them:",
        "",
        "| source | destination | port | flows | first seen | last seen | reason |",
        "|---|---|---|---|---|---|---|",
    ]
    for x in left_out:
        lines.append(
            f"| {md(x['src'])} | {md(x['dst'])} | {md(x['port'])} | {x['flows']} | "
            f"{md(x['first_seen'])} | {md(x['last_seen'])} | {md(x['reason'])} |"
        )
    return [*lines, ""]


def _roles_section(roles: list[dict[str, Any]]) -> list[str]:
    if not roles:
        return []
    lines = [
        "## Workloads sharing a policy",
        "",
        "| members | selector | cost | why |",
        "|---|---|---|---|",
    ]
    for r in roles:
        selector = _selector_text(r["selector"], r["selector_expressions"])
        lines.append(
            f"| {md(', '.join(r['members']))} | `{code(selector)}` | {r['cost']} | {md(r['why'])} |"
        )
    return [*lines, ""]


def _external_section(ranges: list[dict[str, Any]]) -> list[str]:
    if not ranges:
        return []
    lines = [
        "## External ranges (not exact addresses)",
        "",
        "| workload | direction | port | range | except | observed | unobserved | why |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for x in ranges:
        lines.append(
            f"| {md(x['workload'])} | {x['direction']} | {md(x['port'])} | "
            f"{md(x['cidr'])} | {md(', '.join(x['except']))} | {x['observed_addresses']} | "
            f"{x['unobserved_addresses']} | {md(x['why'])} |"
        )
    return [*lines, ""]


def _denied_section(rec: Recommendation, denied: list[dict[str, Any]]) -> list[str]:
    at_risk = rec.at_risk.total if rec.at_risk is not None else 0
    if not denied and not at_risk:
        return ["All observed connections pass the independent evaluator.", ""]
    if not denied:
        return []
    lines = ["## Denied observed connections", ""]
    for d in denied[:50]:
        lines.append(
            f"- {md(d['src'])} → {md(d['dst'])} {d['port']}/{md(d['protocol'])}: {md(d['reasons'])}"
        )
    return [*lines, ""]


def _notes_section(rec: Recommendation) -> list[str]:
    notes = list(rec.synthesis.notes)
    if rec.inventory is not None:
        inv = rec.inventory
        notes.insert(
            0,
            f"Inventory: {len(inv.pods)} pods, {len(inv.namespaces)} namespaces, "
            f"{len(inv.nodes)} nodes; {len(inv.rejected)} objects rejected, "
            f"{len(inv.conflicts)} conflicts.",
        )
        notes += [f"Inventory conflict: {c}" for c in inv.conflicts[:20]]
        notes += [f"Inventory object rejected: {r}" for r in inv.rejected[:20]]
    if not notes:
        return []
    return ["## Notes", "", *[f"- {md(n)}" for n in notes], ""]


def _policy_section(entry: dict[str, Any], ir: PolicyIR) -> list[str]:
    """One policy's heading, selector and rules with their evidence."""
    lines = [f"### `{entry['file']}`", ""]
    if ir.role == "default-deny":
        return [
            *lines,
            f"Default deny, both directions, for every pod in namespace {md(ir.namespace)}.",
            "",
        ]
    selector = selector_text(ir.match_labels, ir.match_expressions) or "(all pods)"
    lines.append(
        f"Workload {md(ir.workload_kind)} {md(ir.workload)}; selector `{code(selector)}` "
        f"({'exact' if ir.selector_exact else 'NOT exact'}: {md(ir.selector_why)}); "
        f"breadth {entry['breadth']}."
    )
    lines += ["", "| direction | peers | ports | flows | last seen |", "|---|---|---|---|---|"]
    for direction, rules in (("ingress", ir.ingress), ("egress", ir.egress)):
        for rule in rules:
            peers = ", ".join(md(p.id) for p in rule.peers)
            ports = ", ".join(md(_port_text(p)) for p in rule.ports)
            flows = sum(e.flows for e in rule.evidence)
            seen = [e.last_seen for e in rule.evidence if e.last_seen is not None]
            last = _iso(max(seen).floor("s")) if seen else "DNS allowance"
            lines.append(f"| {direction} | {peers} | {ports} | {flows} | {md(last)} |")
    return [*lines, ""]


#: Selectors listed per namespace in SUMMARY.md; report.json has them all.
MAX_LISTED_SELECTORS = 12


def _unproven_lines(unproven: dict[str, Any] | None) -> list[str]:
    """One table row per namespace: how many pods the selectors were proven among."""
    if not unproven or not unproven["namespaces"]:
        return []
    lines = [
        "## Selectors proven only among observed pods",
        "",
        f"{md(unproven['why'].split(':')[0]).capitalize()}: each selector below picks "
        "exactly its workloads among the pods the flow logs showed, with the labels the logs "
        "carried. A pod that was "
        "quiet during the window, or a label the logs left out, could make it pick more; "
        "`(all pods)` admits every pod of the namespace, seen or not. "
        f"`--inventory` with `{INVENTORY_COMMAND}` output proves them among every pod "
        "(report.json: `unproven_selectors`).",
        "",
        "| namespace | observed pods | workloads | selectors |",
        "|---|---|---|---|",
    ]
    for ns in unproven["namespaces"]:
        shown = [f"`{code(s['selector'])}`" for s in ns["selectors"][:MAX_LISTED_SELECTORS]]
        more = len(ns["selectors"]) - len(shown)
        if more > 0:
            shown.append(f"and {more} more")
        lines.append(
            f"| {md(ns['namespace'])} | {ns['observed_pods']} | {ns['observed_workloads']} | "
            f"{', '.join(shown).replace('|', '/')} |"
        )
    return [*lines, ""]


def write_proposal(rec: Recommendation, out: str | os.PathLike) -> dict[str, Any]:
    """Write policies, SUMMARY.md and report.json under ``out``; returns the report."""
    root = Path(out)
    report = build_report(rec)
    written: set[Path] = set()
    for ir, obj in zip(rec.ir, rec.policies, strict=True):
        rel = _safe_path(ir)
        write_atomic(root / rel, to_yaml(obj))
        written.add(rel)
    policies_dir = root / "policies"
    if policies_dir.is_dir():
        for stale in sorted(policies_dir.rglob("*.yaml")):
            if stale.relative_to(root) not in written:
                stale.unlink()
        for folder in sorted(policies_dir.iterdir()):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
    write_atomic(root / "SUMMARY.md", render_summary(rec, report))
    write_atomic(root / "report.json", json.dumps(report, indent=2, sort_keys=True) + "\n")
    return report
