"""SRC, DST and PORT of ``explain``: parsed and checked, resolved on the known pods, and
refused in one line that says what to change."""

from __future__ import annotations

import pandas as pd
import pytest
from conformance.truth import cluster
from explain_truth import pods_frame

from recommender.explain_endpoints import (
    ExplainError,
    KnownPods,
    PortQuery,
    parse_port,
)
from recommender.netpol.model import ContainerPort, Endpoint


@pytest.mark.parametrize(
    "text,want",
    [
        ("443", PortQuery("TCP", number=443)),
        ("53/udp", PortQuery("UDP", number=53)),
        ("53/Udp", PortQuery("UDP", number=53)),
        ("9/SCTP", PortQuery("SCTP", number=9)),
        ("65535/tcp", PortQuery("TCP", number=65535)),
        ("1", PortQuery("TCP", number=1)),
        ("http", PortQuery("TCP", name="http")),
        ("dns-tcp/tcp", PortQuery("TCP", name="dns-tcp")),
        ("serve-80-udp/UDP", PortQuery("UDP", name="serve-80-udp")),
    ],
)
def test_ports_and_protocols_parse(text, want):
    assert parse_port(text) == want


@pytest.mark.parametrize(
    "text,why",
    [
        ("0", "1-65535"),
        ("65536", "1-65535"),
        ("99999999999999999999", "1-65535"),
        ("443/icmp", "TCP, UDP or SCTP"),
        ("443/", "TCP, UDP or SCTP"),
        ("443/tcp/udp", "TCP, UDP or SCTP"),
        ("", "PORT[/PROTO]"),
        ("x" * 41, "PORT[/PROTO]"),
        ("HTTP", "container port name"),
        ("a-very-long-port-name", "container port name"),
        ("-http", "container port name"),
        ("http--x", "container port name"),
        ("123-456", "container port name"),
        ("٤٤٣", "container port name"),  # Arabic-Indic digits are not a port number
        ("443\n", "container port name"),
        ("-1", "container port name"),
    ],
)
def test_bad_ports_are_refused_in_one_line(text, why):
    with pytest.raises(ExplainError, match=None) as caught:
        parse_port(text)
    message = str(caught.value)
    assert why in message and "\n" not in message


def test_the_default_protocol_is_tcp_and_str_says_it():
    assert str(parse_port("8080")) == "8080/TCP"
    assert str(parse_port("metrics/udp")) == "metrics/UDP"


def _pods() -> KnownPods:
    return KnownPods(pods_frame(cluster().values()), node_ips=["172.18.0.2"])


def test_a_pod_a_workload_and_their_endpoints():
    known = _pods()
    pod = known.resolve("x/a")
    assert pod.kind == "pod" and [e.name for e in pod.endpoints] == ["a"]
    (ep,) = pod.endpoints
    assert ep.labels == {"pod": "a"} and ep.ip == "10.0.1.1"
    assert ep.namespace_labels["kubernetes.io/metadata.name"] == "x"
    assert ContainerPort("serve-80-tcp", 80, "TCP") in ep.ports


def test_a_workload_stands_for_every_pod_of_it_in_name_order():
    frame = pods_frame(cluster().values())
    frame.loc[frame["namespace"] == "y", "workload_name"] = "web"
    known = KnownPods(frame)
    named = known.resolve("y/web")
    assert named.kind == "workload"
    assert [e.name for e in named.endpoints] == ["a", "b", "c"]


def test_addresses_pods_nodes_and_the_rest():
    known = _pods()
    pod = known.resolve("10.0.2.3")
    assert pod.kind == "pod address" and pod.endpoints[0].name == "c"
    node = known.resolve("172.18.0.2")
    assert node.kind == "node" and node.endpoints[0].kind == "node"
    outside = known.resolve("2001:DB8::0:1")
    assert outside.kind == "address"
    assert outside.endpoints[0] == Endpoint(kind="external", ip="2001:db8::1", name="2001:db8::1")


@pytest.mark.parametrize(
    "text,why",
    [
        ("x/d", "close matches: x/c, x/b, x/a"),
        ("x/zzzzzzzzzz", "workloads of x: x/a, x/b, x/c"),
        ("nowhere/zzzzzzzzzz", "known namespaces: x, y, z"),
        ("X/a", "expected namespace/pod"),
        ("x/a/b", "expected namespace/pod"),
        ("../etc/passwd", "expected namespace/pod"),
        ("x/a\x1b[31m", "expected namespace/pod"),
        ("x/" + "a" * 400, "expected namespace/name or an address"),
        ("10.0.0.256", "not an IPv4/IPv6 address"),
        ("10.0.0.0/8", "expected namespace/pod"),
        ("fe80::1%eth0", "not an IPv4/IPv6 address"),
        (" 10.0.0.1", "not an IPv4/IPv6 address"),
        ("", "expected namespace/name or an address"),
    ],
)
def test_names_that_match_nothing_are_refused_in_one_line(text, why):
    with pytest.raises(ExplainError) as caught:
        _pods().resolve(text)
    message = str(caught.value)
    assert why in message, message
    assert "\n" not in message and "\x1b" not in message


def test_a_pod_whose_labels_are_unknown_cannot_be_explained():
    frame = pods_frame(cluster().values())
    frame["labels"] = frame["labels"].astype(object)
    frame.at[0, "labels"] = None
    with pytest.raises(ExplainError, match="labels of pod a are unknown.*--inventory"):
        KnownPods(frame).resolve("x/a")


def test_no_pods_known_says_where_to_get_them():
    with pytest.raises(ExplainError, match="--inventory FILE or --flows INPUT"):
        KnownPods(pd.DataFrame()).resolve("x/a")


def test_a_named_port_resolves_on_each_destination_pod():
    (dst,) = _pods().resolve("y/b").endpoints
    assert parse_port("serve-81-udp/udp").resolve(dst) == 81
    with pytest.raises(ExplainError, match="no container port of that name.*serve-80-tcp:80/TCP"):
        parse_port("serve-81-udp/tcp").resolve(dst)
    with pytest.raises(ExplainError, match="needs a destination pod"):
        parse_port("http").resolve(Endpoint(kind="external", ip="192.0.2.1"))
    bare = Endpoint(kind="pod", namespace="x", name="a")
    with pytest.raises(ExplainError, match="container ports of x/a are unknown"):
        parse_port("http").resolve(bare)
    assert parse_port("8080").resolve(bare) == 8080
