"""Explorer for chapter 00: pick two shapes, see the broadcast shape (or the error) and the grids."""

from __future__ import annotations

import ast

from ..viz.broadcasting import plot_broadcast
from .core import Explorer, dropdown, explorer

__all__ = ["SHAPES", "broadcast_explorer", "parse_shape"]

#: Shapes offered in the dropdowns: rows, columns, 1-D, 3-D, and pairs that fail.
SHAPES = [
    "(3,)",
    "(4,)",
    "(1, 4)",
    "(3, 1)",
    "(3, 4)",
    "(4, 3)",
    "(2, 3, 4)",
    "(2, 1, 4)",
    "(2, 3, 1)",
    "()",
]


def parse_shape(text: str) -> tuple[int, ...]:
    """``"(3, 1)"`` -> ``(3, 1)``; ``"()"`` -> ``()``. Raises ``ValueError`` for anything else."""
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        value = None
    if isinstance(value, int):
        value = (value,)
    if not isinstance(value, tuple) or not all(isinstance(n, int) and n >= 0 for n in value):
        raise ValueError(f"a shape is a tuple of sizes >= 0 such as (3, 1), got {text!r}")
    return value


def broadcast_explorer(a: str = "(3, 1)", b: str = "(4,)") -> Explorer:
    """Dropdowns for the shapes of ``a`` and ``b``; draws ``a + b`` broadcast, or why it fails."""

    def draw(a_shape: str, b_shape: str) -> None:
        plot_broadcast(parse_shape(a_shape), parse_shape(b_shape))

    return explorer(
        draw,
        {
            "a_shape": dropdown(SHAPES, a, "shape of a"),
            "b_shape": dropdown(SHAPES, b, "shape of b"),
        },
    )
