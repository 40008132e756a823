"""The SVG document: it parses whatever the names, every element says what it is, and the
same graph gives the same bytes."""

from __future__ import annotations

from conftest import address, flow, flows_table, pod

from recommender.accounting import RecordCounts
from recommender.graph.model import Edge, Graph, Node
from recommender.graph.svg import render_svg, xml_attr, xml_text
from recommender.pipeline import recommend_from_flows

from .svg_doc import SVG, classes, edges, groups, namespace_members, nodes, parse, title

HOSTILE = "x<y&z\"q']]>\x01"
CLEAN = "x<y&z\"q']]>\ufffd"


def test_text_and_attributes_escape_markup_and_replace_what_xml_cannot_hold():
    assert xml_text("a<b>&]]>") == "a&lt;b&gt;&amp;]]&gt;"
    assert xml_attr("\"'\n\t") == "&quot;&apos;&#10;&#9;"
    assert xml_text("\x00\x1f\ud800ok") == "\ufffd\ufffd\ufffdok"


def test_exactly_the_characters_outside_xml_char_are_replaced():
    """Every code point: kept when XML 1.0's Char production admits it, else U+FFFD."""

    def is_xml_char(c: int) -> bool:
        return c in (0x9, 0xA, 0xD) or 0x20 <= c <= 0xD7FF or 0xE000 <= c <= 0xFFFD or c >= 0x10000

    every = "".join(map(chr, range(0x110000)))
    expected = "".join(ch if is_xml_char(ord(ch)) else "\ufffd" for ch in every)
    assert xml_text(every.replace("&", "").replace("<", "").replace(">", "")) == (
        expected.replace("&", "").replace("<", "").replace(">", "")
    )


def test_hostile_names_from_logs_give_a_file_that_parses_with_the_names_intact():
    web = pod("shop", f"web{HOSTILE}-7d4b9c8f6-bcdfg", {"app": "web"}, "10.0.0.1")
    api = pod(f"ns{HOSTILE}", "api-7d4b9c8f6-zzzzz", {"app": "api"}, "10.0.0.3")
    world = address("93.184.216.34")
    rows = [flow(web, api, 8080), flow(api, world, 443, dst_names=[f"a{HOSTILE}.example"])]
    rec = recommend_from_flows(flows_table(rows), RecordCounts())
    root = parse(rec.graph_svg())
    members = namespace_members(root)
    assert members["shop"] == {f"shop/web{CLEAN}"}
    assert members[f"ns{CLEAN}"] == {f"ns{CLEAN}/api"}
    assert edges(root, "allowed") == {
        (f"shop/web{CLEAN}", f"ns{CLEAN}/api"): ("TCP 8080",),
        (f"ns{CLEAN}/api", "93.184.216.34"): ("TCP 443",),
    }
    assert nodes(root)["93.184.216.34"].get("data-names") == f"a{CLEAN}.example"
    titles = {title(e) for e in groups(root, "edge")}
    assert f"shop/web{CLEAN} -> ns{CLEAN}/api: TCP 8080 (allowed; 1 flows)" in titles


def _graph(edge_list: list[Edge], nodes_: list[Node]) -> Graph:
    return Graph("A picture", {n.id: n for n in nodes_}, edge_list)


def test_each_status_has_its_class_style_and_legend_entry():
    a, b, c = (Node(f"ns/{x}", "ns", "workload") for x in "abc")
    g = _graph(
        [
            Edge("ns/a", "ns/b", "allowed", ("TCP 80",), 1),
            Edge("ns/a", "ns/c", "denied", ("TCP 81",), 1),
            Edge("ns/b", "ns/c", "unjudged", ("TCP 82",), 1),
            Edge("ns/c", "ns/a", "at-risk", ("TCP 83", "TCP 84", "UDP 1", "UDP 2"), 1),
        ],
        [a, b, c],
    )
    root = parse(render_svg(g))
    paths = {}
    for e in groups(root, "edge"):
        (status,) = classes(e) - {"edge"}
        paths[status] = e.find(f"{SVG}path")
        assert e.get("data-status") == status
    assert paths["at-risk"].get("stroke-dasharray") and paths["unjudged"].get("stroke-dasharray")
    assert not paths["allowed"].get("stroke-dasharray")
    assert paths["denied"].get("stroke") != paths["allowed"].get("stroke")
    legend = {next(iter(classes(x) - {"legend-edge"})) for x in groups(root, "legend-edge")}
    assert legend == {"allowed", "denied", "unjudged", "at-risk"}
    labels = [t.text for t in root.iter(f"{SVG}text") if "edge-label" in classes(t)]
    assert "TCP 83, TCP 84, UDP 1 +1" in labels


def test_a_loop_for_traffic_between_replicas_of_one_workload():
    a = Node("ns/a", "ns", "workload")
    root = parse(render_svg(_graph([Edge("ns/a", "ns/a", "allowed", ("TCP 7000",), 3)], [a])))
    (path,) = [p for e in groups(root, "edge") for p in e.iter(f"{SVG}path")]
    assert path.get("d").count("C") == 1


def test_what_is_left_out_is_said_in_the_description():
    a, b = Node("ns/a", "ns", "workload"), Node("ns/b", "ns", "workload")
    g = _graph([Edge("ns/a", "ns/b", "allowed", ("TCP 80",), 1)], [a, b])
    assert parse(render_svg(g)).find(f"{SVG}desc").text == "Nothing folded or left out."
    g.left_out = {"allowed": 12}
    desc = parse(render_svg(g)).find(f"{SVG}desc").text
    assert desc.startswith("Folded or left out: 12 edges not drawn (12 allowed;")


def test_same_graph_same_bytes():
    ws = [Node(f"ns{i % 3}/w{i}", f"ns{i % 3}", "workload") for i in range(40)]
    g = _graph([Edge(ws[i].id, ws[i + 1].id, "allowed", ("TCP 1",), 1) for i in range(39)], ws)
    first = render_svg(g)
    assert render_svg(g) == first
    assert len(groups(parse(first), "node")) == 40
