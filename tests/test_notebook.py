"""notebooks/explore.ipynb runs (nbclient, python3 kernel) on a store built here; it is kept without outputs."""
from __future__ import annotations

import base64
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from kg import Tsunagari  # noqa: E402

pytestmark = pytest.mark.slow      # runs the notebook in a kernel

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"
NOTEBOOK = NOTEBOOKS / "explore.ipynb"


def read() -> "nbformat.NotebookNode":
    return nbformat.read(NOTEBOOK, as_version=4)


def test_notebook_is_stored_without_outputs():
    notebook = read()
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


def test_notebook_has_one_parameter_cell():
    cells = [c for c in read().cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1 and cells[0].source.startswith('STORE = "tsunagari-store"')


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The notebook run on the bundled list built with hashing vectors (fast, no torch)."""
    store = tmp_path_factory.mktemp("notebook") / "store"
    Tsunagari.build(None, store, embed=True, model="hashing")
    notebook = read()
    for cell in notebook.cells:
        if "parameters" in cell.metadata.get("tags", []):
            cell.source = f"STORE = {str(store)!r}\nQUERIES = {str(NOTEBOOKS.parent / 'queries')!r}"
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path_factory.mktemp("cwd"))}})
    client.execute()
    return notebook


def outputs(notebook, kind: str) -> list:
    return [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if kind in o.get("data", {})]


def test_notebook_runs_without_errors(executed):
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, "\n".join(f"{e.ename}: {e.evalue}" for e in errors)
    assert all(c.execution_count for c in executed.cells if c.cell_type == "code")


def test_notebook_shows_the_map_the_network_and_tables(executed):
    images = outputs(executed, "image/png")
    assert len(images) >= 5               # block bars, map, heatmap, two networks
    sizes = [len(base64.b64decode(o["data"]["image/png"])) for o in images]
    assert all(size > 10_000 for size in sizes)
    sources = {c.source: c for c in executed.cells if c.cell_type == "code"}
    map_cell = next(c for s, c in sources.items() if s.strip() == "map_figure(kg)")
    assert any("image/png" in o.get("data", {}) for o in map_cell.outputs)
    tables = [o["data"]["text/plain"] for o in outputs(executed, "text/html")]
    assert any("block_id" in t and "kanto" in t for t in tables)          # the SPARQL query as a DataFrame
    assert any("shared_themes" in t for t in tables)                      # similar results with reasons
    assert any("family-01" in t for t in tables)                          # families of practice
    printed = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert "77 projects" in printed and "29 of 77 projects have no target-group tag" in printed
