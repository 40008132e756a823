"""Truth tables of Calico's policy semantics, on the upstream 9-pod model (``truth.py``).

Each scenario is Calico objects as a user writes them (``projectcalico.org/v3``), read by
:mod:`recommender.netpol.calico` and judged by the evaluator, against a table written from
Calico's documentation (not produced by running the evaluator):

* Tiers: "How policy is evaluated" in the Tier reference
  (docs.tigera.io/calico/latest/reference/resources/tier; tigera/docs
  ``calico/reference/resources/tier.mdx``): tiers by ``order``, smallest first; in a tier,
  policies in order; Allow / Deny end it, Pass goes to the next tier that applies to the
  endpoint; a tier that applies but takes no action drops the packet, unless its
  ``defaultAction`` is Pass; after the last tier the endpoint's profiles apply (Kubernetes
  namespaces' profiles allow).
* Policy order: the NetworkPolicy reference ("Calico applies the policy with the lowest value
  first"); a missing order sorts after every order and equal orders by name (felix
  ``calc/policy_sorter.go``: the default order is +Inf, ``PolKVLess`` breaks ties by name).
* Rules: ``_rule.mdx`` (rules run in order; Allow and Deny are immediate and final).
* Scopes: ``_selector-scopes.mdx`` and ``_entityrule.mdx`` (a NetworkPolicy's selectors mean
  its own namespace unless ``namespaceSelector`` is given; a GlobalNetworkPolicy's, every
  namespace; ``nets`` / ``notNets`` match addresses, pods' included).
* Selectors: the "Selectors" table (``k != 'v'`` matches resources without ``k``).
* Staged policies: judged as if enforced (the StagedNetworkPolicy reference: what the policy
  would do once enforced).

Probes are TCP port 80; pod IPs are those of ``truth.py`` (x 10.0.1.0/24, y 10.0.2.0/24,
z 10.0.3.0/24).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from recommender.netpol.calico import compile_objects
from recommender.netpol.evaluator import Evaluator

from .truth import Comparison, cluster, parse_matrix, probe

API = "projectcalico.org/v3"


def np(name: str, ns: str, spec: dict[str, Any], kind: str = "NetworkPolicy") -> dict:
    return {
        "apiVersion": API,
        "kind": kind,
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def gnp(name: str, spec: dict[str, Any], kind: str = "GlobalNetworkPolicy") -> dict:
    return {"apiVersion": API, "kind": kind, "metadata": {"name": name}, "spec": spec}


def tier(name: str, order: float, default: str = "Deny") -> dict:
    spec = {"order": order, "defaultAction": default}
    return {"apiVersion": API, "kind": "Tier", "metadata": {"name": name}, "spec": spec}


ALLOW = {"action": "Allow"}
DENY = {"action": "Deny"}
PASS = {"action": "Pass"}


def src(action: dict, **entity: Any) -> dict:
    return {**action, "source": entity}


@dataclass(frozen=True)
class Scenario:
    name: str
    objects: list[dict]
    table: str
    pod_labels: dict[str, dict[str, str]] = field(default_factory=dict)


ALL_ALLOWED = """
-   x/a x/b x/c y/a y/b y/c z/a z/b z/c
x/a  .   .   .   .   .   .   .   .   .
x/b  .   .   .   .   .   .   .   .   .
x/c  .   .   .   .   .   .   .   .   .
y/a  .   .   .   .   .   .   .   .   .
y/b  .   .   .   .   .   .   .   .   .
y/c  .   .   .   .   .   .   .   .   .
z/a  .   .   .   .   .   .   .   .   .
z/b  .   .   .   .   .   .   .   .   .
z/c  .   .   .   .   .   .   .   .   .
"""

ALL_DENIED = """
-   x/a x/b x/c y/a y/b y/c z/a z/b z/c
x/a  X   X   X   X   X   X   X   X   X
x/b  X   X   X   X   X   X   X   X   X
x/c  X   X   X   X   X   X   X   X   X
y/a  X   X   X   X   X   X   X   X   X
y/b  X   X   X   X   X   X   X   X   X
y/c  X   X   X   X   X   X   X   X   X
z/a  X   X   X   X   X   X   X   X   X
z/b  X   X   X   X   X   X   X   X   X
z/c  X   X   X   X   X   X   X   X   X
"""

# x/b may not reach any pod of x; everything else is allowed.
X_B_DENIED_IN_X = """
-   x/a x/b x/c y/a y/b y/c z/a z/b z/c
x/a  .   .   .   .   .   .   .   .   .
x/b  X   X   X   .   .   .   .   .   .
x/c  .   .   .   .   .   .   .   .   .
y/a  .   .   .   .   .   .   .   .   .
y/b  .   .   .   .   .   .   .   .   .
y/c  .   .   .   .   .   .   .   .   .
z/a  .   .   .   .   .   .   .   .   .
z/b  .   .   .   .   .   .   .   .   .
z/c  .   .   .   .   .   .   .   .   .
"""

DENY_B_IN_X = src(DENY, selector="pod == 'b'")

SCENARIOS = [
    Scenario(
        "a namespaced selector means the policy's own namespace",
        [
            np(
                "allow-b",
                "x",
                {"selector": "pod == 'a'", "ingress": [src(ALLOW, selector="pod == 'b'")]},
            )
        ],
        """
-   x/a x/b x/c y/a y/b y/c z/a z/b z/c
x/a  X   .   .   .   .   .   .   .   .
x/b  .   .   .   .   .   .   .   .   .
x/c  X   .   .   .   .   .   .   .   .
y/a  X   .   .   .   .   .   .   .   .
y/b  X   .   .   .   .   .   .   .   .
y/c  X   .   .   .   .   .   .   .   .
z/a  X   .   .   .   .   .   .   .   .
z/b  X   .   .   .   .   .   .   .   .
z/c  X   .   .   .   .   .   .   .   .
""",
    ),
    Scenario(
        "lower order first: a Deny before an Allow",
        [
            np("deny-b", "x", {"order": 10, "ingress": [DENY_B_IN_X]}),
            np("allow-all", "x", {"order": 20, "ingress": [ALLOW]}),
        ],
        X_B_DENIED_IN_X,
    ),
    Scenario(
        "lower order first: an Allow before a Deny",
        [
            np("deny-b", "x", {"order": 20, "ingress": [DENY_B_IN_X]}),
            np("allow-all", "x", {"order": 10, "ingress": [ALLOW]}),
        ],
        ALL_ALLOWED,
    ),
    Scenario(
        "equal orders go by name",
        [
            np("a-deny-b", "x", {"order": 5, "ingress": [DENY_B_IN_X]}),
            np("b-allow-all", "x", {"order": 5, "ingress": [ALLOW]}),
        ],
        X_B_DENIED_IN_X,
    ),
    Scenario(
        "a policy without order comes after every ordered one",
        [
            np("a-deny-b", "x", {"ingress": [DENY_B_IN_X]}),
            np("z-allow-all", "x", {"order": 1000, "ingress": [ALLOW]}),
        ],
        ALL_ALLOWED,
    ),
    Scenario(
        "rules in order within a policy",
        [np("p", "x", {"ingress": [DENY_B_IN_X, ALLOW, DENY]})],
        X_B_DENIED_IN_X,
    ),
    Scenario(
        "a staged policy is judged as if enforced",
        [
            np(
                "p",
                "x",
                {"stagedAction": "Set", "ingress": [DENY_B_IN_X, ALLOW]},
                "StagedNetworkPolicy",
            )
        ],
        X_B_DENIED_IN_X,
    ),
    Scenario(
        # security passes sources of y on and denies the rest; in the default tier only x
        # has a policy (admitting pods a of any namespace); y and z have none: allowed
        "Pass goes to the next tier, which ends with its deny where it applies",
        [
            tier("security", 100),
            gnp(
                "sec",
                {
                    "tier": "security",
                    "ingress": [src(PASS, namespaceSelector="projectcalico.org/name == 'y'"), DENY],
                },
            ),
            np(
                "allow-a",
                "x",
                {"ingress": [src(ALLOW, selector="pod == 'a'", namespaceSelector="all()")]},
            ),
        ],
        """
-   x/a x/b x/c y/a y/b y/c z/a z/b z/c
x/a  X   X   X   X   X   X   X   X   X
x/b  X   X   X   X   X   X   X   X   X
x/c  X   X   X   X   X   X   X   X   X
y/a  .   .   .   .   .   .   .   .   .
y/b  X   X   X   .   .   .   .   .   .
y/c  X   X   X   .   .   .   .   .   .
z/a  X   X   X   X   X   X   X   X   X
z/b  X   X   X   X   X   X   X   X   X
z/c  X   X   X   X   X   X   X   X   X
""",
    ),
    Scenario(
        "a tier that applies but takes no action denies (defaultAction Deny)",
        [
            tier("platform", 100),
            gnp(
                "c-from-a",
                {
                    "tier": "platform",
                    "selector": "pod == 'c'",
                    "ingress": [src(ALLOW, selector="pod == 'a'")],
                },
            ),
        ],
        """
-   x/a x/b x/c y/a y/b y/c z/a z/b z/c
x/a  .   .   .   .   .   .   .   .   .
x/b  .   .   X   .   .   X   .   .   X
x/c  .   .   X   .   .   X   .   .   X
y/a  .   .   .   .   .   .   .   .   .
y/b  .   .   X   .   .   X   .   .   X
y/c  .   .   X   .   .   X   .   .   X
z/a  .   .   .   .   .   .   .   .   .
z/b  .   .   X   .   .   X   .   .   X
z/c  .   .   X   .   .   X   .   .   X
""",
    ),
    Scenario(
        "defaultAction Pass hands what the tier does not decide to the next tier",
        [
            tier("platform", 100, "Pass"),
            gnp(
                "c-from-a",
                {
                    "tier": "platform",
                    "selector": "pod == 'c'",
                    "ingress": [src(ALLOW, selector="pod == 'a'")],
                },
            ),
        ],
        ALL_ALLOWED,
    ),
    Scenario(
        "the tier order beats the policy order",
        [
            tier("late", 200),
            tier("early", 100),
            gnp(
                "deny-b",
                {"tier": "late", "order": 1, "ingress": [src(DENY, selector="pod == 'b'")]},
            ),
            gnp("allow-all", {"tier": "early", "order": 1000, "ingress": [ALLOW]}),
        ],
        ALL_ALLOWED,
    ),
    Scenario(
        # early denies b, and without its Pass rule would deny everyone else at its end
        "deny in an early tier, Pass for the rest, allow in a later one",
        [
            tier("late", 200),
            tier("early", 100),
            gnp("deny-b", {"tier": "early", "ingress": [src(DENY, selector="pod == 'b'"), PASS]}),
            gnp("allow-all", {"tier": "late", "ingress": [ALLOW]}),
        ],
        """
-   x/a x/b x/c y/a y/b y/c z/a z/b z/c
x/a  .   .   .   .   .   .   .   .   .
x/b  X   X   X   X   X   X   X   X   X
x/c  .   .   .   .   .   .   .   .   .
y/a  .   .   .   .   .   .   .   .   .
y/b  X   X   X   X   X   X   X   X   X
y/c  .   .   .   .   .   .   .   .   .
z/a  .   .   .   .   .   .   .   .   .
z/b  X   X   X   X   X   X   X   X   X
z/c  .   .   .   .   .   .   .   .   .
""",
    ),
    Scenario(
        "an early tier without Pass ends with its deny for everyone it applies to",
        [
            tier("late", 200),
            tier("early", 100),
            gnp("deny-b", {"tier": "early", "ingress": [src(DENY, selector="pod == 'b'")]}),
            gnp("allow-all", {"tier": "late", "ingress": [ALLOW]}),
        ],
        ALL_DENIED,
    ),
    Scenario(
        "a GlobalNetworkPolicy's namespaceSelector picks the namespaces it applies to",
        [
            gnp(
                "deny-to-z",
                {"namespaceSelector": "projectcalico.org/name == 'z'", "ingress": [DENY]},
            )
        ],
        """
-   x/a x/b x/c y/a y/b y/c z/a z/b z/c
x/a  .   .   .   .   .   .   X   X   X
x/b  .   .   .   .   .   .   X   X   X
x/c  .   .   .   .   .   .   X   X   X
y/a  .   .   .   .   .   .   X   X   X
y/b  .   .   .   .   .   .   X   X   X
y/c  .   .   .   .   .   .   X   X   X
z/a  .   .   .   .   .   .   X   X   X
z/b  .   .   .   .   .   .   X   X   X
z/c  .   .   .   .   .   .   X   X   X
""",
    ),
    Scenario(
        "egress to nets (pods by their addresses): x reaches only y",
        [
            np(
                "to-y",
                "x",
                {
                    "types": ["Egress"],
                    "egress": [{**ALLOW, "destination": {"nets": ["10.0.2.0/24"]}}],
                },
            )
        ],
        """
-   x/a x/b x/c y/a y/b y/c z/a z/b z/c
x/a  X   X   X   .   .   .   X   X   X
x/b  X   X   X   .   .   .   X   X   X
x/c  X   X   X   .   .   .   X   X   X
y/a  .   .   .   .   .   .   .   .   .
y/b  .   .   .   .   .   .   .   .   .
y/c  .   .   .   .   .   .   .   .   .
z/a  .   .   .   .   .   .   .   .   .
z/b  .   .   .   .   .   .   .   .   .
z/c  .   .   .   .   .   .   .   .   .
""",
    ),
    Scenario(
        "egress to notNets: x reaches everything but y",
        [np("not-y", "x", {"egress": [{**ALLOW, "destination": {"notNets": ["10.0.2.0/24"]}}]})],
        """
-   x/a x/b x/c y/a y/b y/c z/a z/b z/c
x/a  .   .   .   X   X   X   .   .   .
x/b  .   .   .   X   X   X   .   .   .
x/c  .   .   .   X   X   X   .   .   .
y/a  .   .   .   .   .   .   .   .   .
y/b  .   .   .   .   .   .   .   .   .
y/c  .   .   .   .   .   .   .   .   .
z/a  .   .   .   .   .   .   .   .   .
z/b  .   .   .   .   .   .   .   .   .
z/c  .   .   .   .   .   .   .   .   .
""",
    ),
    Scenario(
        # y/c has no labels: pod != 'a' matches it (a missing label matches !=)
        "!= matches a pod without the label",
        [gnp("not-a", {"ingress": [src(ALLOW, selector="pod != 'a'")]})],
        """
-   x/a x/b x/c y/a y/b y/c z/a z/b z/c
x/a  X   X   X   X   X   X   X   X   X
x/b  .   .   .   .   .   .   .   .   .
x/c  .   .   .   .   .   .   .   .   .
y/a  X   X   X   X   X   X   X   X   X
y/b  .   .   .   .   .   .   .   .   .
y/c  .   .   .   .   .   .   .   .   .
z/a  X   X   X   X   X   X   X   X   X
z/b  .   .   .   .   .   .   .   .   .
z/c  .   .   .   .   .   .   .   .   .
""",
        pod_labels={"y/c": {}},
    ),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_calico_truth_table(scenario):
    policies, _ = compile_objects(scenario.objects)
    assert all(not p.unjudged for p in policies)
    evaluator = Evaluator(policies)
    endpoints = cluster(pod_label_overrides=scenario.pod_labels)
    comparison = Comparison(parse_matrix(scenario.table), probe(evaluator, endpoints, "TCP", 80))
    assert not comparison.wrong, comparison.report()


def test_a_tier_not_given_leaves_what_its_rules_match_unjudged():
    """Without its Tier object a tier's place is unknown: what its rules match is unjudged,
    never allowed or denied on a guess."""
    objects = [gnp("deny-b", {"tier": "unknown", "ingress": [src(DENY, selector="pod == 'b'")]})]
    policies, _ = compile_objects(objects)
    endpoints = cluster()
    verdict = Evaluator(policies).evaluate(endpoints["x/b"], endpoints["x/a"], "TCP", 80)
    assert not verdict.allowed and not verdict.judged
    assert verdict.ingress.unjudged_reasons == (
        "GlobalNetworkPolicy deny-b: spec.tier: Tier unknown not given: its order is unknown",
    )
