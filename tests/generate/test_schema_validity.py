"""Every NetworkPolicy the tool writes is valid for the Kubernetes API server: validated with
kubernetes-validate (the API's own OpenAPI schemas, strict: no unknown fields) for every
option that changes the output's shape, on the sample and on the real captures."""

from __future__ import annotations

import kubernetes_validate
import pytest
from conftest import REAL_FLOWS, SAMPLE_FLOWS

from recommender.generate.k8s import render_policy
from recommender.options import SynthesisOptions
from recommender.pipeline import observe, propose

#: The oldest Kubernetes minor whose schema we hold the output to (endPort is GA since 1.25).
KUBERNETES = "1.25"

VARIANTS = {
    "exact": SynthesisOptions(),
    "role": SynthesisOptions(generalize="role"),
    "nodes-named-ports": SynthesisOptions(allow_node_sources=True, named_ports=True),
    "min-flows": SynthesisOptions(min_flows=3),
}


@pytest.fixture(scope="module")
def sample():
    return observe([SAMPLE_FLOWS])


def _valid(objects):
    assert objects
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as exc:  # pragma: no cover - the failure
            pytest.fail(f"{obj['metadata']['namespace']}/{obj['metadata']['name']}: {exc}")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_sample_proposal_validates_against_the_kubernetes_schema(sample, variant):
    rec = propose(sample, VARIANTS[variant])
    _valid(rec.policies)


def test_real_hubble_proposal_validates():
    rec = propose(observe([REAL_FLOWS / "hubble"]))
    _valid(rec.policies)


def test_a_schema_violation_is_caught():
    """The check can fail: an unknown field is refused."""
    rec = propose(observe([SAMPLE_FLOWS]))
    bad = dict(rec.policies[-1])
    bad["spec"] = {**bad["spec"], "podSelectr": {}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES, strict=True)


def test_the_proposal_is_what_the_renderer_writes(sample):
    """What is validated above is the renderer's output, not a copy made elsewhere."""
    rec = propose(sample)
    assert rec.policies == [render_policy(p) for p in rec.synthesis.policies]
