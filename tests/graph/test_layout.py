"""Where things go: every node inside its group's box, no two boxes overlapping, edges
leaving and entering on box borders."""

from __future__ import annotations

from recommender.graph.layout import Box, edge_geometry, lay_out
from recommender.graph.model import OUTSIDE, Graph, Node


def _graph(sizes: dict[str, int]) -> Graph:
    nodes = {}
    for group, n in sizes.items():
        for i in range(n):
            node = Node(f"{group}/w{i:03}", group, "workload")
            nodes[node.id] = node
    nodes["1.2.3.4"] = Node("1.2.3.4", OUTSIDE, "external")
    return Graph("t", nodes, [])


def _inside(inner: Box, outer: Box) -> bool:
    return (
        outer.x <= inner.x
        and outer.y <= inner.y
        and inner.x + inner.w <= outer.x + outer.w
        and inner.y + inner.h <= outer.y + outer.h
    )


def _apart(a: Box, b: Box) -> bool:
    return a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y


def test_nodes_sit_in_their_group_and_nothing_overlaps():
    g = _graph({"alpha": 1, "beta": 7, "gamma": 30, "delta": 2})
    layout = lay_out(g)
    for group, members in g.groups.items():
        for node in members:
            assert _inside(layout.nodes[node.id], layout.groups[group])
    boxes = list(layout.groups.values())
    for i, a in enumerate(boxes):
        assert a.x + a.w <= layout.width and a.y + a.h <= layout.height
        assert all(_apart(a, b) for b in boxes[i + 1 :])
    nodes = list(layout.nodes.values())
    for i, a in enumerate(nodes):
        assert all(_apart(a, b) for b in nodes[i + 1 :])


def test_namespaces_come_sorted_and_the_outside_after_them():
    assert list(_graph({"b": 1, "a": 1}).groups) == ["a", "b", OUTSIDE]


def test_edges_start_and_end_on_the_borders_and_opposite_edges_do_not_overlap():
    a, b = Box(0, 0, 100, 40), Box(300, 200, 100, 40)
    there, _, _ = edge_geometry(a, b)
    back, _, _ = edge_geometry(b, a)
    start, control, end = _points(there)
    assert start[0] in (0, 100) or start[1] in (0, 40)
    assert end[0] in (300, 400) or end[1] in (200, 240)
    assert control != _points(back)[1]


def _points(path: str) -> list[tuple[int, int]]:
    parts = path.replace("M", "").replace("Q", "").split()
    return [tuple(int(v) for v in p.split(",")) for p in parts]
