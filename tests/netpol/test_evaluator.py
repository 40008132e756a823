"""Truth tables for recommender.netpol.evaluator, from the NetworkPolicy API reference and
DESIGN §4.

Every expected value is written out; nothing is derived from the implementation.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from recommender.netpol.evaluator import DirectionVerdict, Evaluator, RuleRef, Verdict
from recommender.netpol.model import ADMIN_TIER, Action, ContainerPort, Endpoint, PolicyError
from recommender.netpol.networkpolicy import compile_policies, compile_policy

from .builders import expr, ext, netpol, pod

ALL = {}  # podSelector: {} selects every pod of the namespace

# A cast of endpoints used by several tables.
X_WEB = pod("x", "web", "10.1.0.1", app="web")
X_OTHER = pod("x", "other", "10.1.0.2", app="other")
X_DB = pod("x", "db", "10.1.0.3", app="db")
Y_WEB = pod("y", "web", "10.2.0.1", app="web")
Z_WEB = pod("z", "web", "10.3.0.1", app="web")
EXTERNAL = ext("203.0.113.7")
NODE = ext("10.0.0.1", kind="node")
EXTERNAL6 = ext("2001:db8::7")


# --------------------------------------------------------------------------------------------
# Isolation: X_WEB -> X_DB TCP/80, both pods selected by one policy in x
# columns: egress.isolated, egress.allowed, ingress.isolated, ingress.allowed, verdict
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "eg_iso", "eg_ok", "in_iso", "in_ok", "allowed"),
    [
        pytest.param(None, False, True, False, True, True, id="no-policy"),
        pytest.param({"podSelector": ALL}, False, True, True, False, False, id="deny-ingress"),
        pytest.param(
            {"podSelector": ALL, "egress": []},
            False,
            True,
            True,
            False,
            False,
            id="egress-empty-no-types-is-ingress-only",
        ),
        pytest.param(
            {"podSelector": ALL, "egress": [{}]},
            True,
            True,
            True,
            False,
            False,
            id="egress-only-rules-also-isolate-ingress",
        ),
        pytest.param(
            {"podSelector": ALL, "policyTypes": ["Egress"], "ingress": [{}]},
            True,
            False,
            False,
            True,
            False,
            id="explicit-egress-ignores-ingress-rules",
        ),
        pytest.param(
            {"podSelector": ALL, "policyTypes": ["Egress"]},
            True,
            False,
            False,
            True,
            False,
            id="deny-egress",
        ),
        pytest.param(
            {"podSelector": ALL, "policyTypes": ["Ingress", "Egress"]},
            True,
            False,
            True,
            False,
            False,
            id="deny-both",
        ),
        pytest.param(
            {"podSelector": ALL, "ingress": [{}]},
            False,
            True,
            True,
            True,
            True,
            id="allow-all-ingress",
        ),
        pytest.param(
            {"podSelector": ALL, "policyTypes": ["Ingress", "Egress"], "ingress": [{}]},
            True,
            False,
            True,
            True,
            False,
            id="allow-ingress-deny-egress",
        ),
        pytest.param(
            {
                "podSelector": ALL,
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{}],
                "egress": [{}],
            },
            True,
            True,
            True,
            True,
            True,
            id="allow-all-both",
        ),
        pytest.param(
            {"podSelector": {"matchLabels": {"app": "nothing"}}},
            False,
            True,
            False,
            True,
            True,
            id="selects-no-pod",
        ),
    ],
)
def test_isolation_table(spec, eg_iso, eg_ok, in_iso, in_ok, allowed):
    policies = [] if spec is None else [netpol("p", **spec)]
    v = Evaluator(policies).evaluate(X_WEB, X_DB, "TCP", 80)
    assert (v.egress.applies, v.ingress.applies) == (True, True)
    assert (v.egress.isolated, v.egress.allowed) == (eg_iso, eg_ok)
    assert (v.ingress.isolated, v.ingress.allowed) == (in_iso, in_ok)
    assert v.allowed is allowed


def test_allow_policy_plus_default_deny_still_isolates_other_pods():
    ev = Evaluator(
        [
            netpol("default-deny", podSelector=ALL),
            netpol(
                "db-from-web",
                podSelector={"matchLabels": {"app": "db"}},
                ingress=[{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}],
            ),
        ]
    )
    assert ev.evaluate(X_WEB, X_DB, "TCP", 5432).allowed is True
    # X_OTHER is only selected by default-deny
    v = ev.evaluate(X_WEB, X_OTHER, "TCP", 5432)
    assert v.allowed is False
    assert v.ingress.isolated_by == ("x/default-deny",)
    # other pods may not reach db
    assert ev.evaluate(X_OTHER, X_DB, "TCP", 5432).allowed is False


def test_policies_are_additive_and_allowed_by_is_sorted():
    ev = Evaluator(
        [
            netpol("b-pol", podSelector=ALL, ingress=[{"ports": [{"port": 81}]}, {}]),
            netpol("a-pol", podSelector={"matchLabels": {"app": "db"}}, ingress=[{}]),
            netpol("c-unrelated", podSelector={"matchLabels": {"app": "web"}}, ingress=[{}]),
        ]
    )
    v = ev.evaluate(X_WEB, X_DB, "TCP", 80)
    assert v.allowed is True
    assert v.ingress.isolated_by == ("x/a-pol", "x/b-pol")
    assert v.ingress.allowed_by == (
        RuleRef("x", "a-pol", "ingress", 0),
        RuleRef("x", "b-pol", "ingress", 1),
    )
    v81 = ev.evaluate(X_WEB, X_DB, "TCP", 81)
    assert v81.ingress.allowed_by == (
        RuleRef("x", "a-pol", "ingress", 0),
        RuleRef("x", "b-pol", "ingress", 0),
        RuleRef("x", "b-pol", "ingress", 1),
    )


# --------------------------------------------------------------------------------------------
# Peers: ingress to X_DB from each source in SOURCES, one rule with the given `from`
# --------------------------------------------------------------------------------------------

SOURCES = (X_WEB, X_OTHER, Y_WEB, Z_WEB, EXTERNAL, NODE)
WEB = {"matchLabels": {"app": "web"}}

PEER_TABLE = [
    # (id, from (or "missing"), x/web, x/other, y/web, z/web, external, node)
    ("from-missing", "missing", True, True, True, True, True, True),
    ("from-empty-list", [], True, True, True, True, True, True),
    ("from-null", None, True, True, True, True, True, True),
    ("nsSelector-empty", [{"namespaceSelector": {}}], True, True, True, True, False, False),
    ("podSelector-empty", [{"podSelector": {}}], True, True, False, False, False, False),
    ("podSelector-web", [{"podSelector": WEB}], True, False, False, False, False, False),
    (
        "and-ns-team-a-pod-web",
        [{"namespaceSelector": {"matchLabels": {"team": "a"}}, "podSelector": WEB}],
        True,
        False,
        True,
        False,
        False,
        False,
    ),
    (
        "or-ns-team-a-or-pod-web",
        [{"namespaceSelector": {"matchLabels": {"team": "a"}}}, {"podSelector": WEB}],
        True,
        True,
        True,
        False,
        False,
        False,
    ),
    (
        "and-all-ns-pod-web",
        [{"namespaceSelector": {}, "podSelector": WEB}],
        True,
        False,
        True,
        True,
        False,
        False,
    ),
    (
        "implicit-metadata-name-label",
        [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "y"}}}],
        False,
        False,
        True,
        False,
        False,
        False,
    ),
    (
        "ns-notin-team-a",
        [
            {
                "namespaceSelector": {
                    "matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["a"]}]
                }
            }
        ],
        False,
        False,
        False,
        True,
        False,
        False,
    ),
    (
        "ipblock-external-range",
        [{"ipBlock": {"cidr": "203.0.113.0/24"}}],
        False,
        False,
        False,
        False,
        True,
        False,
    ),
    (
        "ipblock-everything-v4",
        [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
        True,
        True,
        True,
        True,
        True,
        True,
    ),
    (
        "ipblock-except-pod-range",
        [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.1.0.0/16"]}}],
        False,
        False,
        True,
        True,
        True,
        True,
    ),
    (
        "ipblock-or-podselector",
        [{"ipBlock": {"cidr": "10.0.0.0/24"}}, {"podSelector": WEB}],
        True,
        False,
        False,
        False,
        False,
        True,
    ),
]


@pytest.mark.parametrize(
    ("rule_from", "expected"),
    [pytest.param(row[1], row[2:], id=row[0]) for row in PEER_TABLE],
)
def test_ingress_peer_table(rule_from, expected):
    rule = {} if rule_from == "missing" else {"from": rule_from}
    ev = Evaluator([netpol("db", podSelector={"matchLabels": {"app": "db"}}, ingress=[rule])])
    got = tuple(ev.evaluate(src, X_DB, "TCP", 5432).allowed for src in SOURCES)
    assert got == expected


@pytest.mark.parametrize(
    ("rule_to", "expected"),
    [pytest.param(row[1], row[2:], id=row[0]) for row in PEER_TABLE],
)
def test_egress_peer_table(rule_to, expected):
    """The same peers as destinations of X_DB's egress: same truth table."""
    rule = {} if rule_to == "missing" else {"to": rule_to}
    ev = Evaluator(
        [
            netpol(
                "db",
                podSelector={"matchLabels": {"app": "db"}},
                policyTypes=["Egress"],
                egress=[rule],
            )
        ]
    )
    got = tuple(ev.evaluate(X_DB, dst, "TCP", 5432).allowed for dst in SOURCES)
    assert got == expected


def test_policy_in_other_namespace_peer_podselector_means_policy_namespace():
    # Policy in y: podSelector peer means pods of y, even when the source is x/web.
    ev = Evaluator(
        [netpol("p", ns="y", podSelector=ALL, ingress=[{"from": [{"podSelector": WEB}]}])]
    )
    y_db = pod("y", "db", "10.2.0.9", app="db")
    assert ev.evaluate(Y_WEB, y_db, "TCP", 80).allowed is True
    assert ev.evaluate(X_WEB, y_db, "TCP", 80).allowed is False


def test_pod_selector_with_expressions_in_policy():
    ev = Evaluator([netpol("p", podSelector=expr("app", "NotIn", "web"), policyTypes=["Ingress"])])
    # NotIn with absent key selects a pod without the label
    assert ev.policies_selecting(pod("x", "bare", "10.1.0.9"), "ingress") == ["x/p"]
    assert ev.policies_selecting(X_DB, "ingress") == ["x/p"]
    assert ev.policies_selecting(X_WEB, "ingress") == []


# --------------------------------------------------------------------------------------------
# Ports: ingress to API (containers: http 8080/TCP, dns 53/UDP, diameter 3868/SCTP, 9000 unnamed)
# --------------------------------------------------------------------------------------------

API = pod(
    "x",
    "api",
    "10.1.0.10",
    ports=[
        ContainerPort("http", 8080),
        ContainerPort("dns", 53, "UDP"),
        ContainerPort("diameter", 3868, "SCTP"),
        ContainerPort(None, 9000),
    ],
    app="api",
)


@pytest.mark.parametrize(
    ("ports", "protocol", "port", "expected"),
    [
        ("missing", "TCP", 80, True),
        ("missing", "UDP", 53, True),
        ("missing", "ICMP", None, True),
        ([], "ICMP", None, True),
        ([{"port": 80}], "TCP", 80, True),  # protocol defaults to TCP
        ([{"port": 80}], "UDP", 80, False),
        ([{"port": 80}], "SCTP", 80, False),
        ([{"port": 80}], "TCP", 81, False),
        ([{"port": 80}], "ICMP", None, False),
        ([{"port": 80}], "TCP", None, False),
        ([{"protocol": "UDP", "port": 53}], "UDP", 53, True),
        ([{"protocol": "UDP", "port": 53}], "TCP", 53, False),
        ([{"protocol": "SCTP", "port": 3868}], "SCTP", 3868, True),
        ([{"protocol": "SCTP", "port": 3868}], "TCP", 3868, False),
        ([{"port": 8000, "endPort": 8080}], "TCP", 7999, False),
        ([{"port": 8000, "endPort": 8080}], "TCP", 8000, True),
        ([{"port": 8000, "endPort": 8080}], "TCP", 8040, True),
        ([{"port": 8000, "endPort": 8080}], "TCP", 8080, True),
        ([{"port": 8000, "endPort": 8080}], "TCP", 8081, False),
        ([{"port": 8000, "endPort": 8080}], "UDP", 8040, False),
        ([{"port": 443, "endPort": 443}], "TCP", 443, True),
        ([{"protocol": "UDP"}], "UDP", 12345, True),  # no port: all UDP ports
        ([{"protocol": "UDP"}], "TCP", 12345, False),
        ([{}], "TCP", 1, True),  # {} = all TCP ports
        ([{}], "UDP", 1, False),
        ([{"port": 80}, {"protocol": "UDP", "port": 53}], "UDP", 53, True),
        ([{"port": 80}, {"protocol": "UDP", "port": 53}], "TCP", 53, False),
        ([{"port": "http"}], "TCP", 8080, True),
        ([{"port": "http"}], "TCP", 80, False),
        ([{"port": "http"}], "UDP", 8080, False),
        ([{"protocol": "UDP", "port": "dns"}], "UDP", 53, True),
        ([{"port": "dns"}], "TCP", 53, False),  # container port dns is UDP: no match for TCP
        ([{"protocol": "SCTP", "port": "diameter"}], "SCTP", 3868, True),
        ([{"port": "grpc"}], "TCP", 8080, False),  # no container port of that name
        ([{"port": 9000}], "TCP", 9000, True),
        ([{"port": "http"}], "TCP", 9000, False),  # unnamed container port never matches a name
        ([{"port": 80}], "tcp", 80, False),  # protocol compared exactly
    ],
)
def test_port_table(ports, protocol, port, expected):
    rule = {} if ports == "missing" else {"ports": ports}
    ev = Evaluator([netpol("api", podSelector={"matchLabels": {"app": "api"}}, ingress=[rule])])
    assert ev.evaluate(X_WEB, API, protocol, port).allowed is expected


API_A = pod("x", "api-a", "10.1.0.11", ports=[ContainerPort("http", 8080)], app="api")
API_B = pod("x", "api-b", "10.1.0.12", ports=[ContainerPort("http", 9000)], app="api")
API_UNNAMED = pod("x", "api-c", "10.1.0.13", ports=[ContainerPort(None, 8080)], app="api")
API_UDP = pod("x", "api-d", "10.1.0.14", ports=[ContainerPort("http", 8080, "UDP")], app="api")


@pytest.mark.parametrize(
    ("dst", "port", "expected"),
    [
        (API_A, 8080, True),
        (API_A, 9000, False),
        (API_B, 9000, True),
        (API_B, 8080, False),
        (API_UNNAMED, 8080, False),
        (API_UDP, 8080, False),  # name matches but container port is UDP
        (ext("203.0.113.8"), 8080, False),  # external never matches a named port
        (ext("10.0.0.1", kind="node"), 8080, False),
    ],
)
def test_named_port_in_egress_resolves_on_destination(dst, port, expected):
    ev = Evaluator(
        [
            netpol(
                "web-out",
                podSelector=WEB,
                policyTypes=["Egress"],
                egress=[{"ports": [{"port": "http"}]}],
            )
        ]
    )
    v = ev.evaluate(X_WEB, dst, "TCP", port)
    assert v.egress.isolated is True
    assert v.allowed is expected


def test_named_port_does_not_resolve_on_source():
    # The source has http=80, the destination has http=8080: only 8080 is admitted.
    src = pod("x", "client", "10.1.0.20", ports=[ContainerPort("http", 80)], app="web")
    ev = Evaluator(
        [
            netpol(
                "p", podSelector=WEB, policyTypes=["Egress"], egress=[{"ports": [{"port": "http"}]}]
            )
        ]
    )
    assert ev.evaluate(src, API_A, "TCP", 80).allowed is False
    assert ev.evaluate(src, API_A, "TCP", 8080).allowed is True


# --------------------------------------------------------------------------------------------
# ipBlock
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("matches_pods", "src", "expected"),
    [
        (True, pod("x", "web", "10.1.2.3", app="web"), True),
        (False, pod("x", "web", "10.1.2.3", app="web"), False),
        (True, ext("10.1.2.4"), True),
        (False, ext("10.1.2.4"), True),
        (True, ext("10.1.2.4", kind="node"), True),
        (False, ext("10.1.2.4", kind="host_network_pod"), True),
        (True, pod("x", "web", None, app="web"), False),  # pod IP unknown: no ipBlock match
        (True, Endpoint(kind="unknown"), False),
        (True, pod("y", "web", "10.1.2.5", app="web"), True),  # ipBlock ignores namespaces
        (True, pod("x", "web", "10.9.0.1", app="web"), False),
    ],
)
def test_ipblock_matches_pods_option(matches_pods, src, expected):
    ev = Evaluator(
        [
            netpol(
                "db",
                podSelector={"matchLabels": {"app": "db"}},
                ingress=[{"from": [{"ipBlock": {"cidr": "10.1.0.0/16"}}]}],
            )
        ],
        ipblock_matches_pods=matches_pods,
    )
    assert ev.evaluate(src, X_DB, "TCP", 80).allowed is expected


def test_ipv6_external_against_v4_and_v6_blocks():
    ev = Evaluator(
        [
            netpol(
                "db",
                podSelector=ALL,
                ingress=[
                    {"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]},
                    {"from": [{"ipBlock": {"cidr": "2001:db8::/48"}}], "ports": [{"port": 443}]},
                ],
            )
        ]
    )
    assert ev.evaluate(EXTERNAL6, X_DB, "TCP", 80).allowed is False
    v = ev.evaluate(EXTERNAL6, X_DB, "TCP", 443)
    assert v.allowed is True
    assert v.ingress.allowed_by == (RuleRef("x", "db", "ingress", 1),)
    assert ev.evaluate(EXTERNAL, X_DB, "TCP", 80).ingress.allowed_by == (
        RuleRef("x", "db", "ingress", 0),
    )


# --------------------------------------------------------------------------------------------
# Namespaces, directions, non-pod endpoints
# --------------------------------------------------------------------------------------------


def test_policy_in_other_namespace_never_applies():
    ev = Evaluator(
        [
            netpol("deny-all", ns="y", podSelector=ALL, policyTypes=["Ingress", "Egress"]),
            netpol("deny-web", ns="y", podSelector=WEB, policyTypes=["Ingress", "Egress"]),
        ]
    )
    v = ev.evaluate(X_WEB, X_DB, "TCP", 80)
    assert v.allowed is True
    assert (v.egress.isolated, v.ingress.isolated) == (False, False)
    assert ev.policies_selecting(X_WEB, "ingress") == []
    assert ev.policies_selecting(Y_WEB, "ingress") == ["y/deny-all", "y/deny-web"]
    assert ev.policies_selecting(Y_WEB, "egress") == ["y/deny-all", "y/deny-web"]
    # x -> y is cut by y's ingress; y -> x by y's egress
    assert ev.evaluate(X_WEB, Y_WEB, "TCP", 80).allowed is False
    assert ev.evaluate(Y_WEB, X_WEB, "TCP", 80).allowed is False


# Pod-to-pod needs both sides. Policies: X_WEB egress allows only TCP/80 to anywhere;
# X_DB ingress allows only TCP/5432 from anywhere.
BOTH_SIDES = [
    netpol(
        "web-egress", podSelector=WEB, policyTypes=["Egress"], egress=[{"ports": [{"port": 80}]}]
    ),
    netpol(
        "db-ingress",
        podSelector={"matchLabels": {"app": "db"}},
        ingress=[{"ports": [{"port": 5432}]}],
    ),
]


@pytest.mark.parametrize(
    ("src", "dst", "port", "eg_applies", "eg_ok", "in_applies", "in_ok", "allowed"),
    [
        (X_WEB, X_DB, 80, True, True, True, False, False),  # egress yes, ingress no
        (X_WEB, X_DB, 5432, True, False, True, True, False),  # ingress yes, egress no
        (X_OTHER, X_DB, 5432, True, True, True, True, True),  # X_OTHER egress not isolated
        (X_WEB, X_OTHER, 80, True, True, True, True, True),
        (X_WEB, X_OTHER, 81, True, False, True, True, False),
        (EXTERNAL, X_DB, 5432, False, True, True, True, True),  # external: ingress side only
        (EXTERNAL, X_DB, 80, False, True, True, False, False),
        (NODE, X_DB, 22, False, True, True, False, False),
        (X_WEB, EXTERNAL, 80, True, True, False, True, True),  # to external: egress side only
        (X_WEB, EXTERNAL, 443, True, False, False, True, False),
        (X_DB, EXTERNAL, 443, True, True, False, True, True),
        (EXTERNAL, NODE, 22, False, True, False, True, True),  # both non-pod: allowed
        (ext("10.1.0.3", kind="host_network_pod"), X_DB, 80, False, True, True, False, False),
    ],
)
def test_both_sides(src, dst, port, eg_applies, eg_ok, in_applies, in_ok, allowed):
    v = Evaluator(BOTH_SIDES).evaluate(src, dst, "TCP", port)
    assert (v.egress.applies, v.egress.allowed) == (eg_applies, eg_ok)
    assert (v.ingress.applies, v.ingress.allowed) == (in_applies, in_ok)
    assert v.allowed is allowed


def test_non_pod_side_verdict_shape():
    v = Evaluator(BOTH_SIDES).evaluate(EXTERNAL, X_DB, "TCP", 5432)
    assert v.egress == DirectionVerdict(False, False, True, (), ())
    assert v.ingress == DirectionVerdict(
        True, True, True, ("x/db-ingress",), (RuleRef("x", "db-ingress", "ingress", 0),)
    )
    assert isinstance(v, Verdict)


def test_policies_selecting():
    ev = Evaluator(BOTH_SIDES)
    assert ev.policies_selecting(X_WEB, "egress") == ["x/web-egress"]
    assert ev.policies_selecting(X_WEB, "ingress") == []
    assert ev.policies_selecting(X_DB, "ingress") == ["x/db-ingress"]
    assert ev.policies_selecting(X_DB, "egress") == []
    assert ev.policies_selecting(EXTERNAL, "ingress") == []
    with pytest.raises(ValueError):
        ev.policies_selecting(X_WEB, "sideways")


def test_selection_cache_is_keyed_by_labels():
    ev = Evaluator(BOTH_SIDES)
    for _ in range(3):
        assert ev.policies_selecting(X_WEB, "egress") == ["x/web-egress"]
        assert ev.policies_selecting(pod("x", "web2", app="web2"), "egress") == []


def test_pod_without_namespace_is_rejected():
    with pytest.raises(ValueError):
        Evaluator(BOTH_SIDES).evaluate(Endpoint(kind="pod", ip="10.0.0.1"), X_DB, "TCP", 80)


# --------------------------------------------------------------------------------------------
# explain()
# --------------------------------------------------------------------------------------------


def test_explain_allowed_and_denied():
    ev = Evaluator(
        [
            netpol("default-deny", podSelector=ALL, policyTypes=["Ingress", "Egress"]),
            netpol("web-out", podSelector=WEB, egress=[{"to": [{"podSelector": {}}]}]),
        ]
    )
    v = ev.evaluate(X_WEB, X_DB, "TCP", 80)
    assert v.allowed is False
    lines = v.explain()
    assert lines == [
        "egress of x/web: allowed by x/web-out egress[0]",
        "ingress of x/db: denied: isolated by x/default-deny, no rule matches",
    ]


def test_explain_not_isolated_and_not_a_pod():
    v = Evaluator([]).evaluate(EXTERNAL, X_DB, "TCP", 80)
    egress_line, ingress_line = v.explain()
    assert "203.0.113.7" in egress_line and "not a pod" in egress_line
    assert ingress_line.startswith("ingress of x/db: allowed")
    assert "not isolated" in ingress_line


def test_explain_names_every_isolating_policy():
    ev = Evaluator([netpol("b", podSelector=ALL), netpol("a", podSelector=WEB)])
    line = ev.evaluate(X_DB, X_WEB, "TCP", 80).explain()[1]
    assert line == "ingress of x/web: denied: isolated by x/a, x/b, no rule matches"


def test_policy_error_is_value_error_and_duplicates_rejected():
    assert issubclass(PolicyError, ValueError)
    with pytest.raises(PolicyError, match="x/p"):
        Evaluator([netpol("p", podSelector={}), netpol("p", podSelector={})])


def test_missing_pod_selector_and_null_fields_decode_as_empty():
    # spec without podSelector selects every pod (Go decodes it to the empty selector);
    # null from/ports/rule mean "not given".
    ev = Evaluator(
        [
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "p", "namespace": "x"},
                "spec": {"ingress": [{"from": None, "ports": None}]},
            }
        ]
    )
    v = ev.evaluate(EXTERNAL, X_DB, "UDP", 53)
    assert v.ingress.isolated is True
    assert v.allowed is True


# --------------------------------------------------------------------------------------------
# Endpoints that stand for a set of addresses (Calico pub/pvt): every address must pass
# --------------------------------------------------------------------------------------------


def address_set(*ranges, name="set"):
    return Endpoint(kind="external", ip=None, name=name, ranges=tuple(ranges))


def _ingress_from(*peers, ports=({"port": 443},)):
    rule = {"from": list(peers)}
    if ports is not None:
        rule["ports"] = list(ports)
    return rule


def block(cidr, *excepts):
    return {"ipBlock": {"cidr": cidr, **({"except": list(excepts)} if excepts else {})}}


TARGET = pod("x", "web", app="web")


@pytest.mark.parametrize(
    ("ranges", "rules", "allowed"),
    [
        # one block holding the whole set
        (("10.0.0.0/8",), [_ingress_from(block("10.0.0.0/8"))], True),
        (("10.0.0.0/8",), [_ingress_from(block("0.0.0.0/0"))], True),
        # a block that misses part of the set: denied, whatever it does admit
        (("10.0.0.0/8",), [_ingress_from(block("10.0.0.0/9"))], False),
        # two blocks in two rules whose union holds the set
        (
            ("10.0.0.0/8",),
            [_ingress_from(block("10.0.0.0/9")), _ingress_from(block("10.128.0.0/9"))],
            True,
        ),
        # an except that cuts into the set
        (("10.0.0.0/8",), [_ingress_from(block("0.0.0.0/0", "10.1.0.0/16"))], False),
        # an except outside the set does not matter
        (("10.0.0.0/8",), [_ingress_from(block("0.0.0.0/0", "192.168.0.0/16"))], True),
        # both families: an IPv4 block never admits IPv6 addresses
        (("10.0.0.0/8", "fc00::/7"), [_ingress_from(block("0.0.0.0/0"))], False),
        (
            ("10.0.0.0/8", "fc00::/7"),
            [_ingress_from(block("0.0.0.0/0"), block("::/0"))],
            True,
        ),
        # a rule on another port does not count
        (("10.0.0.0/8",), [_ingress_from(block("10.0.0.0/8"), ports=({"port": 80},))], False),
        # a rule with no peers admits every address; with no ports, every port
        (("10.0.0.0/8",), [{"ports": [{"port": 443}]}], True),
        (("10.0.0.0/8",), [_ingress_from(block("10.0.0.0/8"), ports=None)], True),
        # selectors never match addresses
        (("10.0.0.0/8",), [_ingress_from({"namespaceSelector": {}})], False),
    ],
)
def test_an_address_set_passes_only_when_the_rules_together_admit_all_of_it(ranges, rules, allowed):
    ev = Evaluator([netpol("p", podSelector=ALL, ingress=rules)])
    verdict = ev.evaluate(address_set(*ranges), TARGET, "TCP", 443)
    assert verdict.allowed is allowed
    assert verdict.egress.applies is False  # no policy restricts an address


def test_a_partly_admitted_address_set_names_the_rules_and_says_part():
    ev = Evaluator([netpol("p", podSelector=ALL, ingress=[_ingress_from(block("10.0.0.0/9"))])])
    verdict = ev.evaluate(address_set("10.0.0.0/8", name="pvt"), TARGET, "TCP", 443)
    assert not verdict.allowed
    assert verdict.ingress.allowed_by == (RuleRef("x", "p", "ingress", 0),)
    assert "admit only part of the peer" in verdict.ingress.explain()


def test_an_address_set_as_destination_is_judged_by_the_source_egress():
    pol = netpol(
        "p",
        podSelector=ALL,
        policyTypes=["Egress"],
        egress=[{"to": [block("0.0.0.0/0", "10.0.0.0/8")], "ports": [{"port": 443}]}],
    )
    ev = Evaluator([pol])
    assert ev.evaluate(TARGET, address_set("8.0.0.0/7", "11.0.0.0/8"), "TCP", 443).allowed
    assert not ev.evaluate(TARGET, address_set("9.0.0.0/8", "10.0.0.0/8"), "TCP", 443).allowed


# --------------------------------------------------------------------------------------------
# Compiled policies in, and what the evaluator does not evaluate yet
# --------------------------------------------------------------------------------------------


def test_compiled_policies_and_dicts_give_the_same_verdicts():
    raw = [
        netpol(
            "db",
            podSelector={"matchLabels": {"app": "db"}},
            ingress=[{"from": [{"podSelector": WEB}]}],
        ),
        netpol("deny", podSelector={}),
    ]
    from_dicts, compiled = Evaluator(raw), Evaluator(compile_policies(raw))
    assert compiled.policies == from_dicts.policies
    for src, dst in ((X_WEB, X_DB), (X_OTHER, X_DB), (EXTERNAL, X_WEB)):
        assert compiled.evaluate(src, dst, "TCP", 80) == from_dicts.evaluate(src, dst, "TCP", 80)


def test_deny_rules_admin_tiers_are_judged_and_duplicates_refused_per_kind():
    """Deny rules and other tiers, once refused, are evaluated (their truth tables are in
    test_evaluator_tiers.py); a duplicate (kind, key) is still refused, while two kinds may
    share a name."""
    base = compile_policy(netpol("p", podSelector={}, ingress=[{}]))
    deny = replace(base, rules=(replace(base.rules[0], action=Action.DENY),))
    v = Evaluator([deny]).evaluate(X_WEB, X_DB, "TCP", 80)
    assert not v.allowed and v.ingress.denied_by == RuleRef("x", "p", "ingress", 0)
    assert Evaluator([replace(base, tier=ADMIN_TIER)]).evaluate(X_WEB, X_DB, "TCP", 80).allowed
    with pytest.raises(PolicyError, match="x/p: metadata.name: duplicate policy"):
        Evaluator([base, base])
    other = replace(base, kind="CiliumNetworkPolicy")
    assert len(Evaluator([base, other]).policies) == 2
    with pytest.raises(PolicyError, match="CiliumNetworkPolicy x/p: metadata.name: duplicate"):
        Evaluator([other, other])
