"""Text split into tokens, drawn as coloured boxes (chapter 13)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

__all__ = ["show_tokens"]

_VISIBLE = {" ": "\u2423", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _visible(token: str) -> str:
    return "".join(_VISIBLE.get(ch, ch) for ch in token)


def show_tokens(
    tokens: Sequence[str], width: int = 64, ax: Axes | None = None, title: str | None = None
) -> Axes:
    """Draw ``tokens`` (strings, in order) as alternately coloured boxes, ``width`` cells a line.

    Spaces show as ``␣`` and newlines as ``\\n`` (a newline also ends the line), so where a token
    starts and ends is visible; a character split across tokens shows as ``�`` in each part.
    Returns the axes.
    """
    if isinstance(tokens, str):
        raise TypeError("show_tokens takes a list of token strings, got one str: split it first")
    if width < 8:
        raise ValueError(f"width must be at least 8 cells, got {width}")
    colors = plt.get_cmap("Pastel1").colors + plt.get_cmap("Pastel2").colors
    placed: list[tuple[int, int, str, int]] = []  # (x, line, text, colour)
    x = line = 0
    for k, tok in enumerate(tokens):
        shown = _visible(tok)[:width]
        if x and x + len(shown) > width:
            x, line = 0, line + 1
        placed.append((x, line, shown, k % 7))
        x += len(shown)
        if tok.endswith("\n"):
            x, line = 0, line + 1
    n_lines = max(line + (1 if x else 0), 1)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.45 * n_lines + 0.6))
    for x, line, shown, c in placed:
        ax.add_patch(Rectangle((x, -line - 0.9), len(shown), 0.8, color=colors[c], lw=0))
        ax.text(x, -line - 0.5, shown, family="monospace", fontsize=13, va="center")
    ax.set_xlim(0, width)
    ax.set_ylim(-n_lines - 0.1, 0.1)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10, loc="left")
    return ax
