"""Chapter 00's explorer: the broadcast rule against torch, the drawing, and every control moved."""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from explorer_moves import move_every_control  # noqa: E402

from course_lib.viz.broadcasting import broadcast_shape, plot_broadcast  # noqa: E402
from course_lib.widgets.broadcasting import SHAPES, broadcast_explorer, parse_shape  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.mark.parametrize(
    "a, b", list(itertools.product(SHAPES + ["(0,)", "(1, 0)", "(5, 1, 1, 1)"], repeat=2))
)
def test_broadcast_shape_matches_torch(a: str, b: str) -> None:
    """Every pair of shapes the explorer offers: same result as torch.broadcast_shapes, or both fail."""
    sa, sb = parse_shape(a), parse_shape(b)
    try:
        expected = tuple(torch.broadcast_shapes(sa, sb))
    except RuntimeError:
        with pytest.raises(ValueError, match="do not broadcast: dimension"):
            broadcast_shape(sa, sb)
    else:
        assert broadcast_shape(sa, sb) == expected


def test_error_names_the_dimension() -> None:
    with pytest.raises(ValueError, match=r"dimension -1 has sizes 3 and 4"):
        broadcast_shape((3,), (4,))
    with pytest.raises(ValueError, match=r"dimension -2 has sizes 3 and 2"):
        broadcast_shape((2, 3, 4), (2, 4))
    with pytest.raises(ValueError, match="sizes must be >= 0"):
        broadcast_shape((-1,), (3,))


def test_parse_shape() -> None:
    assert parse_shape("(3, 1)") == (3, 1) and parse_shape("()") == () and parse_shape("4") == (4,)
    for bad in ["(3, -1)", "shape", "(1.5,)", "[3]"]:
        with pytest.raises(ValueError, match="a shape is a tuple"):
            parse_shape(bad)


def test_drawing_shows_the_expanded_grids() -> None:
    fig = plot_broadcast((3, 1), (4,))
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["a: (3, 1) -> (3, 4)", "b: (4,) -> (3, 4)", "a + b: (3, 4)"]
    result_cells = [t.get_text() for t in fig.axes[2].texts]
    expected = (torch.arange(1, 4).reshape(3, 1) + 10 * torch.arange(1, 5)).flatten().tolist()
    assert result_cells == [str(v) for v in expected]
    fig = plot_broadcast((3,), (4,))
    assert "dimension -1 has sizes 3 and 4" in fig.axes[2].texts[0].get_text()
    fig = plot_broadcast((0,), (3, 1))  # empty result: titles, no crash
    assert "(empty)" in fig.axes[2].get_title()


def test_explorer_default_figure_and_every_control_moved() -> None:
    ex = broadcast_explorer()
    assert ex.draws == 1 and ex.values == {"a_shape": "(3, 1)", "b_shape": "(4,)"}
    pytest.importorskip("ipywidgets")
    seconds = move_every_control(ex)
    assert set(seconds) == {"a_shape", "b_shape"} and ex.draws == 3
    for shape in SHAPES:  # every option draws without error
        ex.controls["a_shape"].value = shape
