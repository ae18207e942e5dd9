"""Explorer for chapter 07: a classic kernel on a digit, with stride, padding and dilation."""

from __future__ import annotations

import functools

import torch

from ..viz.conv import plot_convolution
from .core import Explorer, dropdown, explorer, slider

__all__ = ["CLASSIC_KERNELS", "convolution_explorer"]

#: 3x3 kernels with a name everyone uses (Sobel: gradient along x / y; Laplacian: second derivative).
CLASSIC_KERNELS: dict[str, list[list[float]]] = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "box blur": [[1 / 9] * 3] * 3,
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "Sobel x (vertical edges)": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "Sobel y (horizontal edges)": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "Laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
}


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[torch.Tensor, ...]:
    """One clean generated image ``(28, 28)`` per digit 0-9 (no download), rendered once."""
    from ..data.digits import render_digits

    x, y = render_digits(10, seed=0, jitter=0.0, noise=0.0)
    return tuple(x[(y == d).nonzero()[0, 0], 0] for d in range(10))


def convolution_explorer(
    images: torch.Tensor | None = None, kernel: str = "Sobel x (vertical edges)"
) -> Explorer:
    """Pick a kernel, stride, padding, dilation and an image; see the output map and its shape.

    ``images`` ``(N, 1, H, W)`` or ``(N, H, W)``: the images to choose from (default: one generated
    digit of each class, 0-9).
    """
    if images is None:
        pics = _digits()
    else:
        pics = tuple(images.detach().cpu().reshape(images.shape[0], *images.shape[-2:]))

    def draw(kernel: str, stride: int, padding: int, dilation: int, image: int) -> None:
        weight = torch.tensor(CLASSIC_KERNELS[kernel], dtype=torch.float32)
        plot_convolution(pics[image], weight, stride, padding, dilation)

    return explorer(
        draw,
        {
            "kernel": dropdown(list(CLASSIC_KERNELS), kernel, "kernel"),
            "stride": slider(1, 1, 4, 1, "stride"),
            "padding": slider(0, 0, 4, 1, "padding"),
            "dilation": slider(1, 1, 4, 1, "dilation"),
            "image": slider(0, 0, len(pics) - 1, 1, "image"),
        },
    )
