"""Diagrams of chapter ideas: each draws without error, returns a Figure and shows its key labels.

Pictures cannot be compared with a reference; what we can check is that every diagram renders, that
its labels use the course's names and shapes (the same as the code it depicts), and that the
numbers it shows come from the library (the im2col columns, the graph's gradients).
"""

from __future__ import annotations

from collections import Counter

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.text import Annotation  # noqa: E402

from course_lib import conv  # noqa: E402
from course_lib.autograd import Value, draw_graph, topological_order  # noqa: E402
from course_lib.viz import diagrams  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _texts(fig: Figure) -> str:
    """Every visible string of the figure (labels, titles, legend entries), joined by newlines."""
    return "\n".join(t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text())


# (function, strings that must appear in the figure)
EXPECTED = {
    "computation_graph_diagram": [
        "a | data 2",
        "grad -3",
        "b | data -3",
        "grad 2",
        "d | data 4",
        "backward pass",
    ],
    "linear_layer_diagram": [
        "x",
        "W.T",
        "out",
        "dout",
        "dx",
        "dW",
        "db",
        "(N, d_in)",
        "(d_out, d_in)",
        "sum(0)",
    ],
    "im2col_diagram": ["im2col", "cols", "weight.reshape(C_out, -1)", "(C_in*kh*kw, H_out*W_out)"],
    "multi_head_attention_diagram": [
        "Q\n(B, T, D)",
        "K\n(B, H, T, hs)",
        "V\n(B, H, T, hs)",
        "qkv\nLinear(D, 3D)",
        "proj\nLinear(D, D)",
        "softmax",
    ],
    "gpt_block_diagram": [
        "wte (V, C)",
        "wpe (T, C)",
        "ln_1",
        "ln_2",
        "attn",
        "mlp",
        "ln_f",
        "lm_head.weight",
        "residual stream",
        "(B, T, V)",
    ],
    "encoder_decoder_diagram": [
        "self-attention",
        "causal self-attention",
        "cross-attention",
        "source padding",
        "(B, 1, T, T)",
        "(B, 1, 1, S)",
        "tgt[:, :-1]",
        "tgt[:, 1:]",
        "K, V",
        "memory",
    ],
    "data_parallel_diagram": ["rank 0", "rank 2", "shard 1", "all-reduce", "g_0 + g_1 + g_2"],
}


def test_every_public_diagram_is_tested():
    assert sorted(EXPECTED) == sorted(diagrams.__all__)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_diagram_draws_with_its_labels(name):
    fig = getattr(diagrams, name)()
    assert isinstance(fig, Figure)
    fig.canvas.draw()  # lays out every artist: fails if anything cannot be rendered
    text = _texts(fig)
    missing = [s for s in EXPECTED[name] if s not in text]
    assert not missing, f"{name} lacks {missing}"


def test_computation_graph_backward_arrows_double_the_edges():
    x = Value(3.0, label="x")
    y = x * x + x  # x is used three times: three edges into the ops, plus one edge per op node
    y.backward()
    n_edges = sum(len(v._prev) + 1 for v in topological_order(y) if v._prev)
    forward = draw_graph(y)
    assert sum(isinstance(t, Annotation) for t in forward.texts) == n_edges
    both = draw_graph(y, backward=True)
    assert sum(isinstance(t, Annotation) for t in both.texts) == 2 * n_edges
    fig = diagrams.computation_graph_diagram(y)
    assert "grad 7" in _texts(fig)  # 2x + 1 at x = 3, summed over the three uses


def test_im2col_diagram_shows_the_library_columns():
    fig = diagrams.im2col_diagram(height=4, width=5, kernel=3)
    pixels = torch.arange(20.0).view(1, 1, 4, 5)
    cols = conv.im2col(pixels, 3)[0].long()  # (9, 6): pixel indices of each receptive field
    numbers = [t.get_text() for t in fig.axes[0].texts if t.get_text().isdigit()]
    # the image shows 0..19 once each, the columns show every entry of cols
    expected = Counter(str(i) for i in range(20)) + Counter(str(v) for v in cols.flatten().tolist())
    assert Counter(numbers) == expected


def test_linear_layer_diagram_uses_the_layer_shapes():
    fig = diagrams.linear_layer_diagram(n=5, d_in=4, d_out=3)
    assert "Linear(4, 3) on a batch of N=5" in _texts(fig)


def test_data_parallel_diagram_rejects_no_workers():
    with pytest.raises(ValueError, match="n_workers must be at least 1, got 0"):
        diagrams.data_parallel_diagram(0)
    assert "rank 5" in _texts(diagrams.data_parallel_diagram(6))
