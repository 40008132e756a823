"""Where everything goes: namespaces as boxes packed in rows (shelves), workloads in a grid
inside their box, edges as quadratic curves between box borders.

Deterministic by construction: groups and nodes come sorted by name, every coordinate is
rounded, nothing is random; one pass over the groups and one over the nodes (linear).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .model import Graph

NODE_W = 220
NODE_H = 38
GAP_X = 44
GAP_Y = 34
PAD = 18
HEADER = 30
GROUP_GAP = 60
MARGIN = 24
#: Height of the title and legend band above the groups.
TOP = 118
MIN_WIDTH = 900


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


@dataclass
class Layout:
    width: int
    height: int
    groups: dict[str, Box]
    nodes: dict[str, Box]


def _columns(n: int) -> int:
    return max(1, math.ceil(math.sqrt(n)))


def _group_size(n: int) -> tuple[int, int]:
    cols = min(_columns(n), n) or 1
    rows = math.ceil(n / cols) if n else 1
    return (
        2 * PAD + cols * NODE_W + (cols - 1) * GAP_X,
        HEADER + PAD + rows * NODE_H + (rows - 1) * GAP_Y,
    )


def lay_out(graph: Graph) -> Layout:
    """Shelf packing of the groups (in the graph's order) into rows about as wide as the
    whole is tall, then each group's nodes row by row."""
    groups = graph.groups
    sizes = {g: _group_size(len(nodes)) for g, nodes in groups.items()}
    area = sum((w + GROUP_GAP) * (h + GROUP_GAP) for w, h in sizes.values())
    widest = max((w for w, _ in sizes.values()), default=0)
    limit = max(widest, int(math.sqrt(area) * 1.4), MIN_WIDTH - 2 * MARGIN)
    x, y, shelf = MARGIN, TOP, 0
    boxes: dict[str, Box] = {}
    right = MARGIN
    for g, (w, h) in sizes.items():
        if x > MARGIN and x + w > MARGIN + limit:
            x, y, shelf = MARGIN, y + shelf + GROUP_GAP, 0
        boxes[g] = Box(x, y, w, h)
        right = max(right, x + w)
        x += w + GROUP_GAP
        shelf = max(shelf, h)
    nodes: dict[str, Box] = {}
    for g, members in groups.items():
        box, cols = boxes[g], _columns(len(members))
        for i, node in enumerate(members):
            row, col = divmod(i, cols)
            nodes[node.id] = Box(
                box.x + PAD + col * (NODE_W + GAP_X),
                box.y + HEADER + row * (NODE_H + GAP_Y),
                NODE_W,
                NODE_H,
            )
    width = max(right + MARGIN, MIN_WIDTH)
    return Layout(width, y + shelf + MARGIN, boxes, nodes)


def _border(box: Box, dx: float, dy: float) -> tuple[float, float]:
    """Where the ray from the box's centre along (dx, dy) leaves the box."""
    if dx == 0 and dy == 0:
        return box.cx, box.cy
    tx = (box.w / 2) / abs(dx) if dx else math.inf
    ty = (box.h / 2) / abs(dy) if dy else math.inf
    t = min(tx, ty)
    return box.cx + dx * t, box.cy + dy * t


def edge_geometry(src: Box, dst: Box) -> tuple[str, int, int]:
    """The SVG path of an edge and where its label goes. Bent to the right of its
    direction, so A->B and B->A do not overlap; a workload to itself is a loop."""
    if src == dst:
        x, y = src.x + src.w, src.cy
        path = f"M{x:.0f},{y - 8:.0f} C{x + 40:.0f},{y - 30:.0f} {x + 40:.0f},{y + 30:.0f} "
        path += f"{x:.0f},{y + 8:.0f}"
        return path, round(x + 34), round(y)
    dx, dy = dst.cx - src.cx, dst.cy - src.cy
    length = math.hypot(dx, dy)
    bend = min(60.0, 0.15 * length)
    mx, my = (src.cx + dst.cx) / 2, (src.cy + dst.cy) / 2
    cx, cy = mx - dy / length * bend, my + dx / length * bend
    x0, y0 = _border(src, cx - src.cx, cy - src.cy)
    x1, y1 = _border(dst, cx - dst.cx, cy - dst.cy)
    lx, ly = 0.25 * x0 + 0.5 * cx + 0.25 * x1, 0.25 * y0 + 0.5 * cy + 0.25 * y1
    return f"M{x0:.0f},{y0:.0f} Q{cx:.0f},{cy:.0f} {x1:.0f},{y1:.0f}", round(lx), round(ly)
