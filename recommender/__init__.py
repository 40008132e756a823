"""netpol-recommender: observed flow logs in, proven least-privilege NetworkPolicies out.

The library API, in three stages (the ones the CLI runs; see docs/api.md)::

    import recommender
    obs = recommender.observe(["flows/"])          # raw logs -> Observation
    rec = recommender.propose(obs)                 # -> Recommendation (policies, proven)
    run = recommender.check(rec.policies, obs)     # existing policies -> VerifyRun

The names load on first use, so ``import recommender`` (and the CLI's ``--help``) stays
fast: pandas and pyarrow are imported only when a stage is.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .version import __version__

#: public name -> the module that defines it
_EXPORTS = {
    "normalize": "pipeline",
    "observe": "pipeline",
    "observe_flows": "pipeline",
    "propose": "pipeline",
    "check": "pipeline",
    "recommend": "pipeline",
    "verify_policies": "pipeline",
    "Normalized": "results",
    "Observation": "results",
    "Recommendation": "results",
    "VerifyRun": "results",
    "SynthesisOptions": "options",
    "StageTimes": "stage_times",
    "load_policies": "policy_files",
    "write_proposal": "proposal",
}

__all__ = [
    "Normalized",
    "Observation",
    "Recommendation",
    "StageTimes",
    "SynthesisOptions",
    "VerifyRun",
    "__version__",
    "check",
    "load_policies",
    "normalize",
    "observe",
    "observe_flows",
    "propose",
    "recommend",
    "verify_policies",
    "write_proposal",
]

if TYPE_CHECKING:
    from .options import SynthesisOptions
    from .pipeline import (
        check,
        normalize,
        observe,
        observe_flows,
        propose,
        recommend,
        verify_policies,
    )
    from .policy_files import load_policies
    from .proposal import write_proposal
    from .results import Normalized, Observation, Recommendation, VerifyRun
    from .stage_times import StageTimes


def __getattr__(name: str) -> Any:
    """Load an exported name's module on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'recommender' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
