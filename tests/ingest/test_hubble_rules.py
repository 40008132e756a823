"""The Hubble rulebook, rule by rule: truth tables of the pure functions both decoders call."""

from __future__ import annotations

import pytest

from recommender.ingest import hubble_rules as rules
from recommender.ingest.common import Bad

# ----------------------------------------------------------------------------- records


def test_has_is_reply_looks_in_the_wrapper_or_the_bare_flow():
    assert rules.has_is_reply({"flow": {"is_reply": False}})
    assert rules.has_is_reply({"flow": {"is_reply": None}})  # the key, whatever its value
    assert not rules.has_is_reply({"flow": {"reply": True}})
    assert rules.has_is_reply({"verdict": "FORWARDED", "is_reply": True})
    assert not rules.has_is_reply({"flow": "x", "other": 1})
    assert not rules.has_is_reply(["is_reply"])


def test_legacy_reply_holds_when_no_lookahead_record_has_is_reply():
    old = {"flow": {"reply": True}}
    new = {"flow": {"is_reply": True}}
    assert rules.legacy_reply([old, old])
    assert rules.legacy_reply([])
    assert not rules.legacy_reply([old, new])
    # Only the first LOOKAHEAD records count.
    assert rules.legacy_reply([old] * rules.LOOKAHEAD + [new])


# ----------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("TO_STACK", "TO_STACK"), ("A1_b", "A1_b")],
)
def test_token_accepts_plain_tokens(value, expected):
    assert rules.token(value, "f") == expected


@pytest.mark.parametrize("value", ["two words", "x" * 65, "a;b", 5, True, ["A"]])
def test_token_refuses_anything_else(value):
    with pytest.raises(Bad, match="malformed record: f"):
        rules.token(value, "f")


def test_interface_names_allow_dots_and_dashes():
    assert rules.interface_name("eth0.100") == "eth0.100"
    assert rules.interface_name("lxc25aced2f4021") == "lxc25aced2f4021"
    with pytest.raises(Bad):
        rules.interface_name("-eth0")


def test_names_keep_the_dns_names_and_drop_empty_ones():
    assert rules.names(None, "source_names") is None
    assert rules.names(["db.shop.svc.", "", "*.example.com"], "x") == [
        "db.shop.svc.",
        "*.example.com",
    ]
    with pytest.raises(Bad, match="malformed record: x"):
        rules.names("db", "x")
    with pytest.raises(Bad, match="invalid DNS name"):
        rules.names(["bad name"], "x")


def test_address_gives_canonical_text_and_family():
    assert rules.address("10.0.0.1", "IP.source") == ("10.0.0.1", 4)
    assert rules.address("2001:DB8::0001", "IP.source") == ("2001:db8::1", 6)
    for bad in (None, "", " 10.0.0.1", "10.0.0.0/24", 5):
        with pytest.raises(Bad, match="invalid IP"):
            rules.address(bad, "IP.source")


def test_source_xlated():
    assert rules.source_xlated(None) is None
    assert rules.source_xlated("") is None
    assert rules.source_xlated("FD00::5") == "fd00::5"
    with pytest.raises(Bad) as exc:
        rules.source_xlated("x")
    assert exc.value.reason == "invalid IP" and "IP.source_xlated" in exc.value.detail


# ----------------------------------------------------------------------------- verdict


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("FORWARDED", ("allowed", "FORWARDED")),
        ("DROPPED", ("denied", "DROPPED")),
        ("AUDIT", ("audit", "AUDIT")),
        ("REDIRECTED", ("redirected", "REDIRECTED")),
        ("ERROR", ("error", "ERROR")),
        ("TRACED", ("unknown", "TRACED")),
        ("TRANSLATED", ("unknown", "TRANSLATED")),
        ("SOMETHING_NEW", ("unknown", "SOMETHING_NEW")),  # kept raw
        (2, ("denied", "DROPPED")),  # protojson UseEnumNumbers
        (0, ("unknown", "VERDICT_UNKNOWN")),
        (None, ("unknown", None)),
        ("", ("unknown", None)),
    ],
)
def test_verdict(raw, expected):
    assert rules.verdict(raw) == expected


@pytest.mark.parametrize("raw", [99, -1, True, "bad token!", ["FORWARDED"]])
def test_verdict_refuses_unknown_numbers_and_non_tokens(raw):
    with pytest.raises(Bad, match="malformed record: verdict"):
        rules.verdict(raw)


# ----------------------------------------------------------------------------- observer


def test_observer_splits_relay_cluster_prefix():
    assert rules.observer("kind-worker") == ("kind-worker", None)
    assert rules.observer("cluster-a/worker-1") == ("worker-1", "cluster-a")
    assert rules.observer(None) == (None, None)
    assert rules.observer("") == (None, None)
    with pytest.raises(Bad, match="invalid node name"):
        rules.observer("Bad Node")
    with pytest.raises(Bad, match="invalid cluster name"):
        rules.observer("Bad Cluster/worker")
    with pytest.raises(Bad, match="malformed record: node_name"):
        rules.observer(5)


@pytest.mark.parametrize(
    ("node", "src_local", "dst_local", "expected"),
    [
        ("relay", True, True, "relay"),  # the observer's cluster wins
        (None, True, True, "src-c"),  # then the local endpoint's, the source first
        (None, False, True, "dst-c"),
        (None, False, False, None),  # a remote endpoint's cluster says nothing
    ],
)
def test_record_cluster(node, src_local, dst_local, expected):
    assert rules.record_cluster(node, src_local, "src-c", dst_local, "dst-c") == expected


# ----------------------------------------------------------------------------- L4


def test_l4_member_first_of_the_table_wins():
    assert rules.l4_member({"UDP": {}, "TCP": {}}) == "TCP"
    assert rules.l4_member({"ICMPv6": {}, "SCTP": {}}) == "SCTP"
    assert rules.l4_member({"IGMP": {}}) == "IGMP"
    assert rules.l4_member({"Other": {}}) is None


@pytest.mark.parametrize(
    ("member", "expected"),
    [
        ("TCP", ("TCP", 6)),
        ("UDP", ("UDP", 17)),
        ("SCTP", ("SCTP", 132)),
        ("ICMPv4", ("ICMP", 1)),
        ("ICMPv6", ("ICMPv6", 58)),
        ("VRRP", ("OTHER", 112)),
        ("IGMP", ("OTHER", 2)),
        (None, ("OTHER", None)),
    ],
)
def test_l4_protocol(member, expected):
    assert rules.l4_protocol(member) == expected


def test_icmp_absent_values_are_zero():
    assert rules.icmp("ICMPv4", None, None) == (0, 0)  # {"ICMPv4": {}}: an echo reply
    assert rules.icmp("ICMPv6", 128, 0) == (128, 0)
    with pytest.raises(Bad, match="malformed record: l4.ICMPv4.type"):
        rules.icmp("ICMPv4", 256, 0)
    with pytest.raises(Bad, match="malformed record: l4.ICMPv6.code"):
        rules.icmp("ICMPv6", 1, -1)


def test_port_bounds():
    assert rules.port(None, "p") is None
    assert rules.port(0, "p") == 0
    assert rules.port(65535, "p") == 65535
    for bad in (65536, -1, 1.0, True, "80"):
        with pytest.raises(Bad, match="malformed record: p"):
            rules.port(bad, "p")


def test_tcp_flags_fold_into_the_schema_bits():
    assert rules.tcp_flags({}, "f") == 0
    assert rules.tcp_flags({"SYN": True}, "f") == 2
    assert rules.tcp_flags({"SYN": True, "ACK": True, "FIN": False}, "f") == 18
    assert rules.tcp_flags({"NS": True, "CWR": True}, "f") == 384
    assert rules.tcp_flags({"NEWFLAG": True, "RST": True}, "f") == 4  # unknown names: 0
    with pytest.raises(Bad, match="malformed record: f"):
        rules.tcp_flags({"SYN": 1}, "f")


# ----------------------------------------------------------------------------- orientation


@pytest.mark.parametrize(
    ("td", "expected"),
    [("INGRESS", "ingress"), ("EGRESS", "egress"), (None, "unknown"), ("OTHER", "unknown")],
)
def test_direction(td, expected):
    assert rules.direction(td) == expected


SYN, SYN_ACK, ACK = 2, 18, 16


@pytest.mark.parametrize(
    ("stated", "reply", "reason", "flags", "legacy", "expected"),
    [
        # is_reply, when stated, wins over everything.
        (True, False, "NEW", SYN, True, True),
        (False, True, "REPLY", SYN_ACK, False, False),
        # Absent: the deprecated reply when true ...
        (None, True, None, None, False, True),
        (None, True, "NEW", SYN, True, True),
        # ... a legacy file reads a missing (or false) reply as "not a reply" ...
        (None, None, None, None, True, False),
        (None, False, "REPLY", SYN_ACK, True, False),
        # ... then conntrack ...
        (None, None, "NEW", SYN_ACK, False, False),
        (None, None, "ESTABLISHED", None, False, False),
        (None, None, "REPLY", SYN, False, True),
        # ... then the SYN (SYN+ACK is the server's answer) ...
        (None, None, None, SYN, False, False),
        (None, None, None, SYN_ACK, False, True),
        (None, None, "RELATED", SYN, False, False),
        # ... else nobody can tell (never guessed from ports).
        (None, None, None, ACK, False, None),
        (None, None, None, None, False, None),
        (None, False, None, None, False, None),
    ],
)
def test_is_reply(stated, reply, reason, flags, legacy, expected):
    assert rules.is_reply(stated, reply, reason, flags, legacy) is expected


@pytest.mark.parametrize(("stated", "reply"), [(1, None), ("true", None), (None, 0)])
def test_is_reply_refuses_non_booleans(stated, reply):
    with pytest.raises(Bad, match="malformed record"):
        rules.is_reply(stated, reply, None, None, False)


@pytest.mark.parametrize(
    ("direction", "is_reply", "src_local", "dst_local", "expected"),
    [
        # A known orientation decides: the local endpoint opened (egress) or accepted.
        ("egress", False, False, False, "src"),
        ("egress", True, True, False, "dst"),  # an egress reply goes to the local client
        ("ingress", False, True, False, "dst"),
        ("ingress", True, False, True, "src"),  # an ingress reply comes from the local server
        # Otherwise the one endpoint with a local ID.
        ("egress", None, False, True, "dst"),
        ("unknown", True, True, False, "src"),
        ("unknown", None, True, True, "unknown"),
        ("unknown", None, False, False, "unknown"),
    ],
)
def test_reporter(direction, is_reply, src_local, dst_local, expected):
    assert rules.reporter(direction, is_reply, src_local, dst_local) == expected


# ----------------------------------------------------------------------------- endpoints


def test_parse_labels_moves_pseudo_labels_out_of_the_pod_labels():
    got = rules.parse_labels(
        (
            "k8s:app=reviews",
            "k8s:io.cilium.k8s.namespace.labels.team=a",
            "k8s:io.cilium.k8s.policy.cluster=kind-kind",
            "k8s:io.cilium.k8s.policy.serviceaccount=reviews",
            "k8s:io.cilium.other=x",
            "k8s:io.kubernetes.pod.namespace=bookinfo",
            "reserved:host",
            "cidr:10.0.0.0/8",
            "container:x=y",
            "nosource",
        ),
        "source.labels",
    )
    assert got == rules.Labels(
        pod=(("app", "reviews"),),
        namespace_labels=(("team", "a"),),
        namespace="bookinfo",
        service_account="reviews",
        cluster="kind-kind",
        reserved=frozenset({"host"}),
        cidr=True,
        k8s=True,
    )
    assert rules.parse_labels((), "l") == rules.NO_LABELS


@pytest.mark.parametrize(
    ("labels", "reason"),
    [
        (("k8s:io.kubernetes.pod.namespace=a", "k8s:io.kubernetes.pod.namespace=b"), "conflict"),
        (("k8s:app=a", "k8s:app=b"), "conflicting labels"),
        (("k8s:io.kubernetes.pod.namespace=../etc",), "invalid namespace"),
        (("k8s:io.cilium.k8s.policy.serviceaccount=A B",), "invalid service account"),
        (("k8s:io.cilium.k8s.policy.cluster=A B",), "invalid cluster name"),
        (("k8s:bad key=x",), "invalid label key"),
        (("k8s:app=bad value",), "invalid label value"),
        (("reserved:Bad_Name",), "invalid reserved label"),
    ],
)
def test_parse_labels_rejects(labels, reason):
    raised = []
    for _ in range(2):  # the second time from the cache: a fresh exception each time
        with pytest.raises(Bad, match=reason) as exc:
            rules.parse_labels(labels, "source.labels")
        assert "source.labels" in exc.value.detail
        raised.append(exc.value)
    assert raised[0] is not raised[1]
    assert (raised[0].reason, raised[0].detail) == (raised[1].reason, raised[1].detail)


@pytest.mark.parametrize(
    ("namespace", "pod", "reserved", "identity", "cidr", "k8s", "expected"),
    [
        ("ns", "p", {"world"}, 2, True, True, "pod"),  # a named pod is a pod
        (None, None, {"host"}, None, False, False, "node"),
        (None, None, {"remote-node", "world"}, None, False, False, "node"),
        (None, None, {"health"}, None, False, False, "node"),
        (None, None, {"kube-apiserver"}, None, False, False, "node"),
        (None, None, {"kube-apiserver", "world"}, None, False, False, "external"),
        (None, None, {"world-ipv6"}, None, False, False, "external"),
        (None, None, set(), 2, False, False, "external"),
        (None, None, set(), None, True, False, "external"),
        (None, None, {"init"}, None, False, False, "cluster_unknown"),
        (None, None, {"ingress"}, None, False, False, "cluster_unknown"),
        ("ns", None, set(), None, False, True, "cluster_unknown"),
        ("ns", None, set(), None, False, False, "unknown"),
        (None, "p", set(), None, False, True, "unknown"),
        (None, None, set(), 12345, False, False, "unknown"),
    ],
)
def test_endpoint_kind(namespace, pod, reserved, identity, cidr, k8s, expected):
    kind = rules.endpoint_kind(namespace, pod, frozenset(reserved), identity, cidr, k8s)
    assert kind == expected


def test_reserved_name_follows_the_order_else_the_smallest():
    assert rules.reserved_name(frozenset()) is None
    assert rules.reserved_name(frozenset({"world", "host"})) == "host"
    assert rules.reserved_name(frozenset({"kube-apiserver", "world"})) == "kube-apiserver"
    assert rules.reserved_name(frozenset({"zeta", "new-one"})) == "new-one"


def test_endpoint_namespace_field_and_label_must_agree():
    assert rules.endpoint_namespace(None, "a", "source") == "a"
    assert rules.endpoint_namespace("", None, "source") is None
    assert rules.endpoint_namespace("a", "a", "source") == "a"
    assert rules.endpoint_namespace("a", None, "source") == "a"
    with pytest.raises(Bad, match="conflicting namespace"):
        rules.endpoint_namespace("a", "b", "source")
    with pytest.raises(Bad, match="invalid namespace"):
        rules.endpoint_namespace("A", None, "source")


def test_workload_is_the_first_owner():
    assert rules.workload(None, "source") == (None, None)
    assert rules.workload([], "source") == (None, None)
    two = [{"name": "web", "kind": "Deployment"}, {"name": "x", "kind": "ReplicaSet"}]
    assert rules.workload(two, "source") == ("Deployment", "web")
    assert rules.workload([{"name": "", "kind": ""}], "source") == (None, None)
    with pytest.raises(Bad, match="malformed record: source.workloads"):
        rules.workload({"name": "web"}, "source")
    with pytest.raises(Bad, match="invalid workload kind"):
        rules.workload([{"kind": "Deploy-ment"}], "source")
    with pytest.raises(Bad, match="invalid workload name"):
        rules.workload([{"name": "Web"}], "source")


def _endpoint(ep):
    values, local = rules.endpoint(ep, "source")
    return dict(zip(rules.ENDPOINT_COLUMNS, values, strict=True)), local


def test_endpoint_of_a_pod():
    got, local = _endpoint(
        {
            "ID": 881,
            "identity": 3418,
            "labels": ["k8s:app=web", "k8s:io.kubernetes.pod.namespace=shop"],
            "pod_name": "web-1",
            "cluster_name": "east",
            "workloads": [{"name": "web", "kind": "Deployment"}],
        }
    )
    assert local
    assert got == {
        "kind": "pod",
        "reserved": None,
        "namespace": "shop",
        "pod": "web-1",
        "workload_kind": "Deployment",
        "workload_name": "web",
        "labels": (("app", "web"),),
        "namespace_labels": None,
        "service_account": None,
        "identity": 3418,
        "cluster": "east",
    }


def test_endpoint_labels_are_unknown_without_a_kubernetes_identity():
    got, local = _endpoint({"identity": 2, "labels": ["reserved:world"]})
    assert not local
    assert got["kind"] == "external" and got["reserved"] == "world"
    assert got["labels"] is None  # unknown, not the empty set
    got, _ = _endpoint({"labels": ["k8s:io.kubernetes.pod.namespace=shop"], "pod_name": "p"})
    assert got["labels"] == ()  # known empty


def test_endpoint_reserved_identity_counts_only_without_labels():
    got, _ = _endpoint({"identity": 1})  # labels masked by a fieldMask
    assert (got["kind"], got["reserved"]) == ("node", "host")
    got, _ = _endpoint({"identity": 1, "labels": []})
    assert (got["kind"], got["reserved"]) == ("unknown", None)


def test_absent_and_malformed_endpoints():
    values, local = rules.endpoint(None, "destination")
    assert values == rules.UNKNOWN_ENDPOINT and not local
    assert values[0] == "unknown" and len(values) == len(rules.ENDPOINT_COLUMNS)
    with pytest.raises(Bad, match="malformed record: destination"):
        rules.endpoint([], "destination")
    with pytest.raises(Bad, match="malformed record: destination.labels"):
        rules.endpoint({"labels": ["k8s:a=b", 5]}, "destination")
    with pytest.raises(Bad, match="malformed record: destination.identity"):
        rules.endpoint({"identity": 2**32}, "destination")
    with pytest.raises(Bad, match="invalid pod name"):
        rules.endpoint({"pod_name": "../x"}, "destination")
    with pytest.raises(Bad, match="invalid cluster name"):
        rules.endpoint({"cluster_name": "A B"}, "destination")


# ----------------------------------------------------------------------------- the rest


def test_destination_service_has_no_port():
    assert rules.destination_service(None) == (None, None)
    assert rules.destination_service({}) == (None, None)
    assert rules.destination_service({"name": "db", "namespace": "shop"}) == ("shop", "db")
    assert rules.destination_service({"name": "db", "namespace": ""}) == (None, "db")
    with pytest.raises(Bad, match="invalid service name"):
        rules.destination_service({"name": "DB"})
    with pytest.raises(Bad, match="invalid namespace"):
        rules.destination_service({"namespace": "a.b"})
    with pytest.raises(Bad, match="malformed record: destination_service"):
        rules.destination_service("db")


def test_l7():
    assert rules.l7(None) == rules.NO_L7
    assert rules.l7({}) == rules.NO_L7
    dns = {"type": "REQUEST", "dns": {"query": "db.shop.svc."}}
    assert rules.l7(dns) == ("dns", "db.shop.svc.", "REQUEST")
    assert rules.l7({"dns": None}) == ("dns", None, None)
    assert rules.l7({"http": {"code": 200}}) == ("http", None, None)
    assert rules.l7({"kafka": {}, "type": "RESPONSE"}) == ("kafka", None, "RESPONSE")
    assert rules.l7({"type": "SAMPLE"}) == (None, None, "SAMPLE")
    with pytest.raises(Bad, match="malformed record: l7.http"):
        rules.l7({"http": []})
    with pytest.raises(Bad, match="invalid DNS name"):
        rules.l7({"dns": {"query": "bad name"}})


def test_dns_ips_are_the_answer_addresses_canonical_and_distinct():
    answer = {"type": "RESPONSE", "dns": {"query": "api.example.com.", "ips": []}}
    assert rules.dns_ips(None) is None
    assert rules.dns_ips({"http": {"code": 200}}) is None
    assert rules.dns_ips(answer) is None  # an answer without addresses (NXDOMAIN, AAAA-less)
    answer["dns"]["ips"] = ["93.184.216.34", "2001:DB8::1", "", "93.184.216.34"]
    assert rules.dns_ips(answer) == ["93.184.216.34", "2001:db8::1"]
    with pytest.raises(Bad, match="invalid IP"):
        rules.dns_ips({"dns": {"ips": ["not-an-ip"]}})
    with pytest.raises(Bad, match="malformed record: l7.dns.ips"):
        rules.dns_ips({"dns": {"ips": "93.184.216.34"}})


def test_policies():
    assert rules.policies({}) is None
    assert rules.policies({"egress_allowed_by": []}) is None
    got = rules.policies(
        {
            "ingress_denied_by": [{"name": "deny-all", "namespace": "shop", "kind": "Network"}],
            "egress_allowed_by": [{"name": "allow-dns"}],
        }
    )
    assert [(p["name"], p["action"], p["direction"]) for p in got] == [
        ("allow-dns", "allow", "egress"),  # in POLICY_FIELDS order
        ("deny-all", "deny", "ingress"),
    ]
    assert got[1]["namespace"] == "shop" and got[1]["kind"] == "Network"
    assert got[0]["namespace"] is None and got[0]["tier"] is None
    with pytest.raises(Bad, match="malformed record: egress_denied_by"):
        rules.policies({"egress_denied_by": {"name": "x"}})
    with pytest.raises(Bad, match="invalid policy name"):
        rules.policies({"egress_denied_by": [{"name": "Bad Name"}]})
    with pytest.raises(Bad, match="invalid policy kind"):
        rules.policies({"egress_denied_by": [{"kind": 5}]})


def test_aggregate_sums_the_three_counts():
    assert rules.aggregate(None) == (1, False)
    assert rules.aggregate({}) == (1, True)  # an aggregate is at least one flow
    counts = {"ingress_flow_count": 3, "egress_flow_count": 4, "unknown_direction_flow_count": 5}
    assert rules.aggregate(counts) == (12, True)
    with pytest.raises(Bad, match="malformed record: aggregate.egress_flow_count"):
        rules.aggregate({"egress_flow_count": -1})


def test_event_type_absent_sub_type_is_zero():
    assert rules.event_type(None, 3) is None
    assert rules.event_type(4, None) == ("4", "0")
    assert rules.event_type(4, 3) == ("4", "3")
    with pytest.raises(Bad, match="malformed record: event_type.sub_type"):
        rules.event_type(4, -1)
    with pytest.raises(Bad, match="malformed record: event_type.type"):
        rules.event_type(2**32, 0)


def test_extra_is_sorted_and_none_when_empty():
    assert rules.extra(None, None, None, None, None, None, None) is None
    got = rules.extra("L7", "REQUEST", ("129", "0"), "TO_PROXY", "NEW", "lxc1", "10.0.0.9")
    assert got == [
        ("event_sub_type", "0"),
        ("event_type", "129"),
        ("interface", "lxc1"),
        ("l7_type", "REQUEST"),
        ("observation_point", "TO_PROXY"),
        ("source_xlated", "10.0.0.9"),
        ("trace_reason", "NEW"),
        ("type", "L7"),
    ]
    assert rules.extra("L3_L4", None, None, None, None, None, None) == [("type", "L3_L4")]
