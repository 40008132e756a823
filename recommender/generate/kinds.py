"""Which kind of objects a proposal is written as, and the files it becomes.

One IR, every kind: ``networkpolicy`` (:mod:`.k8s`), ``calico-staged`` (the same
NetworkPolicy staged, :mod:`.calico_staged`), ``calico`` (``projectcalico.org/v3``
NetworkPolicy, or StagedNetworkPolicy with ``staged``, :mod:`.calico`) and ``cilium``
(CiliumNetworkPolicy, :mod:`.cilium`). ``baseline`` replaces the per-namespace default-deny
policies by one cluster-scoped object (:mod:`.baseline`). Whatever the kind, the files are
re-read by the kind's own reader and replayed before they are written
(:func:`recommender.pipeline.check_rendered`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..validate import is_dns1123_label, is_dns1123_subdomain
from .calico_staged import to_staged
from .ir import PolicyIR

if TYPE_CHECKING:
    from ..results import Recommendation

__all__ = [
    "BASELINES",
    "CLUSTER_DIR",
    "EXTERNAL",
    "OUTPUT_KINDS",
    "OutputKind",
    "RenderedFile",
    "policy_path",
    "render_files",
]

#: The kinds ``recommend --output-kind`` writes; the first is the default.
OUTPUT_KINDS = ("networkpolicy", "calico-staged", "calico", "cilium")
#: ``--baseline`` choices: the cluster-scoped object that replaces the default-denies.
BASELINES = ("cluster-network-policy", "baseline-admin-network-policy")
#: ``--external`` choices: egress to named external destinations by DNS name or address.
EXTERNAL = ("fqdn", "cidr")
#: Where a cluster-scoped object goes under the output directory (no namespace is
#: spelled with an underscore, so it never meets a namespace's folder).
CLUSTER_DIR = Path("policies") / "_cluster"

_CILIUM_AUDIT = (
    "Cilium has no staged policy kind: apply --output-kind cilium with the endpoints in "
    "policy audit mode (Helm policyAuditMode=true, or `cilium-dbg endpoint config <id> "
    "PolicyAuditMode=Enabled`) and watch the AUDIT verdicts in Hubble before enforcing"
)


def policy_path(policy: PolicyIR) -> Path:
    """policies/<ns>/<name>.yaml, refusing anything that is not a Kubernetes name."""
    if not is_dns1123_label(policy.namespace) or not is_dns1123_subdomain(policy.name):
        raise ValueError(f"refusing unsafe output path for {policy.namespace!r}/{policy.name!r}")
    return Path("policies") / policy.namespace / f"{policy.name}.yaml"


class OutputKindError(ValueError):
    """A combination of output options that cannot be written; the message says why."""


@dataclass(frozen=True)
class OutputKind:
    """The output options of a proposal: kind, staged or not, cluster baseline or not."""

    kind: str = "networkpolicy"
    staged: bool = False
    baseline: str | None = None
    external: str = "cidr"

    def __post_init__(self) -> None:
        if self.kind not in OUTPUT_KINDS:
            raise OutputKindError(f"output kind must be one of {', '.join(OUTPUT_KINDS)}")
        if self.baseline is not None and self.baseline not in BASELINES:
            raise OutputKindError(f"baseline must be one of {', '.join(BASELINES)}")
        if self.external not in EXTERNAL:
            raise OutputKindError(f"external must be one of {', '.join(EXTERNAL)}")
        if self.staged and self.kind == "cilium":
            raise OutputKindError(_CILIUM_AUDIT)
        if self.staged and self.kind == "networkpolicy":
            raise OutputKindError(
                "a NetworkPolicy has no staged form of its own: --output-kind calico-staged "
                "writes it as Calico's StagedKubernetesNetworkPolicy"
            )
        if self.staged and self.kind == "calico-staged":
            raise OutputKindError("--output-kind calico-staged is staged already")
        if self.external == "fqdn" and self.kind != "cilium":
            raise OutputKindError(
                f"--external fqdn needs --output-kind cilium: {self.kind} has no DNS-name "
                "peers (with --external cidr the summary lists the names behind each address)"
            )

    @property
    def is_default(self) -> bool:
        """Plain NetworkPolicies, as the tool always wrote them."""
        return self == OutputKind()

    @property
    def staged_output(self) -> bool:
        """Whether the files enforce nothing until promoted."""
        return self.staged or self.kind == "calico-staged"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "staged": self.staged_output,
            "baseline": self.baseline,
            "external": self.external,
        }


@dataclass(frozen=True)
class RenderedFile:
    """One file of the proposal: where it goes under the output directory, the object,
    and the IR it states (None for the cluster-scoped baseline, which stands for the
    default-denies it replaces)."""

    path: Path
    obj: dict[str, Any]
    ir: PolicyIR | None

    @property
    def key(self) -> tuple[str, str]:
        """(namespace, name); a cluster-scoped object's namespace is ""."""
        meta = self.obj.get("metadata") or {}
        return (meta.get("namespace") or "", meta.get("name") or "")


def _render_one(rec: Recommendation, ir: PolicyIR, obj: dict, out: OutputKind, reserved) -> dict:
    if out.kind == "networkpolicy":
        return obj
    if out.kind == "calico-staged":
        return to_staged(obj)
    if out.kind == "calico":
        from .calico import render_calico

        return render_calico(ir, staged=out.staged)
    from .cilium import render_policy

    return render_policy(ir, reserved)


def render_files(rec: Recommendation, out: OutputKind | None = None) -> list[RenderedFile]:
    """Every file of the proposal in ``out``'s kind, in the proposal's order; with a
    baseline, the default-denies replaced by one cluster-scoped object, last."""
    out = out or OutputKind()
    reserved = None
    if out.kind == "cilium":
        from .cilium import reserved_identities

        reserved = reserved_identities(rec.connections)
    files = [
        RenderedFile(policy_path(ir), _render_one(rec, ir, obj, out, reserved), ir)
        for ir, obj in zip(rec.ir, rec.policies, strict=True)
        if not (out.baseline and ir.role == "default-deny")
    ]
    if out.baseline:
        from .baseline import render_baseline, resolver_peers

        peers = resolver_peers(rec.synthesis.resolvers, rec.selections)
        obj = render_baseline(out.baseline, rec.ir, peers)
        if obj is not None:
            name = f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
            files.append(RenderedFile(CLUSTER_DIR / name, obj, None))
    return files
