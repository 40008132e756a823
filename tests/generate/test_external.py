"""External peers: exact addresses, public-facing ports, CIDR aggregation within a budget."""

from __future__ import annotations

import ipaddress

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.address_sets import cluster_ranges
from recommender.generate.external import ExternalBlock, Forbidden, plan_external
from recommender.netpol.networkpolicy import ip_in_block
from recommender.options import SynthesisOptions

IN = ("ingress", "TCP", 443)
OUT = ("egress", "TCP", 443)
V4_PRIVATE = {
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
}


def _plan(addrs, key=OUT, forbidden=(), **options):
    return plan_external({key: addrs}, options=SynthesisOptions(**options), forbidden=forbidden)[
        key
    ]


def _clients(n_sources: int, n_networks: int) -> list[str]:
    """``n_sources`` distinct public addresses spread over exactly ``n_networks`` /16s."""
    return [f"{20 + i % n_networks}.0.{i // n_networks}.7" for i in range(n_sources)]


def _admits(block: ExternalBlock, ip: str) -> bool:
    return ip_in_block(ip, block.ip_block())


def _check(blocks: list[ExternalBlock], observed, forbidden=(), budget=None) -> None:
    """Every observed address admitted by exactly one block, nothing forbidden admitted."""
    for ip in observed:
        assert sum(_admits(b, ip) for b in blocks) == 1, ip
        assert any(str(ipaddress.ip_address(ip)) in b.covers for b in blocks)
    for item in forbidden:
        net = ipaddress.ip_network(item, strict=False)
        for ip in {net.network_address, net.broadcast_address}:
            if str(ip) in {str(ipaddress.ip_address(o)) for o in observed}:
                continue  # an observed forbidden address keeps its exact block
            assert not any(_admits(b, str(ip)) for b in blocks), ip
    for b in blocks:
        if b.kind != "public" and budget is not None:
            assert b.unobserved <= budget


def test_default_is_one_exact_block_per_address():
    blocks = _plan(["93.184.216.34", "2606:2800:220:1::1", "93.184.216.34", "1.1.1.1"])
    assert [(b.cidr, b.kind, b.unobserved, b.excepts) for b in blocks] == [
        ("1.1.1.1/32", "exact", 0, ()),
        ("93.184.216.34/32", "exact", 0, ()),
        ("2606:2800:220:1::1/128", "exact", 0, ()),
    ]
    assert blocks[0].covers == ("1.1.1.1",)
    assert blocks[0].ip_block() == {"cidr": "1.1.1.1/32"}


def test_addresses_are_canonical_and_keys_sorted():
    plan = plan_external(
        {IN: ["2001:DB8:0:0::1"], OUT: [" 93.184.216.34"], ("egress", "UDP", 53): []},
        options=SynthesisOptions(),
    )
    assert list(plan) == [("egress", "TCP", 443), ("egress", "UDP", 53), IN]
    assert plan[IN][0].cidr == "2001:db8::1/128"
    assert plan[("egress", "UDP", 53)] == []
    with pytest.raises(ValueError):
        plan_external({("sideways", "TCP", 1): ["1.1.1.1"]}, options=SynthesisOptions())
    with pytest.raises(ValueError):
        _plan(["not-an-ip"])


@pytest.mark.parametrize(
    ("sources", "networks", "public"),
    [(20, 8, True), (19, 8, False), (20, 7, False), (35, 21, True)],
)
def test_public_thresholds_are_inclusive(sources, networks, public):
    blocks = _plan(_clients(sources, networks), key=IN)
    assert [b.kind == "public" for b in blocks].count(True) == int(public)
    if public:
        (block,) = blocks
        assert block.cidr == "0.0.0.0/0" and set(block.excepts) == V4_PRIVATE
        assert len(block.covers) == sources
        admitted = 2**32 - sum(ipaddress.ip_network(e).num_addresses for e in block.excepts)
        assert block.unobserved == admitted - sources
        assert f"{sources} distinct internet clients over {networks} networks" in block.why
    else:
        assert all(b.kind == "exact" for b in blocks) and len(blocks) == sources


def test_public_thresholds_follow_options():
    blocks = _plan(_clients(5, 3), key=IN, public_min_sources=5, public_min_networks=3)
    assert [b.kind for b in blocks] == ["public"]


def test_egress_is_never_public():
    blocks = _plan(_clients(40, 30), key=OUT)
    assert {b.kind for b in blocks} == {"exact"}


def test_private_sources_do_not_count_and_stay_exact():
    clients = _clients(19, 10) + ["10.1.2.3", "192.168.1.1", "100.64.0.1"]
    assert {b.kind for b in _plan(clients, key=IN)} == {"exact"}
    blocks = _plan(_clients(20, 10) + ["10.1.2.3"], key=IN)
    assert [(b.cidr, b.kind) for b in blocks] == [("0.0.0.0/0", "public"), ("10.1.2.3/32", "exact")]
    _check(blocks, _clients(20, 10) + ["10.1.2.3"])


def test_public_ipv4_and_ipv6_with_forbidden_excepts():
    v6 = [f"2001:{0xDB8 + i:x}::1" for i in range(6)] + ["fd00::5"]  # six /32 networks
    clients = _clients(14, 4) + v6
    forbidden = ["10.244.0.0/16", "192.0.2.10", "8.8.0.0/16", "2001:db8:ff::/48", "fd00::/8"]
    blocks = _plan(clients, key=IN, forbidden=forbidden)
    kinds = [(b.cidr, b.kind) for b in blocks]
    assert kinds == [("0.0.0.0/0", "public"), ("::/0", "public"), ("fd00::5/128", "exact")]
    v4, v6_block, stray = blocks
    # 10.244/16 is inside 10/8 already; the others are new excepts.
    assert set(v4.excepts) == V4_PRIVATE | {"192.0.2.10/32", "8.8.0.0/16"}
    assert set(v6_block.excepts) == {"fc00::/7", "fe80::/10", "::1/128", "2001:db8:ff::/48"}
    assert list(v4.excepts) == sorted(v4.excepts, key=lambda e: ipaddress.ip_network(e))
    assert len(v6_block.covers) == 6 and v6_block.unobserved > 2**127
    assert "forbidden" not in stray.why and "cluster range" in stray.why
    _check(blocks, clients, forbidden)


def test_public_block_only_for_the_families_seen():
    blocks = _plan([f"2001:db8:{i:x}::1" for i in range(20)], key=IN, public_min_networks=1)
    assert [b.cidr for b in blocks] == ["::/0"]


def test_budget_zero_keeps_the_exact_address_set():
    scattered = ["93.184.216.34", "93.184.216.36", "1.1.1.1"]
    assert [b.cidr for b in _plan(scattered, cidr_budget=0)] == [
        "1.1.1.1/32",
        "93.184.216.34/32",
        "93.184.216.36/32",
    ]
    seven = [f"93.184.216.{i}" for i in range(7)]
    blocks = _plan(seven, cidr_budget=0)
    assert [b.cidr for b in blocks] == ["93.184.216.0/30", "93.184.216.4/31", "93.184.216.6/32"]
    assert [b.unobserved for b in blocks] == [0, 0, 0]
    assert [b.kind for b in blocks] == ["aggregate", "aggregate", "exact"]
    _check(blocks, seven, budget=0)


def test_budget_merges_siblings():
    eight = [f"93.184.216.{i}" for i in range(8)]
    (block,) = _plan(eight, cidr_budget=0)
    assert (block.cidr, block.unobserved, block.kind) == ("93.184.216.0/29", 0, "aggregate")
    seven = eight[:3] + eight[4:]
    (block,) = _plan(seven, cidr_budget=1)
    assert (block.cidr, block.unobserved) == ("93.184.216.0/29", 1)
    assert block.covers == tuple(seven)
    assert "7 observed addresses; admits 1 never observed" in block.why


def test_budget_takes_the_smallest_cidr_of_equal_count():
    (block,) = _plan(["93.184.216.4", "93.184.216.5"], cidr_budget=100)
    assert (block.cidr, block.unobserved) == ("93.184.216.4/31", 0)


def test_families_never_mix_and_ipv6_aggregates():
    addrs = ["2001:db8::", "2001:db8::1", "2001:db8::3", "93.184.216.0", "93.184.216.1"]
    blocks = _plan(addrs, cidr_budget=1)
    assert [b.cidr for b in blocks] == ["93.184.216.0/31", "2001:db8::/126"]
    assert blocks[1].unobserved == 1


def test_forbidden_address_splits_an_aggregate():
    eight = [f"93.184.216.{i}" for i in range(8)]
    seven = eight[:3] + eight[4:]
    blocks = _plan(seven, cidr_budget=1, forbidden=["93.184.216.3"])
    assert [b.cidr for b in blocks] == ["93.184.216.0/31", "93.184.216.2/32", "93.184.216.4/30"]
    _check(blocks, seven, ["93.184.216.3"], budget=1)
    # A forbidden range reaching over the observed ones keeps them exact.
    blocks = _plan(seven, cidr_budget=8, forbidden=["93.184.216.0/24"])
    assert [b.kind for b in blocks] == ["exact"] * 7
    assert all("cluster range" in b.why for b in blocks)


def test_private_addresses_aggregate_only_clear_of_cluster_ranges():
    private = ["10.0.0.1", "10.0.0.2"]
    assert [b.cidr for b in _plan(private, cidr_budget=2)] == ["10.0.0.0/30"]
    blocks = _plan(private, cidr_budget=2, forbidden=["10.0.0.0/30"])
    assert [b.cidr for b in blocks] == ["10.0.0.1/32", "10.0.0.2/32"]
    blocks = _plan(private, cidr_budget=2, forbidden=["10.0.0.3"])
    assert [b.cidr for b in blocks] == ["10.0.0.1/32", "10.0.0.2/32"]


def test_aggregates_stay_clear_of_the_public_block():
    clients = _clients(20, 8) + ["10.0.0.1", "10.0.0.2", "9.255.255.255"]
    blocks = _plan(clients, key=IN, cidr_budget=2**32)
    assert [(b.cidr, b.kind) for b in blocks] == [
        ("0.0.0.0/0", "public"),
        ("10.0.0.0/30", "aggregate"),
    ]
    _check(blocks, clients)


def test_cluster_ranges_helper():
    pods = pd.DataFrame(
        {
            "ips": [("10.244.1.5", "fd00::5"), (), None, ("garbage",), ("10.96.0.9",)],
        }
    )
    out = cluster_ranges(pods, ["172.18.0.2", "172.18.0.3"], ["10.244.0.0/16", "10.96.0.9/12"])
    assert out == ["10.96.0.0/12", "10.244.0.0/16", "172.18.0.2/31", "fd00::5/128"]
    assert cluster_ranges(pd.DataFrame({"ip": ["1.2.3.4", None]}), [], []) == ["1.2.3.4/32"]
    with pytest.raises(ValueError):
        cluster_ranges(pd.DataFrame(), [], ["bogus/8"])


# -- property: random addresses, forbidden entries and budgets inside one /24 or /120 --------

_BASE = {4: int(ipaddress.ip_address("93.184.216.0")), 6: int(ipaddress.ip_address("2001:db8::"))}


def _ip(version: int, offset: int) -> str:
    value = _BASE[version] + offset
    return str(ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value))


@st.composite
def _cases(draw):
    observed = draw(
        st.sets(st.tuples(st.sampled_from([4, 6]), st.integers(0, 255)), min_size=1, max_size=60)
    )
    forbidden = []
    for version, offset, size_bits in draw(
        st.lists(
            st.tuples(st.sampled_from([4, 6]), st.integers(0, 255), st.integers(0, 4)), max_size=4
        )
    ):
        host_bits = 32 if version == 4 else 128
        forbidden.append(f"{_ip(version, offset)}/{host_bits - size_bits}")
    budget = draw(st.integers(0, 40))
    return [_ip(v, o) for v, o in sorted(observed)], forbidden, budget


@settings(max_examples=200, deadline=None)
@given(_cases())
def test_aggregation_properties(case):
    observed, forbidden, budget = case
    blocks = _plan(observed, cidr_budget=budget, forbidden=forbidden)
    forbidden_nets = [ipaddress.ip_network(f, strict=False) for f in forbidden]
    observed_set = {ipaddress.ip_address(o) for o in observed}
    nets = [ipaddress.ip_network(b.cidr) for b in blocks]
    assert sorted(a for b in blocks for a in b.covers) == sorted(observed)
    for block, net in zip(blocks, nets, strict=True):
        assert not block.excepts and block.kind in ("exact", "aggregate")
        inside = {a for a in observed_set if a in net}
        assert {ipaddress.ip_address(c) for c in block.covers} == inside
        assert block.unobserved == net.num_addresses - len(inside) <= budget
        if net.num_addresses > 1:  # only an observed address's own block may touch a range
            assert not any(net.overlaps(f) for f in forbidden_nets)
        for ip in block.covers:
            assert _admits(block, ip)
    for i, a in enumerate(nets):
        for b in nets[i + 1 :]:
            assert a.version != b.version or not a.overlaps(b)
    for f in forbidden_nets:
        for ip in (f.network_address, f.broadcast_address):
            if ip not in observed_set:
                assert not any(_admits(b, str(ip)) for b in blocks)


@settings(max_examples=100, deadline=None)
@given(_cases())
def test_aggregation_is_minimal(case):
    """No fewer blocks exist: brute force over every trie node that is allowed."""
    observed, forbidden, budget = case
    blocks = _plan(observed, cidr_budget=budget, forbidden=forbidden)
    forbidden_nets = [ipaddress.ip_network(f, strict=False) for f in forbidden]
    total = 0
    for version in (4, 6):
        points = (
            {ipaddress.ip_address(o) for o in observed if ":" in o}
            if version == 6
            else {ipaddress.ip_address(o) for o in observed if ":" not in o}
        )
        bits = 32 if version == 4 else 128
        total += _min_cover(points, bits, budget, forbidden_nets)
    assert len(blocks) == total


def _min_cover(points, bits, budget, forbidden_nets) -> int:
    if not points:
        return 0
    first = min(points)
    top = ipaddress.ip_network(f"{first}/{bits - 8}", strict=False)  # the /24 or /120

    def best(net) -> int:
        inside = {p for p in points if p in net}
        if not inside:
            return 0
        allowed = net.num_addresses - len(inside) <= budget and (
            net.num_addresses == 1 or not any(net.overlaps(f) for f in forbidden_nets)
        )
        if allowed:
            return 1
        return sum(best(half) for half in net.subnets())

    return best(top)


def test_forbidden_parsed_once_plans_as_the_strings_do():
    """One parsed Forbidden, shared by every workload's plan, gives the plans the strings
    give: public excepts, forbidden addresses kept exact, aggregates kept off them."""
    forbidden = ["10.1.0.0/16", "20.0.3.7", "20.0.0.99/30", "fd00::/8", "203.0.113.9"]
    parsed = Forbidden.parse(forbidden)
    clients = _clients(30, 10) + ["203.0.113.9", "10.1.2.3"]
    addresses = {IN: clients, OUT: ["20.0.3.7", "20.0.3.8", "20.0.3.40", "198.51.100.1"]}
    for options in (SynthesisOptions(), SynthesisOptions(cidr_budget=64)):
        by_strings = plan_external(addresses, options=options, forbidden=forbidden)
        shared = plan_external(addresses, options=options, forbidden=parsed)
        assert shared == by_strings == plan_external(addresses, options=options, forbidden=parsed)
        for key, blocks in shared.items():
            _check(blocks, addresses[key], forbidden, options.cidr_budget)
    assert parsed.excepted(ipaddress.ip_address("20.0.0.97"))
    assert parsed.excepted(ipaddress.ip_address("192.168.4.4"))
    assert not parsed.excepted(ipaddress.ip_address("20.0.0.95"))
    assert not parsed.excepted(ipaddress.ip_address("2001:db8::1"))


@pytest.mark.parametrize(
    "text",
    [
        "10.1.2.3",
        "10.1.2.3/32",
        "10.1.2.3/24",
        "10.1.2.3/0",
        "10.1.2.3/8",
        "10.0.0.0/255.0.0.0",
        "10.0.0.0/0.255.255.255",
        "2001:db8::1",
        "2001:db8::1/64",
        "2001:db8::1/128",
        "::/0",
        "::ffff:10.0.0.1/120",
        "10.0.0.0/010",
    ],
)
def test_forbidden_parses_a_range_as_ip_network_does(text):
    expected = ipaddress.ip_network(text, strict=False)
    assert Forbidden.parse([text]).nets[expected.version] == [expected]


@pytest.mark.parametrize("text", ["10.0.0.0/33", "2001:db8::/129", "10.0.0.256/8", "10.0/8", "x"])
def test_forbidden_refuses_what_ip_network_refuses_with_its_message(text):
    with pytest.raises(ValueError) as ours:
        Forbidden.parse([text])
    with pytest.raises(ValueError) as theirs:
        ipaddress.ip_network(text, strict=False)
    assert str(ours.value) == str(theirs.value)
