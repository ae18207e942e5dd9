"""The KV cache (chapter 12): each layer's keys and values, kept between generation steps.

Without a cache, every new token re-runs the whole context through the model: step t costs
O(t) token computations, so generating N tokens costs O(N^2). With a cache, each layer keeps the
keys and values of the tokens it has already seen, ``(B, H, S, hs)``; a new token computes only its
own query, key and value, appends the key and value to the cache, and attends over the cache.

The cache is only storage. The model uses it where attention happens: pass it to the forward pass,
``logits, _ = model(idx, cache=cache)`` (``course_lib.transformer.GPT``); each
``MultiHeadAttention`` appends its new keys and values through ``cache.layer(i)``, and positions
continue from ``cache.length``. ``model.generate(..., use_cache=True)`` does this for you and
gives exactly the tokens of the uncached path.

Positions are absolute, so a cache can hold at most ``block_size`` tokens. Once a sequence is
longer, the model (trained with positions 0..block_size-1) needs the last ``block_size`` tokens
renumbered from 0, which changes every cached key: ``generate`` then recomputes the cropped window
each step, exactly as the uncached path does.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import nn

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

    def layer(
        self, layer: int
    ) -> Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        """What attention layer ``layer`` is given: ``(k, v) -> append(layer, k, v)``."""
        return partial(self.append, layer)

    def nbytes(self) -> int:
        """Memory held by the cache, in bytes."""
        return sum(t.numel() * t.element_size() for t in self.keys + self.values if t is not None)


@torch.no_grad()
def forward_cached(model: nn.Module, idx: torch.Tensor, cache: KVCache) -> torch.Tensor:
    """Shorthand for ``model(idx, cache=cache)[0]``: logits ``(B, T_new, V)`` of the new tokens."""
    return model(idx, cache=cache)[0]


def generate_cached(
    model: nn.Module,
    idx: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Shorthand for ``model.generate(idx, max_new_tokens, ..., use_cache=True)`` (a GPT)."""
    generate = getattr(model, "generate", None)
    if generate is None:
        raise TypeError(f"generate_cached needs a course_lib GPT, got {type(model).__name__}")
    return generate(idx, max_new_tokens, temperature, top_k, generator, use_cache=True)
