"""Helper for the explorer tests: move every control of an explorer, as a learner (or the
ipywidgets 7.7.1 kernel of ``colab_widgets_check.py``) would, and record what each move drew."""

from __future__ import annotations

import time

import matplotlib.pyplot as plt
from colab_widgets_check import other_move  # the same move the Colab kernel makes


def move_every_control(ex) -> dict[str, float]:
    """Move each control once (another option, or a slider to its far end); return seconds per move.

    Asserts that every move redraws exactly once and that the new figure differs from the one
    before (its texts and drawn data change). Controls with no range (text boxes) are skipped.
    """
    seconds = {}
    for name, widget in ex.controls.items():
        move = other_move(widget)
        if move is None:
            continue
        before_draws, before = ex.draws, _fingerprint()
        start = time.perf_counter()
        setattr(widget, *move)
        seconds[name] = time.perf_counter() - start
        assert ex.draws == before_draws + 1, f"moving {name!r} did not redraw"
        assert _fingerprint() != before, f"moving {name!r} left the figure unchanged"
    return seconds


def _fingerprint() -> str:
    """The texts and data of the newest figure (what a learner would see change)."""
    if not plt.get_fignums():
        return ""
    fig = plt.figure(plt.get_fignums()[-1])
    parts = []
    for ax in fig.axes:
        parts.append(ax.get_title())
        parts += [t.get_text() for t in ax.texts]
        parts += [repr(line.get_xydata().tolist()) for line in ax.lines]
        parts += [repr(im.get_array().tolist()) for im in ax.images]
        parts += [
            repr(c.get_offsets().tolist()) for c in ax.collections if hasattr(c, "get_offsets")
        ]
        parts += [str(p.get_height()) for p in ax.patches if hasattr(p, "get_height")]
    return "\n".join(parts)
