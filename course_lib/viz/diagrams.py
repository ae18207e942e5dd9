"""Diagrams of the course's main ideas, drawn with matplotlib boxes and arrows (no image files).

One function per idea, each returning its ``Figure`` (labels in the course's names and shapes):

- ``computation_graph_diagram`` (03): forward values, and gradients flowing back;
- ``linear_layer_diagram`` (04): the shapes in ``Linear``'s forward and backward pass;
- ``im2col_diagram`` (07): receptive fields unrolled into columns, the convolution as one product;
- ``multi_head_attention_diagram`` (09): Q/K/V projections, split into heads, attention, merge;
- ``gpt_block_diagram`` (10): the residual stream, pre-LN blocks, tied embedding and output layer;
- ``encoder_decoder_diagram`` (11): encoder, decoder, shifted targets and the three masks;
- ``data_parallel_diagram`` (12): shards, model copies, all-reduce of gradients, identical steps.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch, Rectangle

from .. import conv
from ..autograd import Value, draw_graph

__all__ = [
    "computation_graph_diagram",
    "data_parallel_diagram",
    "encoder_decoder_diagram",
    "gpt_block_diagram",
    "im2col_diagram",
    "linear_layer_diagram",
    "multi_head_attention_diagram",
]

FORWARD = "#555555"  # arrows of the forward pass
BACKWARD = "#c0392b"  # arrows of the backward pass (gradients)
COLORS = {  # fill, edge
    "data": ("#eef3fb", "#3b6ea5"),
    "param": ("#fff4d6", "#b8860b"),
    "op": ("#e8f5e9", "#2e7d32"),
    "grad": ("#fdecea", BACKWARD),
    "norm": ("#f3e5f5", "#7b1fa2"),
    "plain": ("#f5f5f5", "#777777"),
}
PATCH_COLORS = ["#e74c3c", "#3498db", "#2ecc71", "#f39c12", "#9b59b6", "#1abc9c"]


def _canvas(width: float, height: float, title: str | None = None) -> tuple[Figure, plt.Axes]:
    """A blank figure whose data coordinates are inches: (0, 0) bottom left, (width, height) top right."""
    fig, ax = plt.subplots(figsize=(width, height))
    fig.subplots_adjust(left=0, right=1, bottom=0, top=0.92 if title else 1)
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=11)
    return fig, ax


def _box(
    ax: plt.Axes,
    x: float,
    y: float,
    w: float,
    h: float,
    text: str = "",
    kind: str = "data",
    fontsize: float = 9,
    rounded: bool = True,
) -> FancyBboxPatch:
    """A labelled box centred at ``(x, y)``, ``w`` x ``h`` wide/high, coloured by ``kind``."""
    fc, ec = COLORS[kind]
    style = "round,pad=0,rounding_size=0.08" if rounded else "square,pad=0"
    patch = FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle=style, fc=fc, ec=ec, lw=1.2)
    ax.add_patch(patch)
    if text:
        ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)
    return patch


def _note(ax: plt.Axes, x: float, y: float, text: str, size: float = 8, **kw) -> None:
    """A small centred note at ``(x, y)`` (extra keywords go to ``ax.text``)."""
    ax.text(x, y, text, ha=kw.pop("ha", "center"), fontsize=size, **kw)


def _frame(ax: plt.Axes, x0: float, y0: float, w: float, h: float, label: str) -> None:
    """A dashed frame around a repeated group of boxes (a layer), ``label`` (if any) top left."""
    style = "round,pad=0,rounding_size=0.15"
    ax.add_patch(FancyBboxPatch((x0, y0), w, h, boxstyle=style, fill=False, ec="#999999", ls="--"))
    if label:
        ax.text(x0 + 0.1, y0 + h - 0.1, label, fontsize=8, va="top")


def _arrow(
    ax: plt.Axes,
    start: tuple[float, float],
    end: tuple[float, float],
    text: str = "",
    color: str = FORWARD,
    dashed: bool = False,
    rad: float = 0.0,
    fontsize: float = 8,
) -> None:
    """An arrow from ``start`` to ``end`` (data coordinates), with an optional label at its middle."""
    ax.annotate(
        "",
        xy=end,
        xytext=start,
        arrowprops={
            "arrowstyle": "-|>",
            "color": color,
            "lw": 1.3,
            "linestyle": "--" if dashed else "-",
            "shrinkA": 0,
            "shrinkB": 0,
            "connectionstyle": f"arc3,rad={rad:g}",
        },
    )
    if text:
        mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
        ax.text(
            mx,
            my,
            text,
            ha="center",
            va="center",
            fontsize=fontsize,
            color=color,
            bbox={"fc": "white", "ec": "none", "pad": 1.0},
        )


def _grid(
    ax: plt.Axes,
    x0: float,
    y0: float,
    shape: tuple[int, int],
    cell: float,
    fill: str | list[str],
    edge: str,
    numbers: torch.Tensor | None = None,
    alpha: float = 1.0,
) -> None:
    """A ``shape`` grid of square cells, bottom left at ``(x0, y0)``, row 0 on top.

    ``fill`` is one colour, or one per column; ``numbers`` (same shape) are written in the cells.
    """
    rows, cols = shape
    for i in range(rows):
        for j in range(cols):
            fc = fill if isinstance(fill, str) else fill[j]
            y = y0 + (rows - 1 - i) * cell
            ax.add_patch(
                Rectangle((x0 + j * cell, y), cell, cell, fc=fc, ec=edge, lw=0.6, alpha=alpha)
            )
            if numbers is not None:
                ax.text(
                    x0 + (j + 0.5) * cell,
                    y + cell / 2,
                    str(int(numbers[i, j])),
                    ha="center",
                    va="center",
                    fontsize=8,
                )


def _caption(ax: plt.Axes, x: float, top: float, bottom: float, name: str, shape_text: str) -> None:
    """``name`` in bold above ``top``, ``shape_text`` below ``bottom``, centred on ``x``."""
    ax.text(x, top + 0.12, name, ha="center", va="bottom", fontsize=10, weight="bold")
    ax.text(x, bottom - 0.1, shape_text, ha="center", va="top", fontsize=8, color="#333333")


def _matrix(
    ax: plt.Axes,
    x: float,
    y: float,
    shape: tuple[int, int],
    name: str,
    kind: str = "data",
    cell: float = 0.28,
    shape_text: str | None = None,
) -> None:
    """A matrix drawn as a grid of ``shape`` cells, centred at ``(x, y)``, its name above and shape below."""
    rows, cols = shape
    w, h = cols * cell, rows * cell
    fc, ec = COLORS[kind]
    _grid(ax, x - w / 2, y - h / 2, shape, cell, fc, ec)
    ax.add_patch(Rectangle((x - w / 2, y - h / 2), w, h, fill=False, ec=ec, lw=1.4))
    _caption(ax, x, y + h / 2, y - h / 2, name, shape_text or f"{shape}".replace(" ", ""))


def _legend(ax: plt.Axes, entries: list[tuple[str, str, bool]], loc: str = "lower right") -> None:
    """A legend of arrow styles: (label, colour, dashed)."""
    handles = [
        Line2D([], [], color=c, lw=1.5, ls="--" if d else "-", label=lab) for lab, c, d in entries
    ]
    ax.legend(handles=handles, loc=loc, fontsize=8, frameon=False)


def computation_graph_diagram(root: Value | None = None) -> Figure:
    """The computation graph of ``root`` with its forward values and the gradients flowing back.

    ``root`` defaults to chapter 03's Step 2 example ``d = a * b + c`` with ``a=2, b=-3, c=10``, after
    ``d.backward()``. Grey arrows: the forward pass (each box's ``data``); dashed red arrows: the
    backward pass, which fills each box's ``grad`` (= dd/dnode). Drawn by ``autograd.draw_graph``.
    """
    if root is None:
        a, b, c = Value(2.0, label="a"), Value(-3.0, label="b"), Value(10.0, label="c")
        e = a * b
        e.label = "e"
        root = e + c
        root.label = "d"
        root.backward()
    ax = draw_graph(root, backward=True)
    ax.set_title("forward: data, left to right; backward: grad, right to left", fontsize=10)
    _legend(ax, [("forward pass", FORWARD, False), ("backward pass (gradients)", BACKWARD, True)])
    fig = ax.figure
    fig.subplots_adjust(top=0.9)
    return fig


def linear_layer_diagram(n: int = 4, d_in: int = 3, d_out: int = 2) -> Figure:
    """The shapes in ``course_lib.nn.Linear``: forward ``out = x @ W.T + b``, and its backward pass.

    ``W`` has PyTorch's layout ``(d_out, d_in)``. Backward: ``dx = dout @ W`` ``(N, d_in)``,
    ``dW = dout.T @ x`` ``(d_out, d_in)``, ``db = dout.sum(0)`` ``(d_out,)``: every gradient has the
    shape of the thing it is the gradient of. Defaults: the lecture's ``Linear(3, 2)`` on 4 rows.
    """
    fig, ax = _canvas(10.5, 5.6, title=f"Linear({d_in}, {d_out}) on a batch of N={n}")
    sym = {"fontsize": 16, "ha": "center", "va": "center"}

    def row(x: float, y: float, items: list) -> float:
        """Matrices and operators left to right from ``x``; returns the x where the row ends."""
        for item in items:
            if isinstance(item, str):  # an operator between matrices
                ax.text(x + 0.25, y, item, **sym)
                x += 0.5
            else:
                name, shape, kind, shape_text = item
                w = shape[1] * 0.3
                _matrix(ax, x + w / 2, y, shape, name, kind, cell=0.3, shape_text=shape_text)
                x += w + 0.15
        return x

    for y, label, color in [(4.1, "forward", FORWARD), (1.45, "backward", BACKWARD)]:
        ax.text(0.15, y, label, fontsize=10, color=color, weight="bold", va="center", rotation=90)
    x, w_t, b, out = (
        ("x", (n, d_in), "data", "(N, d_in)"),
        ("W.T", (d_in, d_out), "param", "(d_in, d_out)"),
        ("b", (1, d_out), "param", "(d_out,)\nadded to every row"),
        ("out", (n, d_out), "data", "(N, d_out)"),
    )
    dout, w = (
        ("dout", (n, d_out), "grad", "(N, d_out)"),
        ("W", (d_out, d_in), "param", "(d_out, d_in)"),
    )
    dx = ("dx", (n, d_in), "grad", "(N, d_in)\nlike x")
    dout_t = ("dout.T", (d_out, n), "grad", "(d_out, N)")
    dw = ("dW", (d_out, d_in), "grad", "(d_out, d_in)\nlike W")
    for x0, y, items in [
        (0.6, 4.1, [x, "@", w_t, "+", b, "=", out]),
        (0.6, 1.45, [dout, "@", w, "=", dx]),
        (5.6, 1.45, [dout_t, "@", x, "=", dw]),
    ]:
        row(x0, y, items)
    end = row(6.6, 4.1, [("dout", (n, d_out), "grad", "(N, d_out)")])
    _arrow(ax, (end + 0.05, 4.1), (end + 0.9, 4.1), "sum(0)", color=BACKWARD)
    row(end + 1.0, 4.1, [("db", (1, d_out), "grad", "(d_out,)\nlike b")])
    ax.text(8.3, 5.25, "backward, bias", fontsize=10, color=BACKWARD, weight="bold", ha="center")
    ax.text(
        8.3,
        3.05,
        "b was added to every row,\nso its gradient sums over the batch",
        fontsize=8,
        ha="center",
        va="top",
        color=BACKWARD,
    )
    for x in (5.35, 6.35):
        ax.add_line(Line2D([x, x], [0.3, 2.6] if x < 6 else [3.0, 5.0], color="#cccccc", lw=1))
    ax.text(
        5.25,
        0.12,
        "a gradient has the shape of the thing it is the gradient of",
        ha="center",
        fontsize=9,
        style="italic",
    )
    return fig


def im2col_diagram(height: int = 4, width: int = 4, kernel: int = 3, c_out: int = 2) -> Figure:
    """im2col on one ``height x width`` single-channel image: each receptive field becomes a column.

    The numbers are pixel indices, and the columns are exactly ``course_lib.conv.im2col`` of that
    image (stride 1, no padding). The convolution is then one product: ``weight.reshape(C_out, -1)``
    ``(C_out, C_in*kh*kw) @ cols (C_in*kh*kw, H_out*W_out) -> (C_out, H_out*W_out)``, viewed as
    ``(C_out, H_out, W_out)``.
    """
    pixels = torch.arange(height * width, dtype=torch.float32).view(1, 1, height, width)
    cols = conv.im2col(pixels, kernel).squeeze(0).long()  # (kh*kw, L), entries = pixel indices
    h_out, w_out = height - kernel + 1, width - kernel + 1
    n_rows, n_cols = cols.shape
    cell = 0.32
    fig, ax = _canvas(
        11.5, max(5.0, n_rows * cell + 2.2), title="im2col: a convolution is one matrix product"
    )
    top = n_rows * cell + 0.9
    # the image (pixel indices), each receptive field outlined in the colour of its column
    ix0, iy0 = 0.4, top - height * cell
    _grid(ax, ix0, iy0, (height, width), cell, COLORS["data"][0], "#999999", pixels[0, 0])
    colors = [PATCH_COLORS[k % len(PATCH_COLORS)] for k in range(n_cols)]
    for k in range(n_cols):
        r, c = divmod(k, w_out)
        inset = 0.03 + 0.025 * k
        corner = (ix0 + c * cell + inset, iy0 + (height - r - kernel) * cell + inset)
        side = kernel * cell - 2 * inset
        ax.add_patch(Rectangle(corner, side, side, fill=False, ec=colors[k], lw=2))
    _caption(
        ax,
        ix0 + width * cell / 2,
        top,
        iy0,
        "x",
        f"(N, C_in, H, W) = (1, 1, {height}, {width})\n{kernel}x{kernel} receptive fields",
    )
    # the columns
    cx0, cy0 = ix0 + width * cell + 1.6, top - n_rows * cell
    _grid(ax, cx0, cy0, (n_rows, n_cols), cell, colors, "#999999", cols, alpha=0.3)
    y_img = top - height * cell / 2
    _arrow(ax, (ix0 + width * cell + 0.15, y_img), (cx0 - 0.15, y_img), "im2col")
    _caption(
        ax,
        cx0 + n_cols * cell / 2,
        top,
        cy0,
        "cols",
        f"(C_in*kh*kw, H_out*W_out)\n= ({n_rows}, {n_cols})",
    )
    # the product
    y_mid = cy0 + n_rows * cell / 2
    mx = cx0 + n_cols * cell + 0.5
    ax.text(mx, y_mid, "then", ha="center", va="center", fontsize=9)
    wx = mx + 0.5 + n_rows * cell / 2
    _matrix(
        ax,
        wx,
        y_mid,
        (c_out, n_rows),
        "weight.reshape(C_out, -1)",
        "param",
        cell=cell,
        shape_text=f"(C_out, C_in*kh*kw) = ({c_out}, {n_rows})",
    )
    ox = wx + n_rows * cell / 2 + 0.3
    ax.text(ox, y_mid, "@ cols =", ha="left", va="center", fontsize=11)
    _matrix(
        ax,
        ox + 1.0 + n_cols * cell / 2,
        y_mid,
        (c_out, n_cols),
        "out",
        "data",
        cell=cell,
        shape_text=f"(C_out, H_out*W_out)\nview -> (C_out, {h_out}, {w_out})",
    )
    ax.text(
        0.4,
        0.3,
        "Each column holds one receptive field (row order: channel, kernel row, kernel "
        "column, as F.unfold); each output pixel is one kernel row times one column.",
        fontsize=8.5,
        va="center",
    )
    return fig


def multi_head_attention_diagram(n_heads: int = 3) -> Figure:
    """Multi-head self-attention with its shapes, as in ``course_lib.attention.MultiHeadAttention``.

    ``x (B, T, D)`` -> ``qkv = Linear(D, 3D)`` -> split into ``Q, K, V (B, T, D)`` -> split into heads:
    view ``(B, T, H, hs)`` and transpose -> ``(B, H, T, hs)`` -> every head ``h`` computes
    ``softmax(Q_h K_h^T / sqrt(d_k)) V_h`` with ``d_k = hs = D / H`` -> merge: transpose and reshape
    -> ``(B, T, D)`` -> ``proj = Linear(D, D)`` mixes the heads -> ``(B, T, D)``.
    """
    fig, ax = _canvas(
        13.0, 5.0, title=f"multi-head self-attention: H = {n_heads} heads of size hs = D / H"
    )
    ymid, gap = 2.45, 1.3
    step = 0.09  # offset between the cards of a stack of heads

    def stack(
        x: float, y: float, w: float, h: float, text: str, kind: str = "data", size: float = 8
    ) -> None:
        """``n_heads`` cards, one per head, the front one (labelled) bottom left."""
        for k in range(n_heads):
            off = step * (n_heads - 1 - k)
            _box(ax, x + off, y + off, w, h, text if k == n_heads - 1 else "", kind, fontsize=size)

    _box(ax, 0.6, ymid, 0.9, 0.8, "x\n(B, T, D)", fontsize=8)
    _box(ax, 1.95, ymid, 1.2, 0.8, "qkv\nLinear(D, 3D)", "param", fontsize=8)
    _arrow(ax, (1.05, ymid), (1.35, ymid))
    ys = {"Q": ymid + gap, "K": ymid, "V": ymid - gap}
    for name, y in ys.items():
        _arrow(ax, (2.55, ymid), (3.05, y))
        _box(ax, 3.6, y, 1.0, 0.65, f"{name}\n(B, T, D)", fontsize=8)
        _arrow(ax, (4.1, y), (4.7, y))
        stack(5.3, y, 1.1, 0.65, f"{name}\n(B, H, T, hs)")
        _arrow(ax, (5.9 + step * (n_heads - 1), y), (6.75, ymid + 0.25 * (y - ymid) / gap))
    ax.text(2.8, 0.55, ".split(D, dim=2)", ha="center", fontsize=7.5)
    _note(ax, 4.4, 0.45, "split into heads:\nview (B, T, H, hs)\n+ transpose(1, 2)", 7.5, va="top")
    stack(8.05, ymid, 2.5, 1.3, "", "op")
    ax.text(8.05, ymid + 0.35, "head h (all heads at once):", ha="center", fontsize=8)
    ax.text(8.05, ymid, r"softmax$(Q_h K_h^\top / \sqrt{d_k})\,V_h$", ha="center", fontsize=9.5)
    ax.text(8.05, ymid - 0.4, "weights (B, H, T, T), d_k = hs", ha="center", fontsize=7.5)
    _arrow(ax, (9.3 + step * (n_heads - 1), ymid), (9.65, ymid))
    stack(10.2, ymid, 1.0, 0.65, "(B, H, T, hs)")
    _arrow(ax, (10.7 + step * (n_heads - 1), ymid), (11.05, ymid))
    _box(ax, 11.4, ymid, 0.6, 0.8, "(B,\nT, D)", fontsize=7.5)
    ax.text(
        10.85,
        ymid - 0.75,
        "merge: transpose(1, 2)\n+ reshape (B, T, D)",
        ha="center",
        fontsize=7.5,
        va="top",
    )
    _box(ax, 12.3, ymid + 1.2, 1.1, 0.65, "proj\nLinear(D, D)", "param", fontsize=8)
    _arrow(ax, (11.5, ymid + 0.4), (11.9, ymid + 0.87))
    _box(ax, 12.3, ymid - 1.2, 0.9, 0.65, "out\n(B, T, D)", fontsize=8)
    _arrow(ax, (12.3, ymid + 0.87), (12.3, ymid - 0.87))
    ax.text(12.35, ymid, "mixes\nthe heads", fontsize=7.5, ha="left", va="center")
    ax.text(
        8.05,
        0.45,
        "the heads are one more batch dimension:\none product covers all of them",
        ha="center",
        fontsize=8,
        va="top",
    )
    return fig


def gpt_block_diagram(n_layer: int = 4) -> Figure:
    """The GPT of ``course_lib.transformer``: a residual stream that every block adds to.

    ``idx (B, T)`` -> ``wte(idx) + wpe(pos)`` -> ``x (B, T, C)``; each of ``n_layer`` pre-LN blocks does
    ``x = x + attn(ln_1(x))`` (causal) then ``x = x + mlp(ln_2(x))``; then ``ln_f`` and ``lm_head``,
    whose weight is ``wte.weight`` (tied), give ``logits (B, T, V)``. Drawn bottom to top.
    """
    fig, ax = _canvas(8.5, 9.0, title="the GPT: a residual stream that each block adds to")
    sx = 3.5  # x of the residual stream
    _box(ax, sx, 0.45, 1.6, 0.5, "idx (B, T)", "plain")
    _box(ax, sx - 1.0, 1.35, 1.4, 0.55, "wte (V, C)", "param")
    _box(ax, sx + 1.0, 1.35, 1.4, 0.55, "wpe (T, C)", "param")
    _arrow(ax, (sx - 0.3, 0.7), (sx - 0.8, 1.07))
    _arrow(ax, (sx + 0.3, 0.7), (sx + 0.8, 1.07), "pos", fontsize=7)
    ax.text(sx, 1.35, "+", ha="center", va="center", fontsize=14)
    # the stream
    y0, y1 = 1.65, 7.3
    ax.add_line(Line2D([sx, sx], [y0, y1], color="#3b6ea5", lw=4, alpha=0.35, zorder=0))
    ax.text(sx - 0.15, 2.0, "residual stream\nx (B, T, C)", ha="right", fontsize=9, color="#3b6ea5")
    # one block, framed
    bx0, by0, bw, bh = sx - 1.9, 2.45, 5.3, 4.15
    _frame(ax, bx0, by0, bw, bh, "")
    ax.text(bx0 + bw - 0.1, by0 + 0.1, f"Block, x n_layer ({n_layer})", fontsize=9, ha="right")
    for y, name, sub in [
        (3.3, "attn", "causal self-attention\n(chapter 09, is_causal=True)"),
        (5.3, "mlp", "Linear(C, 4C) -> GELU\n-> Linear(4C, C)"),
    ]:
        ln = "ln_1" if name == "attn" else "ln_2"
        ax.add_patch(plt.Circle((sx, y + 0.9), 0.17, fc="white", ec=FORWARD, zorder=3))
        ax.text(sx, y + 0.9, "+", ha="center", va="center", fontsize=11, zorder=4)
        _arrow(ax, (sx, y - 0.05), (sx + 0.7, y - 0.05))
        _box(ax, sx + 1.05, y - 0.05, 0.7, 0.45, ln, "norm", fontsize=8)
        _arrow(ax, (sx + 1.4, y - 0.05), (sx + 1.7, y + 0.3))
        _box(ax, sx + 2.0, y + 0.5, 1.0, 0.5, name, "op")
        ax.text(sx + 2.6, y + 0.5, sub, fontsize=7.5, va="center")
        _arrow(ax, (sx + 1.5, y + 0.7), (sx + 0.19, y + 0.9), rad=0.2)
    ax.text(sx - 0.25, 4.25, "x = x + attn(ln_1(x))", ha="right", fontsize=8)
    ax.text(sx - 0.25, 6.25, "x = x + mlp(ln_2(x))", ha="right", fontsize=8)
    _box(ax, sx, 7.5, 0.9, 0.4, "ln_f", "norm", fontsize=8)
    _box(ax, sx, 8.15, 1.8, 0.45, "lm_head (C -> V)", "param", fontsize=8)
    _arrow(ax, (sx, 7.7), (sx, 7.92))
    ax.text(sx + 1.0, 8.15, "-> logits (B, T, V)", fontsize=9, va="center")
    _arrow(ax, (sx - 0.9, 8.15), (sx - 1.7, 1.62), color="#b8860b", dashed=True, rad=0.25)
    ax.text(0.1, 7.2, "weight tying:\nlm_head.weight\nis wte.weight", color="#b8860b", fontsize=8)
    _note(
        ax,
        6.5,
        0.45,
        "pre-LN: each branch reads a normalized\ncopy and adds its result to the stream",
    )
    return fig


def _mask_grid(
    ax: plt.Axes, x: float, y: float, mask: torch.Tensor, title: str, cell: float = 0.14
) -> None:
    """A small (T_query, T_key) boolean mask, bottom-left at (x, y): filled = may attend."""
    rows, cols = mask.shape
    for i in range(rows):
        for j in range(cols):
            ax.add_patch(
                Rectangle(
                    (x + j * cell, y + (rows - 1 - i) * cell),
                    cell,
                    cell,
                    fc="#3b6ea5" if mask[i, j] else "white",
                    ec="#aaaaaa",
                    lw=0.4,
                )
            )
    ax.text(
        x + cols * cell / 2, y + rows * cell + 0.05, title, ha="center", va="bottom", fontsize=7
    )


def encoder_decoder_diagram() -> Figure:
    """The encoder-decoder Transformer of chapter 11 with its three masks and shifted targets.

    Encoder self-attention: source padding mask ``(B, 1, 1, S)``; decoder self-attention: causal and
    target padding ``(B, 1, T, T)``; cross-attention (queries from the decoder, keys and values from
    the encoder output, "memory"): source padding again ``(B, 1, 1, S)``. The decoder reads
    ``tgt[:, :-1]`` and is trained to predict ``tgt[:, 1:]``. Mask pictures: filled = may attend
    (rows: queries, columns: keys; the last two positions are ``<pad>``).
    """
    fig, ax = _canvas(12.0, 7.8, title="encoder-decoder: three attentions, three masks")
    ex, dx = 3.3, 8.0  # centres of the encoder and decoder columns
    n = 5
    pad = torch.tensor([True, True, True, False, False])
    src_mask = pad.expand(n, n)
    dec_mask = torch.ones(n, n, dtype=torch.bool).tril() & pad
    # inputs
    _box(ax, ex, 0.45, 2.8, 0.5, "src (B, S): 'March 5, 2021' <pad>...", "plain", fontsize=8)
    _box(ax, dx, 0.45, 3.6, 0.5, "decoder input tgt[:, :-1] = <bos> y1 ... yn", "plain", fontsize=8)
    ax.text(
        dx,
        0.05,
        "(shift_targets: the labels are tgt[:, 1:] = y1 ... yn <eos>)",
        ha="center",
        fontsize=7.5,
    )
    for x in (ex, dx):
        _box(ax, x, 1.35, 2.6, 0.5, "embedding * sqrt(d_model) + positions", "param", fontsize=7.5)
        _arrow(ax, (x, 0.7), (x, 1.1))
    # encoder
    _frame(ax, ex - 1.6, 1.9, 3.2, 2.4, "encoder layer x N")
    _box(ax, ex, 2.5, 2.6, 0.55, "self-attention", "op")
    _box(ax, ex, 3.5, 2.6, 0.5, "MLP", "op")
    _arrow(ax, (ex, 1.6), (ex, 2.22))
    _arrow(ax, (ex, 2.78), (ex, 3.25))
    _mask_grid(ax, ex - 3.0 + 0.05, 2.0, src_mask, "1. source padding\n(B, 1, 1, S)")
    _arrow(ax, (ex - 2.15, 2.35), (ex - 1.3, 2.45), color="#3b6ea5")
    _box(ax, ex, 4.9, 2.2, 0.5, "memory (B, S, D)")
    _arrow(ax, (ex, 3.75), (ex, 4.65))
    # decoder
    _frame(ax, dx - 1.6, 1.9, 3.2, 3.85, "decoder layer x N")
    _box(ax, dx, 2.5, 2.6, 0.55, "causal self-attention", "op")
    _box(ax, dx, 3.9, 2.6, 0.55, "cross-attention", "op")
    _box(ax, dx, 5.0, 2.6, 0.5, "MLP", "op")
    _arrow(ax, (dx, 1.6), (dx, 2.22))
    _arrow(ax, (dx, 2.78), (dx, 3.62), "Q", fontsize=7)
    _arrow(ax, (dx, 4.18), (dx, 4.75))
    _arrow(ax, (ex + 1.1, 4.9), (dx - 1.3, 3.9), "K, V", rad=-0.15)
    _mask_grid(ax, dx + 1.75, 2.0, dec_mask, "2. causal & target\npadding (B, 1, T, T)")
    _arrow(ax, (dx + 1.75, 2.35), (dx + 1.3, 2.45), color="#3b6ea5")
    _mask_grid(ax, dx + 1.75, 3.5, src_mask, "3. source padding\n(B, 1, 1, S)")
    _arrow(ax, (dx + 1.75, 3.85), (dx + 1.3, 3.9), color="#3b6ea5")
    # output
    _box(ax, dx, 6.3, 2.6, 0.5, "Linear (tied to the embedding)", "param", fontsize=8)
    _arrow(ax, (dx, 5.25), (dx, 6.05))
    _box(
        ax,
        dx,
        7.1,
        3.4,
        0.5,
        "logits (B, T, V) vs labels: cross-entropy\n(ignores <pad>)",
        "plain",
        fontsize=8,
    )
    _arrow(ax, (dx, 6.55), (dx, 6.85))
    ax.text(
        ex,
        6.4,
        "Every sublayer: x = x + f(LayerNorm(x))\n(pre-LN). Only keys are masked;\n"
        "a filled square = may attend.",
        ha="center",
        fontsize=8,
    )
    return fig


def data_parallel_diagram(n_workers: int = 3) -> Figure:
    """Data-parallel training: each of ``n_workers`` model copies sees its shard of the batch.

    Every rank computes the gradients of its shard, the gradients are all-reduced (averaged over the
    ranks, by DDP during ``backward()``), and every rank takes the same optimizer step, so the
    copies stay identical: ``N`` ranks with ``B`` rows each take the step one process would take
    with ``N * B`` rows.
    """
    if n_workers < 1:
        raise ValueError(f"n_workers must be at least 1, got {n_workers}")
    width = max(7.0, 2.6 * n_workers + 1.0)
    fig, ax = _canvas(width, 7.0, title=f"data-parallel training on {n_workers} processes (ranks)")
    xs = [1.3 + 2.6 * k + (width - 1.0 - 2.6 * n_workers) / 2 for k in range(n_workers)]
    # the global batch, cut into shards
    rows = 2 * n_workers
    bx0, cell = width / 2 - rows * 0.35 / 2, 0.35
    for r in range(rows):
        color = PATCH_COLORS[(r // 2) % len(PATCH_COLORS)]
        ax.add_patch(
            Rectangle((bx0 + r * cell, 6.0), cell, 0.35, fc=color, alpha=0.35, ec="#777777")
        )
    ax.text(
        width / 2,
        6.45,
        f"global batch: N x B rows (here B = 2, N = {n_workers})",
        ha="center",
        fontsize=9,
    )
    for k, x in enumerate(xs):
        color = PATCH_COLORS[k % len(PATCH_COLORS)]
        _arrow(ax, (bx0 + (2 * k + 1) * cell, 5.95), (x, 5.35))
        ax.add_patch(Rectangle((x - cell, 5.0), 2 * cell, 0.32, fc=color, alpha=0.35, ec="#777777"))
        ax.text(x + 0.8, 5.16, f"shard {k}", fontsize=8, va="center")
        _box(ax, x, 4.3, 2.0, 0.6, f"rank {k}: model copy\nsame parameters θ", "param", fontsize=8)
        _arrow(ax, (x, 5.0), (x, 4.6))
        _box(ax, x, 3.35, 2.0, 0.5, f"loss_{k}, backward()", "op", fontsize=8)
        _arrow(ax, (x, 4.0), (x, 3.6))
        _box(ax, x, 2.5, 1.4, 0.45, f"grad g_{k}", "grad", fontsize=8)
        _arrow(ax, (x, 3.1), (x, 2.73))
        _arrow(ax, (x, 2.27), (x, 1.88), color=BACKWARD)
        _box(ax, x, 0.55, 2.0, 0.5, "optimizer step\nθ ← θ - lr · g", "param", fontsize=8)
        _arrow(ax, (x, 1.28), (x, 0.8))
    left, right = xs[0] - 1.1, xs[-1] + 1.1
    terms = (
        " + ".join(f"g_{k}" for k in range(n_workers)) if n_workers <= 4 else "g_0 + ... + g_{N-1}"
    )
    _box(
        ax,
        (left + right) / 2,
        1.58,
        right - left,
        0.6,
        f"all-reduce (by DDP, during backward):\ng = ({terms}) / {n_workers}, the same g on every rank",
        "grad",
        fontsize=8.5,
    )
    ax.text(
        (left + right) / 2,
        0.08,
        "the same step on every rank: the copies stay identical",
        ha="center",
        fontsize=8.5,
    )
    return fig
