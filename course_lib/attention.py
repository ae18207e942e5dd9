"""Attention (chapter 09): scaled dot-product attention, multi-head attention, positional encodings.

``scaled_dot_product_attention`` is the teaching path, written out step by step; it returns the
attention weights so they can be plotted. ``MultiHeadAttention`` calls PyTorch's fused kernel
(``F.scaled_dot_product_attention``, capability-detected) when the weights are not asked for, and
the explicit path when they are: both give the same numbers.

Shapes: B batch, H heads, T query length, S key/value length, d (= hs) head size, D model width.
Masks are boolean, True = "may attend", and must broadcast to ``(..., T, S)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "LearnedPositionalEncoding",
    "MultiHeadAttention",
    "SinusoidalPositionalEncoding",
    "attend",
    "causal_mask",
    "check_mask",
    "merge_heads",
    "scaled_dot_product_attention",
    "sinusoidal_encoding",
    "split_heads",
]

# True when this PyTorch has the fused attention kernel (flash / memory-efficient / CPU flash).
HAS_FUSED_SDPA: bool = hasattr(F, "scaled_dot_product_attention")


def causal_mask(
    size: int, device: torch.device | str | None = None, n_keys: int | None = None
) -> torch.Tensor:
    """``(T, S)`` bool, True on and below the diagonal: query t may look at keys 0..t.

    ``size`` is T; ``n_keys`` is S (default T). With S != T the triangle starts at the top left,
    as in ``torch.nn.functional.scaled_dot_product_attention(is_causal=True)``.
    """
    n_keys = size if n_keys is None else n_keys
    for name, n in (("size", size), ("n_keys", n_keys)):
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"causal_mask needs a positive int {name}, got {n!r}")
    return torch.ones(size, n_keys, dtype=torch.bool, device=device).tril()


def check_mask(mask: torch.Tensor, scores_shape: tuple[int, ...], device: torch.device) -> None:
    """Raise a clear error unless ``mask`` is a bool tensor that broadcasts to ``scores_shape``.

    ``scores_shape`` is the shape of the attention scores, ``(..., T, S)``.
    """
    if not isinstance(mask, torch.Tensor):
        raise TypeError(
            f"mask must be a bool torch.Tensor (True = attend), got {type(mask).__name__}"
        )
    if mask.dtype != torch.bool:
        raise TypeError(
            f"mask must have dtype torch.bool (True = attend), got {mask.dtype}; "
            "build it with a comparison such as ids != pad_id, or call mask.bool()"
        )
    if mask.device != device:
        raise ValueError(f"mask is on {mask.device} but the queries are on {device}")
    shape = tuple(scores_shape)
    try:
        ok = tuple(torch.broadcast_shapes(tuple(mask.shape), shape)) == shape
    except RuntimeError:
        ok = False
    if not ok:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to the attention scores "
            f"{shape} (..., T_query={shape[-2]}, T_key={shape[-1]})"
        )


def _check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[int, ...]:
    """Validate q ``(..., T, d)``, k ``(..., S, d)``, v ``(..., S, dv)``; return the scores' shape."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
        if t.dim() < 2:
            raise ValueError(f"{name} must have shape (..., length, dim), got {tuple(t.shape)}")
    if not (q.dtype == k.dtype == v.dtype):
        raise TypeError(f"q, k, v must share a dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if not (q.device == k.device == v.device):
        raise ValueError(f"q, k, v must be on one device, got {q.device}, {k.device}, {v.device}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k need the same last dim d, got q {tuple(q.shape)} and k {tuple(k.shape)}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v need the same length S, got k {tuple(k.shape)} and v {tuple(v.shape)}"
        )
    try:
        batch = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except RuntimeError:
        raise ValueError(
            f"the leading dims of q {tuple(q.shape)}, k {tuple(k.shape)} and v {tuple(v.shape)} "
            "do not broadcast"
        ) from None
    return (*batch, q.shape[-2], k.shape[-2])


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    is_causal: bool = False,
    dropout_p: float = 0.0,
    scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q k^T / sqrt(d)) v, written out: returns ``(out, weights)``.

    q ``(..., T, d)``, k ``(..., S, d)``, v ``(..., S, dv)`` -> out ``(..., T, dv)`` and the
    attention weights ``(..., T, S)`` (each row sums to 1; taken before dropout).
    ``mask``: bool, True = attend, broadcastable to ``(..., T, S)``. ``is_causal``: query t sees
    keys 0..t only (combined with ``mask`` if both are given). A query row with nothing to attend
    to gets zero weights and a zero output, as in ``torch.nn.functional.scaled_dot_product_attention``.
    ``scale`` defaults to 1/sqrt(d).
    """
    scores_shape = _check_qkv(q, k, v)
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p must be in [0, 1), got {dropout_p}")
    T, S = scores_shape[-2], scores_shape[-1]
    if mask is not None:
        check_mask(mask, scores_shape, q.device)
    if is_causal:
        causal = causal_mask(T, q.device, n_keys=S)  # (T, S)
        mask = causal if mask is None else mask & causal
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale

    scores = (q @ k.transpose(-2, -1)) * scale  # (..., T, S): how well each query matches each key
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))  # masked keys get probability 0
    # (..., T, S), rows sum to 1; computed in float32 (at least) so half precision cannot overflow
    wide = torch.promote_types(scores.dtype, torch.float32)
    weights = torch.softmax(scores, dim=-1, dtype=wide).to(scores.dtype)
    if mask is not None:  # a row that may attend to nothing is all nan here: make it 0
        weights = weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)
    dropped = F.dropout(weights, dropout_p) if dropout_p > 0 else weights
    out = dropped @ v  # (..., T, dv): a weighted average of the values
    return out, weights


def split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """``(B, T, D)`` -> ``(B, H, T, D / H)``: each head gets its own slice of the width."""
    B, T, D = x.shape
    return x.view(B, T, n_heads, D // n_heads).transpose(1, 2)


def merge_heads(y: torch.Tensor) -> torch.Tensor:
    """``(B, H, T, hs)`` -> ``(B, T, H * hs)``: the heads side by side again."""
    B, H, T, hs = y.shape
    return y.transpose(1, 2).contiguous().view(B, T, H * hs)


def attend(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    need_weights: bool = False,
    mask: torch.Tensor | None = None,
    is_causal: bool = False,
    dropout_p: float = 0.0,
    fused: bool = HAS_FUSED_SDPA,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Attention of heads ``q (B, H, T, hs)`` over ``k, v (B, H, S, hs)``: ``(out, weights or None)``.

    The fused PyTorch kernel (``fused``, when this PyTorch has it) unless the weights are asked
    for, else the explicit ``scaled_dot_product_attention``: the same numbers. ``is_causal``
    aligns the triangle top left, as both kernels do.
    """
    if fused and not need_weights:
        if mask is not None and is_causal:  # the kernel takes one or the other: combine them
            mask = mask & causal_mask(q.shape[-2], q.device, n_keys=k.shape[-2])
            is_causal = False
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=dropout_p, is_causal=is_causal
        )
        return out, None
    return scaled_dot_product_attention(q, k, v, mask, is_causal, dropout_p)


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention: ``x (B, T, D)`` -> ``(out (B, T, D), weights (B, H, T, S) or None)``.

    One linear layer makes queries, keys and values for all heads at once; each head attends in a
    ``D / H``-dimensional subspace; the heads are put side by side again and mixed by ``proj``.
    With ``need_weights=False`` the fused PyTorch kernel runs (when this PyTorch has it); with
    ``need_weights=True`` the explicit ``scaled_dot_product_attention`` runs and returns weights.

    ``cache`` (chapter 12's KV cache, ``KVCache.layer(i)`` from ``course_lib.kv_cache``): a
    function that stores this call's keys and values and returns every one seen so far, so the
    T new queries attend over S = (cached + T) keys. Without a cache S = T.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        if not isinstance(d_model, int) or not isinstance(n_heads, int) or n_heads < 1:
            raise ValueError(f"need positive int d_model and n_heads, got {d_model!r}, {n_heads!r}")
        if d_model % n_heads != 0:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.d_model, self.n_heads, self.dropout = d_model, n_heads, dropout
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=bias)  # q, k, v for every head at once
        self.proj = nn.Linear(d_model, d_model, bias=bias)  # mixes the heads' outputs
        self.resid_drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fused = HAS_FUSED_SDPA

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        is_causal: bool = False,
        need_weights: bool = False,
        cache: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
        | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x ``(B, T, D)``; mask bool broadcastable to ``(B, H, T, S)``; returns ``(out, weights)``."""
        if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[-1] != self.d_model:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must have shape (B, T, {self.d_model}), got {got}")
        B, T, D = x.shape
        H = self.n_heads
        q, k, v = (split_heads(t, H) for t in self.qkv(x).split(D, dim=2))  # 3 x (B, H, T, hs)
        if cache is not None:
            k, v = cache(k, v)  # (B, H, S, hs): the cached positions, then these T
        S = k.shape[-2]
        if mask is not None:
            check_mask(mask, (B, H, T, S), x.device)
        if is_causal and S > T:  # query i sits at position S - T + i and sees keys 0..S - T + i
            is_causal = False
            if T > 1:  # one new token may see every cached key: no mask at all
                causal = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(S - T)
                mask = causal if mask is None else mask & causal
        p = self.dropout if self.training else 0.0
        y, weights = attend(q, k, v, need_weights, mask, is_causal, p, self.fused)  # (B, H, T, hs)
        return self.resid_drop(self.proj(merge_heads(y))), weights  # (B, T, D)


# ----------------------------------------------------------------------------- positions


def sinusoidal_encoding(
    max_len: int, d_model: int, base: float = 10000.0, device: torch.device | str | None = None
) -> torch.Tensor:
    """The fixed encoding of "Attention Is All You Need": ``(max_len, d_model)`` float32.

    Column pair (2i, 2i+1) holds sin and cos of ``pos * base**(-2i / d_model)``: fast waves in
    the first columns, slow ones in the last, so every position gets a distinct pattern.
    """
    for name, n in (("max_len", max_len), ("d_model", d_model)):
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"{name} must be a positive int, got {n!r}")
    if not base > 1:
        raise ValueError(f"base must be > 1, got {base}")
    pos = torch.arange(max_len, dtype=torch.float32, device=device)[:, None]  # (L, 1)
    freq = base ** (-torch.arange(0, d_model, 2, dtype=torch.float32, device=device) / d_model)
    angles = pos * freq  # (L, ceil(D/2))
    pe = torch.zeros(max_len, d_model, device=device)
    pe[:, 0::2] = torch.sin(angles)  # even columns: sine
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])  # odd columns: cosine, same frequency
    return pe


def _check_positions(x: torch.Tensor, max_len: int, d_model: int) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[-1] != d_model:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must have shape (B, T, {d_model}), got {got}")
    if x.shape[1] > max_len:
        raise ValueError(f"sequence length {x.shape[1]} is longer than max_len={max_len}")


class SinusoidalPositionalEncoding(nn.Module):
    """Adds the fixed sinusoidal encoding: ``x (B, T, D)`` -> ``x + pe[:T]`` (nothing learned)."""

    def __init__(self, max_len: int, d_model: int, base: float = 10000.0) -> None:
        super().__init__()
        self.max_len, self.d_model = max_len, d_model
        self.register_buffer("pe", sinusoidal_encoding(max_len, d_model, base), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_positions(x, self.max_len, self.d_model)
        return x + self.pe[: x.shape[1]].to(x.dtype)  # (B, T, D)


class LearnedPositionalEncoding(nn.Module):
    """Adds a learned vector per position (as GPT does): ``x (B, T, D)`` -> ``x + wpe[:T]``."""

    def __init__(self, max_len: int, d_model: int) -> None:
        super().__init__()
        self.max_len, self.d_model = max_len, d_model
        self.wpe = nn.Embedding(max_len, d_model)
        nn.init.normal_(self.wpe.weight, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_positions(x, self.max_len, self.d_model)
        pos = torch.arange(x.shape[1], device=x.device)  # (T,)
        return x + self.wpe(pos)  # (B, T, D)
