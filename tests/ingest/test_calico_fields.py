"""The Calico vocabulary that ``calico-ee`` and ``calico-goldmane`` share
(``recommender.ingest.calico_fields``)."""

from __future__ import annotations

import pytest

from recommender.ingest import calico_fields, values
from recommender.ingest.common import Bad
from recommender.ingest.sources import Rejected, new_row


def test_label_parsers_keep_their_own_conflict_details():
    with pytest.raises(Bad) as caught:
        calico_fields.label_items(["a=1", "a=2"], "source_labels")
    assert caught.value.rejected() == Rejected("conflicting labels", "source_labels='a=2'")
    with pytest.raises(Bad) as caught:
        values.labels("a=1,a=2", "src_labels")
    assert caught.value.rejected() == Rejected("conflicting labels", "src_labels='a'")
    assert calico_fields.label_items(["b=2", "a=1", "a=1"], "f") == (("a", "1"), ("b", "2"))
    with pytest.raises(Bad, match="invalid label"):
        calico_fields.label_items(["novalue"], "f")


def test_set_times():
    row = new_row()
    calico_fields.set_times(row, 5, None)
    assert (row["time_start"], row["time_end"]) == (5, 5)
    calico_fields.set_times(row, 5, 7)
    assert (row["time_start"], row["time_end"]) == (5, 7)
    with pytest.raises(Bad) as caught:
        calico_fields.set_times(row, None, 7)
    assert caught.value.rejected() == Rejected("missing time", "start_time is missing")
    with pytest.raises(Bad) as caught:
        calico_fields.set_times(row, 7, 5)
    assert caught.value.rejected() == Rejected("invalid time", "end_time before start_time (5 < 7)")


def test_place_service_on_a_pod_and_elsewhere():
    row, extra = new_row(), {}
    row["dst_kind"] = "pod"
    calico_fields.place_service(row, extra, "shop", "web", "*", 80)
    assert (row["dst_service_namespace"], row["dst_service_name"]) == ("shop", "web")
    assert row["dst_service_port_name"] is None and row["dst_service_port"] == 80
    assert extra == {"dest_service_port": "*"}

    row, extra = new_row(), {}
    row["dst_kind"] = "external"
    calico_fields.place_service(row, extra, None, "kubernetes", "https", 443)
    assert row["dst_service_name"] is None
    assert extra == {"dest_service": "-/kubernetes", "dest_service_port_num": "443"}

    row, extra = new_row(), {}
    row["dst_kind"] = "networkset"
    calico_fields.place_service(row, extra, "ns", None, None, 443)
    assert extra == {}


@pytest.mark.parametrize(
    ("reporter", "src", "dst", "flows", "extra"),
    [
        ("src", "wep", "wep", 3, {}),
        ("dst", "wep", "wep", 0, {"num_flows": "3", "counted_by": "src"}),
        ("dst", "net", "wep", 3, {}),
        ("src", "net", "hep", 0, {"num_flows": "3", "counted_by": "dst"}),
    ],
)
def test_count_once(reporter, src, dst, flows, extra):
    row, out = new_row(), {}
    row["reporter"] = reporter
    calico_fields.count_once(row, out, {"src": src, "dst": dst}, 3)
    assert row["flows"] == flows
    assert out == extra
