"""The SVG text of a graph: a legend, namespace boxes with their workloads, peers outside
the cluster, and the edges, each element carrying machine-readable attributes
(``class="edge at-risk"``, ``data-src``, ``data-dst``, ``data-ports``) and a ``<title>``
tooltip.

Names come from logs: every text and attribute goes through :func:`xml_text` /
:func:`xml_attr` (markup escaped, characters XML cannot hold replaced), so any name gives a
file that parses. Styles are presentation attributes, not CSS, so a picture inlined in a
notebook cannot restyle the page around it. No ids but the fixed marker ids.
"""

from __future__ import annotations

import re

from .layout import Box, Layout, edge_geometry, lay_out
from .model import NO_GROUP, NODES, OUTSIDE, Edge, Graph, Node

#: status -> (stroke colour, width, dash pattern or "")
EDGE_STYLE = {
    "allowed": ("#4a5568", "1.4", ""),
    "at-risk": ("#dd6b20", "2.2", "7 4"),
    "denied": ("#e53e3e", "2.4", ""),
    "unjudged": ("#805ad5", "1.8", "2 3"),
}
EDGE_WORDS = {
    "allowed": "allowed",
    "at-risk": "at risk: observed, will be denied",
    "denied": "denied",
    "unjudged": "unjudged (verdict unknown)",
}
#: node kind -> (fill, stroke, dash pattern, words for the legend)
NODE_STYLE = {
    "workload": ("#ffffff", "#2b6cb0", "", "workload"),
    "public": ("#ffffff", "#2f855a", "", "public-facing workload"),
    "external": ("#fffff0", "#b7791f", "", "external peer"),
    "folded": ("#fffff0", "#b7791f", "5 3", "external peers, folded"),
    "node": ("#edf2f7", "#718096", "", "cluster node"),
    "unknown": ("#f7fafc", "#a0aec0", "4 3", "no identity"),
}
#: Ports an edge label names before "+N more".
LABEL_PORTS = 3
_LINE1 = 30
_LINE2 = 36
#: What XML 1.0 cannot hold: the C0 controls but tab, LF and CR, the surrogates, U+FFFE and
#: U+FFFF (the complement of its Char production, which compiles five times slower).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(text: object) -> str:
    return _NOT_XML.sub("\ufffd", str(text))


def xml_text(text: object) -> str:
    """Character data: markup escaped, characters XML 1.0 cannot hold replaced."""
    return _clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def xml_attr(text: object) -> str:
    """A double-quoted attribute value: as :func:`xml_text`, quotes and whitespace too."""
    out = xml_text(text).replace('"', "&quot;").replace("'", "&apos;")
    return out.replace("\t", "&#9;").replace("\n", "&#10;").replace("\r", "&#13;")


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def _ports_label(ports: tuple[str, ...]) -> str:
    shown = ", ".join(ports[:LABEL_PORTS])
    more = len(ports) - LABEL_PORTS
    return shown + (f" +{more}" if more > 0 else "")


def _rect(box: Box, fill: str, stroke: str, dash: str, extra: str = "") -> str:
    dashes = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<rect x="{box.x}" y="{box.y}" width="{box.w}" height="{box.h}" rx="6" '
        f'fill="{fill}" stroke="{stroke}"{dashes}{extra}/>'
    )


def _node_lines(node: Node) -> tuple[str, str]:
    """The two lines of a node's box: its name (a workload without its namespace, which
    its box names) and what it is."""
    if node.kind == "workload":
        name = node.id.split("/", 1)[1] if node.id.startswith(f"{node.group}/") else node.id
        return name, "public-facing" if node.public else ""
    if node.kind == "folded":
        return node.id.split(" of ", 1)[0], ""
    return node.id, ", ".join(node.names) or ("cluster node" if node.kind == "node" else "")


def _node_title(node: Node) -> str:
    words = NODE_STYLE["public" if node.public else node.kind][3]
    title = f"{node.id} ({words})"
    if node.names:
        title += "\nDNS: " + ", ".join(node.names)
    if node.members:
        shown = list(node.members[:10])
        more = len(node.members) - len(shown)
        title += "\n" + "\n".join(shown) + (f"\n... and {more} more" if more > 0 else "")
    return title


def _node(node: Node, box: Box) -> list[str]:
    kind = "public" if node.public else node.kind
    fill, stroke, dash, _ = NODE_STYLE[kind]
    classes = f"node {node.kind}" + (" public" if node.public else "")
    attrs = f'class="{classes}" data-id="{xml_attr(node.id)}" data-group="{xml_attr(node.group)}"'
    if node.names:
        attrs += f' data-names="{xml_attr(",".join(node.names))}"'
    if node.members:
        attrs += f' data-count="{len(node.members)}"'
        attrs += f' data-members="{xml_attr(",".join(node.members))}"'
    width = ' stroke-width="2.5"' if node.public else ""
    line1, line2 = _node_lines(node)
    out = [
        f"<g {attrs}>",
        f"<title>{xml_text(_node_title(node))}</title>",
        _rect(box, fill, stroke, dash, width),
        f'<text x="{box.x + 8}" y="{box.y + 16}">{xml_text(_short(line1, _LINE1))}</text>',
    ]
    if line2:
        out.append(
            f'<text x="{box.x + 8}" y="{box.y + 31}" font-size="10" fill="#4a5568">'
            f"{xml_text(_short(line2, _LINE2))}</text>"
        )
    out.append("</g>")
    return out


def _group(name: str, box: Box, nodes: list[Node], layout: Layout) -> list[str]:
    if name in (OUTSIDE, NODES, NO_GROUP):
        head = f'<g class="group {_GROUP_CLASS[name]}" data-group="{xml_attr(name)}">'
        label = name.strip("()")
    else:
        head = f'<g class="group namespace" data-namespace="{xml_attr(name)}">'
        label = f"namespace {name}"
    out = [
        head,
        f"<title>{xml_text(label)}: {len(nodes)}</title>",
        _rect(box, "#f7fafc", "#a0aec0", "", ' fill-opacity="0.4"'),
        f'<text x="{box.x + 12}" y="{box.y + 20}" font-weight="bold">'
        f"{xml_text(_short(label, max(12, box.w // 8)))}</text>",
    ]
    for node in nodes:
        out += _node(node, layout.nodes[node.id])
    out.append("</g>")
    return out


_GROUP_CLASS = {OUTSIDE: "outside", NODES: "nodes", NO_GROUP: "no-identity"}


def _edge_attrs(e: Edge) -> str:
    return (
        f'class="edge {e.status}" data-src="{xml_attr(e.src)}" data-dst="{xml_attr(e.dst)}" '
        f'data-status="{e.status}" data-ports="{xml_attr(",".join(e.ports))}" '
        f'data-flows="{e.flows}"'
    )


def _edge(e: Edge, layout: Layout) -> tuple[str, str]:
    """The edge (path and tooltip) and its label, drawn in separate layers."""
    stroke, width, dash = EDGE_STYLE[e.status]
    path, lx, ly = edge_geometry(layout.nodes[e.src], layout.nodes[e.dst])
    unit = "records" if e.status == "at-risk" else "flows"
    title = f"{e.src} -> {e.dst}: {', '.join(e.ports)} ({EDGE_WORDS[e.status]}; {e.flows} {unit})"
    dashes = f' stroke-dasharray="{dash}"' if dash else ""
    edge = (
        f"<g {_edge_attrs(e)}><title>{xml_text(title)}</title>"
        f'<path d="{path}" fill="none" stroke="{stroke}" stroke-width="{width}"{dashes} '
        f'marker-end="url(#arrow-{e.status})"/></g>'
    )
    label = (
        f'<text class="edge-label {e.status}" data-src="{xml_attr(e.src)}" '
        f'data-dst="{xml_attr(e.dst)}" x="{lx}" y="{ly}" font-size="10" text-anchor="middle" '
        f'fill="{stroke}" stroke="#ffffff" stroke-width="3" paint-order="stroke">'
        f"{xml_text(_ports_label(e.ports))}</text>"
    )
    return edge, label


def _markers() -> list[str]:
    out = ["<defs>"]
    for status, (stroke, _, _) in EDGE_STYLE.items():
        out.append(
            f'<marker id="arrow-{status}" viewBox="0 0 10 10" refX="10" refY="5" '
            f'markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" '
            'orient="auto-start-reverse">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="{stroke}"/></marker>'
        )
    out.append("</defs>")
    return out


def _legend(graph: Graph) -> list[str]:
    """One row of edge styles (the statuses this picture can show), one of the node styles
    it uses."""
    out = ['<g class="legend">']
    x = 24
    for status in graph.statuses:
        stroke, width, dash = EDGE_STYLE[status]
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<g class="legend-edge {status}"><path d="M{x},68 L{x + 40},68" stroke="{stroke}" '
            f'stroke-width="{width}"{dashes} marker-end="url(#arrow-{status})"/>'
            f'<text x="{x + 48}" y="72">{xml_text(EDGE_WORDS[status])}</text></g>'
        )
        x += 60 + 7 * len(EDGE_WORDS[status])
    x = 24
    kinds = {"workload"} | {"public" if n.public else n.kind for n in graph.nodes.values()}
    for kind, (fill, stroke, dash, words) in NODE_STYLE.items():
        if kind not in kinds:
            continue
        box = Box(x, 84, 22, 16)
        width = ' stroke-width="2.5"' if kind == "public" else ""
        out.append(
            f'<g class="legend-node {kind}">{_rect(box, fill, stroke, dash, width)}'
            f'<text x="{x + 30}" y="97">{xml_text(words)}</text></g>'
        )
        x += 44 + 7 * len(words)
    out.append("</g>")
    return out


def summary_text(graph: Graph) -> str:
    """One line of figures: what the picture holds."""
    workloads = sum(1 for n in graph.nodes.values() if n.kind == "workload")
    peers = sum(1 for n in graph.nodes.values() if n.kind != "workload")
    counts = ", ".join(f"{graph.count(s)} {s}" for s in graph.statuses)
    return (
        f"{workloads} workloads in {len(graph.namespaces)} namespaces, {peers} other ends; "
        f"edges: {counts}"
    )


def render_svg(graph: Graph) -> str:
    """The whole SVG document (UTF-8 text, ending in a newline)."""
    layout = lay_out(graph)
    left_out = graph.left_out_text()
    desc = f"Folded or left out: {left_out}." if left_out else "Nothing folded or left out."
    edges, labels = [], []
    for e in graph.edges:
        edge, label = _edge(e, layout)
        edges.append(edge)
        labels.append(label)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{layout.width}" '
        f'height="{layout.height}" viewBox="0 0 {layout.width} {layout.height}" '
        'font-family="Helvetica, Arial, sans-serif" font-size="12" fill="#1a202c">',
        f"<title>{xml_text(graph.title)}: {xml_text(summary_text(graph))}</title>",
        f"<desc>{xml_text(desc)}</desc>",
        *_markers(),
        f'<rect width="{layout.width}" height="{layout.height}" fill="#ffffff"/>',
        f'<text x="24" y="34" font-size="18" font-weight="bold">{xml_text(graph.title)}</text>',
        f'<text x="24" y="52" fill="#4a5568">{xml_text(summary_text(graph))}'
        + (f" | folded or left out: {xml_text(left_out)}" if left_out else "")
        + "</text>",
        *_legend(graph),
        '<g class="edges">',
        *edges,
        "</g>",
        '<g class="groups">',
    ]
    groups = graph.groups
    for name, box in layout.groups.items():
        out += _group(name, box, groups[name], layout)
    out += ["</g>", '<g class="edge-labels">', *labels, "</g>", "</svg>"]
    return "\n".join(out) + "\n"
