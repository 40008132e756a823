"""External egress by DNS name (``recommender.generate.fqdn``): names per address, fqdn
peers with their evidence, patterns within ``fqdn_pattern_min``, the names behind CIDRs;
and the whole path on hand-built flows: a capture with names -> ``external="fqdn"`` ->
fqdn peers the proof judges on the names; ``"cidr"`` -> ipBlocks with the names listed."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from conftest import address, flow, flows_table, pod

from recommender.accounting import RecordCounts
from recommender.generate.fqdn import address_names, fqdn_entries, names_behind, split_named
from recommender.generate.ir import Evidence, Peer, PortSpec
from recommender.options import SynthesisOptions
from recommender.pipeline import recommend_from_flows
from recommender.summary import render_summary

T1 = datetime(2025, 1, 1, tzinfo=UTC)
T2 = datetime(2025, 1, 2, tzinfo=UTC)
HTTPS = ("egress", "TCP", 443)


def ev(peer: str, flows: int = 1, last=T1) -> Evidence:
    return Evidence(peer, "TCP", 443, flows, T1, last)


def test_address_names_keeps_external_egress_with_names():
    usable = pd.DataFrame(
        {
            "src_type": ["workload", "workload", "workload", "external", "workload"],
            "src_id": ["shop/web", "shop/web", "shop/web", "1.1.1.1", "shop/web"],
            "dst_type": ["external", "external", "node", "workload", "external"],
            "dst_id": ["93.184.216.34", "151.101.1.69", "172.18.0.2", "shop/web", "pub"],
            "protocol": ["TCP"] * 5,
            "port": [443, 443, 10250, 8080, 443],
            "dst_names": [("api.example.com",), (), ("node.example",), (), ("a.example",)],
            "dst_name_answers": [(3,), (), (0,), (), (0,)],
        }
    )
    assert address_names(usable) == {
        "shop/web": {(HTTPS, "93.184.216.34"): (("api.example.com",), (3,))}
    }


def test_split_named_moves_only_named_external_addresses():
    addresses = {
        HTTPS: {
            "93.184.216.34": ("external", ev("93.184.216.34")),
            "151.101.1.69": ("external", ev("151.101.1.69")),
        }
    }
    names = {(HTTPS, "93.184.216.34"): (("api.example.com",), (1,))}
    named, rest = split_named(addresses, names)
    assert list(named[HTTPS]) == ["93.184.216.34"]
    assert list(rest[HTTPS]) == ["151.101.1.69"]


def test_one_fqdn_peer_per_name_with_its_evidence():
    named = {
        HTTPS: {
            "93.184.216.34": ("external", ev("93.184.216.34", 3)),
            "93.184.216.35": ("external", ev("93.184.216.35", 2, T2)),
        },
        ("egress", "TCP", 8443): {"93.184.216.34": ("external", ev("93.184.216.34", 1))},
    }
    names = {
        (HTTPS, "93.184.216.34"): (("api.example.com", "www.example.com"), (4, 0)),
        (HTTPS, "93.184.216.35"): (("api.example.com",), (1,)),
        (("egress", "TCP", 8443), "93.184.216.34"): (("api.example.com",), (2,)),
    }
    entries, proofs = fqdn_entries(named, names, SynthesisOptions(external="fqdn"))
    api = Peer(
        "fqdn", "api.example.com", None, (), "external", members=("93.184.216.34", "93.184.216.35")
    )
    www = Peer("fqdn", "www.example.com", None, (), "external", members=("93.184.216.34",))
    assert set(entries) == {api, www}
    assert sorted(entries[api]) == [PortSpec("TCP", 443), PortSpec("TCP", 8443)]
    assert entries[api][PortSpec("TCP", 443)].flows == 5
    assert entries[api][PortSpec("TCP", 443)].last_seen == T2
    first = proofs[0]
    assert (first.name, first.kind, first.names) == (
        "api.example.com",
        "name",
        ("api.example.com",),
    )
    assert first.addresses == ("93.184.216.34", "93.184.216.35")
    assert first.ports == ("443/TCP", "8443/TCP")
    assert (first.answers, first.flows, first.first_seen, first.last_seen) == (7, 6, T1, T2)
    assert proofs[1].name == "www.example.com" and proofs[1].answers == 0


@pytest.mark.parametrize(
    ("minimum", "expected"),
    [
        (None, ["a.api.example.com", "b.api.example.com", "c.example.com", "x.com", "y.com"]),
        (2, ["*.api.example.com", "c.example.com", "x.com", "y.com"]),
        (3, ["a.api.example.com", "b.api.example.com", "c.example.com", "x.com", "y.com"]),
    ],
)
def test_patterns_only_within_the_budget_and_never_under_a_top_level_domain(minimum, expected):
    hosts = ["a.api.example.com", "b.api.example.com", "c.example.com", "x.com", "y.com"]
    named = {HTTPS: {f"93.184.216.{i}": ("external", ev(str(i))) for i in range(len(hosts))}}
    names = {(HTTPS, f"93.184.216.{i}"): ((h,), (1,)) for i, h in enumerate(hosts)}
    options = SynthesisOptions(external="fqdn", fqdn_pattern_min=minimum)
    entries, proofs = fqdn_entries(named, names, options)
    assert sorted(p.id for p in entries) == expected
    patterns = [e for e in proofs if e.kind == "pattern"]
    if minimum == 2:
        assert patterns[0].names == ("a.api.example.com", "b.api.example.com")
        assert "unbounded" in patterns[0].why
    else:
        assert not patterns


def test_options_refuse_unknown_external_and_a_one_name_pattern():
    with pytest.raises(ValueError, match="external must be"):
        SynthesisOptions(external="dns")
    with pytest.raises(ValueError, match="fqdn_pattern_min"):
        SynthesisOptions(external="fqdn", fqdn_pattern_min=1)
    assert "external" not in SynthesisOptions().reported()
    assert SynthesisOptions(external="fqdn").reported()["external"] == "fqdn"


def test_names_behind_a_cidr_and_an_address():
    cidr = Peer(
        "cidr", "93.184.216.32/30", None, (), "external", members=("93.184.216.34", "93.184.216.35")
    )
    plain = Peer("address", "151.101.1.69", None, (), "external")
    unnamed = Peer("address", "1.1.1.1", None, (), "external")
    egress = {
        cidr: {PortSpec("TCP", 443): ev("93.184.216.32/30")},
        plain: {PortSpec("TCP", 443): ev("151.101.1.69")},
        unnamed: {PortSpec("TCP", 443): ev("1.1.1.1")},
    }
    names = {
        (HTTPS, "93.184.216.35"): (("b.example.com",), (1,)),
        (HTTPS, "93.184.216.34"): (("a.example.com", "b.example.com"), (1, 1)),
        (HTTPS, "151.101.1.69"): (("cdn.example.net",), (0,)),
    }
    got = names_behind("shop/web", egress, names)
    assert [(x["peer"], x["kind"], x["names"]) for x in got] == [
        ("151.101.1.69", "address", ["cdn.example.net"]),
        ("93.184.216.32/30", "cidr", ["a.example.com", "b.example.com"]),
    ]
    assert got[1]["addresses"] == [
        {"address": "93.184.216.34", "names": ["a.example.com", "b.example.com"]},
        {"address": "93.184.216.35", "names": ["b.example.com"]},
    ]


# --------------------------------------------------------------------------- end to end

WEB = pod("shop", "web-7d4b9c8f6-bcdfg", {"app": "web"}, "10.0.0.1")
JOB = pod("shop", "job-7d4b9c8f6-zzzzz", {"app": "job"}, "10.0.0.3")
DNS = pod("kube-system", "coredns-5d78c9869d-hq6bz", {"k8s-app": "kube-dns"}, "10.0.2.2")
API = address("93.184.216.34")
OTHER = address("151.101.1.69")


def _rows() -> list[dict]:
    answer = {
        "protocol": "UDP",
        "is_reply": True,
        "l7_protocol": "dns",
        "dns_query": "API.example.com.",
        "dns_ips": ["93.184.216.34"],
    }
    return [
        flow(WEB, DNS, 53, protocol="UDP"),
        flow(JOB, DNS, 53, protocol="UDP", sport=40009),
        flow(DNS, WEB, 40000, sport=53, **answer),
        flow(WEB, API, 443, sport=40001),
        flow(WEB, OTHER, 443, sport=40002),  # no name: stays an address
        flow(JOB, API, 443, sport=40003, dst_names=["api.example.com"]),
    ]


def _recommend(**options):
    return recommend_from_flows(
        flows_table(_rows()), RecordCounts(), options=SynthesisOptions(**options)
    )


def _egress_peers(rec, workload):
    ir = next(p for p in rec.synthesis.policies if p.workload == workload)
    return ir, [(p.kind, p.id, p.members) for r in ir.egress for p in r.peers]


def test_fqdn_proposal_states_named_egress_by_name_and_the_proof_covers_it():
    rec = _recommend(external="fqdn")
    ir, peers = _egress_peers(rec, "shop/web")
    assert ("fqdn", "api.example.com", ("93.184.216.34",)) in peers
    assert ("address", "151.101.1.69", ()) in peers
    assert not any(p[1] == "93.184.216.34" for p in peers)
    assert [(e.name, e.answers, e.flows) for e in ir.names] == [("api.example.com", 1, 1)]
    # the job reached the same address by a record's destination name, without an answer
    job, _ = _egress_peers(rec, "shop/job")
    assert [(e.name, e.answers) for e in job.names] == [("api.example.com", 0)]
    assert rec.coverage == 1.0 and rec.judged == 5
    report = rec.to_dict()
    assert [(x["workload"], x["peer"], x["dns_answers"]) for x in report["fqdn_names"]] == [
        ("shop/job", "api.example.com", 0),
        ("shop/web", "api.example.com", 1),
    ]
    assert report["options"]["external"] == "fqdn"
    assert "external_names" not in report
    assert "<summary>Egress by DNS name</summary>" in render_summary(rec, report)


def test_cidr_proposal_keeps_addresses_and_lists_the_names_behind_them():
    rec = _recommend()
    _, peers = _egress_peers(rec, "shop/web")
    assert ("address", "93.184.216.34", ()) in peers
    assert not any(kind == "fqdn" for kind, _, _ in peers)
    report = rec.to_dict()
    assert "fqdn_names" not in report and "external" not in report["options"]
    assert [(x["workload"], x["peer"], x["names"]) for x in report["external_names"]] == [
        ("shop/job", "93.184.216.34", ["api.example.com"]),
        ("shop/web", "93.184.216.34", ["api.example.com"]),
    ]
    summary = render_summary(rec, report)
    assert "<summary>DNS names behind external addresses</summary>" in summary
    assert "| shop/web | 443/TCP | 93.184.216.34 | api.example.com |" in summary
