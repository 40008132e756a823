"""Read policy YAML from a directory, the way a policy repo holds it.

Multi-document files and ``List`` objects are unpacked. Every kind a reader reads is kept
(:data:`recommender.netpol.read.READ_KINDS`: NetworkPolicy, Cilium, Calico, the
cluster-scoped network-policy-api kinds, with Calico tiers and network sets); other kinds
are skipped with a note (a repo mixes Deployments and policies), never silently. Staged
kinds are judged as if promoted, and a Calico ``StagedKubernetesNetworkPolicy`` that
enforces nothing when promoted (``stagedAction: Delete``) gets a note.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from .netpol.calico_staged import STAGED_KIND, is_staged, staged_action
from .netpol.model import PolicyError
from .netpol.read import reader_of


def _objects(doc: Any) -> list[Any]:
    if (
        isinstance(doc, dict)
        and doc.get("kind") == "List"
        or (isinstance(doc, dict) and str(doc.get("kind", "")).endswith("List") and "items" in doc)
    ):
        return list(doc.get("items") or [])
    return [doc]


def _staged_note(obj: dict[str, Any], where: str) -> str | None:
    """What a reader of the verdicts must know about a staged policy, if anything."""
    action = staged_action(obj)
    if action == "Set":
        return None
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name = f"{meta.get('namespace') or 'default'}/{meta.get('name') or '<unnamed>'}"
    return (
        f"{where}: {STAGED_KIND} {name} has stagedAction {action}: "
        "judged as removed, it enforces nothing"
    )


def load_documents(text: str) -> list[Any]:
    """The documents of one YAML text, as PyYAML's safe loader builds them. libyaml's parser
    (under the same safe constructor) reads them 6x faster: 4 ms instead of 28 for a
    13-file proposal. It reads tabs where PyYAML's scanner refuses them (``a:<tab>b``), and
    it words errors otherwise: text with a tab, and text it fails on, are read by PyYAML's
    own loader, so every document and every error is the one PyYAML gives."""
    if yaml.__with_libyaml__ and "\t" not in text:
        try:
            return list(yaml.load_all(text, Loader=yaml.CSafeLoader))
        except yaml.YAMLError:
            pass
    return list(yaml.safe_load_all(text))


def load_policies(directory: str | os.PathLike) -> tuple[list[dict[str, Any]], list[str]]:
    """Every policy object (of a kind some reader reads) under ``directory`` (sorted by path;
    a file is read alone), and notes on the rest."""
    policies: list[dict[str, Any]] = []
    notes: list[str] = []
    root = Path(directory)
    files = (
        [root]
        if root.is_file()
        else sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    )
    for path in files:
        try:
            docs = load_documents(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise PolicyError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
        for i, doc in enumerate(docs):
            for obj in _objects(doc):
                if obj is None:
                    continue
                if not isinstance(obj, dict):
                    notes.append(f"{path} document {i + 1}: not an object, ignored")
                    continue
                kind = (obj.get("apiVersion"), obj.get("kind"))
                if is_staged(obj):
                    note = _staged_note(obj, f"{path} document {i + 1}")
                    if note:
                        notes.append(note)
                if reader_of(obj) is not None:
                    policies.append(obj)
                else:
                    notes.append(f"{path} document {i + 1}: {kind[1] or 'no kind'} ignored")
    return policies, notes
