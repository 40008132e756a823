"""Validate any object the tool writes against its official schema: kubernetes-validate for
``networking.k8s.io/v1``, and for every other kind the CustomResourceDefinition in
``../shared/schemas/`` that defines its (apiVersion, kind) (every CRD there that does: Cilium's
main and v1.17.3, network-policy-api's standard and experimental channels)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import kubernetes_validate
import yaml
from conftest import SHARED
from generate.test_cilium import json_schema, validator_for_schema

#: The Kubernetes minor the core kinds are validated for (endPort is GA since 1.25).
KUBERNETES = "1.25"


@cache
def _crds() -> dict[tuple[str, str], list[tuple[Path, dict]]]:
    out: dict[tuple[str, str], list[tuple[Path, dict]]] = {}
    for path in sorted((SHARED / "schemas").rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec.get("versions") or []:
                schema = (version.get("schema") or {}).get("openAPIV3Schema")
                if schema:
                    key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                    out.setdefault(key, []).append((path, schema))
    return out


def schema_errors(obj: dict) -> list[str]:
    """Every error of ``obj`` against every official schema of its kind; [] when valid.
    An object of a kind no schema defines is an error itself."""
    key = (obj.get("apiVersion"), obj.get("kind"))
    if key == ("networking.k8s.io/v1", "NetworkPolicy"):
        try:
            kubernetes_validate.validate(obj, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as exc:
            return [str(exc)]
        return []
    schemas = _crds().get(key)  # type: ignore[arg-type]
    if not schemas:
        return [f"no official schema for {key}"]
    errors = []
    for path, schema in schemas:
        validator = validator_for_schema(json_schema(schema))
        rel = path.relative_to(SHARED)
        errors += [f"{rel}: {list(e.path)}: {e.message}" for e in validator.iter_errors(obj)]
    return errors
