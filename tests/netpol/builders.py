"""Builders shared by the tests of recommender.netpol: endpoints and NetworkPolicy dicts."""

from __future__ import annotations

from recommender.netpol.model import Endpoint

NS_LABELS = {
    "x": {"team": "a", "kubernetes.io/metadata.name": "x"},
    "y": {"team": "a"},  # lacks kubernetes.io/metadata.name on purpose: implied = "y"
    "z": {"team": "b", "kubernetes.io/metadata.name": "z"},
}


def pod(ns, name, ip=None, ports=(), **labels):
    return Endpoint(
        kind="pod",
        ip=ip,
        namespace=ns,
        labels=labels,
        namespace_labels=NS_LABELS.get(ns, {}),
        ports=tuple(ports),
        name=name,
    )


def ext(ip, kind="external"):
    return Endpoint(kind=kind, ip=ip, name=ip)


def netpol(name, ns="x", **spec):
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def expr(key, op, *values):
    e = {"key": key, "operator": op}
    if values:
        e["values"] = list(values)
    return {"matchExpressions": [e]}
