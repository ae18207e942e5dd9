"""The Colab-widget check itself: the ``course-colab`` kernel that ``make test`` runs notebooks on.

``make test`` builds ``.venv-colab`` (``make colab-env``: the packages of ``.venv`` with ipywidgets
7.7.1 in front), points ``COURSE_COLAB_PYTHON`` at its Python and runs every notebook under nbval
with ``--nbval-kernel-name=course-colab`` (``tests/conftest.py`` writes that kernel's spec). The
kernel moves every control of every explorer a cell creates and fails the cell on any error
(``colab_widgets_check.install_hooks``), so each notebook runs once for nbval and the Colab check.
These tests prove that kernel right: it runs ipywidgets 7.7.1, a working fixture notebook passes
and a broken one (its draw raises once a slider moves) fails; and ``make test`` really uses it.
Skipped, with the reason, when ``COURSE_COLAB_PYTHON`` is not set (``make colab-check`` runs the
same kernel over the explorer notebooks on its own).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from colab_widgets_check import COLAB_IPYWIDGETS, KERNEL_NAME, check, self_test_problems

FIXTURES = Path(__file__).resolve().parent / "fixtures"
COLAB_PYTHON = os.environ.get("COURSE_COLAB_PYTHON", "")

pytestmark = pytest.mark.skipif(
    not COLAB_PYTHON,
    reason="COURSE_COLAB_PYTHON is not set (make test sets it; or run make colab-check)",
)


def test_the_colab_python_has_colab_ipywidgets() -> None:
    assert os.access(COLAB_PYTHON, os.X_OK), f"{COLAB_PYTHON} is not an interpreter: make colab-env"
    version = subprocess.run(
        [COLAB_PYTHON, "-c", "import ipywidgets; print(ipywidgets.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version == COLAB_IPYWIDGETS


def test_make_test_runs_the_notebooks_on_the_colab_kernel(pytestconfig: pytest.Config) -> None:
    # make test sets both; with only COURSE_COLAB_PYTHON the notebooks would skip the Colab check.
    assert pytestconfig.getoption("nbval_kernel_name", default=None) == KERNEL_NAME


def test_the_kernel_passes_the_working_fixture_and_catches_the_broken_one() -> None:
    ok, broken = (check(FIXTURES / f"explorer_{k}.ipynb", COLAB_PYTHON) for k in ("ok", "broken"))
    problems = self_test_problems(ok, broken)
    assert not problems, "\n".join(problems)
