"""Reading a picture back: the SVG parsed with xml.etree, nodes and edges by their
machine-readable attributes."""

from __future__ import annotations

import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"


def parse(text: str) -> ET.Element:
    return ET.fromstring(text.encode("utf-8"))


def classes(el: ET.Element) -> set[str]:
    return set(el.get("class", "").split())


def groups(root: ET.Element, cls: str) -> list[ET.Element]:
    """Every <g> whose class list holds ``cls``."""
    return [g for g in root.iter(f"{SVG}g") if cls in classes(g)]


def namespace_members(root: ET.Element) -> dict[str, set[str]]:
    """namespace -> the ids of the workload nodes inside its group."""
    return {
        g.get("data-namespace"): {n.get("data-id") for n in groups(g, "node")}
        for g in groups(root, "namespace")
    }


def nodes(root: ET.Element) -> dict[str, ET.Element]:
    return {n.get("data-id"): n for n in groups(root, "node")}


def edges(root: ET.Element, status: str) -> dict[tuple[str, str], tuple[str, ...]]:
    """(src, dst) -> ports of the edges of one status."""
    return {
        (e.get("data-src"), e.get("data-dst")): tuple(e.get("data-ports").split(","))
        for e in groups(root, "edge")
        if status in classes(e)
    }


def title(el: ET.Element) -> str:
    found = el.find(f"{SVG}title")
    return found.text if found is not None else ""
