"""AWS VPC Flow Logs: the real AWS documentation samples, custom formats (with a header line
or --vpc-fields), CloudWatch envelopes and their Kinesis/Firehose deliveries, orientation by
TCP flags, pairing and listener statistics, hostile lines, and text detection."""

from __future__ import annotations

import base64
import gzip
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from conftest import REAL_FLOWS

from recommender.accounting import RecordCounts
from recommender.connections import build_connections
from recommender.ingest import aggregate_inputs, iter_flow_batches, read_flows
from recommender.ingest.aws_vpc import (
    DEFAULT_FIELDS,
    MAX_PAYLOAD,
    Parser,
    header_fields,
    looks_like,
    parse_log_format,
)
from recommender.ingest.detect import detect_file
from recommender.ingest.errors import InputError
from recommender.ingest.sources import Rejected, TextLine, iter_records

AWS = REAL_FLOWS / "aws-vpc"
HUBBLE = REAL_FLOWS / "hubble"
V2 = AWS / "awsdocs-v2-default-format.log"
V3_FLAGS = AWS / "awsdocs-v3-tcp-flags-custom.log"
NAT = AWS / "awsdocs-nat-gateway-custom.log"
TGW = AWS / "awsdocs-v3-transit-gateway-custom.log"
V5 = AWS / "awsdocs-v5-traffic-path-flow-direction.log"


def rows(fs) -> list[dict]:
    return fs.table.to_pylist()


def counts(fs) -> tuple[int, int, dict, dict]:
    c = fs.counts
    assert c.balanced()
    assert c.normalized == fs.table.num_rows
    return c.read, c.normalized, dict(c.rejected), dict(c.filtered)


def orientation(fs) -> Counter:
    return Counter(dict(r["extra"]).get("orientation", "unknown") for r in rows(fs))


def v2_line(src="10.0.0.1", dst="10.0.0.2", sport=40000, dport=80, proto=6, **kw) -> str:
    v = {
        "version": "2",
        "account-id": "123456789010",
        "interface-id": "eni-1235b8ca123456789",
        "srcaddr": src,
        "dstaddr": dst,
        "srcport": str(sport),
        "dstport": str(dport),
        "protocol": str(proto),
        "packets": "3",
        "bytes": "180",
        "start": "1700000000",
        "end": "1700000030",
        "action": "ACCEPT",
        "log-status": "OK",
    }
    v.update(kw)
    return " ".join(v[f] for f in DEFAULT_FIELDS)


def write(path: Path, lines: list[str | bytes]) -> Path:
    path.write_bytes(b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in lines))
    return path


# --------------------------------------------------------------------------- real samples


def test_real_v2_default_format():
    fs = read_flows([V2])
    assert counts(fs) == (7, 5, {}, {"log-status NODATA": 1, "log-status SKIPDATA": 1})
    r = rows(fs)
    assert {x["source_format"] for x in r} == {"aws-vpc"}
    assert [x["source_record"] for x in r] == [1, 2, 5, 6, 7]
    assert [x["verdict"] for x in r] == ["allowed", "denied", "allowed", "denied", "allowed"]
    assert [x["verdict_raw"] for x in r] == ["ACCEPT", "REJECT", "ACCEPT", "REJECT", "ACCEPT"]
    ssh = r[0]
    assert (ssh["src_ip"], ssh["src_port"], ssh["dst_ip"], ssh["dst_port"]) == (
        "172.31.16.139",
        20641,
        "172.31.16.21",
        22,
    )
    assert (ssh["protocol"], ssh["protocol_number"], ssh["packets_fwd"], ssh["bytes_fwd"]) == (
        "TCP",
        6,
        20,
        4249,
    )
    assert ssh["observer"] == "eni-1235b8ca123456789"
    assert ssh["time_start"].timestamp() == 1418530010
    assert ssh["time_end"].timestamp() == 1418530070
    assert ssh["src_kind"] == ssh["dst_kind"] == "unknown"
    assert ssh["direction"] == "unknown" and ssh["reporter"] == "unknown"
    # ICMP: protocol 1, no ports even though the record says 0 0.
    ping, pong = r[2], r[3]
    assert (ping["protocol"], ping["src_port"], ping["dst_port"]) == ("ICMP", None, None)
    assert pong["protocol"] == "ICMP" and pong["verdict"] == "denied"
    v6 = r[4]
    assert v6["ip_family"] == 6
    assert v6["src_ip"] == "2001:db8:1234:a100:8d6e:3477:df66:f105"
    # No flags, no reverse record of any TCP flow: nothing is oriented (never by port alone).
    assert orientation(fs) == {"unknown": 5}
    assert [x["is_reply"] for x in r] == [None] * 5
    assert dict(build_connections(fs.table).excluded) == {
        "orientation unknown (no reply flag, trace reason or SYN)": 5
    }


def test_real_tcp_flags_and_pairing_across_windows():
    fs = read_flows([V3_FLAGS])
    assert counts(fs) == (9, 8, {}, {"header line": 1})
    r = rows(fs)
    assert [x["tcp_flags"] for x in r] == [2, 18, 2, 18, 1, 1, 3, 19]
    assert [x["is_reply"] for x in r] == [False, True, False, True, True, False, False, True]
    # The FIN-only records of the second window are oriented by the SYN of the first.
    assert orientation(fs) == {"tcp-flags": 6, "paired tcp-flags": 2}
    # The last line has a double space.
    assert (r[7]["src_port"], r[7]["dst_port"], r[7]["source_record"]) == (5001, 43638, 9)
    assert r[0]["packets_fwd"] == 8 and r[0]["bytes_fwd"] == 568  # header order: bytes first
    extra = dict(r[0]["extra"])
    assert extra["vpc_id"] == "vpc-abcdefab012345678" and extra["type"] == "IPv4"
    assert extra["instance_id"] == "i-01234567890123456" and extra["version"] == "3"
    # Request and reply records never become two connections.
    conns = build_connections(fs.table)
    assert len(conns.table) == 1
    c = conns.table.iloc[0]
    assert (c.src_ip, c.dst_ip, c.protocol, c.port, c.flows) == (
        "52.213.180.42",
        "10.0.0.62",
        "TCP",
        5001,
        3,
    )
    assert dict(conns.excluded) == {"reply half of a connection (never a rule)": 4}


def test_real_nat_gateway_prefers_packet_addresses(tmp_path):
    # The documented NAT gateway format names addresses only: no rule can come of it.
    fs = read_flows([NAT])
    assert counts(fs) == (5, 0, {"missing protocol": 4}, {"header line": 1})
    assert [(e.line, e.reason) for e in fs.counts.examples] == [
        (n, "missing protocol") for n in (2, 3, 4, 5)
    ]
    assert "no protocol in the record (header)" in fs.counts.examples[0].detail
    # The same records with a protocol and ports (a format a NAT gateway flow log can have).
    lines = NAT.read_text().splitlines()
    ports = ["protocol srcport dstport", *["6 40001 443"] * 2, *["6 443 40001"] * 2]
    with_ports = [f"{a} {b}" for a, b in zip(lines, ports, strict=True)]
    fs = read_flows([write(tmp_path / "nat.log", with_ports)])
    assert counts(fs) == (5, 4, {}, {"header line": 1})
    r = rows(fs)
    assert [(x["src_ip"], x["dst_ip"]) for x in r] == [
        ("10.0.1.5", "203.0.113.5"),
        ("10.0.0.220", "203.0.113.5"),
        ("203.0.113.5", "10.0.0.220"),
        ("203.0.113.5", "10.0.1.5"),
    ]
    # The gateway's own address, where it differs from the packet's, stays as evidence.
    assert [dict(x["extra"]).get("dstaddr") for x in r] == ["10.0.0.220", None, None, None]
    assert [dict(x["extra"]).get("srcaddr") for x in r] == [None, None, None, "10.0.0.220"]
    # This format has no action or times.
    assert {x["protocol"] for x in r} == {"TCP"}
    assert {x["verdict"] for x in r} == {"unknown"}
    assert {x["time_start"].timestamp() for x in r} == {0}
    assert {dict(x["extra"])["time"] for x in r} == {"unknown"}
    assert "instance_id" not in dict(r[0]["extra"])  # "-" for a requester-managed ENI
    # Both halves of each leg, 443 the one end that is not ephemeral.
    assert orientation(fs) == {"paired ports": 4}


def test_real_transit_gateway_double_reporting():
    fs = read_flows([TGW])
    assert counts(fs) == (5, 4, {}, {"header line": 1})
    r = rows(fs)
    assert [x["is_reply"] for x in r] == [False, True, False, True]
    assert orientation(fs) == {"tcp-flags": 4}
    assert [x["observer"] for x in r] == [
        "eni-33333333333333333",
        "eni-33333333333333333",
        "eni-11111111111111111",
        "eni-22222222222222222",
    ]
    # On the gateway ENIs the real client comes from pkt-*.
    requests = [x for x in r if not x["is_reply"]]
    assert {(x["src_ip"], x["src_port"], x["dst_ip"], x["dst_port"]) for x in requests} == {
        ("10.20.33.164", 39812, "10.40.2.236", 80)
    }
    assert dict(r[2]["extra"])["srcaddr"] == "10.40.1.175"
    assert dict(r[3]["extra"])["dstaddr"] == "10.40.2.31"
    assert r[3]["dst_ip"] == "10.20.33.164"
    # Seen on two ENIs, one connection.
    conns = build_connections(fs.table)
    assert len(conns.table) == 1 and conns.table.iloc[0].observers == 2


def test_real_v5_direction_traffic_path_services():
    fs = read_flows([V5])
    assert counts(fs) == (3, 2, {}, {"header line": 1})
    reply, request = rows(fs)
    assert (reply["direction"], reply["reporter"], reply["is_reply"]) == ("ingress", "dst", True)
    assert (request["direction"], request["reporter"], request["is_reply"]) == (
        "egress",
        "src",
        False,
    )
    assert dict(reply["extra"])["pkt_src_aws_service"] == "S3"
    assert "traffic_path" not in dict(reply["extra"])  # "-" on ingress
    extra = dict(request["extra"])
    assert (extra["traffic_path"], extra["pkt_dst_aws_service"]) == ("8", "S3")
    assert (extra["region"], extra["az_id"], extra["version"]) == (
        "ap-southeast-2",
        "apse2-az3",
        "5",
    )
    assert (request["src_ip"], request["dst_ip"], request["dst_port"]) == (
        "10.0.0.71",
        "52.95.128.179",
        80,
    )


def test_all_real_samples_together_and_gzipped(tmp_path):
    fs = read_flows([AWS])
    assert counts(fs) == (
        29,
        19,
        {"missing protocol": 4},  # the NAT gateway sample: addresses only
        {"header line": 4, "log-status NODATA": 1, "log-status SKIPDATA": 1},
    )
    for path in AWS.iterdir():
        (tmp_path / (path.name + ".gz")).write_bytes(gzip.compress(path.read_bytes()))
    gz = read_flows([tmp_path])
    assert counts(gz) == counts(fs)
    drop = {"source_file"}
    assert [{k: v for k, v in x.items() if k not in drop} for x in rows(gz)] == [
        {k: v for k, v in x.items() if k not in drop} for x in rows(fs)
    ]


# --------------------------------------------------------------------------- detection


def test_detection_text_and_json(tmp_path):
    for path in AWS.iterdir():
        assert detect_file(str(path), list(iter_records(str(path)))) == "aws-vpc"
    for path in HUBBLE.iterdir():  # real Hubble samples are still Hubble
        assert detect_file(str(path), list(iter_records(str(path)))[:1000]) == "hubble"
    both = read_flows([AWS, HUBBLE])
    assert Counter(both.table.column("source_format").to_pylist()) == {
        "aws-vpc": 19,
        "hubble": 260,
    }
    # Text that is no supported format is still refused, naming the file.
    other = write(tmp_path / "syslog.log", ["Nov 26 12:00:01 host sshd[1]: Accepted key"])
    with pytest.raises(InputError, match=r"syslog\.log: not a supported .*looked like text"):
        read_flows([other])
    short = write(tmp_path / "vpc.log", ["2 123456789010 eni-1235b8ca123456789 - - - - - NODATA"])
    with pytest.raises(InputError, match=r"vpc\.log: not a supported .*looked like text"):
        read_flows([short])
    assert looks_like(TextLine(v2_line()))
    assert not looks_like(v2_line())  # a JSON string is not a text line
    assert not looks_like(TextLine("version srcport dstport"))  # no addresses


def test_text_lines_from_the_reader(tmp_path):
    p = write(
        tmp_path / "f.log",
        ["  " + v2_line() + "\r", b"", b"\xff\xfe garbage", b"\t", v2_line(dport=443)],
    )
    recs = [(n, r) for _, n, r in iter_records(str(p))]
    assert [n for n, _ in recs] == [1, 3, 5]
    assert recs[0][1] == v2_line() and isinstance(recs[0][1], TextLine)
    assert isinstance(recs[1][1], Rejected) and recs[1][1].reason == "invalid UTF-8"
    # A JSON file whose first lines are garbage stays a JSON file (as before text support):
    # one JSON value among the first TEXT_PROBE records makes the file JSON.
    j = write(tmp_path / "j.json", [v2_line(), json.dumps({"a": 1})])
    assert [type(r) for _, _, r in iter_records(str(j))] == [Rejected, dict]
    assert next(iter_records(str(j)))[2].reason == "invalid JSON"


# --------------------------------------------------------------------------- formats


def test_custom_header_in_any_order_and_spellings(tmp_path):
    lines = V5.read_text().splitlines()
    header = lines[0].split()
    order = sorted(range(len(header)), key=lambda i: header[i][::-1])  # a fixed shuffle
    shuffled = [" ".join(line.split()[i] for i in order) for line in lines]
    a = read_flows([write(tmp_path / "a.log", shuffled)])
    b = read_flows([V5])
    drop = {"source_file"}
    assert [{k: v for k, v in x.items() if k not in drop} for x in rows(a)] == [
        {k: v for k, v in x.items() if k not in drop} for x in rows(b)
    ]
    # Parquet/Athena spelling and the AWS format string are headers too.
    assert header_fields(["pkt_srcaddr", "pkt_dstaddr"]) == ("pkt-srcaddr", "pkt-dstaddr")
    assert parse_log_format("${version} ${srcaddr} ${dstaddr}") == ("version", "srcaddr", "dstaddr")
    with pytest.raises(ValueError):
        parse_log_format("version srcport")


def test_concatenated_files_switch_header(tmp_path):
    text = V3_FLAGS.read_text() + V5.read_text() + V3_FLAGS.read_text()
    fs = read_flows([write(tmp_path / "cat.log", text.splitlines())])
    assert counts(fs) == (21, 18, {}, {"header line": 3})
    assert Counter(dict(x["extra"])["version"] for x in rows(fs)) == {"3": 16, "5": 2}


def test_headerless_custom_format_with_fields(tmp_path):
    lines = V5.read_text().splitlines()
    p = write(tmp_path / "h.log", lines[1:])
    parser = Parser(str(p), fields=parse_log_format(lines[0]))
    out = [parser.parse(TextLine(x)) for x in lines[1:]]
    assert [x["is_reply"] for x in out] == [True, False]
    # Without the fields, the default format does not fit: a parser shown the file's first
    # records refuses it; one shown nothing rejects each record.
    with pytest.raises(InputError, match="--vpc-fields"):
        Parser(str(p), [TextLine(x) for x in lines[1:]])
    plain = Parser(str(p))
    bad = plain.parse(TextLine(lines[1]))
    assert isinstance(bad, Rejected) and bad.reason == "wrong field count"
    assert "a custom format without a header needs --vpc-fields" in bad.detail


CUSTOM = "version interface-id srcaddr dstaddr srcport dstport protocol action log-status"


def custom_line(src="10.0.0.1", dst="10.0.0.2", sport=40000, dport=80, proto=6) -> str:
    return f"3 eni-1235b8ca123456789 {src} {dst} {sport} {dport} {proto} ACCEPT OK"


def test_headerless_custom_format_needs_vpc_fields(tmp_path):
    p = write(tmp_path / "custom.log", [custom_line(), custom_line(dport=443)])
    assert detect_file(str(p), list(iter_records(str(p)))) == "aws-vpc"
    message = (
        r"custom\.log: AWS VPC flow log records in a custom format without a header line "
        r"\(9 fields, not the 14 of the default format\); pass --vpc-fields"
    )
    for fmt in (None, "aws-vpc"):
        with pytest.raises(InputError, match=message) as err:
            read_flows([p], format=fmt)
        assert "\n" not in str(err.value)
    # The LogFormat as field names, as the AWS ${field} string, or as a list.
    aws_form = " ".join(f"${{{f}}}" for f in CUSTOM.split())
    for fields in (CUSTOM, aws_form, CUSTOM.split()):
        fs = read_flows([p], vpc_fields=fields)
        assert counts(fs) == (2, 2, {}, {})
        assert [(x["src_port"], x["dst_port"], x["observer"]) for x in rows(fs)] == [
            (40000, 80, "eni-1235b8ca123456789"),
            (40000, 443, "eni-1235b8ca123456789"),
        ]
        assert dict(rows(fs)[0]["extra"])["version"] == "3"
    # A header line still names the fields of what follows it.
    header = write(tmp_path / "header.log", [CUSTOM, custom_line()])
    fs = read_flows([header], vpc_fields="srcaddr dstaddr")
    assert counts(fs) == (2, 1, {}, {"header line": 1})
    # Records that do not fit the fields are rejected, naming where the layout came from.
    v2 = write(tmp_path / "v2.log", [v2_line()])
    fs = read_flows([v2], vpc_fields=CUSTOM)
    assert counts(fs) == (1, 0, {"wrong field count": 1}, {})
    assert "14 fields, expected 9 (--vpc-fields)" in fs.counts.examples[0].detail
    with pytest.raises(ValueError, match="not a VPC flow log format"):
        read_flows([p], vpc_fields="version srcport")
    # A cut first line before default-format records is one rejected record, not a layout.
    cut = write(tmp_path / "cut.log", [" ".join(v2_line().split()[:8]), v2_line()])
    fs = read_flows([cut])
    assert counts(fs) == (2, 1, {"wrong field count": 1}, {})


def test_headerless_custom_format_in_cloudwatch_messages(tmp_path):
    p = tmp_path / "cw.json"
    p.write_text(json.dumps(envelope([custom_line(), custom_line(dport=443)])) + "\n")
    with pytest.raises(InputError, match=r"cw\.json: .*custom format.*--vpc-fields"):
        read_flows([p])
    fs = read_flows([p], vpc_fields=CUSTOM)
    assert counts(fs) == (2, 2, {}, {})
    assert [x["dst_port"] for x in rows(fs)] == [80, 443]


def test_vpc_fields_reach_the_worker_processes(tmp_path, monkeypatch):
    d = tmp_path / "logs"
    d.mkdir()
    for i in range(3):
        write(d / f"{i}.log", [custom_line(sport=40000 + i), custom_line(dport=443 + i)])
    one = read_flows([d], vpc_fields=CUSTOM, workers=1)
    counts2 = RecordCounts()
    batches = list(iter_flow_batches([d], counts=counts2, workers=2, vpc_fields=CUSTOM))
    assert counts2.normalized == one.counts.normalized == 6
    assert [r for b in batches for r in b.to_pylist()] == rows(one)
    with pytest.raises(InputError, match="--vpc-fields"):
        list(iter_flow_batches([d], counts=RecordCounts(), workers=2))
    # The aggregating reader (recommend and verify without an inventory) too.
    for workers in (1, 2):
        agg_counts = RecordCounts()
        aggregate_inputs([d], counts=agg_counts, workers=workers, vpc_fields=CUSTOM)
        assert (agg_counts.read, agg_counts.normalized) == (6, 6)


def test_records_without_protocol_or_ports_are_rejected(tmp_path):
    lines = [
        "srcaddr dstaddr protocol action",
        "10.0.0.1 10.0.0.2 6 ACCEPT",  # 2 TCP without ports
        "10.0.0.1 10.0.0.2 1 ACCEPT",  # 3 ICMP: no ports needed
        "10.0.0.1 10.0.0.2 - ACCEPT",  # 4 no protocol
        "srcaddr dstaddr srcport dstport protocol",
        "10.0.0.1 10.0.0.2 - 80 17",  # 6 UDP without srcport
        "10.0.0.1 10.0.0.2 40000 80 17",  # 7
        "fd00::1 fd00::2 0 0 58",  # 8 ICMPv6, ports 0
        "srcaddr dstaddr",
        "10.0.0.1 10.0.0.2",  # 10 no protocol
    ]
    fs = read_flows([write(tmp_path / "f.log", lines)])
    assert counts(fs) == (
        10,
        3,
        {"missing port": 2, "missing protocol": 2},
        {"header line": 3},
    )
    assert [(e.line, e.reason, e.detail) for e in fs.counts.examples] == [
        (2, "missing port", "TCP record without srcport and dstport (header)"),
        (4, "missing protocol", "no protocol in the record (header): it can never become a rule"),
        (6, "missing port", "UDP record without srcport (header)"),
        (10, "missing protocol", "no protocol in the record (header): it can never become a rule"),
    ]
    assert [(x["protocol"], x["src_port"], x["dst_port"]) for x in rows(fs)] == [
        ("ICMP", None, None),
        ("UDP", 40000, 80),
        ("ICMPv6", None, None),
    ]


# --------------------------------------------------------------------------- CloudWatch


def envelope(messages: list[str], **kw) -> dict:
    return {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789010",
        "logGroup": "vpc-flow-logs",
        "logStream": "eni-1235b8ca123456789-all",
        "subscriptionFilters": ["to-firehose"],
        "logEvents": [
            {"id": str(i), "timestamp": 1700000000000, "message": m} for i, m in enumerate(messages)
        ],
        **kw,
    }


def test_cloudwatch_envelopes(tmp_path):
    request = v2_line(sport=40000, dport=53, proto=17)
    reply = v2_line(src="10.0.0.2", dst="10.0.0.1", sport=53, dport=40000, proto=17)
    p = tmp_path / "cw.json.gz"
    p.write_bytes(
        gzip.compress(
            b"\n".join(
                json.dumps(e).encode()
                for e in (
                    envelope([request]),  # 1
                    envelope([reply]),  # 2
                    {"messageType": "CONTROL_MESSAGE", "logGroup": "", "logEvents": []},  # 3
                    envelope([request, reply, "2 broken"]),  # 4
                    envelope([1]),  # 5
                    envelope([]),  # 6
                )
            )
        )
    )
    assert detect_file(str(p), list(iter_records(str(p)))) == "aws-vpc"
    fs = read_flows([p])
    # Every log event is a record of its own (numbered with its envelope's line).
    assert counts(fs) == (
        8,
        4,
        {"wrong field count": 1, "malformed record: log event": 1},
        {"CloudWatch control message": 1, "CloudWatch envelope without log events": 1},
    )
    assert [x["source_record"] for x in rows(fs)] == [1, 2, 4, 4]
    # The pre-pass pairs the two halves, also across envelopes.
    assert [x["is_reply"] for x in rows(fs)] == [False, True, False, True]
    assert orientation(fs) == {"paired ports": 4}
    parser = Parser(str(p))
    many = parser.parse_many(envelope([request, reply, "2 broken"]))
    assert [type(x).__name__ for x in many] == ["dict", "dict", "Rejected"]
    assert many[2].reason == "wrong field count"
    # Without the reader's split, a whole envelope cannot be one row: rejected, counted.
    whole = parser.parse(envelope([request, reply]))
    assert isinstance(whole, Rejected)
    assert whole.reason == "CloudWatch envelope with several log events"
    # `aws logs filter-log-events` output, and a Firehose object: envelopes back to back.
    events = {"events": [{"logStreamName": "eni-1-all", "timestamp": 1, "message": request}]}
    assert looks_like(events) and parser.parse(events)["dst_port"] == 53
    firehose = TextLine(json.dumps(envelope([request])) + json.dumps(envelope([reply])))
    assert looks_like(firehose)
    assert [x["is_reply"] for x in parser.parse_many(firehose)] == [False, True]
    (broken,) = parser.parse_many(TextLine('{"messageType": '))
    assert isinstance(broken, Rejected) and broken.reason == "invalid JSON"


def test_firehose_file_is_read_as_text(tmp_path):
    request = v2_line(sport=40000, dport=443)
    p = tmp_path / "firehose.gz"
    reply = v2_line(src="10.0.0.2", dst="10.0.0.1", sport=443, dport=40000)
    data = json.dumps(envelope([request])) + json.dumps(envelope([reply, "junk"]))
    p.write_bytes(gzip.compress(data.encode()))  # no newline: one text line
    fs = read_flows([p])
    assert counts(fs) == (3, 2, {"wrong field count": 1}, {})
    assert [(x["dst_port"], x["is_reply"]) for x in rows(fs)] == [(443, False), (40000, True)]


# --------------------------------------------------------------------------- Kinesis / Firehose


def b64(value: dict | bytes, *, compress: bool = True) -> str:
    """A payload as CloudWatch Logs hands it to Kinesis and Firehose: gzip, then base64."""
    data = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.b64encode(gzip.compress(data, mtime=0) if compress else data).decode()


#: What CloudWatch Logs sends first to a new subscription destination.
CONTROL = {
    "messageType": "CONTROL_MESSAGE",
    "owner": "CloudwatchLogs",
    "logGroup": "",
    "logStream": "",
    "subscriptionFilters": [],
    "logEvents": [
        {
            "id": "",
            "timestamp": 1432826855000,
            "message": "CWL CONTROL MESSAGE: Checking health of destination Kinesis stream.",
        }
    ],
}
REQUEST = v2_line(sport=40000, dport=53, proto=17)
REPLY = v2_line(src="10.0.0.2", dst="10.0.0.1", sport=53, dport=40000, proto=17)


def test_base64_payload_lines(tmp_path):
    """A file of base64 records, one per line, as read from a stream or a Firehose bucket."""
    two_members = base64.b64encode(
        gzip.compress(json.dumps(envelope([REQUEST])).encode())
        + gzip.compress(json.dumps(envelope([REPLY])).encode())
    ).decode()
    lines = [
        b64(envelope([REQUEST])),  # 1
        b64(CONTROL),  # 2
        b64(envelope([REPLY, "2 broken"])),  # 3
        "H4sI!!not base64",  # 4
        b64(envelope([REQUEST]), compress=False),  # 5 eyJ...: not compressed
        b64({"some": "other JSON"}),  # 6
        b64(envelope([REQUEST]))[:40],  # 7 cut: a truncated gzip stream
        two_members,  # 8 two gzip members back to back
    ]
    p = write(tmp_path / "kinesis.txt", lines)
    assert detect_file(str(p), list(iter_records(str(p)))) == "aws-vpc"
    fs = read_flows([p])
    assert counts(fs) == (
        10,
        5,
        {
            "wrong field count": 1,
            "invalid base64": 1,
            "malformed record: Kinesis data": 1,
            "corrupt gzip": 1,
        },
        {"CloudWatch control message": 1},
    )
    assert [x["source_record"] for x in rows(fs)] == [1, 3, 5, 8, 8]
    assert [x["is_reply"] for x in rows(fs)] == [False, True, False, False, True]
    assert [e.line for e in fs.counts.examples] == [3, 4, 6, 7]
    assert looks_like(TextLine(lines[0])) and looks_like(lines[0])  # also a JSON string
    assert not looks_like(TextLine(b64({"messageType": "DATA_MESSAGE", "logEvents": []})))


def test_kinesis_and_firehose_containers(tmp_path):
    both = envelope([REQUEST, REPLY])
    get_records = {  # `aws kinesis get-records` output
        "Records": [
            {
                "SequenceNumber": "4959",
                "ApproximateArrivalTimestamp": 1700000000.0,
                "Data": b64(both),
                "PartitionKey": "b0a0b2ed",
            },
            {"SequenceNumber": "4960", "Data": b64(CONTROL), "PartitionKey": "x"},
        ],
        "NextShardIterator": "AAAA",
        "MillisBehindLatest": 0,
    }
    empty_page = {"Records": [], "NextShardIterator": "BBBB", "MillisBehindLatest": 0}
    lambda_event = {
        "Records": [
            {
                "kinesis": {"partitionKey": "k", "data": b64(envelope([REQUEST]))},
                "eventSource": "aws:kinesis",
            }
        ]
    }
    firehose_event = {  # a Firehose data-transformation event
        "invocationId": "i-1",
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/vpc",
        "region": "us-east-1",
        "records": [
            {"recordId": "r1", "approximateArrivalTimestamp": 1, "data": b64(envelope([REPLY]))},
            {"recordId": "r2", "data": 5},
            {"recordId": "r3"},
        ],
    }
    one_record = {"recordId": "r4", "data": b64(envelope([REQUEST]))}
    # A flow log delivered to Firehose directly: its records as text lines, no envelope.
    text = {"recordId": "r5", "data": b64(f"{REQUEST}\n{REPLY}\n".encode(), compress=False)}
    containers = (get_records, empty_page, lambda_event, firehose_event, one_record, text)
    p = tmp_path / "kinesis.json"
    p.write_text("\n".join(json.dumps(x) for x in containers) + "\n")
    assert detect_file(str(p), list(iter_records(str(p)))) == "aws-vpc"
    assert all(looks_like(x) for x in containers)
    fs = read_flows([p])
    assert counts(fs) == (
        11,
        7,
        {"malformed record: Kinesis data": 1, "malformed record: Kinesis record": 1},
        {"CloudWatch control message": 1, "Kinesis/Firehose page without records": 1},
    )
    assert [x["source_record"] for x in rows(fs)] == [1, 1, 3, 4, 5, 6, 6]
    assert [x["is_reply"] for x in rows(fs)] == [False, True, False, True, False, False, True]
    # One container, several events: parse_many gives each; parse alone cannot.
    parser = Parser(str(p))
    assert [type(x).__name__ for x in parser.parse_many(get_records)] == [
        "dict",
        "dict",
        "Filtered",
    ]
    assert parser.parse(get_records).reason == "CloudWatch envelope with several log events"
    assert parser.parse(lambda_event)["dst_port"] == 53


def test_aws_cli_get_records_output_as_printed(tmp_path):
    """`aws kinesis get-records` prints indented JSON: pages one after another."""
    page = {
        "Records": [
            {
                "SequenceNumber": "4959",
                "ApproximateArrivalTimestamp": "2025-11-05T06:00:00+00:00",
                "Data": b64(envelope([REQUEST, REPLY])),
                "PartitionKey": "b0a0b2ed",
            }
        ],
        "NextShardIterator": "AAAA",
        "MillisBehindLatest": 0,
    }
    empty = {"Records": [], "NextShardIterator": "BBBB", "MillisBehindLatest": 0}
    p = tmp_path / "get-records.json"
    p.write_text(json.dumps(page, indent=4) + "\n" + json.dumps(empty, indent=4) + "\n")
    fs = read_flows([p])
    assert counts(fs) == (3, 2, {}, {"Kinesis/Firehose page without records": 1})
    assert [(x["source_record"], x["is_reply"]) for x in rows(fs)] == [(1, False), (1, True)]


def test_decompression_bomb_is_rejected_unread(tmp_path):
    bomb = {**envelope([REQUEST]), "padding": " " * (MAX_PAYLOAD + 1)}
    data = b64(bomb)
    assert len(data) < MAX_PAYLOAD // 100  # a small record that inflates past the cap
    p = write(tmp_path / "bomb.txt", [b64(envelope([REQUEST])), data, b64(envelope([REPLY]))])
    fs = read_flows([p])
    assert counts(fs) == (3, 2, {"payload too large": 1}, {})
    (example,) = fs.counts.examples
    assert example.line == 2 and f"over {MAX_PAYLOAD} bytes" in example.detail
    assert [x["is_reply"] for x in rows(fs)] == [False, True]


# --------------------------------------------------------------------------- pairing


def test_pairing_rules(tmp_path):
    lines = [
        v2_line("10.0.0.1", "10.0.0.2", 40000, 53, 17),  # 1 request (paired, ephemeral)
        v2_line("10.0.0.2", "10.0.0.1", 53, 40000, 17),  # 2 its reply
        v2_line("10.0.0.3", "10.0.0.4", 41000, 8080),  # 3 lone: never by ports alone
        v2_line("10.0.0.5", "10.0.0.6", 20641, 22),  # 4 both halves, neither ephemeral
        v2_line("10.0.0.6", "10.0.0.5", 22, 20641),  # 5
        v2_line("10.0.0.7", "10.0.0.8", 40001, 50001),  # 6 both halves, both ephemeral
        v2_line("10.0.0.8", "10.0.0.7", 50001, 40001),  # 7
        v2_line("10.0.0.1", "10.0.0.2", 40000, 53, 6),  # 8 same ends, TCP: another key
        v2_line("fd00::1", "fd00::2", 0, 0, 58),  # 9 ICMPv6
        v2_line("10.0.0.1", "10.0.0.2", 0, 0, 47),  # 10 GRE
    ]
    fs = read_flows([write(tmp_path / "p.log", lines)])
    assert [x["is_reply"] for x in rows(fs)] == [False, True] + [None] * 8
    assert orientation(fs) == {"paired ports": 2, "unknown": 8}
    assert [(x["protocol"], x["protocol_number"], x["src_port"]) for x in rows(fs)[8:]] == [
        ("ICMPv6", 58, None),
        ("OTHER", 47, None),
    ]


def test_listener_statistics(tmp_path):
    lines = [
        # 10.0.0.9:50051 (gRPC, inside the ephemeral range) reached from three client ports.
        v2_line("10.0.0.1", "10.0.0.9", 41000, 50051),  # 1 request
        v2_line("10.0.0.9", "10.0.0.1", 50051, 41000),  # 2 reply
        v2_line("10.0.0.2", "10.0.0.9", 52000, 50051),  # 3 request
        v2_line("10.0.0.9", "10.0.0.3", 50051, 60000),  # 4 a lone reply
        # 10.0.0.20:40000 reached from ports 8080-8082: paired ports would get it backwards.
        v2_line("10.0.0.4", "10.0.0.20", 8080, 40000),  # 5 request
        v2_line("10.0.0.20", "10.0.0.4", 40000, 8080),  # 6 reply
        v2_line("10.0.0.5", "10.0.0.20", 8081, 40000),  # 7 request
        # A client port that talked to two peer ports is no evidence.
        v2_line("10.0.0.6", "10.0.0.20", 8082, 40000),  # 8
        v2_line("10.0.0.6", "10.0.0.30", 8082, 443),  # 9
        # Two clients are not enough to call 10.0.0.40:45000 a listener.
        v2_line("10.0.0.7", "10.0.0.40", 40001, 45000),  # 10
        v2_line("10.0.0.8", "10.0.0.40", 40002, 45000),  # 11
    ]
    p = write(tmp_path / "l.log", lines)
    fs = read_flows([p])
    assert [x["is_reply"] for x in rows(fs)] == [
        *[False, True, False, True],
        *[False, True, False],
        *[None] * 4,
    ]
    assert orientation(fs) == {"listener statistics": 7, "unknown": 4}
    conns = build_connections(fs.table).table  # (the lone reply is no rule)
    assert sorted(zip(conns.src_ip, conns.dst_ip, conns.port, strict=True)) == [
        ("10.0.0.1", "10.0.0.9", 50051),
        ("10.0.0.2", "10.0.0.9", 50051),
        ("10.0.0.4", "10.0.0.20", 40000),
        ("10.0.0.5", "10.0.0.20", 40000),
    ]
    # The index is bounded: beyond it, no statistics (never a guess), counted.
    capped = Parser(str(p), max_paired=0)
    out = [capped.parse(TextLine(x)) for x in lines]
    assert [x["is_reply"] for x in out] == [None] * len(lines)
    assert capped.unindexed == len(lines) and capped.orientation == {"unknown": len(lines)}


def test_pairing_index_bound(tmp_path):
    p = tmp_path / "f.log"
    shutil.copy(V3_FLAGS, p)
    full = Parser(str(p))
    capped = Parser(str(p), max_paired=0)
    lines = [TextLine(x) for x in p.read_text().splitlines()]
    a = [full.parse(x) for x in lines]
    b = [capped.parse(x) for x in lines]
    replies = [x.get("is_reply") if isinstance(x, dict) else "-" for x in a]
    assert replies == ["-", False, True, False, True, True, False, False, True]
    # Without the index, the FIN-only records lose their orientation; SYN records keep it.
    assert [x.get("is_reply") if isinstance(x, dict) else "-" for x in b] == [
        "-",
        False,
        True,
        False,
        True,
        None,
        None,
        False,
        True,
    ]
    assert capped.unindexed == 2 and full.unindexed == 0
    assert capped.orientation == {"tcp-flags": 6, "unknown": 2}


# --------------------------------------------------------------------------- hostile input


def test_hostile_lines_rejected_with_file_and_line(tmp_path):
    lines = [
        v2_line(),  # 1
        " ".join(v2_line().split()[:13]),  # 2 wrong field count
        v2_line(sport="abc"),  # 3 non-numeric port
        v2_line(src="999.1.1.1"),  # 4 invalid IP
        b"\x00\xff\xfebinary\x80garbage",  # 5
        v2_line(dport="70000"),  # 6 port out of range
        v2_line(action="MAYBE"),  # 7
        v2_line(**{"log-status": "WHAT"}),  # 8
        v2_line(start="1700000100", end="1700000000"),  # 9 end before start
        v2_line(dst="2001:db8::1"),  # 10 mixed families
        v2_line(sport="\uff14\uff10\uff10\uff10\uff10"),  # 11 full-width digits
        '{"messageType": "DATA_MESSAGE", "logEvents": [',  # 12 broken JSON in a text file
        v2_line(proto="300"),  # 13
        v2_line(**{"interface-id": "eni-$(reboot)"}),  # 14
        v2_line(start="99999999999999999999"),  # 15 far beyond 2262
        "x" * 5000,  # 16
        v2_line(dst="fe80::1%eth0"),  # 17 zone id
        v2_line(),  # 18
    ]
    p = write(tmp_path / "hostile.log", lines)
    fs = read_flows([p])
    assert counts(fs) == (
        18,
        2,
        {
            "wrong field count": 2,
            "invalid srcport": 2,
            "invalid IP": 3,
            "invalid UTF-8": 1,
            "invalid dstport": 1,
            "invalid action": 1,
            "invalid log-status": 1,
            "invalid time": 1,
            "invalid JSON": 1,
            "invalid protocol": 1,
            "invalid interface-id": 1,
            "invalid start": 1,
        },
        {},
    )
    assert [x["source_record"] for x in rows(fs)] == [1, 18]
    where = {(e.file, e.line, e.reason) for e in fs.counts.examples}
    assert (str(p), 4, "invalid IP") in where and (str(p), 5, "invalid UTF-8") in where
    assert all(len(e.detail) <= 300 for e in fs.counts.examples)
