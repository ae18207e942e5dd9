"""The Colab setup cell, run against a fake ``google.colab``; and every notebook starts with it.

In Colab the cell must install only ``course_lib`` (``--no-deps``: never Colab's own torch, numpy
or ipywidgets) and turn on the custom widget manager only for ipywidgets 8 or newer (Colab ships
7.7.1, which needs none). Anywhere else it only imports ``course_lib`` and prints ``describe()``.
"""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import ipywidgets
import nbformat
import pytest

import course_lib
from course_lib import config
from course_lib.colab import PACKAGE, SETUP_CELL, badge_markdown

ROOT = Path(__file__).resolve().parent.parent
ALL_NOTEBOOKS = sorted(
    p.relative_to(ROOT).as_posix()
    for folder in ("notebooks", "solutions", "exercises")
    for p in (ROOT / folder).glob("*.ipynb")
)


class FakeColab:
    """``google.colab`` with an ``output`` module that records ``enable_custom_widget_manager``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.widget_manager_enabled = 0
        self.pip_calls: list[tuple[list[str], dict]] = []
        google = types.ModuleType("google")
        colab = types.ModuleType("google.colab")
        output = types.ModuleType("google.colab.output")
        output.enable_custom_widget_manager = self._enable
        colab.output = output
        google.colab = colab
        monkeypatch.setitem(sys.modules, "google", google)
        monkeypatch.setitem(sys.modules, "google.colab", colab)
        monkeypatch.setitem(sys.modules, "google.colab.output", output)

    def _enable(self) -> None:
        self.widget_manager_enabled += 1


def _run_setup_cell(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Execute SETUP_CELL with ``subprocess.run`` recorded; return (calls, printed, namespace)."""
    calls: list[tuple[list[str], dict]] = []

    def fake_run(args, **kwargs):
        calls.append((list(args), kwargs))
        return subprocess.CompletedProcess(args, 0)

    monkeypatch.setattr(subprocess, "run", fake_run)
    namespace: dict = {"__name__": "__main__"}
    exec(compile(SETUP_CELL, "<setup cell>", "exec"), namespace)
    return calls, capsys.readouterr().out, namespace


@pytest.mark.parametrize(
    ("version", "enables"), [("7.7.1", False), ("8.0.0", True), ("8.1.5", True), ("9.0.0", True)]
)
def test_in_colab_installs_only_course_lib_and_widget_manager_for_v8(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], version: str, enables: bool
) -> None:
    colab = FakeColab(monkeypatch)
    monkeypatch.setattr(ipywidgets, "__version__", version)
    calls, printed, namespace = _run_setup_cell(monkeypatch, capsys)

    assert len(calls) == 1, calls
    args, kwargs = calls[0]
    assert args[:4] == [sys.executable, "-m", "pip", "install"]
    assert "--no-deps" in args
    requirements = [a for a in args[4:] if not a.startswith("-")]
    assert requirements == [f"{PACKAGE} @ git+{config.REPO_URL}@{config.BRANCH}"]
    assert not kwargs.get("check")  # a failure is explained by the cell itself, see below
    assert colab.widget_manager_enabled == (1 if enables else 0)
    assert namespace["course_lib"] is course_lib
    assert course_lib.describe() in printed


def test_failed_install_stops_with_one_sentence(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    FakeColab(monkeypatch)
    monkeypatch.setattr(subprocess, "run", lambda args, **kw: subprocess.CompletedProcess(args, 1))
    with pytest.raises(SystemExit) as stop:  # IPython shows SystemExit's text, no traceback
        exec(compile(SETUP_CELL, "<setup cell>", "exec"), {"__name__": "__main__"})
    message = str(stop.value)
    assert message.startswith("Could not install course_lib from " + config.REPO_URL)
    assert "not be published" in message and "\n" not in message


def test_outside_colab_it_only_imports_and_describes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    calls, printed, namespace = _run_setup_cell(monkeypatch, capsys)
    assert calls == []
    assert printed.strip() == course_lib.describe().strip()
    assert namespace["course_lib"] is course_lib


@pytest.mark.parametrize(
    "rel", ALL_NOTEBOOKS or [pytest.param(None, marks=pytest.mark.skip(reason="no notebooks yet"))]
)
def test_notebook_starts_with_its_badge_and_the_setup_cell(rel: str) -> None:
    nb = nbformat.read(ROOT / rel, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown", f"{rel}: the first cell must be the badge (markdown)"
    badge = first.source.splitlines()[0]
    assert badge == badge_markdown(rel), f"{rel}: run `python -m course_lib.notebooks normalize`"
    assert f"({config.colab_url(rel)})" in badge
    code = next(c for c in nb.cells if c.cell_type == "code")
    assert code.source == SETUP_CELL, f"{rel}: the first code cell is not the setup cell"
