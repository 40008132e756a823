"""What a Cilium entity or ``toFQDNs`` peer matches: judged on an endpoint's ``kind``,
``reserved`` identity and observed DNS ``names`` (:class:`~recommender.netpol.model.Endpoint`).

Entities, after Cilium's policy language reference ("Entities Based",
docs.cilium.io/en/stable/security/policy/language/#entities-based). The log gives an endpoint
a ``kind`` ("pod", "node", "host_network_pod", "external", "cluster_unknown", "unknown",
...) and, from Hubble, the one reserved identity it carries (``reserved``):

================  ============================================================================
entity            matches
================  ============================================================================
all               every endpoint ("all known clusters as well as world")
world             reserved world / world-ipv4 / world-ipv6; or kind "external" with no
                  reserved identity or with kube-apiserver (an API server outside the
                  cluster carries reserved:world too): "all endpoints outside of the
                  cluster", i.e. 0.0.0.0/0 and ::/0 minus the cluster
world-ipv4/-ipv6  world, and the address (or every range) of that IP family, or that very
                  reserved identity
cluster           every in-cluster endpoint: kinds pod, node, host_network_pod,
                  cluster_unknown; reserved host, remote-node, health, init, ingress,
                  unmanaged; kube-apiserver unless the endpoint is external
host              reserved host; a node (kind node / host_network_pod) with no reserved
                  identity: the log does not say which node, and it is a node either way
remote-node       reserved remote-node; a node with no reserved identity, as for host
kube-apiserver,   exactly that reserved identity
health, init,
ingress,
unmanaged
================  ============================================================================

Kinds the log cannot place ("unknown", "service") match ``all`` only.

FQDN, after Cilium's ``FQDNSelector`` (the CRD's field descriptions and
``pkg/fqdn/matchpattern``): names compare without case and with a trailing dot; a
``matchName`` is one exact name; in a ``matchPattern``, ``*`` alone matches every name, a
leading ``**.`` one or more whole labels, and any other ``*`` zero or more DNS characters
within one label (``*.cilium.io`` matches ``www.cilium.io``, not ``cilium.io`` nor
``a.b.cilium.io``). Only non-pod endpoints match: Cilium does not apply a ``toFQDNs`` rule
to addresses inside the cluster.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .ipranges import parse_ip, range_spans
from .model import Endpoint, FQDNMatch

__all__ = ["entity_matches", "fqdn_matches", "fqdn_regex"]

_WORLD = frozenset({"world", "world-ipv4", "world-ipv6"})
_NODE_KINDS = frozenset({"node", "host_network_pod"})
_CLUSTER_KINDS = frozenset({"pod", "node", "host_network_pod", "cluster_unknown"})
_CLUSTER_RESERVED = frozenset({"host", "remote-node", "health", "init", "ingress", "unmanaged"})
_DNS_CHARS = "[-a-z0-9_]"


def _is_world(ep: Endpoint) -> bool:
    r = ep.reserved
    return r in _WORLD or (ep.kind == "external" and r in (None, "kube-apiserver"))


def _families(ep: Endpoint) -> set[int]:
    """The IP versions of the endpoint's address or ranges (empty: not known)."""
    if ep.ip:
        try:
            return {parse_ip(ep.ip).version}
        except ValueError:
            return set()
    return {span[0] for span in range_spans(ep.ranges)} if ep.ranges else set()


def entity_matches(entity: str, ep: Endpoint) -> bool:
    """Whether a Cilium entity peer admits ``ep`` (see the module's table)."""
    r = ep.reserved
    if entity == "all":
        return True
    if entity == "world":
        return _is_world(ep)
    if entity in ("world-ipv4", "world-ipv6"):
        if r == entity:
            return True
        version = 4 if entity == "world-ipv4" else 6
        return r not in _WORLD - {"world"} and _is_world(ep) and _families(ep) == {version}
    if entity == "cluster":
        return (
            ep.kind in _CLUSTER_KINDS
            or r in _CLUSTER_RESERVED
            or (r == "kube-apiserver" and ep.kind != "external")
        )
    if entity in ("host", "remote-node"):
        return r == entity or (r is None and ep.kind in _NODE_KINDS)
    return r == entity


@lru_cache(maxsize=4096)
def fqdn_regex(pattern: str) -> re.Pattern[str]:
    """The anchored regular expression of a ``matchPattern``, matched against a lower case
    name with a trailing dot (as Cilium's ``matchpattern.ToRegexp``)."""
    pattern = pattern.strip().lower()
    if pattern == "*":
        return re.compile(rf"^({_DNS_CHARS}+[.])+$|^[.]$")
    if not pattern.endswith("."):
        pattern += "."
    head = ""
    if pattern.startswith("**."):
        head = rf"({_DNS_CHARS}+([.]{_DNS_CHARS}+)*)[.]"
        pattern = pattern[3:]
    body = "".join(f"{_DNS_CHARS}*" if c == "*" else re.escape(c) for c in pattern)
    return re.compile(f"^{head}{body}$")


def _fqdn(name: str) -> str:
    name = name.strip().lower()
    return name if name.endswith(".") else name + "."


def fqdn_matches(match: FQDNMatch, ep: Endpoint) -> bool:
    """Whether a ``toFQDNs`` entry admits ``ep``: some observed name of a non-pod endpoint
    equals its ``matchName`` or fits its ``matchPattern``."""
    if ep.kind == "pod" or not ep.names:
        return False
    if match.name is not None:
        want = _fqdn(match.name)
        return any(_fqdn(n) == want for n in ep.names)
    if match.pattern is None:
        return False
    regex = fqdn_regex(match.pattern)
    return any(regex.match(_fqdn(n)) for n in ep.names)
