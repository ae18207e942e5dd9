"""Checkers for workbook 09: attention, the sqrt(d_k) scale, heads, masks, positional encodings."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from ..attention import scaled_dot_product_attention, sinusoidal_encoding
from ._core import Check, checker, only_low_slices_fail

__all__ = [
    "ex09_attention",
    "ex09_causal_mask",
    "ex09_dot_product_std",
    "ex09_merge_heads",
    "ex09_sinusoidal",
    "ex09_split_heads",
]


def _same(a: Any, b: torch.Tensor, atol: float = 1e-5) -> bool:
    return (
        isinstance(a, torch.Tensor)
        and a.shape == b.shape
        and torch.allclose(a.detach().double().cpu(), b.double().cpu(), atol=atol, rtol=1e-4)
    )


def _attention_variants(q, k, v, mask):  # noqa: ANN001, ANN202 - the usual wrong answers
    d = q.shape[-1]
    scores = q @ k.transpose(-2, -1)
    out = {"no_scale": scaled_dot_product_attention(q, k, v, mask, scale=1.0)[0]}
    out["scale_by_d"] = scaled_dot_product_attention(q, k, v, mask, scale=1.0 / d)[0]
    if v.shape[-1] != d:
        dv = v.shape[-1]
        out["scale_by_dv"] = scaled_dot_product_attention(q, k, v, mask, scale=dv**-0.5)[0]
    if mask is not None:
        w = torch.softmax(scores / math.sqrt(d), -1)
        out["mask_after_zero"] = w.masked_fill(~mask, 0.0) @ v
        out["mask_after_inf"] = (
            torch.softmax(w.masked_fill(~mask, float("-inf")), -1).nan_to_num(0.0) @ v
        )
        out["inverted"] = scaled_dot_product_attention(q, k, v, ~mask)[0]
    return out


_HINTS = {
    "no_scale": "divide the scores q @ k^T by sqrt(d_k) (d_k = q.shape[-1]) before the softmax",
    "scale_by_d": "divide by sqrt(d_k), not by d_k: the dot product's spread grows like sqrt(d_k)",
    "scale_by_dv": (
        "scale by sqrt(d_k), the size of the queries and keys (q.shape[-1]), not by the size of "
        "the values v.shape[-1]: here d_k = 8 but d_v = 3"
    ),
    "mask_after_zero": (
        "apply the mask BEFORE the softmax (scores.masked_fill(~mask, float('-inf'))); zeroing "
        "weights afterwards leaves rows that no longer sum to 1"
    ),
    "mask_after_inf": "apply the mask to the scores, before the softmax, not to the weights after it",
    "inverted": "the mask is True where a query MAY attend: fill the scores where mask is False",
}


@checker
def ex09_attention(c: Check, attention: Callable[..., Any]) -> str:
    """``attention(q, k, v, mask=None) -> (out, weights)``: softmax(q k^T / sqrt(d_k)) v."""
    g = torch.Generator().manual_seed(9)
    pad = torch.tensor([True, True, True, False, False])
    cases = [
        ("q, k, v of shape (2, 5, 8), no mask", (2, 5, 8), torch.float32, None, 1.0),
        ("(2, 3, 5, 16) with a padding mask of shape (5,)", (2, 3, 5, 16), torch.float32, pad, 1.0),
        (
            "(2, 5, 8) with a causal mask of shape (5, 5)",
            (2, 5, 8),
            torch.float32,
            torch.ones(5, 5, dtype=torch.bool).tril(),
            1.0,
        ),
        ("float64 inputs", (1, 4, 3), torch.float64, None, 1.0),
        ("large scores (q and k times 100)", (2, 4, 8), torch.float32, None, 100.0),
        (
            "q, k of shape (2, 5, 8), v of shape (2, 5, 3): d_v != d_k",
            (2, 5, 8),
            torch.float32,
            None,
            1.0,
        ),
        (
            "query rows on different scales (scores near 1e4 in one row, near 1 in the others)",
            (1, 4, 8),
            torch.float32,
            None,
            1.0,
        ),
    ]
    for name, shape, dtype, mask, gain in cases:
        T = shape[-2]
        q, k = (torch.randn(shape, generator=g, dtype=dtype) * gain for _ in range(2))
        if "different scales" in name:
            q[..., 0, :] *= 3000.0
        v_shape = (*shape[:-1], 3) if "d_v" in name else shape
        v = torch.randn(v_shape, generator=g, dtype=dtype)
        if mask is not None and mask.shape[-1] != T:
            mask = mask[:T]
        want_out, want_w = scaled_dot_product_attention(q, k, v, mask)
        got = c.call(attention, q, k, v, mask, case=name)
        scale = float((q @ k.transpose(-2, -1)).abs().max()) / math.sqrt(q.shape[-1])
        c.expect(
            isinstance(got, tuple) and len(got) == 2,
            case=name,
            problem=f"expected a pair (out, weights), got {type(got).__name__}",
            hint="return out, weights",
        )
        out, weights = got
        c.expect(
            isinstance(out, torch.Tensor) and out.dtype == dtype,
            case=name,
            problem=f"expected out of dtype {dtype}, got "
            + (str(out.dtype) if isinstance(out, torch.Tensor) else type(out).__name__),
            hint="compute in the inputs' dtype (no torch.tensor(...) copies in float32)",
        )
        hint = "scores = q @ k.transpose(-2, -1) / sqrt(d_k); mask; softmax over the last dim; @ v"
        finite = isinstance(out, torch.Tensor) and bool(torch.isfinite(out.detach()).all())
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        if not finite and out.shape == want_out.shape and only_low_slices_fail(out, scores, -1):
            hint = (
                "each query row needs its own max: scores.amax(-1, keepdim=True). Subtracting the "
                "largest score of the whole batch from a row whose scores are near 1 leaves "
                "exp(-1e4) = 0 everywhere, and 0 / 0 = nan (torch.softmax does it right)"
            )
        for wrong, wrong_out in _attention_variants(q, k, v, mask).items():
            if _same(out, wrong_out) and not _same(out, want_out):
                hint = _HINTS[wrong]
                break
        c.close(out, want_out, case=f"{name}: out", hint=hint, atol=1e-5, rtol=1e-4, scale=scale)
        c.expect(
            isinstance(weights, torch.Tensor) and weights.dtype == dtype,
            case=f"{name}: weights",
            problem=f"expected weights of dtype {dtype}, got "
            + (str(weights.dtype) if isinstance(weights, torch.Tensor) else type(weights).__name__),
            hint="return the softmax weights in the inputs' dtype (no .float() or float32 copies)",
        )
        c.close(
            weights,
            want_w,
            case=f"{name}: weights",
            hint="return the softmax probabilities (..., T, S), each row summing to 1",
            atol=1e-5,
            rtol=1e-4,
            scale=scale,
        )
        if gain == 1.0 and "different scales" not in name:
            c.gradients(attention, scaled_dot_product_attention, q, k, v, mask, case=name)
    return f"{c.cases} checks: masks, float64, large scores, rows on different scales, d_v != d_k, gradients"


@checker
def ex09_dot_product_std(c: Check, answer: Any) -> str:
    """Predict: the standard deviation of q . k for d_k = 512 independent N(0, 1) entries."""
    value = c.number(answer, case="your prediction", hint="write a number in `answer`")
    want = math.sqrt(512)
    hint = "each of the 512 products q_i k_i has variance 1; variances of independent terms add"
    if math.isclose(value, 512, rel_tol=0.05):
        hint = "512 is the variance of the sum; the standard deviation is its square root"
    elif math.isclose(value, 1.0, rel_tol=0.1):
        hint = "1 is the spread AFTER dividing by sqrt(d_k); before it, the spread is larger"
    c.close(value, want, case="std of q . k with d_k = 512", hint=hint, rtol=0.05)
    return f"sqrt(512) = {want:.1f}"


def _tensor_case(c: Check, got: Any, want: torch.Tensor, name: str, hint: str) -> None:
    c.expect(
        isinstance(got, torch.Tensor),
        case=name,
        problem=f"expected a tensor, got {type(got).__name__}",
        hint="return a torch.Tensor",
    )
    c.expect(
        tuple(got.shape) == tuple(want.shape),
        case=name,
        problem=f"expected shape {tuple(want.shape)}, got {tuple(got.shape)}",
        hint=hint,
    )


def _ref_split(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    B, T, D = x.shape
    return x.view(B, T, n_heads, D // n_heads).transpose(1, 2)


def _ref_merge(y: torch.Tensor) -> torch.Tensor:
    B, H, T, hs = y.shape
    return y.transpose(1, 2).reshape(B, T, H * hs)


@checker
def ex09_split_heads(c: Check, split_heads: Callable[..., Any]) -> str:
    """``split_heads(x (B, T, D), n_heads) -> (B, H, T, D // H)``: head h gets columns h*hs..(h+1)*hs."""
    g = torch.Generator().manual_seed(1)
    for name, (B, T, D, H) in [
        ("x (2, 5, 12), 3 heads", (2, 5, 12, 3)),
        ("x (1, 7, 8), 2 heads", (1, 7, 8, 2)),
        ("x (3, 4, 6), 1 head", (3, 4, 6, 1)),
    ]:
        x = torch.randn(B, T, D, generator=g)
        want = x.view(B, T, H, D // H).transpose(1, 2)
        got = c.call(split_heads, x, H, case=name)
        _tensor_case(c, got, want, name, "view as (B, T, H, hs), then transpose(1, 2)")
        hint = "head h must hold columns h*hs:(h+1)*hs of every token"
        if _same(got, x.reshape(B, H, T, D // H)):
            hint = (
                "x.view(B, H, T, hs) has the right shape but mixes tokens into heads: view as "
                "(B, T, H, hs) first, then transpose(1, 2)"
            )
        c.close(got, want, case=name, hint=hint)
        c.gradients(split_heads, _ref_split, x, H, case=name)
    return f"{c.cases} checks"


@checker
def ex09_merge_heads(c: Check, merge_heads: Callable[..., Any]) -> str:
    """``merge_heads(y (B, H, T, hs)) -> (B, T, H * hs)``: the inverse of split_heads."""
    g = torch.Generator().manual_seed(2)
    for name, (B, H, T, hs) in [
        ("y (2, 3, 5, 4)", (2, 3, 5, 4)),
        ("y (1, 2, 7, 8)", (1, 2, 7, 8)),
        ("y (3, 4, 1, 2): one token", (3, 4, 1, 2)),
    ]:
        y = torch.randn(B, H, T, hs, generator=g)
        want = y.transpose(1, 2).reshape(B, T, H * hs)
        got = c.call(merge_heads, y, case=name)
        _tensor_case(c, got, want, name, "transpose(1, 2) to (B, T, H, hs), then reshape")
        hint = "token t must get the outputs of all heads for token t, side by side"
        if T > 1 and _same(got, y.reshape(B, T, H * hs)):
            hint = (
                "reshaping (B, H, T, hs) straight to (B, T, H*hs) mixes tokens: transpose(1, 2) "
                "first (then .contiguous().view or .reshape)"
            )
        c.close(got, want, case=name, hint=hint)
        c.gradients(merge_heads, _ref_merge, y, case=name)
    return f"{c.cases} checks"


@checker
def ex09_causal_mask(c: Check, causal_mask: Callable[..., Any]) -> str:
    """``causal_mask(T) -> (T, T)`` bool, True where query t may look at key s (s <= t)."""
    for T in (4, 9, 1):
        name = f"T = {T}"
        want = torch.ones(T, T, dtype=torch.bool).tril()
        got = c.call(causal_mask, T, case=name)
        _tensor_case(c, got, want, name, "a (T, T) matrix")
        c.expect(
            got.dtype == torch.bool,
            case=name,
            problem=f"expected dtype torch.bool, got {got.dtype}",
            hint="compare, or call .bool(): masks are True/False, not 0/1 floats",
        )
        hint = "row t (the query) is True for columns 0..t (the past and itself)"
        if T > 1 and torch.equal(got, want.T):
            hint = "that is the upper triangle: it lets each token see the future. Use tril"
        elif torch.equal(got, torch.ones(T, T, dtype=torch.bool).tril(-1)):
            hint = "each token must also see itself: keep the diagonal (tril(), not tril(-1))"
        elif torch.equal(got, ~want):
            hint = "inverted: True must mean 'may attend'"
        c.expect(torch.equal(got, want), case=name, problem="wrong entries", hint=hint)
    return f"{c.cases} checks"


@checker
def ex09_sinusoidal(c: Check, sinusoidal: Callable[..., Any]) -> str:
    """``sinusoidal(max_len, d_model)``: sin at even columns, cos at odd, frequency 10000^(-2i/d)."""
    for max_len, d in ((10, 8), (50, 16), (3, 2)):
        name = f"max_len={max_len}, d_model={d}"
        want = sinusoidal_encoding(max_len, d)
        got = c.call(sinusoidal, max_len, d, case=name)
        _tensor_case(c, got, want, name, "shape (max_len, d_model)")
        c.expect(
            got.dtype == torch.float32,
            case=name,
            problem=f"expected dtype torch.float32, got {got.dtype}",
            hint="float32, like the embeddings it is added to",
        )
        angle = torch.arange(max_len)[:, None] * 1e4 ** (-torch.arange(0, d, 2) / d)  # (L, d/2)
        swapped = torch.zeros(max_len, d)
        swapped[:, 0::2], swapped[:, 1::2] = torch.cos(angle), torch.sin(angle)
        hint = "pe[pos, 2i] = sin(pos / 10000**(2i/d)), pe[pos, 2i+1] = cos(the same angle)"
        if _same(got, swapped):
            hint = "sin and cos are swapped: sine goes in the even columns (0, 2, ...)"
        elif _same(got[:, :2], want[:, :2]):  # the first pair is right, later pairs are not
            hint = (
                "the frequencies are off: the angle of pair i (columns 2i and 2i+1) is "
                "pos * 10000**(-2i / d_model), with i = 0, 1, 2, ... and a negative exponent"
            )
        c.close(got, want, case=name, hint=hint, atol=1e-5)
    return f"{c.cases} checks"
