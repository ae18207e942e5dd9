"""Convolution and pooling from scratch (chapter 07): im2col, conv2d, max/avg pooling, shapes.

A 2-D convolution is a matrix product in disguise: ``im2col`` copies every receptive field
(``C * kh * kw`` numbers) into one column, and the kernel bank, flattened to ``(C_out, C*kh*kw)``,
multiplies all columns at once. Pooling takes the max (or mean) of each column instead.
Everything here equals ``torch.nn.functional`` (values and gradients) and keeps device and dtype.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "Conv2d",
    "avg_pool2d",
    "conv2d",
    "conv_output_size",
    "im2col",
    "max_pool2d",
    "shape_trace",
]

IntPair = int | tuple[int, int]


def _pair(v: IntPair, name: str) -> tuple[int, int]:
    if isinstance(v, int) and not isinstance(v, bool):
        return v, v
    if isinstance(v, (tuple, list)) and len(v) == 2 and all(isinstance(i, int) for i in v):
        return int(v[0]), int(v[1])
    raise TypeError(f"{name} must be an int or a pair of ints, got {v!r}")


def conv_output_size(
    size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    """Output length along one axis: ``floor((size + 2*padding - dilation*(kernel_size-1) - 1) / stride) + 1``.

    Also right for pooling (``stride`` = ``kernel_size`` by default there). Raises ``ValueError``
    when the kernel does not fit.
    """
    for name, v in (
        ("size", size),
        ("kernel_size", kernel_size),
        ("stride", stride),
        ("dilation", dilation),
    ):
        if not isinstance(v, int) or v <= 0:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if not isinstance(padding, int) or padding < 0:
        raise ValueError(f"padding must be a non-negative int, got {padding!r}")
    span = dilation * (kernel_size - 1) + 1
    out = (size + 2 * padding - span) // stride + 1
    if out <= 0:
        raise ValueError(
            f"a kernel spanning {span} pixels does not fit in size {size} with padding {padding} "
            f"(output size would be {out})"
        )
    return out


def _check_images(x: torch.Tensor, name: str = "x") -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{name} must have shape (N, C, H, W), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be floating point, got dtype {x.dtype}")


def im2col(
    x: torch.Tensor,
    kernel_size: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    pad_value: float = 0.0,
) -> torch.Tensor:
    """Every receptive field as a column: ``(N, C, H, W) -> (N, C*kh*kw, H_out*W_out)``.

    Row order is channel, then kernel row, then kernel column (as ``F.unfold``).
    """
    _check_images(x)
    kh, kw = _pair(kernel_size, "kernel_size")
    sh, sw = _pair(stride, "stride")
    ph, pw = _pair(padding, "padding")
    dh, dw = _pair(dilation, "dilation")
    n, c, h, w = x.shape
    ho = conv_output_size(h, kh, sh, ph, dh)
    wo = conv_output_size(w, kw, sw, pw, dw)
    if ph or pw:
        x = F.pad(x, (pw, pw, ph, ph), value=pad_value)
    patches = [
        x[:, :, i * dh : i * dh + sh * (ho - 1) + 1 : sh, j * dw : j * dw + sw * (wo - 1) + 1 : sw]
        for i in range(kh)
        for j in range(kw)
    ]  # kh*kw tensors of shape (N, C, H_out, W_out)
    cols = torch.stack(patches, dim=2)  # (N, C, kh*kw, H_out, W_out)
    return cols.reshape(n, c * kh * kw, ho * wo)


def conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> torch.Tensor:
    """2-D convolution (cross-correlation, as in PyTorch) by im2col and one matrix product.

    x ``(N, C_in, H, W)``, weight ``(C_out, C_in, kh, kw)``, bias ``(C_out,)`` ->
    ``(N, C_out, H_out, W_out)``.
    """
    _check_images(x)
    _check_images(weight, "weight")
    if weight.shape[1] != x.shape[1]:
        raise ValueError(
            f"weight {tuple(weight.shape)} expects {weight.shape[1]} input channels, "
            f"but x {tuple(x.shape)} has {x.shape[1]}"
        )
    if weight.device != x.device or weight.dtype != x.dtype:
        raise ValueError(
            f"weight is {weight.dtype} on {weight.device}, x is {x.dtype} on {x.device}"
        )
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"bias must have shape ({weight.shape[0]},), got {tuple(bias.shape)}")
    c_out, _, kh, kw = weight.shape
    sh, sw = _pair(stride, "stride")
    ph, pw = _pair(padding, "padding")
    dh, dw = _pair(dilation, "dilation")
    ho = conv_output_size(x.shape[2], kh, sh, ph, dh)
    wo = conv_output_size(x.shape[3], kw, sw, pw, dw)
    cols = im2col(x, (kh, kw), (sh, sw), (ph, pw), (dh, dw))  # (N, C_in*kh*kw, L)
    out = weight.reshape(c_out, -1) @ cols  # (N, C_out, L)
    if bias is not None:
        out = out + bias.view(1, c_out, 1)
    return out.view(x.shape[0], c_out, ho, wo)


def _pool(
    x: torch.Tensor, kernel_size: IntPair, stride: IntPair | None, padding: IntPair, how: str
) -> torch.Tensor:
    _check_images(x)
    kh, kw = _pair(kernel_size, "kernel_size")
    sh, sw = _pair(stride if stride is not None else (kh, kw), "stride")
    ph, pw = _pair(padding, "padding")
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(f"padding {padding} must be at most half the kernel size {kernel_size}")
    n, c, h, w = x.shape
    ho = conv_output_size(h, kh, sh, ph)
    wo = conv_output_size(w, kw, sw, pw)
    fill = float("-inf") if how == "max" else 0.0
    cols = im2col(x, (kh, kw), (sh, sw), (ph, pw), pad_value=fill).view(n, c, kh * kw, ho * wo)
    if how == "max":  # gather the first maximum of each window, as F.max_pool2d: at a tie (a window
        # of ReLU zeros) the whole gradient goes to that one entry; amax would split it among all
        out = cols.gather(2, cols.argmax(dim=2, keepdim=True)).squeeze(2)
    else:
        out = cols.mean(dim=2)
    return out.view(n, c, ho, wo)


def max_pool2d(
    x: torch.Tensor, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0
) -> torch.Tensor:
    """Max over each window, per channel: ``(N, C, H, W) -> (N, C, H_out, W_out)``; stride defaults to the kernel."""
    return _pool(x, kernel_size, stride, padding, "max")


def avg_pool2d(
    x: torch.Tensor, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0
) -> torch.Tensor:
    """Mean over each window (zero padding counted, as PyTorch's default): ``(N, C, H, W) -> (N, C, H_out, W_out)``."""
    return _pool(x, kernel_size, stride, padding, "avg")


class Conv2d(nn.Module):
    """Drop-in for ``nn.Conv2d`` (same parameters, same initialization) computed with ``conv2d`` above."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair = 0,
        dilation: IntPair = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        ref = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride, padding, dilation, bias=bias
        )
        self.weight = ref.weight  # (C_out, C_in, kh, kw), Kaiming-uniform like nn.Conv2d
        self.bias = ref.bias
        self.stride, self.padding, self.dilation = ref.stride, ref.padding, ref.dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)


def shape_trace(
    model: nn.Module, input_shape: tuple[int, ...]
) -> list[tuple[str, tuple[int, ...]]]:
    """Run a zero input of ``input_shape`` through ``model``; return each leaf layer's output shape.

    Handy for finding the flatten size before a linear layer. A layer that fails is reported
    with the shape it received.
    """
    trace: list[tuple[str, tuple[int, ...]]] = []
    hooks = []
    for name, mod in model.named_modules():
        if name and not list(mod.children()):
            hooks.append(
                mod.register_forward_hook(
                    lambda m, i, o, name=name: trace.append((name, tuple(o.shape)))
                )
            )
    param = next(model.parameters(), None)
    x = torch.zeros(input_shape, device=param.device if param is not None else None)
    was_training = model.training
    model.eval()  # batch statistics of one zero image would fail in BatchNorm
    try:
        with torch.no_grad():
            model(x)
    except RuntimeError as e:
        last = trace[-1] if trace else ("input", tuple(input_shape))
        raise ValueError(
            f"the model fails after layer {last[0]!r} with output shape {last[1]}: {e}"
        ) from None
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return trace
