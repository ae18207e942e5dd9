"""Explorer for chapter 03: one neuron's graph, with forward values and gradients on every node."""

from __future__ import annotations

from ..autograd import Value, draw_graph
from .core import Explorer, dropdown, explorer, slider

__all__ = ["NEURON_ACTIVATIONS", "neuron_explorer", "neuron_graph"]

NEURON_ACTIVATIONS = ("tanh", "sigmoid", "relu")


def neuron_graph(
    x1: float, w1: float, x2: float, w2: float, b: float, activation: str = "tanh"
) -> tuple[Value, dict[str, Value]]:
    """``out = f(x1*w1 + x2*w2 + b)`` built from ``Value``s, after ``out.backward()``.

    Returns ``out`` and the five inputs by name (each ``.grad`` is ``d out / d input``). ``f`` is
    one of ``NEURON_ACTIVATIONS``; anything else raises ``ValueError``.
    """
    if activation not in NEURON_ACTIVATIONS:
        raise ValueError(f"activation must be one of {NEURON_ACTIVATIONS}, got {activation!r}")
    inputs = {
        name: Value(float(v), label=name)
        for name, v in (("x1", x1), ("w1", w1), ("x2", x2), ("w2", w2), ("b", b))
    }
    x1w1 = inputs["x1"] * inputs["w1"]
    x1w1.label = "x1*w1"
    x2w2 = inputs["x2"] * inputs["w2"]
    x2w2.label = "x2*w2"
    n = x1w1 + x2w2 + inputs["b"]
    n.label = "n"
    out = getattr(n, activation)()
    out.label = "out"
    out.backward()
    return out, inputs


def neuron_explorer(activation: str = "tanh") -> Explorer:
    """Sliders for ``x1, w1, x2, w2, b`` and a choice of activation; the graph redraws with its gradients."""

    def draw(x1: float, w1: float, x2: float, w2: float, b: float, activation: str) -> None:
        out, _ = neuron_graph(x1, w1, x2, w2, b, activation)
        ax = draw_graph(out)
        ax.set_title(
            f"out = {activation}(x1*w1 + x2*w2 + b) = {out.data:.4f}: "
            "each box shows data and d out / d (that box)",
            fontsize=9,
        )
        ax.figure.subplots_adjust(top=0.9)

    return explorer(
        draw,
        {
            "x1": slider(2.0, -3.0, 3.0, 0.1, "x1"),
            "w1": slider(-3.0, -3.0, 3.0, 0.1, "w1"),
            "x2": slider(0.0, -3.0, 3.0, 0.1, "x2"),
            "w2": slider(1.0, -3.0, 3.0, 0.1, "w2"),
            "b": slider(6.9, -8.0, 8.0, 0.1, "b"),
            "activation": dropdown(list(NEURON_ACTIVATIONS), activation, "activation"),
        },
    )
