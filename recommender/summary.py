"""SUMMARY.md of a proposal: what a reviewer reads first, ready to paste as a PR body.

Built from the proposal and its report (:mod:`recommender.report`): at-risk traffic first,
then the measures, then each policy with its evidence. Every value from a log is escaped
(:func:`md`, :func:`code`): a hostile label or pod name cannot inject markup.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .at_risk import HINTS, REASONS
from .generate.ir import PolicyIR
from .generate.kinds import CLUSTER_DIR
from .graph.pictures import GRAPH_FILE
from .graph.svg import summary_text
from .pr_body import before_line, changes_table, details, fenced, file_diffs, mermaid_graphs
from .report import iso, port_text
from .selector_basis import INVENTORY_COMMAND
from .selectors import selector_text
from .version import __version__

if TYPE_CHECKING:
    from .generate.kinds import RenderedFile
    from .results import Recommendation

# Characters that start markup or HTML anywhere in a line. Line-start markup (lists,
# headings) cannot occur: escaped values never begin a line.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")


def md(text: Any) -> str:
    """Escape text from logs for Markdown: no markup, no HTML, no line breaks. (Searched
    first: most names need no escape, and ``sub`` with a template took 5x as long; 42,000
    calls at 2,000 workloads, most of them of text already seen: cached.)"""
    return _md_text(text if text.__class__ is str else str(text))


@lru_cache(maxsize=1 << 16)
def _md_text(text: str) -> str:
    flat = " ".join(text.split())
    return _MD_SPECIAL.sub(r"\\\1", flat) if _MD_SPECIAL.search(flat) else flat


def code(text: Any) -> str:
    """Text for a Markdown code span, where escapes would show: drop what could end it."""
    return " ".join(str(text).replace("`", "'").split())


def _selector_text(labels: dict[str, str], exprs: list[dict[str, Any]]) -> str:
    return selector_text(labels, [(e["key"], e["operator"], e.get("values", ())) for e in exprs])


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
    if r.unchecked_node_sources:
        lines += [
            "",
            f"{r.unchecked_node_sources} node-source connection(s) were not checked: the log "
            "does not say whether the node is the destination pod's own (an --inventory does).",
        ]
    lines.append("")
    return lines


def _at_risk_examples(rec: Recommendation) -> list[str]:
    """The at-risk connections themselves, at most :data:`recommender.at_risk.MAX_EXAMPLES`."""
    r = rec.at_risk
    if r is None or not r.total:
        return []
    lines = [
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
    return lines


def _window_line(rec: Recommendation) -> str:
    """The observation window's one-line verdict (:mod:`recommender.window`), escaped."""
    return f"**Observation window:** {md(rec.window.verdict)}"


def render_summary(
    rec: Recommendation, report: dict[str, Any], files: Sequence[RenderedFile] | None = None
) -> str:
    """SUMMARY.md: ready to paste as a pull-request body. The first screen (everything before
    the first ``<details>``) holds at-risk traffic, before → after and the changes; its
    length does not grow with the cluster: every list is collapsed below it. ``files``: the
    files written (default: the proposal as NetworkPolicies)."""
    if files is None:
        from .generate.kinds import render_files

        files = render_files(rec)
    existing = report.get("existing")
    lines = [
        "# NetworkPolicy proposal",
        "",
        _window_line(rec),
        "",
        f"Generated by netpol-recommender {md(__version__)} from {rec.counts.files} input file(s).",
        "",
        *_output_kind_section(report),
        *_at_risk_section(rec),
        *before_line(report),
        *_existing_section(existing),
        *changes_table(rec, report),
        *_measures_table(rec, report),
        *_all_pass_line(rec, report["denied_connections"]),
        *details("At-risk examples", _at_risk_examples(rec)),
        *details("New and changed policies", _existing_lists(existing)),
        *details("Records", _records_section(rec)),
        *details("Node and host sources", _node_sources_section(rec, report["node_sources"])),
        *details(
            "Peers NetworkPolicy cannot state", _unexpressed_section(rec.synthesis.unexpressed)
        ),
        *details("Left out as noise", _left_out_section(report["left_out"])),
        *details("Workloads sharing a policy", _roles_section(report["roles"])),
        *details("External ranges", _external_section(report["external_ranges"])),
        *details(
            "DNS names behind external addresses",
            _external_names_section(report.get("external_names", [])),
        ),
        *details("Egress by DNS name", _fqdn_section(report.get("fqdn_names", []))),
        *details("Denied observed connections", _denied_section(report["denied_connections"])),
        *details("Notes", _notes_section(rec)),
        *details(
            "Selectors proven only among observed pods",
            _unproven_lines(report["unproven_selectors"]),
        ),
        *_graph_section(rec),
        *details("Picture: graph.svg", _picture_section(rec)),
        *details("Files", file_diffs(rec, report, files)),
        *details("Policies", _policies_section(rec, report, files)),
    ]
    return "\n".join(lines)


def _policies_section(
    rec: Recommendation, report: dict[str, Any], files: Sequence[RenderedFile]
) -> list[str]:
    lines = ["## Policies", ""]
    for entry, f in zip(report["policy_files"], files, strict=True):
        if f.ir is not None:
            lines += _policy_section(entry, f.ir)
        else:
            ns = ", ".join(md(n) for n in _subject_namespaces(entry))
            lines += [
                f"### `{md(entry['file'])}`",
                "",
                f"{md(entry['kind'])} `{md(entry['name'])}` (cluster-scoped): the default-deny "
                f"of {ns}, with DNS to the cluster resolver allowed.",
                "",
            ]
    return lines


def _subject_namespaces(entry: dict[str, Any]) -> list[str]:
    exprs = (((entry.get("subject") or {}).get("namespaces") or {}).get("matchExpressions")) or []
    return [v for e in exprs for v in e.get("values") or []]


def _graph_section(rec: Recommendation) -> list[str]:
    """The allowed workload edges, one collapsed Mermaid graph per namespace."""
    lines: list[str] = []
    for ns, block in mermaid_graphs(rec).items():
        lines += details(f"Allowed workload edges into {md(ns)}", block)
    return lines


def _picture_section(rec: Recommendation) -> list[str]:
    """What graph.svg (written beside SUMMARY.md) draws, and what it folds or leaves out."""
    graph = rec.graph
    lines = [
        f"`{GRAPH_FILE}` beside this file draws the workloads by namespace, the allowed edges "
        "with their ports, peers outside the cluster and at-risk traffic (dashed): "
        f"{md(summary_text(graph))}.",
    ]
    left_out = graph.left_out_text()
    if left_out:
        lines += ["", f"Folded or left out of the picture: {md(left_out)}."]
    return lines


def _existing_section(existing: dict[str, Any] | None) -> list[str]:
    """Against existing policies: what changes, coverage and breadth before and after, and
    the objects read but not understood (nothing without ``--existing``)."""
    if existing is None:
        return []
    before, after = existing["before"], existing["after"]
    lines = [
        "## Against the existing policies",
        "",
        f"{existing['policies']} existing policies read ({existing['managed']} managed by "
        "this tool); hand-written ones are never changed.",
        "",
        "| | existing alone | existing + proposal |",
        "|---|---|---|",
        f"| coverage | {before['coverage'] * 100:.2f}% ({before['covered_connections']}/"
        f"{before['connections']}) | {after['coverage'] * 100:.2f}% "
        f"({after['covered_connections']}/{after['connections']}) |",
        f"| breadth | {before['breadth']} | {after['breadth']} |",
        "",
    ]
    if not existing["new"] and not existing["changed"]:
        lines += [
            "Nothing to propose: the existing policies already allow every observed connection.",
            "",
        ]
    return lines


def _existing_lists(existing: dict[str, Any] | None) -> list[str]:
    """The new and changed policies by name, and the objects read but not understood."""
    if existing is None:
        return []
    lines: list[str] = []
    for label, names in (("New", existing["new"]), ("Changed (managed)", existing["changed"])):
        if names:
            lines += [f"{label}: " + ", ".join(f"`{md(n)}`" for n in names), ""]
    unknown = [f"- kept, effect unknown: {md(u['object'])}" for u in existing["unknown_objects"]]
    return [*lines, *unknown, ""] if unknown else lines


def _output_kind_section(report: dict[str, Any]) -> list[str]:
    """Which kind the files are, the round trip's figures, and how to promote staged files
    (nothing for plain NetworkPolicies)."""
    if report.get("output_kind") is None:
        return []
    return [*_kind_lines(report), *_rendered_lines(report.get("rendered")), *_promote_lines(report)]


#: What each output kind's files are, for the first screen.
KIND_TEXT = {
    "calico": "Calico `NetworkPolicy` objects (`projectcalico.org/v3`, tier `default`)",
    "cilium": "`CiliumNetworkPolicy` objects (`cilium.io/v2`)",
}


def _kind_lines(report: dict[str, Any]) -> list[str]:
    output = report.get("output") or {}
    kind = report["output_kind"]
    if kind == "calico-staged":
        return []
    if kind == "calico" and output.get("staged"):
        text = (
            "Calico `StagedNetworkPolicy` objects (`projectcalico.org/v3`, tier `default`, "
            "`stagedAction: Set`): applied, they enforce nothing; Calico reports what each "
            "would allow or deny"
        )
    else:
        text = KIND_TEXT.get(kind, "Kubernetes `NetworkPolicy` objects")
    lines = [f"Written as {text}."]
    if output.get("baseline"):
        lines[0] += (
            f" The per-namespace default-denies are one cluster-scoped "
            f"`{md(output['baseline'])}` object (`{CLUSTER_DIR.as_posix()}/`)."
        )
    if output.get("external") == "fqdn":
        lines[0] += " Egress to external destinations the logs name is stated by DNS name."
    return [*lines, ""]


def _rendered_lines(rendered: dict[str, Any] | None) -> list[str]:
    """The files re-read by their kind's reader and replayed: the same figures, or what
    differs (first, so a reviewer sees it)."""
    if rendered is None:
        return []
    breadth = "not measured" if rendered["breadth"] is None else f"{rendered['breadth']:,}"
    head = (
        f"Re-read as written and replayed: coverage {_pct(rendered['coverage'])} "
        f"({rendered['covered_connections']} of {rendered['connections']}), breadth {breadth}"
    )
    if rendered["same_as_proposal"]:
        return [head + ": the same as the proposal's own proof.", ""]
    return [
        head + ". It differs from the proposal's own proof:",
        "",
        *(f"- {md(d)}" for d in rendered["differences"]),
        "",
    ]


def _promote_lines(report: dict[str, Any]) -> list[str]:
    if "promote" not in report:
        return []
    if report["output_kind"] != "calico-staged":
        return [
            "Once the staged verdicts show nothing denied that should pass, promote them "
            "(in this directory), apply those and delete the staged ones:",
            "",
            *fenced("sh", report["promote"]),
            "",
        ]
    return [
        "Written as Calico `StagedKubernetesNetworkPolicy` objects (`projectcalico.org/v3`, "
        "`stagedAction: Set`): applied, they enforce nothing; Calico reports what each would "
        "allow or deny. The figures below are those of the same policies enforced. Once the "
        "staged verdicts show nothing denied that should pass, promote them to NetworkPolicies "
        "(in this directory), apply those and delete the staged ones:",
        "",
        "```sh",
        report["promote"],
        "```",
        "",
    ]


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
        f"| policies | {report['policies']} |",
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


def _external_names_section(found: list[dict[str, Any]]) -> list[str]:
    """The names behind each address or CIDR of the external egress rules: what a
    reviewer recognises where an ipBlock shows only numbers."""
    if not found:
        return []
    lines = [
        "## DNS names behind external addresses",
        "",
        "The flow logs named these destinations; the rules admit their addresses, which "
        "may change (an output kind with FQDN support states them by name).",
        "",
        "| workload | port | peer | names |",
        "|---|---|---|---|",
    ]
    for x in found:
        lines.append(
            f"| {md(x['workload'])} | {md(x['port'])} | {md(x['peer'])} | "
            f"{md(', '.join(x['names']))} |"
        )
    return [*lines, ""]


def _fqdn_section(found: list[dict[str, Any]]) -> list[str]:
    """Each egress peer stated by DNS name, with what was observed for it."""
    if not found:
        return []
    lines = [
        "## Egress by DNS name",
        "",
        "| workload | peer | ports | addresses seen | DNS answers | flows | first seen "
        "| last seen |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for x in found:
        lines.append(
            f"| {md(x['workload'])} | {md(x['peer'])} | {md(', '.join(x['ports']))} | "
            f"{md(', '.join(x['addresses']))} | {x['dns_answers']} | {x['flows']} | "
            f"{md(x['first_seen'] or '')} | {md(x['last_seen'] or '')} |"
        )
    return [*lines, ""]


def _all_pass_line(rec: Recommendation, denied: list[dict[str, Any]]) -> list[str]:
    """Said only when nothing is denied and nothing is at risk (never "all pass" otherwise)."""
    at_risk = rec.at_risk.total if rec.at_risk is not None else 0
    if denied or at_risk:
        return []
    return ["All observed connections pass the independent evaluator.", ""]


def _denied_section(denied: list[dict[str, Any]]) -> list[str]:
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


_FRACTION = re.compile(r"\.\d+")


def whole_seconds(text: str | None) -> str | None:
    """An ISO 8601 time floored to the second: its fraction dropped. The same text as
    ``iso(ts.floor("s"))`` without pandas' floor (8 us, 7,000 rules at 2,000 workloads),
    and ``iso(ts)`` is the report's, already cached."""
    return None if text is None else _FRACTION.sub("", text, count=1)


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
            ports = ", ".join(md(port_text(p)) for p in rule.ports)
            flows = sum(e.flows for e in rule.evidence)
            seen = [e.last_seen for e in rule.evidence if e.last_seen is not None]
            last = whole_seconds(iso(max(seen))) if seen else "DNS allowance"
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
