import numpy as np
import pandas as pd

from recommender.netpol.endpoints import pod_endpoint, pod_endpoints


def _pods(with_optional: bool) -> pd.DataFrame:
    table = {
        "namespace": pd.Series(["shop", "shop", "kube-system"], dtype="str"),
        "pod": pd.Series(["web-1", "db-0", "coredns-x"], dtype="str"),
        "labels": [{"app": "web"}, {}, {"k8s-app": "kube-dns"}],
        "namespace_labels": [{"team": "a"}, None, np.nan],
    }
    if with_optional:
        table["ips"] = [("10.0.0.1", "fd00::1"), np.nan, "10.0.0.3"]
        table["ports"] = [[("http", 8080, "TCP")], None, [{"name": "dns", "port": 53}]]
    return pd.DataFrame(table)


def test_pod_endpoints_are_pod_endpoint_of_every_row():
    for with_optional in (True, False):
        pods = _pods(with_optional)
        expected = [pod_endpoint(row) for row in pods.itertuples(index=False)]
        assert pod_endpoints(pods) == expected
        assert expected[0].ip == ("10.0.0.1" if with_optional else None)
    assert pod_endpoints(pd.DataFrame()) == []
