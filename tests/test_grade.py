"""``workbook grade``: made-up submissions of workbook 00 graded into the expected gradebook.

The submissions cover what an instructor meets: a correct one, a partly correct one, a Python
syntax error, an infinite loop, a kernel that dies, a deleted checker cell, a workbook of another
chapter and a file that is not a notebook. Each runs in its own kernel (two at a time, a short
cell time limit); none stops the run, and no submission file is changed.
"""

from __future__ import annotations

import csv
from pathlib import Path

import nbformat
import pytest

from course_lib import grade, workbook

SOLUTION = workbook.SOLUTIONS / "00_setup_and_tensors.ipynb"
CHECKERS = ["ex00_broadcast_shape", "ex00_pairwise_sq_dists", "ex00_normalize_rows", "ex00_one_hot"]
EXPLAIN = "Exercise 5 · Explain"


def _filled() -> nbformat.NotebookNode:
    return workbook.solved_copy(SOLUTION)


def _replace(nb: nbformat.NotebookNode, starts: str, source: str) -> nbformat.NotebookNode:
    cell = next(c for c in nb.cells if c.source.startswith(starts))
    cell.source = source
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict], dict[Path, bytes]]:
    folder = tmp_path_factory.mktemp("submissions")
    # Four kernels in all (each costs seconds): some submissions combine two kinds of trouble.
    subs = {
        "alice": _filled(),
        "bob": _replace(  # partly correct, and a checker cell deleted
            _replace(
                _filled(), "def normalize_rows", "def normalize_rows(x):\n    return x / x.sum(1)"
            ),
            "checks.ex00_one_hot",
            "# I removed the check",
        ),
        "carol": _replace(  # a syntax error, then the kernel dies
            _replace(_filled(), "def pairwise_sq_dists", "def pairwise_sq_dists(a, b)\n    pass"),
            "def one_hot",
            "import os\nos._exit(1)",
        ),
        # an endless loop that sleeps: the same time-out, without 15 s of busy CPU in make test
        "dave": _replace(
            _filled(), "def one_hot", "import time\nwhile True:\n    time.sleep(0.05)"
        ),
    }
    for learner, nb in subs.items():
        (folder / learner).mkdir()
        nbformat.write(nb, folder / learner / "00_setup_and_tensors.ipynb")
    other = nbformat.read(workbook.EXERCISES / "01_loss_functions.ipynb", as_version=4)
    nbformat.write(other, folder / "frank.ipynb")
    (folder / "gina.ipynb").write_text("{ this is not json", encoding="utf-8")
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    out = tmp_path_factory.mktemp("out") / "grades.csv"
    assert grade.grade_folder(folder, out, 0, cell_timeout=15, jobs=2) == 0
    with open(out, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return out, rows, before


def _outcomes(rows: list[dict], learner: str) -> dict[str, str]:
    return {r["exercise"]: r["outcome"] for r in rows if r["learner"] == learner}


def test_the_gradebook_has_the_expected_outcomes(graded) -> None:
    _, rows, _ = graded
    solved = dict.fromkeys(CHECKERS, "solved")
    expected = {
        "alice": {**solved, EXPLAIN: "to read"},
        "bob": {
            **solved,
            "ex00_normalize_rows": "attempted",
            "ex00_one_hot": "checker cell deleted",
            EXPLAIN: "to read",
        },
        "carol": {
            **solved,
            "(notebook)": "kernel died",
            "ex00_pairwise_sq_dists": "error",
            "ex00_one_hot": "not run",
            EXPLAIN: "to read",
        },
        "dave": {**solved, "(notebook)": "timed out", "ex00_one_hot": "error", EXPLAIN: "to read"},
        "frank": {"(notebook)": "wrong workbook"},
        "gina": {"(notebook)": "unreadable"},
    }
    assert {learner: _outcomes(rows, learner) for learner in expected} == expected
    notebook_rows = [r["learner"] for r in rows if r["exercise"] == "(notebook)"]
    assert notebook_rows == ["carol", "dave", "frank", "gina"]


def test_details_say_why(graded) -> None:
    _, rows, _ = graded
    detail = {(r["learner"], r["exercise"]): r["detail"] for r in rows}
    assert "Hint:" in detail["bob", "ex00_normalize_rows"]
    assert "SyntaxError" in detail["carol", "ex00_pairwise_sq_dists"]
    assert "ran over 15 s" in detail["dave", "(notebook)"]
    assert detail["dave", "ex00_one_hot"].startswith("the checker cell raised NameError")
    assert "an earlier cell ran over 15 s" in detail["dave", "ex00_one_hot"]
    assert "workbook 01" in detail["frank", "(notebook)"]
    assert "keepdim" in detail["alice", EXPLAIN]  # the learner's own text, to read
    assert detail["alice", "ex00_one_hot"] == ""


def test_summary_and_submissions_untouched(graded) -> None:
    out, _, before = graded
    assert all(p.read_bytes() == data for p, data in before.items())
    with open(out.with_name("grades_summary.csv"), encoding="utf-8", newline="") as f:
        summary = {r["learner"]: r for r in csv.DictReader(f)}
    assert (summary["alice"]["solved"], summary["alice"]["exercises"]) == ("4", "4")
    assert summary["bob"]["attempted"] == "1" and summary["alice"]["to read"] == "1"
    assert summary["gina"]["problem"].startswith("unreadable")
