"""Generic CSV/Parquet ingest: the mapping documented in ``docs/generic-format.md``.

Every spelling the document lists is exercised here, and so is every rejection reason in its
table, with the file line each one is reported at.
"""

from __future__ import annotations

import gzip
import os
import random
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender import accounting
from recommender.accounting import RecordCounts
from recommender.connections import build_connections
from recommender.ingest import detect, generic, read_flows, write_parquet
from recommender.ingest.errors import InputError
from recommender.schema import FLOW_SCHEMA
from recommender.validate import is_dns1123_label, is_dns1123_subdomain, is_label_key

ROOT = Path(__file__).resolve().parents[2]
REAL_HUBBLE = ROOT.parent / "shared" / "real-flows" / "hubble"
DOC = ROOT / "docs" / "generic-format.md"

HEADER = "time,src_namespace,src_pod,src_labels,dst_namespace,dst_pod,dst_labels,dst_port,protocol,verdict,flows"  # noqa: E501
EXAMPLE = (
    HEADER
    + "\n"
    + '2024-05-01T10:00:00Z,shop,web-7f9c-abcde,"app=web,tier=front",shop,db-0,"{""app"":""db""}",5432,TCP,allowed,12\n'  # noqa: E501
    + "2024-05-01T10:00:05Z,shop,web-7f9c-abcde,app=web,kube-system,coredns-5d78c9869d-x2l8q,k8s-app=kube-dns,53,UDP,allowed,3\n"  # noqa: E501
)


def read(path, **kw) -> tuple[list[dict], RecordCounts]:
    counts = RecordCounts()
    rows = []
    for batch in generic.iter_batches(str(path), counts, **kw):
        assert batch.schema.equals(FLOW_SCHEMA, check_metadata=True)
        rows.extend(batch.to_pylist())
    assert counts.balanced()
    return rows, counts


def csv_file(tmp_path: Path, text: str, name: str = "flows.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def one_row(tmp_path, header: str, line: str) -> dict | tuple[str, str]:
    """The row for one CSV line, or (reason, detail) when it is rejected."""
    rows, counts = read(csv_file(tmp_path, f"{header}\n{line}\n"))
    if rows:
        return rows[0]
    (example,) = counts.examples
    assert example.line == 2
    return example.reason, example.detail


BASIC = "src_ip,dst_ip,dst_port,protocol"


# --------------------------------------------------------------------------- mapping


def test_documented_example_field_by_field(tmp_path):
    rows, counts = read(csv_file(tmp_path, EXAMPLE))
    assert counts.normalized == 2 and counts.read == 2
    a, b = rows
    assert (a["source_format"], a["source_record"], a["schema_version"]) == ("generic", 2, 1)
    assert a["source_file"].endswith("flows.csv")
    assert a["time_start"].isoformat() == "2024-05-01T10:00:00+00:00"
    assert a["time_end"] == a["time_start"]
    assert (a["src_kind"], a["src_namespace"], a["src_pod"], a["src_ip"]) == (
        "pod",
        "shop",
        "web-7f9c-abcde",
        None,
    )
    assert a["src_labels"] == [("app", "web"), ("tier", "front")]
    assert a["dst_labels"] == [("app", "db")]
    assert (a["dst_port"], a["protocol"], a["protocol_number"]) == (5432, "TCP", 6)
    assert (a["verdict"], a["verdict_raw"], a["is_reply"]) == ("allowed", "allowed", False)
    assert (a["flows"], a["aggregated"], a["ip_family"]) == (12, True, 0)
    assert (a["reporter"], a["direction"]) == ("unknown", "unknown")
    assert (b["source_record"], b["protocol"], b["dst_port"], b["dst_labels"]) == (
        3,
        "UDP",
        53,
        [("k8s-app", "kube-dns")],
    )
    conns = build_connections(pa.Table.from_pylist(rows, schema=FLOW_SCHEMA))
    assert conns.records_used == 2
    assert sorted(conns.table["port"]) == [53, 5432]


def test_the_docs_example_block_is_the_tested_one():
    text = DOC.read_text()
    block = text.split("```csv\n", 1)[1].split("```", 1)[0]
    assert block.startswith(HEADER + "\n")
    assert block.splitlines()[1] == EXAMPLE.splitlines()[1]


@pytest.mark.parametrize(
    ("value", "ns"),
    [
        ("2024-05-01T10:00:00Z", 1714557600 * 10**9),
        ("2024-05-01T12:00:00+02:00", 1714557600 * 10**9),
        ("2024-05-01T10:00:00.5Z", 1714557600 * 10**9 + 500_000_000),
        ("2024-05-01 10:00:00", 1714557600 * 10**9),  # no zone: UTC
        ("2024-05-01 10:00:00.25", 1714557600 * 10**9 + 250_000_000),
        ("1714557600", 1714557600 * 10**9),  # seconds
        ("1714557600.5", 1714557600 * 10**9 + 500_000_000),
        ("1714557600000", 1714557600 * 10**9),  # ms
        ("1714557600000000", 1714557600 * 10**9),  # us
        ("1714557600000000000", 1714557600 * 10**9),  # ns
    ],
)
def test_time_spellings(tmp_path, value, ns):
    row = one_row(tmp_path, BASIC + ",time", f"10.0.0.1,10.0.0.2,80,TCP,{value}")
    assert row["time_start"].value == ns


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("TCP", ("TCP", 6)),
        ("tcp", ("TCP", 6)),
        ("6", ("TCP", 6)),
        ("udp", ("UDP", 17)),
        ("17", ("UDP", 17)),
        ("Sctp", ("SCTP", 132)),
        ("132", ("SCTP", 132)),
        ("icmp", ("ICMP", 1)),
        ("1", ("ICMP", 1)),
        ("ICMPv6", ("ICMPv6", 58)),
        ("icmp6", ("ICMPv6", 58)),
        ("ipv6-icmp", ("ICMPv6", 58)),
        ("58", ("ICMPv6", 58)),
        ("47", ("OTHER", 47)),
    ],
)
def test_protocol_spellings(tmp_path, value, expected):
    row = one_row(tmp_path, BASIC, f"10.0.0.1,10.0.0.2,80,{value}")
    assert (row["protocol"], row["protocol_number"]) == expected
    # Only TCP/UDP/SCTP keep a port.
    assert row["dst_port"] == (80 if expected[0] in ("TCP", "UDP", "SCTP") else None)


def test_icmp_needs_no_port(tmp_path):
    row = one_row(tmp_path, BASIC, "10.0.0.1,10.0.0.2,,icmp")
    assert (row["protocol"], row["dst_port"]) == ("ICMP", None)


@pytest.mark.parametrize(
    ("value", "verdict"),
    [
        *[(v, "allowed") for v in ("allowed", "ALLOW", "accept", "Accepted", "forwarded")],
        *[(v, "allowed") for v in ("permit", "permitted")],
        *[(v, "denied") for v in ("denied", "deny", "DROP", "dropped", "reject", "rejected")],
        *[(v, "denied") for v in ("block", "blocked")],
        ("audit", "audit"),
        ("redirected", "redirected"),
        ("error", "error"),
        ("unknown", "unknown"),
        ("", "unknown"),
    ],
)
def test_verdict_spellings(tmp_path, value, verdict):
    row = one_row(tmp_path, BASIC + ",verdict", f"10.0.0.1,10.0.0.2,80,TCP,{value}")
    assert row["verdict"] == verdict
    assert row["verdict_raw"] == (value.lower() or None)


@pytest.mark.parametrize(
    ("value", "reply"),
    [
        *[(v, True) for v in ("true", "TRUE", "t", "yes", "Y", "1")],
        *[(v, False) for v in ("false", "F", "no", "n", "0", "")],
    ],
)
def test_is_reply_spellings(tmp_path, value, reply):
    row = one_row(tmp_path, BASIC + ",is_reply", f"10.0.0.1,10.0.0.2,80,TCP,{value}")
    assert row["is_reply"] is reply


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", None),  # unknown
        ("{}", []),  # known empty
        ('"{""app"":""web""}"', [("app", "web")]),
        ("app=web", [("app", "web")]),
        (
            '"tier=front, app.kubernetes.io/name=web"',
            [("app.kubernetes.io/name", "web"), ("tier", "front")],
        ),
        ('"app="', [("app", "")]),
    ],
)
def test_label_spellings(tmp_path, value, expected):
    row = one_row(
        tmp_path,
        "src_namespace,src_pod,src_labels,dst_ip,dst_port,protocol",
        f"shop,web-1,{value},10.0.0.2,80,TCP",
    )
    assert row["src_labels"] == expected


def test_kinds_addresses_ports_flows_observer(tmp_path):
    header = (
        "src_ip,src_port,src_kind,dst_ip,dst_namespace,dst_pod,dst_port,protocol,flows,observer"
    )
    row = one_row(
        tmp_path,
        header,
        "2001:DB8:0::1,40000,external,2001:db8::2,shop,web-1,8080,TCP,,node-a",
    )
    assert (row["src_kind"], row["src_ip"], row["src_port"]) == ("external", "2001:db8::1", 40000)
    assert (row["dst_kind"], row["dst_ip"], row["dst_pod"]) == ("pod", "2001:db8::2", "web-1")
    assert (row["ip_family"], row["flows"], row["aggregated"], row["observer"]) == (
        6,
        1,
        False,
        "node-a",
    )
    row = one_row(tmp_path, BASIC + ",dst_kind", "10.0.0.1,10.0.0.2,80,TCP,")
    assert (row["src_kind"], row["dst_kind"]) == ("unknown", "unknown")
    row = one_row(tmp_path, BASIC + ",src_kind", "10.0.0.1,10.0.0.2,80,TCP,Node")
    assert row["src_kind"] == "node"


def test_header_case_spaces_and_extra_columns(tmp_path):
    rows, _ = read(
        csv_file(
            tmp_path, " SRC_IP , Dst_Ip,comment,DST_PORT,Protocol\n10.0.0.1,10.0.0.2,hi,80,TCP\n"
        )
    )
    assert rows[0]["dst_port"] == 80


def test_no_time_column_uses_the_file_time(tmp_path):
    p = csv_file(tmp_path, f"{BASIC}\n10.0.0.1,10.0.0.2,80,TCP\n")
    os.utime(p, ns=(1714557600 * 10**9, 1714557600 * 10**9))
    rows, _ = read(p)
    assert rows[0]["time_start"].value == 1714557600 * 10**9


def test_time_end(tmp_path):
    header = BASIC + ",time,time_end"
    row = one_row(tmp_path, header, "10.0.0.1,10.0.0.2,80,TCP,1714557600,1714557660")
    assert (row["time_end"] - row["time_start"]).total_seconds() == 60


# --------------------------------------------------------------------------- rejections


@pytest.mark.parametrize(
    ("header", "line", "reason"),
    [
        (BASIC, "10.0.0.1,,80,TCP", "missing endpoint"),
        (
            "src_namespace,src_pod,dst_ip,dst_port,protocol",
            ",web-1,10.0.0.2,80,TCP",
            "missing namespace",
        ),
        (
            "src_namespace,src_pod,dst_ip,dst_port,protocol",
            "../../etc,web-1,10.0.0.2,80,TCP",
            "invalid namespace",
        ),
        (
            "src_namespace,src_pod,dst_ip,dst_port,protocol",
            "shop,Web_1,10.0.0.2,80,TCP",
            "invalid pod name",
        ),
        (BASIC + ",src_kind", "10.0.0.1,10.0.0.2,80,TCP,pod", "missing endpoint"),
        (BASIC + ",src_kind", "10.0.0.1,10.0.0.2,80,TCP,router", "invalid kind"),
        (BASIC + ",src_labels", "10.0.0.1,10.0.0.2,80,TCP,bad key=x", "invalid label key"),
        (BASIC + ",src_labels", '10.0.0.1,10.0.0.2,80,TCP,"a=b,c"', "invalid labels"),
        (BASIC + ",src_labels", '10.0.0.1,10.0.0.2,80,TCP,"a=b,a=c"', "conflicting labels"),
        (BASIC + ",src_labels", "10.0.0.1,10.0.0.2,80,TCP,app={{x}}", "invalid label value"),
        (BASIC + ",src_labels", '10.0.0.1,10.0.0.2,80,TCP,"{""a"": [1]}"', "invalid label value"),
        (
            BASIC + ",src_labels",
            '10.0.0.1,10.0.0.2,80,TCP,"{not json"',
            "malformed record: src_labels",
        ),
        (BASIC, "10.0.0.1/32,10.0.0.2,80,TCP", "invalid IP"),
        (BASIC, "10.0.0.1,fd00::2,80,TCP", "invalid IP"),
        (BASIC, "10.0.0.1,10.0.0.2,80,GRE", "invalid protocol"),
        (BASIC, "10.0.0.1,10.0.0.2,80,", "missing protocol"),
        (BASIC, "10.0.0.1,10.0.0.2,,TCP", "missing port"),
        (BASIC, "10.0.0.1,10.0.0.2,0,TCP", "missing port"),
        (BASIC, "10.0.0.1,10.0.0.2,65536,TCP", "malformed record: dst_port"),
        (BASIC, "10.0.0.1,10.0.0.2,http,TCP", "malformed record: dst_port"),
        (BASIC, "10.0.0.1,10.0.0.2,８０,TCP", "malformed record: dst_port"),  # fullwidth digits
        (BASIC + ",src_port", "10.0.0.1,10.0.0.2,80,TCP,-1", "malformed record: src_port"),
        (BASIC + ",time", "10.0.0.1,10.0.0.2,80,TCP,", "missing time"),
        (BASIC + ",time", "10.0.0.1,10.0.0.2,80,TCP,2024-02-30T00:00:00Z", "invalid time"),
        (BASIC + ",time", "10.0.0.1,10.0.0.2,80,TCP,yesterday", "invalid time"),
        (BASIC + ",time", "10.0.0.1,10.0.0.2,80,TCP,99999999999999999999", "invalid time"),
        (BASIC + ",time,time_end", "10.0.0.1,10.0.0.2,80,TCP,100,50", "invalid time"),
        (BASIC + ",verdict", "10.0.0.1,10.0.0.2,80,TCP,maybe", "invalid verdict"),
        (BASIC + ",is_reply", "10.0.0.1,10.0.0.2,80,TCP,perhaps", "invalid is_reply"),
        (BASIC + ",flows", "10.0.0.1,10.0.0.2,80,TCP,0", "malformed record: flows"),
        (BASIC + ",flows", "10.0.0.1,10.0.0.2,80,TCP,1.5", "malformed record: flows"),
        (BASIC + ",observer", "10.0.0.1,10.0.0.2,80,TCP,Node A", "invalid node name"),
    ],
)
def test_rejections(tmp_path, header, line, reason):
    out = one_row(tmp_path, header, line)
    assert isinstance(out, tuple), out
    assert out[0] == reason


def test_bad_rows_keep_their_line_and_good_ones_around_them(tmp_path):
    body = (
        (
            f"{BASIC},comment\n"
            "10.0.0.1,10.0.0.2,80,TCP,\n"  # 2
            "\n"  # 3: blank, not a record
            "10.0.0.1,10.0.0.2\n"  # 4: too few fields
            "10.0.0.1,10.0.0.2,80,TCP,,extra\n"  # 5: too many
            '10.0.0.1,10.0.0.2,"8\n'  # 6-7: a line break inside a mapped value
            '0",TCP,\n'
            ",,,,\n"  # 8: only separators
            '10.0.0.3,10.0.0.2,443,TCP,"a comment\r\nover\nthree lines"\n'  # 9-11: kept
            '10.0.0.1,"10.0.0.2\n"\n'  # 12-13: too few fields, over two lines
        ).encode()
        + b"\xff\xfe,10.0.0.2,80,TCP,\n"
        + b"10.0.0.4,10.0.0.2,8080,udp,\n"
    )  # 14, 15
    p = tmp_path / "mixed.csv"
    p.write_bytes(body)
    rows, counts = read(p)
    assert [r["source_record"] for r in rows] == [2, 9, 15]
    assert [(e.line, e.reason) for e in counts.examples] == [
        (4, "malformed record: column count"),
        (5, "malformed record: column count"),
        (6, "malformed record: dst_port"),
        (12, "malformed record: column count"),
        (14, "invalid UTF-8"),
    ]
    assert (counts.read, counts.normalized, counts.rejected_total) == (8, 3, 5)


@pytest.mark.parametrize("seed", range(6))
def test_line_numbers_stay_physical_across_blocks(tmp_path, monkeypatch, seed):
    """Random mixes of good rows, bad rows, blank lines and multi-line values, read in tiny
    blocks: every row and rejection is reported at its physical line."""
    monkeypatch.setattr(generic, "BLOCK_SIZE", 256)
    monkeypatch.setattr(accounting, "MAX_EXAMPLES", 100_000)
    rnd = random.Random(seed)
    lines = [f"{BASIC},note"]
    good, bad = [], []
    for i in range(400):
        kind = rnd.choice(["good", "good", "good", "short", "blank", "multi", "badport"])
        here = len(lines) + 1
        if kind == "good":
            lines.append(f"10.0.{i // 250}.{i % 250},10.1.0.1,80,TCP,")
            good.append(here)
        elif kind == "short":
            lines.append("10.0.0.1,10.1.0.1")
            bad.append((here, "malformed record: column count"))
        elif kind == "blank":
            lines.append("")
        elif kind == "multi":
            # One record over two physical lines (a line break inside a quoted value).
            lines += ['10.0.0.9,10.1.0.1,443,TCP,"line one', f'line two {i}"']
            good.append(here)
        else:
            lines.append("10.0.0.1,10.1.0.1,port,TCP,")
            bad.append((here, "malformed record: dst_port"))
    p = csv_file(tmp_path, "\n".join(lines) + "\n")
    rows, counts = read(p, batch_size=37)
    assert [r["source_record"] for r in rows] == good
    assert sorted((e.line, e.reason) for e in counts.examples) == bad


def test_gzip_csv_and_batches_and_progress(tmp_path):
    lines = [BASIC] + [
        f"10.0.{i // 250}.{i % 250},10.1.0.1,{1 + i % 1000},TCP" for i in range(5000)
    ]
    p = tmp_path / "big.csv.gz"
    p.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    seen = []
    counts = RecordCounts()
    batches = list(generic.iter_batches(str(p), counts, batch_size=1000, progress=seen.append))
    assert [b.num_rows for b in batches] == [1000] * 5
    assert sum(seen) == p.stat().st_size and all(n > 0 for n in seen)
    assert batches[-1].column("source_record").to_pylist()[-1] == 5001


def test_damage_midway_keeps_the_rows_before(tmp_path, monkeypatch):
    monkeypatch.setattr(generic, "BLOCK_SIZE", 64)
    good = "".join(f"10.0.0.{i},10.0.0.2,80,TCP\n" for i in range(1, 11))
    p = csv_file(
        tmp_path, f"{BASIC}\n{good}10.0.0.99,{'x' * 500},80,TCP\n10.0.0.1,10.0.0.2,80,TCP\n"
    )
    rows, counts = read(p)
    assert len(rows) == 10
    assert [e.reason for e in counts.examples] == ["unreadable CSV"]
    data = gzip.compress((f"{BASIC}\n" + good).encode())
    truncated = tmp_path / "cut.csv.gz"
    truncated.write_bytes(data[: len(data) - 12])
    rows, counts = read(truncated)
    assert [e.reason for e in counts.examples] == ["unreadable CSV"]


def test_missing_columns_and_not_csv(tmp_path):
    with pytest.raises(InputError, match=r"x\.csv: not a generic flow file \(missing columns: "):
        read(csv_file(tmp_path, "src_ip,dst_ip,port\n1,2,3\n", "x.csv"))
    with pytest.raises(InputError, match="dst_ip .or dst_namespace and dst_pod."):
        read(csv_file(tmp_path, "src_ip,dst_pod,dst_port,protocol\n", "y.csv"))
    with pytest.raises(InputError, match="appears twice"):
        read(csv_file(tmp_path, "src_ip,dst_ip,dst_port,protocol,SRC_IP\n", "z.csv"))
    with pytest.raises(InputError, match="no CSV header"):
        read(csv_file(tmp_path, '{"a": 1}\n', "j.csv"))


def test_header_only_and_empty(tmp_path):
    rows, counts = read(csv_file(tmp_path, BASIC + "\n"))
    assert rows == [] and counts.read == 0


# --------------------------------------------------------------------------- Parquet


def test_typed_parquet(tmp_path):
    t = pa.table(
        {
            "time": pa.array([1714557600_123456789, None], pa.timestamp("ns", tz="UTC")),
            "src_namespace": ["shop", "shop"],
            "src_pod": ["web-1", "web-1"],
            "src_labels": pa.array([[("app", "web")], None], pa.map_(pa.string(), pa.string())),
            "dst_ip": ["10.0.0.2", "10.0.0.2"],
            "dst_port": pa.array([5432, 5432], pa.int32()),
            "protocol": pa.array([6, 6], pa.int8()),
            "is_reply": [False, True],
            "flows": pa.array([3, 1], pa.int64()),
        }
    )
    p = tmp_path / "export.parquet"
    pq.write_table(t, p)
    assert generic.claims(str(p))
    rows, counts = read(p)
    assert counts.normalized == 1 and counts.rejected_total == 1  # row 2 has no time
    assert counts.examples[0].line == 2 and counts.examples[0].reason == "missing time"
    (row,) = rows
    assert row["time_start"].value == 1714557600_123456789
    assert (row["src_labels"], row["protocol"], row["flows"]) == ([("app", "web")], "TCP", 3)
    # Naive timestamps are UTC; a Parquet file without the columns is an error.
    pq.write_table(
        pa.table(
            {
                "time": pa.array([0], pa.timestamp("s")),
                "src_ip": ["1.1.1.1"],
                "dst_ip": ["2.2.2.2"],
                "dst_port": [80],
                "protocol": ["tcp"],
            }
        ),
        tmp_path / "naive.parquet",
    )
    rows, _ = read(tmp_path / "naive.parquet")
    assert rows[0]["time_start"].value == 0
    pq.write_table(pa.table({"a": [1]}), tmp_path / "other.parquet")
    assert not generic.claims(str(tmp_path / "other.parquet"))
    with pytest.raises(InputError, match="not a generic flow file"):
        read(tmp_path / "other.parquet")


def test_flow_tables_are_not_claimed(tmp_path):
    p = tmp_path / "flows.parquet"
    write_parquet(pa.Table.from_pylist([], schema=FLOW_SCHEMA), p)
    assert not generic.claims(str(p))


# --------------------------------------------------------------------------- detection


def test_claims_and_registry(tmp_path):
    assert "generic" in detect.FILE_FORMATS and "generic" in detect.formats()
    assert "generic" not in detect.record_formats()
    assert generic.claims(str(csv_file(tmp_path, EXAMPLE)))
    gz = tmp_path / "e.csv.gz"
    gz.write_bytes(gzip.compress(EXAMPLE.encode()))
    assert generic.claims(str(gz))
    assert not generic.claims(str(csv_file(tmp_path, '{"src_ip": 1}\n', "j.json")))
    assert not generic.claims(str(csv_file(tmp_path, "a,b,c\n", "o.csv")))
    assert not generic.claims(str(tmp_path / "missing.csv"))
    assert not generic.looks_like({"src_ip": "10.0.0.1"})
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + EXAMPLE.encode())
    assert generic.claims(str(bom))
    rows, _ = read(bom)
    assert len(rows) == 2


def test_real_hubble_samples_are_not_claimed():
    for path in sorted(REAL_HUBBLE.iterdir()):
        assert not generic.claims(str(path))
        assert set(read_flows([path]).table.column("source_format").to_pylist()) == {"hubble"}


def test_read_flows_detects_generic(tmp_path):
    fs = read_flows([csv_file(tmp_path, EXAMPLE)])
    assert fs.counts.balanced() and fs.counts.normalized == 2
    assert set(fs.table.column("source_format").to_pylist()) == {"generic"}
    fs = read_flows([csv_file(tmp_path, EXAMPLE)], format="generic")
    assert fs.counts.normalized == 2


# --------------------------------------------------------------------------- fuzzing

CELLS = [
    "",
    "10.0.0.1",
    "fd00::1",
    "shop",
    "web-1",
    "../../etc",
    "TCP",
    "udp",
    "80",
    "0",
    "-1",
    "99999999999999999999999",
    "app=web",
    '"{""a"":""b""}"',
    '"a,b"',
    "true",
    "2024-05-01T10:00:00Z",
    "1714557600",
    "\u00e9",
    "{{ x }}",
    "x" * 100,
    '"',
]
COLS = ["time", "src_ip", "src_namespace", "src_pod", "src_labels", "dst_ip", "dst_port"]
COLS += ["protocol", "verdict", "is_reply", "flows", "src_kind"]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    st.lists(
        st.one_of(
            st.lists(st.sampled_from(CELLS), min_size=len(COLS), max_size=len(COLS)),
            st.lists(st.text(max_size=8), min_size=0, max_size=len(COLS) + 1),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_random_cells_never_raise(rows):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "f.csv"
        lines = [",".join(COLS)] + [",".join(r) for r in rows]
        p.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogateescape")
        out, counts = read(p)
    assert counts.normalized == len(out)
    for row in out:
        for side in ("src", "dst"):
            ns, pod = row[f"{side}_namespace"], row[f"{side}_pod"]
            assert ns is None or is_dns1123_label(ns)
            assert pod is None or is_dns1123_subdomain(pod)
            assert all(is_label_key(k) for k, _ in row[f"{side}_labels"] or [])
