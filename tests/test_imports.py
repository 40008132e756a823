"""Import discipline: heavy libraries load only on the paths that use them.

scikit-learn (with SciPy) costs over a second of start-up and only ``--generalize role``
uses it, so ``recommend`` in exact mode, ``verify`` and ``--help`` must never import it.
The inventory's modules (reading kubectl JSON, enriching flows: 20 ms) load only with
``--inventory``, and the process pool only for inputs large enough to pay for it.
Each case runs the real CLI in a fresh interpreter (``sys.modules`` of this test process is
shared with every other test) and reports which of the watched modules got imported.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT, SAMPLE_FLOWS, SHARED

#: Modules only an ``--inventory`` run needs.
INVENTORY = {"recommender.ingest.enrich", "recommender.ingest.inventory"}
#: The parallel reader (worker processes): never for the small sample inputs.
PARALLEL = {"recommender.ingest.parallel"}
#: Only ``--engine dask`` needs these.
DASK = ("dask", "distributed", "fsspec")
#: What only ``recommend`` uses (rendering, proving and writing a proposal, its picture and
#: window): ``verify`` must not pay for them.
PROPOSAL = {
    "recommender.generate.k8s",
    "recommender.generate.kinds",
    "recommender.generate.proof",
    "recommender.generate.synthesis",
    "recommender.graph.svg",
    "recommender.report",
    "recommender.window",
}
#: What only ``verify`` (its report), ``explain`` or ``--existing`` use.
NOT_IN_PROPOSAL = {"recommender.explain", "recommender.existing", "recommender.verify_report"}

WATCHED = (
    "sklearn",
    "yaml",
    "scipy",
    "pandas",
    "pyarrow",
    *DASK,
    *sorted(INVENTORY),
    *sorted(PARALLEL),
    *sorted(PROPOSAL),
    *sorted(NOT_IN_PROPOSAL),
)

_RUN = f"""
import json, sys
from recommender.cli import main
try:
    main(sys.argv[1:], prog_name="netpol-recommender")
except SystemExit as exc:
    code = exc.code
print(json.dumps({{"exit": code, "loaded": [m for m in {WATCHED!r} if m in sys.modules]}}))
"""


def _loaded(*args: str) -> tuple[int, set[str]]:
    """Run the CLI with ``args`` in a fresh interpreter: (exit code, watched modules loaded)."""
    done = subprocess.run(
        [sys.executable, "-c", _RUN, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return report["exit"], set(report["loaded"])


@pytest.fixture(scope="module")
def proposal(tmp_path_factory):
    out = tmp_path_factory.mktemp("proposal")
    code, loaded = _loaded("recommend", str(SAMPLE_FLOWS), "-o", str(out))
    assert code == 0
    return out, loaded


def test_help_loads_no_data_library():
    code, loaded = _loaded("--help")
    assert code == 0 and loaded == set()


def test_recommend_exact_does_not_import_scikit_learn(proposal):
    _, loaded = proposal
    assert "pandas" in loaded  # the run really went through the pipeline
    assert not loaded & {"sklearn", "scipy"}
    assert not loaded & {"dask", "distributed", "fsspec"}  # only --engine dask needs them


def test_recommend_without_inventory_loads_neither_inventory_nor_pool(proposal):
    _, loaded = proposal
    assert "pandas" in loaded and not loaded & (INVENTORY | PARALLEL)


def test_recommend_with_inventory_does_load_its_modules(tmp_path):
    """The watch is real: ``--inventory`` loads the modules the other runs must not."""
    inventory = SHARED / "real-flows" / "k8s-inventory" / "honeycomb-pods.json"
    code, loaded = _loaded(
        "recommend",
        str(SAMPLE_FLOWS),
        "-o",
        str(tmp_path / "out"),
        "--inventory",
        str(inventory),
    )
    assert code == 0 and loaded >= INVENTORY


def test_verify_does_not_import_scikit_learn(proposal):
    out, _ = proposal
    code, loaded = _loaded("verify", "--policies", str(out / "policies"), str(SAMPLE_FLOWS))
    assert code == 0 and "pandas" in loaded
    assert not loaded & ({"sklearn", "scipy"} | INVENTORY | PARALLEL)


def test_recommend_loads_what_its_proposal_needs_and_not_verify_s_report(proposal):
    _, loaded = proposal
    assert loaded >= PROPOSAL
    assert not loaded & NOT_IN_PROPOSAL


def test_recommend_writes_its_proposal_without_pyyaml(proposal):
    """Names, labels and CIDRs are written by ``block_yaml`` alone: PyYAML (its import is
    ~10 ms of a 0.5 s start-up) loads only for text that needs its resolver."""
    _, loaded = proposal
    assert "pandas" in loaded and "yaml" not in loaded


def test_verify_loads_its_report_and_none_of_the_proposal_s_modules(proposal):
    out, _ = proposal
    code, loaded = _loaded("verify", "--policies", str(out / "policies"), str(SAMPLE_FLOWS))
    assert code == 0 and {"recommender.verify_report", "yaml"} <= loaded
    assert not loaded & (PROPOSAL | {"recommender.explain", "recommender.existing"})


def test_recommend_role_does_import_it(tmp_path):
    """The watch is real: the one path that needs scikit-learn does load it."""
    code, loaded = _loaded(
        "recommend", str(SAMPLE_FLOWS), "-o", str(tmp_path / "out"), "--generalize", "role"
    )
    assert code == 0 and "sklearn" in loaded


def test_library_import_is_lazy():
    """``import recommender`` is the version and the names; a stage loads its modules."""
    code = (
        "import sys, recommender; before = 'pandas' in sys.modules; "
        "recommender.observe; print(before, 'pandas' in sys.modules, 'sklearn' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["False", "True", "False"]
