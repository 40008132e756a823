"""The parts of SUMMARY.md that make it a pull-request body: collapsible sections, the
changes table, per-file diffs and a Mermaid graph of the allowed workload edges.

GitHub renders ``<details>`` and Mermaid in PR bodies; long lists go into ``<details>`` so
the first screen (everything before the first one) stays the same size for any cluster.
Nothing from a log can close a code fence: the fence is longer than any run of backticks
in its text, and Mermaid labels are entity-escaped.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .generate.k8s import to_yaml

if TYPE_CHECKING:
    from .generate.kinds import RenderedFile
    from .results import Recommendation

#: Edges drawn per namespace in the Mermaid graph; the rest are counted.
MAX_EDGES_PER_NAMESPACE = 30
#: Files whose YAML or diff SUMMARY.md shows; the rest are only in policies/.
MAX_FILE_DIFFS = 30

_MERMAID_UNSAFE = re.compile(r"[^A-Za-z0-9 ./:_=-]")
_BACKTICKS = re.compile(r"`+")


def details(summary: str, lines: list[str]) -> list[str]:
    """``lines`` collapsed under ``summary`` (already escaped); nothing when empty."""
    if not lines:
        return []
    return [f"<details><summary>{summary}</summary>", "", *lines, "", "</details>", ""]


def fenced(lang: str, text: str) -> list[str]:
    """A code block whose fence no backtick run in ``text`` can close."""
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{lang}", *text.rstrip("\n").split("\n"), fence]


def changes_table(rec: Recommendation, report: dict[str, Any]) -> list[str]:
    """New / changed / unchanged files (unchanged only against existing policies), and the
    proposed tightenings of existing policies when ``recommend --existing`` wrote them."""
    existing = report.get("existing")
    if existing is None:
        rows = [("new", report["policies"])]
    else:
        rows = [
            ("new", len(existing["new"])),
            ("changed (managed by this tool)", len(existing["changed"])),
            ("unchanged (existing, not touched)", existing["policies"] - len(existing["changed"])),
        ]
        if "tightening" in existing:
            rows.append(("proposed tightening (`tighten/`, not applied)", existing["tightening"]))
    return [
        "| changes | policies |",
        "|---|---|",
        *[f"| {label} | {n} |" for label, n in rows],
        "",
    ]


def before_line(report: dict[str, Any]) -> list[str]:
    """Before → after without ``--existing``: before is no policy at all."""
    if report.get("existing") is not None:
        return []
    return [
        "Before: no policies (everything allowed). After: the coverage and breadth below.",
        "",
    ]


def file_diffs(
    rec: Recommendation, report: dict[str, Any], files: Sequence[RenderedFile]
) -> list[str]:
    """Each written file (``files``, as :func:`recommender.generate.kinds.render_files`
    renders them): its whole YAML when new, a unified diff when it changes a managed
    object, each collapsed under its path."""
    changed = set(report["existing"]["changed"]) if report.get("existing") else set()
    old_by_key: dict[tuple[str, str], dict[str, Any]] = {}
    if rec.existing is not None:  # only then is recommender.existing loaded
        from .existing import key_of

        old_by_key = {key_of(p): p for p in rec.existing.existing.policies}
    lines: list[str] = []
    pairs = list(zip(report["policy_files"], files, strict=True))
    for entry, f in pairs[:MAX_FILE_DIFFS]:
        new = to_yaml(f.obj)
        key = (entry["namespace"], entry["name"])
        if f"{key[0]}/{key[1]}" in changed and key in old_by_key:
            old = to_yaml(old_by_key[key])
            diff = difflib.unified_diff(
                old.splitlines(), new.splitlines(), f"a/{entry['file']}", f"b/{entry['file']}"
            )
            block = fenced("diff", "\n".join(line.rstrip("\n") for line in diff))
        else:
            block = fenced("yaml", new)
        lines += details(entry["file"], block)
    if len(pairs) > MAX_FILE_DIFFS:
        lines += [f"({len(pairs) - MAX_FILE_DIFFS} more files in policies/.)", ""]
    return lines


def mermaid_label(text: str) -> str:
    """Text for a quoted Mermaid label: anything but plain name characters as an entity."""
    return _MERMAID_UNSAFE.sub(_entity, str(text))


def _entity(match: re.Match[str]) -> str:
    return f"#{ord(match.group())};"


def allowed_edges(rec: Recommendation) -> dict[str, dict[tuple[str, str], list[str]]]:
    """Observed pod-to-pod connections the proposal allows, folded to workload edges with
    their ports, by destination namespace (sorted)."""
    r = rec.replayed
    pods = r[
        r["allowed"]
        & r["src_kind"].eq("pod")
        & r["dst_kind"].eq("pod")
        & r["src_workload"].notna()
        & r["dst_workload"].notna()
    ]
    edges: dict[str, dict[tuple[str, str], set[str]]] = defaultdict(lambda: defaultdict(set))
    columns = ["src_workload", "dst_workload", "dst_namespace", "port", "protocol"]
    # distinct rows (a third of them at 2,000 workloads), as object arrays: iterating the
    # Arrow-backed columns themselves took 8x as long
    distinct = pods[columns].drop_duplicates()
    for src, dst, ns, port, proto in zip(
        *(distinct[c].to_numpy(dtype=object) for c in columns), strict=True
    ):
        edges[str(ns)][(str(src), str(dst))].add(f"{int(port)}/{proto}")
    return {
        ns: {e: sorted(ports, key=_port_key) for e, ports in sorted(by_edge.items())}
        for ns, by_edge in sorted(edges.items())
    }


def _port_key(port: str) -> tuple[int, str]:
    number, _, proto = port.partition("/")
    return (int(number) if number.lstrip("-").isdigit() else 0, proto)


def mermaid_graphs(rec: Recommendation) -> dict[str, list[str]]:
    """One ``flowchart LR`` per destination namespace of the workload edges the proposal
    allows, at most :data:`MAX_EDGES_PER_NAMESPACE` drawn."""
    graphs: dict[str, list[str]] = {}
    for ns, edges in allowed_edges(rec).items():
        names = sorted({w for edge in edges for w in edge})
        ids = {w: f"n{i}" for i, w in enumerate(names)}
        shown = list(edges.items())[:MAX_EDGES_PER_NAMESPACE]
        drawn = sorted({w for (src, dst), _ in shown for w in (src, dst)}, key=names.index)
        graph = ["flowchart LR"]
        graph += [f'  {ids[w]}["{mermaid_label(w)}"]' for w in drawn]
        graph += [
            f'  {ids[src]} -->|"{mermaid_label(", ".join(ports))}"| {ids[dst]}'
            for (src, dst), ports in shown
        ]
        block = fenced("mermaid", "\n".join(graph))
        more = len(edges) - len(shown)
        if more > 0:
            block += ["", f"({more} more edges into this namespace not drawn.)"]
        graphs[ns] = block
    return graphs
