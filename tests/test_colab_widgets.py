"""Every explorer notebook under Colab's ipywidgets (7.7.1), as pytest tests beside the others.

``make test`` builds ``.venv-colab`` (``make colab-env``: the packages of ``.venv`` with ipywidgets
7.7.1 in front) and points ``COURSE_COLAB_PYTHON`` at its Python. Each explorer notebook is then one
test: ``colab_widgets_check.check`` executes it with a kernel of that Python, moves every control of
every explorer, and fails on any error output or if the kernel's ipywidgets is not 7.7.1. The two
fixture notebooks test the check itself. Skipped, with the reason, when ``COURSE_COLAB_PYTHON`` is
not set (``make colab-check`` runs the same check on its own).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from colab_widgets_check import check, explorer_notebooks, self_test_problems

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
COLAB_PYTHON = os.environ.get("COURSE_COLAB_PYTHON", "")

pytestmark = pytest.mark.skipif(
    not COLAB_PYTHON,
    reason="COURSE_COLAB_PYTHON is not set (make test sets it; or run make colab-check)",
)


def _check(path: Path) -> list[str]:
    if not os.access(COLAB_PYTHON, os.X_OK):
        pytest.fail(f"COURSE_COLAB_PYTHON={COLAB_PYTHON} is not an interpreter: run make colab-env")
    return check(path, python=COLAB_PYTHON)


@pytest.mark.parametrize(
    "path",
    explorer_notebooks()
    or [pytest.param(None, marks=pytest.mark.skip(reason="no explorer notebooks yet"))],
    ids=lambda p: p.relative_to(ROOT).as_posix() if p else "none",
)
def test_explorer_notebook_under_colab_ipywidgets(path: Path) -> None:
    problems = _check(path)
    assert not problems, "\n".join(problems)


def test_the_check_passes_the_working_fixture_and_catches_the_broken_one() -> None:
    ok, broken = (_check(FIXTURES / f"explorer_{k}.ipynb") for k in ("ok", "broken"))
    problems = self_test_problems(ok, broken)
    assert not problems, "\n".join(problems)
