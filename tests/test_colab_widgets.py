"""Every explorer notebook under Colab's ipywidgets (7.7.1), as pytest tests beside the others.

``make test`` builds ``.venv-colab`` (``make colab-env``: the packages of ``.venv`` with ipywidgets
7.7.1 in front) and points ``COURSE_COLAB_PYTHON`` at its Python. Each explorer notebook is then one
test: ``colab_widgets_check.check`` executes it with a kernel of that Python, moves every control of
every explorer, and fails on any error output or if the kernel's ipywidgets is not 7.7.1. The two
fixture notebooks test the check itself. Skipped, with the reason, when ``COURSE_COLAB_PYTHON`` is
not set (``make colab-check`` runs the same check on its own).

The checks of the module's selected tests are handed, in test order, to a pool of
``$COURSE_COLAB_JOBS`` processes (default 2) when the first one starts: the next notebook's kernel
starts and runs while the test of the current one waits for its result (``Checks``).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import pytest
from colab_widgets_check import check, explorer_notebooks, self_test_problems

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SELF_TEST = [FIXTURES / f"explorer_{k}.ipynb" for k in ("ok", "broken")]
COLAB_PYTHON = os.environ.get("COURSE_COLAB_PYTHON", "")
JOBS = max(1, int(os.environ.get("COURSE_COLAB_JOBS", "2")))

pytestmark = pytest.mark.skipif(
    not COLAB_PYTHON,
    reason="COURSE_COLAB_PYTHON is not set (make test sets it; or run make colab-check)",
)


class Checks:
    """``check(path, python=COLAB_PYTHON)`` of each path, run ahead in a pool, in ``order``."""

    def __init__(self, order: list[Path], jobs: int = JOBS) -> None:
        # spawn: a clean interpreter per worker, not a fork of this one (torch, threads, ...).
        self.pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"))
        self.futures: dict[Path, Future] = {}
        for path in order:
            self._submit(path)

    def _submit(self, path: Path) -> Future:
        if path not in self.futures:
            self.futures[path] = self.pool.submit(check, path, python=COLAB_PYTHON)
        return self.futures[path]

    def problems(self, path: Path) -> list[str]:
        return self._submit(path).result()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _selected_paths(session: pytest.Session) -> list[Path]:
    """The notebooks the selected tests of this module will check, in the order they will."""
    paths: list[Path] = []
    for item in session.items:
        if getattr(item, "module", None) is not sys.modules[__name__]:
            continue
        if hasattr(item, "callspec") and item.callspec.params.get("path"):
            paths.append(item.callspec.params["path"])
        elif (
            item.originalname
            == test_the_check_passes_the_working_fixture_and_catches_the_broken_one.__name__
        ):
            paths += SELF_TEST
    return paths


@pytest.fixture(scope="module")
def checks(request: pytest.FixtureRequest) -> Iterator[Checks]:
    if not os.access(COLAB_PYTHON, os.X_OK):
        pytest.fail(f"COURSE_COLAB_PYTHON={COLAB_PYTHON} is not an interpreter: run make colab-env")
    runner = Checks(_selected_paths(request.session))
    try:
        yield runner
    finally:
        runner.close()


@pytest.mark.parametrize(
    "path",
    explorer_notebooks()
    or [pytest.param(None, marks=pytest.mark.skip(reason="no explorer notebooks yet"))],
    ids=lambda p: p.relative_to(ROOT).as_posix() if p else "none",
)
def test_explorer_notebook_under_colab_ipywidgets(checks: Checks, path: Path) -> None:
    problems = checks.problems(path)
    assert not problems, "\n".join(problems)


def test_the_check_passes_the_working_fixture_and_catches_the_broken_one(checks: Checks) -> None:
    ok, broken = (checks.problems(path) for path in SELF_TEST)
    problems = self_test_problems(ok, broken)
    assert not problems, "\n".join(problems)
