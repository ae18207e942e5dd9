"""The static view: committed notebooks show each explorer's default figure and carry no widget state.

``make notebooks`` executes without a widget frontend and drops Output-widget capture, so an
explorer's default figure is stored as an ordinary ``image/png`` output: GitHub, nbviewer and any
reader without a kernel see it. Widget state (notebook or cell metadata ``widgets``, or a
``widget-view+json`` output) would only show "model not found" there, so none may be committed.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from colab_widgets_check import explorer_cells, explorer_notebooks

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def static_view_problems(nb: nbformat.NotebookNode) -> list[str]:
    """What a reader without a kernel would miss: explorer figures, or stray widget state."""
    problems = []
    if "widgets" in nb.metadata:
        problems.append("widget state in the notebook metadata")
    for i, cell in enumerate(nb.cells):
        if "widgets" in cell.get("metadata", {}):
            problems.append(f"cell {i}: widget state in the cell metadata")
        for out in cell.get("outputs", []):
            if WIDGET_VIEW in out.get("data", {}):
                problems.append(f"cell {i}: a widget view output (shows 'model not found')")
    for i in explorer_cells(nb):
        outputs = nb.cells[i].get("outputs", [])
        if not any("image/png" in out.get("data", {}) for out in outputs):
            problems.append(f"cell {i}: no image/png output (the explorer's default figure)")
        problems += [
            f"cell {i}: error output {out.get('ename')}"
            for out in outputs
            if out.get("output_type") == "error"
        ]
    return problems


NOTEBOOKS = [p.relative_to(ROOT).as_posix() for p in explorer_notebooks(("notebooks", "solutions"))]


@pytest.mark.parametrize(
    "rel",
    NOTEBOOKS or [pytest.param(None, marks=pytest.mark.skip(reason="no explorer notebooks yet"))],
)
def test_committed_explorer_notebook_shows_default_figure(rel: str) -> None:
    problems = static_view_problems(nbformat.read(ROOT / rel, as_version=4))
    assert not problems, f"{rel} (refresh it with `make notebooks`):\n" + "\n".join(problems)


def test_checker_flags_a_notebook_without_figure_or_with_widget_state() -> None:
    """The test of the test: the fixture has no stored outputs; then add widget state to it."""
    nb = nbformat.read(FIXTURES / "explorer_ok.ipynb", as_version=4)
    (i,) = explorer_cells(nb)
    assert static_view_problems(nb) == [
        f"cell {i}: no image/png output (the explorer's default figure)"
    ]
    nb.cells[i].outputs = [
        nbformat.v4.new_output(
            "display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "x"}
        )
    ]
    assert static_view_problems(nb) == []
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nb.cells[i].outputs.append(
        nbformat.v4.new_output("display_data", data={WIDGET_VIEW: {"model_id": "0"}})
    )
    assert len(static_view_problems(nb)) == 2


def test_explorer_cells_rule() -> None:
    """Top-level calls count; definitions, indented calls and comments do not."""
    cells = [
        "ex = widgets.outlier_explorer()",
        "explorer(draw, {'a': slider(1.0, 0.0, 2.0, 0.1, 'a')})",
        "def my_explorer():\n    return explorer(draw, {})",
        "# widgets.outlier_explorer()",
        "from course_lib.widgets.core import explorer, slider",
        "x = 1\nwidgets.attention_explorer(\n    scores)",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    assert explorer_cells(nb) == [0, 1, 5]
