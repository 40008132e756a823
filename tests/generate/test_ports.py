import pytest

from recommender.generate.ir import PortSpec
from recommender.generate.ports import compact_ports, name_ports

T = "TCP"


@pytest.mark.parametrize(
    "ports, expected",
    [
        ([8080], [PortSpec(T, 8080)]),
        ([8080, 8081], [PortSpec(T, 8080, 8081)]),
        ([8080, 8081, 8082, 9090], [PortSpec(T, 8080, 8082), PortSpec(T, 9090)]),
        ([8080, 8082], [PortSpec(T, 8080), PortSpec(T, 8082)]),
    ],
)
def test_only_runs_of_observed_ports_become_ranges(ports, expected):
    assert compact_ports([PortSpec(T, p) for p in ports]) == expected


def test_ranges_never_cross_protocols():
    ports = [PortSpec("UDP", 53), PortSpec("TCP", 53), PortSpec("TCP", 54)]
    assert compact_ports(ports) == [PortSpec("TCP", 53, 54), PortSpec("UDP", 53)]


def test_a_port_is_named_only_when_every_destination_pod_names_it_alike():
    alike = [(("metrics", 9090, T), ("http", 8080, T))] * 3
    ports, why = name_ports([PortSpec(T, 9090), PortSpec(T, 8080)], alike)
    assert ports == [PortSpec(T, 8080, None, "http"), PortSpec(T, 9090, None, "metrics")]
    assert len(why) == 2
    differ = [(("metrics", 9090, T),), (("prom", 9090, T),)]
    assert name_ports([PortSpec(T, 9090)], differ)[0] == [PortSpec(T, 9090)]
    unnamed = [(("metrics", 9090, T),), ((None, 9090, T),)]
    assert name_ports([PortSpec(T, 9090)], unnamed)[0] == [PortSpec(T, 9090)]
    wrong_protocol = [(("metrics", 9090, "UDP"),)]
    assert name_ports([PortSpec(T, 9090)], wrong_protocol)[0] == [PortSpec(T, 9090)]
    assert name_ports([PortSpec(T, 9090)], [])[0] == [PortSpec(T, 9090)]
