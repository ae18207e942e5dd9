"""The explorer pattern: controls plus a figure that is redrawn whenever a control moves.

Uses only the ipywidgets API that 7.7 (Colab) and 8 (JupyterLab 4) share: ``FloatSlider``,
``IntSlider``, ``Dropdown``, ``Output``, ``HBox``/``VBox``, ``observe``. The default figure is drawn
right away, so a notebook executed without a widget frontend (nbval, nbconvert, a static view on
the web) still shows it; without ipywidgets at all the explorer draws that figure and says why the
controls are missing.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import clear_output, display

try:
    import ipywidgets as _w
except ImportError:  # pragma: no cover - exercised in a test by hiding the module
    _w = None


class Explorer:
    """Handle on a displayed explorer: ``controls`` by name, ``redraw()``; shows nothing itself."""

    def __init__(self, draw: Callable[..., Any], controls: dict[str, Any], output: Any) -> None:
        self.draw, self.controls, self.output = draw, controls, output
        self.draws = 0

    @property
    def values(self) -> dict[str, Any]:
        return {name: w.value for name, w in self.controls.items()}

    def redraw(self, change: Any = None) -> None:
        """Draw the figure for the current control values (into the explorer's output area).

        The random generators (Python, NumPy, PyTorch) are put back afterwards: moving a slider,
        or the explorer's first draw, never changes what the notebook's later cells compute.
        """
        py_state, np_state = random.getstate(), np.random.get_state()
        try:
            with torch.random.fork_rng(devices=[]):
                if self.output is None:
                    self.draw(**self.values)
                    plt.show()
                else:
                    with self.output:
                        if change is not None:  # first draw: nothing to clear, maybe no frontend
                            clear_output(wait=True)
                        self.draw(**self.values)
                        plt.show()
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)
        self.draws += 1

    def _ipython_display_(self) -> None:  # already displayed by explorer()
        pass


class _Static:
    """Stand-in for a control when ipywidgets is missing: only holds its value."""

    def __init__(self, value: Any) -> None:
        self.value = value


def explorer(draw: Callable[..., Any], controls: dict[str, Any], columns: int = 3) -> Explorer:
    """Display ``controls`` (name -> widget) and the figure ``draw(**values)`` makes; redraw on change.

    ``draw`` makes a matplotlib figure (it need not show it). Returns an ``Explorer`` handle.
    """
    if _w is None:
        print("(ipywidgets is not installed: showing the default figure without controls)")
        ex = Explorer(draw, {k: _Static(v) for k, v in controls.items()}, None)
        ex.redraw()
        return ex
    output = _w.Output()
    ex = Explorer(draw, controls, output)
    for widget in controls.values():
        widget.observe(ex.redraw, names="value")
    items = list(controls.values())
    rows = [_w.HBox(items[i : i + columns]) for i in range(0, len(items), columns)]
    display(_w.VBox([*rows, output]))
    ex.redraw()
    return ex


def slider(value: float, lo: float, hi: float, step: float, description: str) -> Any:
    """A ``FloatSlider`` (or ``IntSlider`` for int arguments) that updates on release."""
    if _w is None:
        return value
    common = dict(
        value=value,
        min=lo,
        max=hi,
        step=step,
        description=description,
        continuous_update=False,
        style={"description_width": "initial"},
    )
    if all(isinstance(v, int) for v in (value, lo, hi, step)):
        return _w.IntSlider(**common)
    text = f"{step:g}"
    decimals = len(text.split(".")[1]) if "." in text else 0
    return _w.FloatSlider(readout_format=f".{decimals}f", **common)  # 0.999 must not read 1.00


def dropdown(options: list[Any], value: Any, description: str) -> Any:
    """A ``Dropdown`` over ``options`` starting at ``value``."""
    if _w is None:
        return value
    return _w.Dropdown(
        options=options,
        value=value,
        description=description,
        style={"description_width": "initial"},
    )
