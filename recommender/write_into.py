"""Write a proposal into the policy repository itself (``recommend --write-into``).

The repository's own layout is followed so that ``git diff`` there *is* the pull request:
a changed managed object goes back into the file it came from, a new object into a new
file named the way the repository names them, and nothing else is touched (hand-written
files stay byte-identical; nothing is ever deleted). Everything is planned, and every
refusal raised, before the first file is written.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .existing import is_managed, key_of
from .generate.k8s import to_yaml
from .generate.kinds import RenderedFile, render_files
from .policy_files import load_policies
from .proposal import write_atomic
from .validate import is_dns1123_label, is_dns1123_subdomain

if TYPE_CHECKING:
    from .results import Recommendation

#: (folder above the namespace or the files, scheme, suffix); scheme is one of
#: "ns/name", "ns-name" and "name".
Layout = tuple[Path, str, str]
DEFAULT_LAYOUT: Layout = (Path("policies"), "ns/name", ".yaml")


#: The cluster-scoped kinds a proposal may write (``--baseline``).
CLUSTER_KINDS = ("BaselineAdminNetworkPolicy", "ClusterNetworkPolicy")


class WriteIntoError(ValueError):
    """The repository cannot take the proposal without touching what it must not."""


def policy_files(repo: Path) -> dict[Path, list[dict[str, Any]]]:
    """Each YAML file under ``repo`` (relative path) -> the policy objects it holds."""
    files = sorted(p for p in repo.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    out = {}
    for path in files:
        rel = path.relative_to(repo)
        if not any(part.startswith(".") for part in rel.parts):
            out[rel] = load_policies(path)[0]
    return out


def _file_layout(rel: Path, obj: dict[str, Any]) -> Layout | None:
    ns, name = key_of(obj)
    if rel.stem == name and rel.parent.name == ns:
        return (rel.parent.parent, "ns/name", rel.suffix)
    if rel.stem == f"{ns}-{name}":
        return (rel.parent, "ns-name", rel.suffix)
    if rel.stem == name:
        return (rel.parent, "name", rel.suffix)
    return None


def detect_layout(files: dict[Path, list[dict[str, Any]]]) -> Layout:
    """The most common naming among one-object files; the tool's own when none names its
    object recognisably."""
    seen = Counter(
        layout
        for rel, objs in files.items()
        if len(objs) == 1 and (layout := _file_layout(rel, objs[0])) is not None
    )
    return min(seen, key=lambda k: (-seen[k], str(k))) if seen else DEFAULT_LAYOUT


def new_path(layout: Layout, namespace: str, name: str) -> Path:
    """Where a new object goes under ``layout`` (names checked as Kubernetes names)."""
    folder, scheme, suffix = layout
    if not is_dns1123_label(namespace) or not is_dns1123_subdomain(name):
        raise WriteIntoError(f"refusing unsafe file name for {namespace!r}/{name!r}")
    if scheme == "ns/name":
        return folder / namespace / f"{name}{suffix}"
    if scheme == "ns-name":
        return folder / f"{namespace}-{name}{suffix}"
    return folder / f"{name}{suffix}"


def _source_key(obj: dict[str, Any]) -> tuple[str, str]:
    """(namespace, name) of a namespaced object; ("<kind>", name) of a cluster-scoped one
    (the kinds this tool writes cluster-scoped), so neither is taken for the other."""
    kind = str(obj.get("kind") or "")
    if kind in CLUSTER_KINDS:
        return (kind, str((obj.get("metadata") or {}).get("name") or ""))
    return key_of(obj)


def plan(
    rec: Recommendation, repo: Path, rendered: Sequence[RenderedFile] | None = None
) -> dict[Path, str]:
    """Relative path -> new text for every file the proposal writes into ``repo``
    (``rendered``: the proposal's files in their output kind; default NetworkPolicies). A
    cluster-scoped object (``--baseline``) is named ``<kind>-<name>`` beside the others."""
    files = policy_files(repo)
    source = {_source_key(o): rel for rel, objs in files.items() for o in objs}
    layout = detect_layout(files)
    out: dict[Path, str] = {}
    for f in rendered if rendered is not None else render_files(rec):
        obj = f.obj
        ns, name = _source_key(obj)
        rel = source.get((ns, name))
        if rel is not None and (len(files[rel]) != 1 or not is_managed(files[rel][0])):
            raise WriteIntoError(
                f"{rel}: {ns}/{name} shares its file with other objects or is hand-written; "
                "only a managed object alone in its file is rewritten"
            )
        if rel is None:
            # a cluster-scoped object (no namespace folder) is named <kind>-<name>
            rel = new_path(layout, ns, name) if f.key[0] else layout[0] / f.path.name
            if (repo / rel).exists() or rel in out:
                raise WriteIntoError(f"{rel}: exists already, never overwritten for {ns}/{name}")
        out[rel] = to_yaml(obj)
    return out


def write_into(
    rec: Recommendation,
    repo: str | os.PathLike,
    rendered: Sequence[RenderedFile] | None = None,
) -> list[str]:
    """Write the proposal into ``repo``; returns the files written, relative, sorted."""
    root = Path(repo)
    texts = plan(rec, root, rendered)
    for rel, text in sorted(texts.items()):
        write_atomic(root / rel, text)
    return sorted(rel.as_posix() for rel in texts)
