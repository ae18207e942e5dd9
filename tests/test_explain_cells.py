"""Every written-answer ("explain") exercise is followed by a collapsed "compare with" cell, which the
workbook keeps: after writing an answer, the learner can open a model answer and the points a good
answer must mention."""

from __future__ import annotations

import nbformat
import pytest

from course_lib import workbook

# Chapters whose notebooks belong to another change at the time of writing; remove once they have
# their compare cells.
PENDING: set[str] = set()
COMPARE = "Compare with a model answer"


def _solutions() -> list:
    return sorted(
        p for p in workbook.SOLUTIONS.glob("[0-9][0-9]_*.ipynb") if p.name[:2] not in PENDING
    )


@pytest.mark.parametrize("path", _solutions(), ids=lambda p: p.name[:2])
def test_each_explain_answer_has_a_compare_cell_kept_in_the_workbook(path) -> None:
    cells = nbformat.read(path, as_version=4).cells
    answers = [
        i
        for i, c in enumerate(cells)
        if c.cell_type == "markdown" and "<!-- BEGIN SOLUTION -->" in c.source
    ]
    exercise = {c.id: c for c in workbook.exercise_notebook(path).cells}
    for i in answers:
        nxt = cells[i + 1] if i + 1 < len(cells) else None
        assert nxt is not None and nxt.cell_type == "markdown" and COMPARE in nxt.source, (
            f"{path.name}: the answer cell {cells[i].id} needs a '{COMPARE}' cell right after it"
        )
        assert "<details>" in nxt.source and "A good answer mentions" in nxt.source, nxt.id
        assert exercise[nxt.id].source == nxt.source  # the generator keeps it unchanged
