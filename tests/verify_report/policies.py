"""NetworkPolicy dicts for the report's tests: written out, or edited from a proposal."""

import copy


def without(policies, *names):
    """Deep copies of ``policies`` but those named."""
    return [copy.deepcopy(p) for p in policies if p["metadata"]["name"] not in names]


def policy(ns, name, spec):
    """A NetworkPolicy dict."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"namespace": ns, "name": name},
        "spec": spec,
    }


def edit(policies, ns, name, fn):
    """Deep copies of ``policies``, ``fn`` applied to the spec of ``ns/name``."""
    out = copy.deepcopy(policies)
    for p in out:
        if (p["metadata"]["namespace"], p["metadata"]["name"]) == (ns, name):
            fn(p["spec"])
    return out


UNUSED = {
    "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "nobody"}}}],
    "ports": [{"protocol": "TCP", "port": 9999}],
}
BROAD = {"from": [{"namespaceSelector": {}}]}


def judged_policies(policies):
    """The shop's proposal with an unused ingress rule on cart and a broad one on payments."""
    out = edit(policies, "shop", "allow-cart", lambda s: s["ingress"].append(UNUSED))
    return edit(out, "shop", "allow-payments", lambda s: s["ingress"].append(BROAD))
