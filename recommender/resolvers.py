"""The DNS resolvers a cluster was observed using: apart from synthesis, so that ``verify``
(which measures DNS breadth against them) needs neither synthesis nor what it imports."""

from __future__ import annotations

import pandas as pd

DNS_PORT = 53


def find_resolvers(wconns: pd.DataFrame) -> list[str]:
    """Workloads observed serving DNS (port 53) to other pods."""
    dns = wconns[
        (wconns["port"] == DNS_PORT)
        & (wconns["dst_type"] == "workload")
        & wconns["protocol"].isin(["UDP", "TCP"])
    ]
    return sorted(set(dns["dst_id"]))
