"""The explorer pattern (course_lib.widgets.core): first figure at once, redraw on change, no widgets."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from course_lib.widgets import core  # noqa: E402


class Recorder:
    """A draw function that records the values it was called with and makes a real figure."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.figures: list[plt.Figure] = []

    def __call__(self, **values) -> None:
        self.calls.append(values)
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.set_title(repr(values))
        self.figures.append(fig)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _controls(mod: ModuleType) -> dict:
    return {
        "a": mod.slider(1.0, 0.0, 5.0, 0.5, "a"),
        "n": mod.slider(3, 1, 10, 1, "n"),
        "kind": mod.dropdown(["x", "y", "z"], "y", "kind"),
    }


def test_default_figure_is_drawn_once_with_default_values() -> None:
    draw = Recorder()
    ex = core.explorer(draw, _controls(core))
    assert draw.calls == [{"a": 1.0, "n": 3, "kind": "y"}]
    assert ex.draws == 1 and len(draw.figures) == 1
    assert ex.values == {"a": 1.0, "n": 3, "kind": "y"}


def test_drawing_leaves_every_random_generator_as_it_was() -> None:
    """An explorer that trains (chapters 04, 06) reseeds and draws; later cells must not notice."""
    import random

    import numpy as np
    import torch

    def draw(a: float, n: int, kind: str) -> plt.Figure:
        torch.manual_seed(0)
        torch.randn(3), np.random.rand(3), random.random()
        return plt.figure()

    torch.manual_seed(123), np.random.seed(123), random.seed(123)
    want = (torch.rand(2), np.random.rand(2), random.random())
    torch.manual_seed(123), np.random.seed(123), random.seed(123)
    core.explorer(draw, _controls(core))
    got = (torch.rand(2), np.random.rand(2), random.random())
    assert torch.equal(got[0], want[0]) and np.array_equal(got[1], want[1]) and got[2] == want[2]


def test_slider_kinds_and_update_on_release() -> None:
    pytest.importorskip("ipywidgets")
    controls = _controls(core)
    assert type(controls["a"]).__name__ == "FloatSlider"
    assert type(controls["n"]).__name__ == "IntSlider"
    assert type(controls["kind"]).__name__ == "Dropdown"
    assert controls["a"].continuous_update is False


def test_moving_a_control_redraws_with_the_new_value() -> None:
    pytest.importorskip("ipywidgets")
    draw = Recorder()
    ex = core.explorer(draw, _controls(core))
    ex.controls["a"].value = 2.5
    assert draw.calls[-1] == {"a": 2.5, "n": 3, "kind": "y"}
    ex.controls["kind"].value = "z"
    ex.controls["n"].value = 7
    assert draw.calls[-1] == {"a": 2.5, "n": 7, "kind": "z"}
    assert ex.draws == 4 and len(draw.calls) == 4
    ex.controls["n"].value = 7  # same value: no change event, no redraw
    assert ex.draws == 4


def test_redraw_goes_through_the_output_widget() -> None:
    pytest.importorskip("ipywidgets")
    ex = core.explorer(Recorder(), _controls(core))
    assert type(ex.output).__name__ == "Output"
    ex.redraw()
    assert ex.draws == 2


def _core_without_ipywidgets(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """A fresh copy of core.py executed while ``import ipywidgets`` fails (the real one untouched)."""
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # makes the import raise ImportError
    spec = importlib.util.spec_from_file_location("_core_no_widgets", core.__file__)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_without_ipywidgets_the_default_figure_is_still_drawn(monkeypatch, capsys) -> None:
    bare = _core_without_ipywidgets(monkeypatch)
    assert bare._w is None
    controls = _controls(bare)
    assert controls == {"a": 1.0, "n": 3, "kind": "y"}  # plain values stand in for widgets
    draw = Recorder()
    ex = bare.explorer(draw, controls)
    assert "ipywidgets is not installed" in capsys.readouterr().out
    assert draw.calls == [{"a": 1.0, "n": 3, "kind": "y"}] and ex.draws == 1
    assert ex.output is None and ex.values == {"a": 1.0, "n": 3, "kind": "y"}
    ex.controls["a"].value = 4.0  # a stand-in still holds a value, and redraw uses it
    ex.redraw()
    assert draw.calls[-1]["a"] == 4.0
