"""KV-cache generation for ``course_lib.transformer.GPT`` (chapter 12).

Without a cache, every new token re-runs the whole context through the model: step t costs
O(t) token computations, so generating N tokens costs O(N^2). With a cache, each layer keeps the
keys and values of the tokens it has already seen, ``(B, H, S, hs)``; a new token computes only its
own query, key and value, appends the key and value to the cache, and attends over the cache.

The cache reuses the model's own modules and weights (``ln_1``, ``attn.qkv``, ``attn.proj``,
``ln_2``, ``mlp``, ``ln_f``, ``lm_head``): nothing is copied or retrained. Greedy decoding
(``top_k=1``) gives exactly the tokens of ``GPT.generate``.

Positions are absolute, so a cache can hold at most ``block_size`` tokens. Once a sequence is
longer, the model (trained with positions 0..block_size-1) needs the last ``block_size`` tokens
renumbered from 0, which changes every cached key; ``generate_cached`` then recomputes the cropped
window each step, exactly as the uncached path does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .attention import scaled_dot_product_attention
from .transformer import sample_next

__all__ = ["KVCache", "append_kv", "forward_cached", "generate_cached"]


def append_kv(
    past_k: torch.Tensor | None, past_v: torch.Tensor | None, k: torch.Tensor, v: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Append new keys/values ``(B, H, T_new, hs)`` after the cached ``(B, H, S, hs)`` (or None).

    Returns ``(B, H, S + T_new, hs)`` for keys and values: time is the second-to-last dim.
    """
    for name, t in (("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor) or t.dim() != 4:
            got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(f"{name} must have shape (B, H, T_new, hs), got {got}")
    if (past_k is None) != (past_v is None):
        raise ValueError("past_k and past_v must both be None or both be tensors")
    if past_k is None:
        return k, v
    assert past_v is not None
    if past_k.shape[:2] != k.shape[:2] or past_k.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"cached keys {tuple(past_k.shape)} and new keys {tuple(k.shape)} differ outside "
            "the time dim (B, H, ., hs)"
        )
    if past_k.device != k.device or past_k.dtype != k.dtype:
        raise ValueError(
            f"cache is {past_k.dtype} on {past_k.device}, new keys are {k.dtype} on {k.device}"
        )
    return torch.cat((past_k, k), dim=-2), torch.cat((past_v, v), dim=-2)


class KVCache:
    """One (keys, values) pair per layer, each ``(B, H, S, hs)``; ``length`` is S."""

    def __init__(self, n_layer: int) -> None:
        if not isinstance(n_layer, int) or n_layer < 1:
            raise ValueError(f"n_layer must be a positive int, got {n_layer!r}")
        self.keys: list[torch.Tensor | None] = [None] * n_layer
        self.values: list[torch.Tensor | None] = [None] * n_layer

    @property
    def length(self) -> int:
        """Number of cached positions S (0 when empty)."""
        k = self.keys[0]
        return 0 if k is None else int(k.shape[-2])

    def append(
        self, layer: int, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Add ``(B, H, T_new, hs)`` keys/values to ``layer``; return all of that layer's keys/values."""
        if not 0 <= layer < len(self.keys):
            raise ValueError(f"layer {layer} is outside 0..{len(self.keys) - 1}")
        k_all, v_all = append_kv(self.keys[layer], self.values[layer], k, v)
        self.keys[layer], self.values[layer] = k_all, v_all
        return k_all, v_all

    def nbytes(self) -> int:
        """Memory held by the cache, in bytes."""
        return sum(t.numel() * t.element_size() for t in self.keys + self.values if t is not None)


def _unwrap(model: nn.Module) -> nn.Module:
    while True:
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        if not isinstance(inner, nn.Module):
            return model
        model = inner


def _check_gpt(model: nn.Module) -> nn.Module:
    model = _unwrap(model)
    needed = ("wte", "wpe", "blocks", "ln_f", "lm_head", "config")
    missing = [n for n in needed if not hasattr(model, n)]
    if missing:
        raise TypeError(
            f"the KV cache needs a course_lib.transformer.GPT; {type(model).__name__} lacks "
            f"{', '.join(missing)}"
        )
    return model


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Causal attention of T_new queries (the last positions) over S cached keys: ``(B, H, T_new, hs)``."""
    T, S = q.shape[-2], k.shape[-2]
    past = S - T
    if T == 1:  # one new token may see every cached position: no mask at all
        mask = None
    else:  # query i sits at absolute position past + i and sees keys 0..past + i
        rows = torch.arange(T, device=q.device)[:, None] + past
        mask = torch.arange(S, device=q.device)[None, :] <= rows  # (T, S)
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return scaled_dot_product_attention(q, k, v, mask)[0]


@torch.no_grad()
def forward_cached(model: nn.Module, idx: torch.Tensor, cache: KVCache) -> torch.Tensor:
    """Run new tokens ``idx (B, T_new)`` through a GPT whose earlier tokens are in ``cache``.

    Returns logits ``(B, T_new, V)`` and appends each layer's keys/values to ``cache``.
    Positions continue from ``cache.length``; the total must stay within ``block_size``.
    """
    gpt = _check_gpt(model)
    gpt._check_idx(idx, "idx", check_length=False)
    B, T = idx.shape
    start = cache.length
    if len(cache.keys) != len(gpt.blocks):
        raise ValueError(f"cache has {len(cache.keys)} layers, the model {len(gpt.blocks)}")
    if start + T > gpt.config.block_size:
        raise ValueError(
            f"cache length {start} + {T} new tokens exceeds block_size={gpt.config.block_size}"
        )
    pos = torch.arange(start, start + T, dtype=torch.long, device=idx.device)  # (T,)
    x = gpt.drop(gpt.wte(idx) + gpt.wpe(pos))  # (B, T, C)
    for layer, block in enumerate(gpt.blocks):
        attn = block.attn
        C, H = attn.d_model, attn.n_heads
        q, k, v = attn.qkv(block.ln_1(x)).split(C, dim=2)  # 3 x (B, T, C)
        q = q.view(B, T, H, C // H).transpose(1, 2)  # (B, H, T, hs)
        k = k.view(B, T, H, C // H).transpose(1, 2)
        v = v.view(B, T, H, C // H).transpose(1, 2)
        k_all, v_all = cache.append(layer, k, v)  # (B, H, start + T, hs)
        y = _attend(q, k_all, v_all).transpose(1, 2).contiguous().view(B, T, C)
        x = x + attn.resid_drop(attn.proj(y))
        x = x + block.mlp(block.ln_2(x))
    return gpt.lm_head(gpt.ln_f(x))  # (B, T, V)


@torch.no_grad()
def generate_cached(
    model: nn.Module,
    idx: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``GPT.generate`` with a KV cache: continue ``idx (B, T)``, return ``(B, T + max_new_tokens)``.

    Same arguments and sampling as ``GPT.generate``; with ``top_k=1`` (greedy) the tokens are
    identical. Each new token costs one token's worth of work while the sequence fits in
    ``block_size``; beyond it the cropped window is recomputed each step (as without a cache).
    """
    gpt = _check_gpt(model)
    V, block = gpt.config.vocab_size, gpt.config.block_size
    if (
        not isinstance(max_new_tokens, int)
        or isinstance(max_new_tokens, bool)
        or max_new_tokens < 0
    ):
        raise ValueError(f"max_new_tokens must be a non-negative int, got {max_new_tokens!r}")
    if not (isinstance(temperature, (int, float)) and temperature > 0):
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    if top_k is not None and (not isinstance(top_k, int) or not 1 <= top_k <= V):
        raise ValueError(f"top_k must be None or an int in 1..vocab_size={V}, got {top_k!r}")
    gpt._check_idx(idx, "idx", check_length=False)
    if max_new_tokens == 0:
        return idx
    was_training = gpt.training
    gpt.eval()
    try:
        cache = KVCache(len(gpt.blocks))
        logits = forward_cached(gpt, idx[:, -block:], cache)[:, -1, :]  # prefill: (B, V)
        for i in range(max_new_tokens):
            nxt = sample_next(logits, temperature, top_k, generator)  # (B, 1)
            idx = torch.cat((idx, nxt), dim=1)
            if i == max_new_tokens - 1:
                break
            if cache.length < block:
                logits = forward_cached(gpt, nxt, cache)[:, -1, :]
            else:  # the window slides: positions renumber, so recompute it (no cache reuse)
                logits = gpt(idx[:, -block:])[0][:, -1, :]
    finally:
        gpt.train(was_training)
    return idx
