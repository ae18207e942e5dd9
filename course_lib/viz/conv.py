"""Convolution drawn (chapter 07): padded input with one receptive field, kernel, output map."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..conv import conv2d, conv_output_size

__all__ = ["plot_convolution"]


def plot_convolution(
    image: torch.Tensor, kernel: torch.Tensor, stride: int = 1, padding: int = 0, dilation: int = 1
) -> Figure:
    """Three panels: ``image (H, W)`` zero-padded, ``kernel (k, k)`` with its values, and the output.

    Returns the figure; its third axes holds the output map (red positive, blue negative).

    The output is ``course_lib.conv.conv2d`` of the image with the kernel; its title gives the shape
    from ``conv_output_size``. The pixels the first output value reads (the receptive field, spread
    by ``dilation``) are outlined on the input. When the kernel does not fit, the third panel says why.
    """
    if image.dim() != 2 or kernel.dim() != 2:
        raise ValueError(
            f"image and kernel must be 2-D, got shapes {tuple(image.shape)} and {tuple(kernel.shape)}"
        )
    image, kernel = image.detach().float().cpu(), kernel.detach().float().cpu()
    (h, w), k = image.shape, kernel.shape[0]
    fig, (a_in, a_k, a_out) = plt.subplots(
        1, 3, figsize=(9.5, 3.4), gridspec_kw={"width_ratios": [1.15, 0.6, 1]}
    )
    padded = torch.nn.functional.pad(image, (padding,) * 4)
    a_in.imshow(padded.numpy(), cmap="gray", vmin=0, vmax=1)
    if padding:
        a_in.add_patch(
            Rectangle((padding - 0.5, padding - 0.5), w, h, fill=False, ec="tab:orange", lw=1)
        )
    for i in range(k):
        for j in range(k):
            a_in.add_patch(
                Rectangle(
                    (j * dilation - 0.5, i * dilation - 0.5), 1, 1, fill=False, ec="red", lw=1
                )
            )
    a_in.set_title(f"input {h}x{w}, padded to {h + 2 * padding}x{w + 2 * padding}", fontsize=9)
    lim = float(kernel.abs().max()) or 1.0
    a_k.imshow(kernel.numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim)
    for i in range(k):
        for j in range(k):
            a_k.text(j, i, f"{kernel[i, j].item():.2g}", ha="center", va="center", fontsize=8)
    a_k.set_title(f"kernel {k}x{k}, dilation {dilation}", fontsize=9)
    try:
        ho = conv_output_size(h, k, stride, padding, dilation)
        wo = conv_output_size(w, k, stride, padding, dilation)
    except ValueError as e:
        a_out.set_axis_off()
        a_out.text(0, 0.5, str(e), color="crimson", fontsize=9, va="center", wrap=True)
        a_out.set_title("output: none", fontsize=9)
    else:
        out = conv2d(image[None, None], kernel[None, None], None, stride, padding, dilation)[0, 0]
        top = float(out.abs().max()) or 1.0
        a_out.imshow(out.numpy(), cmap="RdBu_r", vmin=-top, vmax=top)  # red positive, blue negative
        a_out.set_title(
            f"output {ho}x{wo} = floor(({h} + 2*{padding} - {dilation}*({k}-1) - 1)/{stride}) + 1",
            fontsize=8,
        )
    for ax in (a_in, a_k, a_out):
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig
