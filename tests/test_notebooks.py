"""The notebooks run top to bottom in a real Jupyter kernel (nbclient), on the sample, and
draw their figures: what a reader opening them gets, checked by what they print and show."""

from __future__ import annotations

import json

import nbformat
import pytest
from conftest import ROOT
from nbclient import NotebookClient

NOTEBOOK_DIR = ROOT / "notebooks"

#: notebook -> what its outputs must show: text any output contains, and how many figures
#: (a PNG per matplotlib figure, an SVG per service graph) it draws at least.
EXPECTED = {
    "api-tour.ipynb": {"text": ["coverage 100.00%"], "png": 0, "svg": 0},
    "explore-flows.ipynb": {
        "text": [
            "api.payments.example.com",
            "fraud-check.example.net",
            "periodic: shop/report every 3 h",
            "bursts",
        ],
        "png": 4,
        "svg": 0,
    },
    "review-proposal.ipynb": {
        "text": ["coverage 100.00%", "role breadth_budget", "YAML lines"],
        "png": 2,
        "svg": 1,
    },
    "check-existing.ipynb": {
        "text": ["would be DENIED", "shop/legacy-from-frontend ingress[0]", "every_address"],
        "png": 2,
        "svg": 0,
    },
}


def test_every_notebook_is_checked():
    assert sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb")) == sorted(EXPECTED)


def _run(name: str, tmp_path) -> nbformat.NotebookNode:
    book = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    client = NotebookClient(
        book,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    nbformat.write(book, tmp_path / name)
    return book


def _outputs(book: nbformat.NotebookNode) -> list[dict]:
    return [o for c in book.cells if c.cell_type == "code" for o in c.outputs]


def _text(output: dict) -> str:
    if output.get("output_type") == "stream":
        return output.get("text", "")
    data = output.get("data", {})
    return data.get("text/plain", "") + data.get("text/html", "")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_runs_and_shows_its_figures(name, tmp_path):
    book = _run(name, tmp_path)
    outputs = _outputs(book)
    assert not [o for o in outputs if o.get("output_type") == "error"]
    shown = "\n".join(_text(o) for o in outputs)
    for needle in EXPECTED[name]["text"]:
        assert needle in shown, f"{name} does not show {needle!r}"
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    svgs = [o for o in outputs if "image/svg+xml" in o.get("data", {})]
    assert len(pngs) >= EXPECTED[name]["png"]
    assert len(svgs) >= EXPECTED[name]["svg"]
    for figure in pngs:
        assert len(figure["data"]["image/png"]) > 1000  # a drawn figure, not an empty canvas
    # Every matplotlib figure a cell makes is shown by that cell.
    for cell in book.cells:
        if cell.cell_type == "code" and "plt.show()" in cell.source:
            assert any("image/png" in o.get("data", {}) for o in cell.outputs), cell.id


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebooks_are_committed_without_outputs(name):
    """Outputs come from running them (here and in CI), never from a stale commit."""
    cells = json.loads((NOTEBOOK_DIR / name).read_text())["cells"]
    assert all(not c.get("outputs") for c in cells if c["cell_type"] == "code")
