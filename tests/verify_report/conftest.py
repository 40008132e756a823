"""The shop's simulated flows and the proposal made from them, shared by the report's tests."""

import pytest

from recommender.pipeline import recommend
from recommender.sim import shop_cluster, write_hubble


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """Simulated Hubble flows of the shop, and the proposal made from them (coverage 100%)."""
    flows = tmp_path_factory.mktemp("flows")
    write_hubble(shop_cluster(seed=3, hours=1.0), flows)
    rec = recommend([flows])
    assert rec.coverage == 1.0
    return flows, rec.policies
