"""Shared fixtures: every device test runs on the CPU, and on CUDA / MPS when present.

Also the order ``make test`` hands files to the workers in (``pytest_collection_modifyitems``), the
``--slowest-files=N`` summary ``make test`` prints (the seconds spent in each test file or notebook,
setup, call and teardown of all its items summed, slowest first: nbval makes one item per notebook
cell, so ``--durations`` alone lists cells, not notebooks), and the ``course-colab`` kernel that
``--nbval-kernel-name=course-colab`` runs the notebooks on (``pytest_configure``; see
``tests/colab_widgets_check.py``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Callable

import pytest
import torch
from colab_widgets_check import KERNEL_NAME, write_kernel_spec

from course_lib.checks._core import FAIL, PASS, TODO

DEVICES = ["cpu"]
if torch.cuda.is_available():
    DEVICES.append("cuda")
if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
    DEVICES.append("mps")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--slowest-files",
        type=int,
        default=0,
        metavar="N",
        help="after the run, list the N test files / notebooks that took longest (0: none)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """For ``--nbval-kernel-name=course-colab``: write that kernel's spec and put it on JUPYTER_PATH.

    Its Python is ``$COURSE_COLAB_PYTHON`` (``.venv-colab``'s, which ``make test`` sets). Each
    process (xdist worker) writes its own, removed at the end.
    """
    if config.getoption("nbval_kernel_name", default=None) != KERNEL_NAME:
        return
    python = os.environ.get("COURSE_COLAB_PYTHON", "")
    if not os.access(python, os.X_OK):
        raise pytest.UsageError(
            f"--nbval-kernel-name={KERNEL_NAME} runs the notebooks with Colab's ipywidgets and "
            f"needs COURSE_COLAB_PYTHON set to .venv-colab/bin/python (now {python!r}): run "
            "make colab-env, or use make test, which sets both"
        )
    folder = tempfile.mkdtemp(prefix="course-colab-kernel-")
    write_kernel_spec(folder, python)
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        filter(None, [folder, os.environ.get("JUPYTER_PATH")])
    )
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


#: The longest units of ``make test`` (one xdist work unit per file), handed out first so that no
#: worker is left alone with one of them at the end; notebooks come next, unit tests last.
FIRST_FILES = ("tests/test_browser_widgets.py",)


def _schedule_rank(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    return 0 if path in FIRST_FILES else 1 if path.endswith(".ipynb") else 2


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest units first (with ``--no-loadscope-reorder`` xdist hands files out in this order)."""
    items.sort(key=_schedule_rank)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """Print the ``--slowest-files`` table: seconds per file, summed over its items."""
    n = config.getoption("slowest_files")
    if not n:
        return
    seconds: defaultdict[str, float] = defaultdict(float)
    for reports in terminalreporter.stats.values():
        for report in reports:
            if isinstance(report, pytest.TestReport):
                seconds[report.nodeid.split("::", 1)[0]] += report.duration
    if not seconds:
        return
    slowest = sorted(seconds.items(), key=lambda kv: -kv[1])[:n]
    total = sum(seconds.values())
    terminalreporter.write_sep(
        "=", f"slowest {len(slowest)} files (of {len(seconds)}: {total:.0f} s)"
    )
    for path, s in slowest:
        terminalreporter.write_line(f"{s:7.1f} s  {path}")


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> torch.device:
    """Each available device in turn: ``def test_x(device): ...`` runs once per device."""
    return torch.device(request.param)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def raise_not_implemented(*args: object, **kwargs: object) -> None:
    """The exercise stub as a learner first sees it: every checker must call this 'not done yet'."""
    raise NotImplementedError


class CheckerProbe:
    """Runs a workbook checker and asserts on the one line it prints (``checker_line`` fixture).

    ``passes`` / ``fails`` / ``not_done`` call ``check(*args)`` and assert on both the returned
    result and the printed line; ``line`` reads the line a checker already printed.
    """

    stub = staticmethod(raise_not_implemented)

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys

    def line(self) -> str:
        """The one line printed since the last read: exactly one, newline-ended, no traceback."""
        out = self._capsys.readouterr().out
        assert "Traceback" not in out, out
        assert out.count("\n") == 1 and out.endswith("\n"), out
        return out.rstrip("\n")

    def passes(self, check: Callable[..., object], *args: object) -> str:
        """``check(*args)`` is truthy and its line starts with PASS."""
        result = check(*args)
        line = self.line()
        assert result and line.startswith(PASS), line
        return line

    def fails(
        self,
        check: Callable[..., object],
        *args: object,
        needles: tuple[str, ...] = (),
        hint: bool = True,
    ) -> str:
        """``check(*args)`` is falsy, its line starts with FAIL, has a 'Hint:' and every needle."""
        result = check(*args)
        line = self.line()
        assert not result and line.startswith(FAIL), line
        if hint:
            assert "Hint:" in line, line
        for needle in needles:
            assert needle in line, (needle, line)
        return line

    def not_done(self, check: Callable[..., object], *args: object) -> str:
        """``check`` given the stub (or ``*args``) is falsy and says 'not done yet'."""
        result = check(*(args or (raise_not_implemented,)))
        line = self.line()
        assert not result and line.startswith(TODO) and "not done yet" in line, line
        return line


@pytest.fixture
def checker_line(capsys: pytest.CaptureFixture[str]) -> CheckerProbe:
    """``def test_x(checker_line): checker_line.fails(checks.ex01_mse, f, needles=("SUM",))``."""
    return CheckerProbe(capsys)
