"""A GPT (decoder-only Transformer) in one readable file (chapter 10).

Tokens ``idx (B, T)`` -> token + position embeddings ``(B, T, C)`` -> ``n_layer`` pre-LayerNorm
blocks, each ``x = x + attn(ln(x))`` then ``x = x + mlp(ln(x))`` -> final LayerNorm -> logits over
the vocabulary ``(B, T, V)``. The output layer shares its weight with the token embedding.

Shapes: B batch, T time (sequence length), C = n_embd, nh = n_head, hs = C // nh, V vocabulary.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .attention import MultiHeadAttention
from .encoder_decoder import Seq2SeqTransformer  # chapter 11's model, listed here by the curriculum
from .kv_cache import KVCache

__all__ = ["GPT", "GPTConfig", "Seq2SeqTransformer", "adamw_param_groups", "sample_next"]


@dataclass
class GPTConfig:
    """Sizes of a GPT. The defaults are the chapter's CPU model for character-level Shakespeare."""

    vocab_size: int = 65  # number of distinct tokens (65 characters in tiny Shakespeare)
    block_size: int = 64  # longest context the model sees (and the size of its position table)
    n_layer: int = 4  # Transformer blocks stacked on top of each other
    n_head: int = 4  # attention heads per block (n_embd must be divisible by it)
    n_embd: int = 128  # width C of every token vector
    dropout: float = 0.0  # dropout on attention weights and residual branches (0 for small data)
    bias: bool = False  # biases in Linear and LayerNorm layers (False: a bit faster, as good)
    gelu: str = "none"  # GELU form in the MLP: "none" exact (erf), "tanh" GPT-2's approximation

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"GPTConfig.{name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head != 0:
            raise ValueError(f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"GPTConfig.dropout must be in [0, 1), got {self.dropout}")
        if self.gelu not in ("none", "tanh"):
            raise ValueError(f'GPTConfig.gelu must be "none" (exact) or "tanh", got {self.gelu!r}')


class MLP(nn.Module):
    """Position-wise feed-forward block: ``(B, T, C)`` -> ``(B, T, 4C)`` -> GELU -> ``(B, T, C)``."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU(approximate=config.gelu)
        self.proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.drop = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.proj(self.gelu(self.fc(x))))  # (B, T, C)


class Block(nn.Module):
    """One pre-LayerNorm Transformer block: communicate (attention), then compute (MLP)."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = MultiHeadAttention(config.n_embd, config.n_head, config.dropout, config.bias)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, cache: Callable | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), is_causal=True, cache=cache)[0]  # (B, T, C): look back
        x = x + self.mlp(self.ln_2(x))  # (B, T, C): each token thinks on its own
        return x


def filter_logits(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> torch.Tensor:
    """The logits ``(B, V)`` that sampling draws from, in float32: returns ``(B, V)``.

    Divide by ``temperature``; with ``top_k``, set all but the ``top_k`` largest to ``-inf``; with
    ``top_p`` (nucleus sampling, Holtzman et al. 2019, "The Curious Case of Neural Text
    Degeneration"), keep the smallest set of most likely tokens whose probability (after temperature
    and top-k) sums to at least ``top_p``, always at least one token. float16 logits divided by a
    small temperature would overflow to inf, hence float32.
    """
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32)) / temperature
    if top_k is not None:
        kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None:
        probs, order = torch.sort(torch.softmax(logits, dim=-1), dim=-1, descending=True)  # (B, V)
        before = probs.cumsum(dim=-1) - probs  # mass of the more likely tokens
        drop_sorted = before >= top_p  # the nucleus is already full: never true for the first
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)  # back to vocab order
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_next(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
    top_p: float | None = None,
) -> torch.Tensor:
    """Draw the next token from the last position's logits ``(B, V)``: returns ids ``(B, 1)``.

    Apply ``filter_logits`` (temperature, then ``top_k``, then ``top_p``), then sample from the
    softmax. The one sampling rule of the course (plain, cached and exported generation).
    """
    probs = torch.softmax(filter_logits(logits, temperature, top_k, top_p), dim=-1)  # (B, V)
    return torch.multinomial(probs, num_samples=1, generator=generator)  # (B, 1)


@torch.no_grad()
def sample_tokens(
    next_logits: Callable[[torch.Tensor], torch.Tensor],
    idx: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
    vocab_size: int | None = None,
    top_p: float | None = None,
) -> torch.Tensor:
    """The generation loop: ``max_new_tokens`` times, append a token drawn from ``next_logits``.

    ``next_logits(idx (B, T)) -> (B, V)`` gives the logits of the token after ``idx``;
    ``GPT.generate`` and ``export.generate_exported`` pass their own. Returns ``(B, T + new)``.
    """
    if not isinstance(idx, torch.Tensor) or idx.dim() != 2 or idx.dtype != torch.long:
        got = f"{idx.dtype} {tuple(idx.shape)}" if isinstance(idx, torch.Tensor) else type(idx)
        raise TypeError(f"idx must be a (B, T) int64 tensor of token ids, got {got}")
    if (
        not isinstance(max_new_tokens, int)
        or isinstance(max_new_tokens, bool)
        or max_new_tokens < 0
    ):
        raise ValueError(f"max_new_tokens must be a non-negative int, got {max_new_tokens!r}")
    if not (isinstance(temperature, (int, float)) and temperature > 0):
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    top = vocab_size or math.inf
    if top_k is not None and (not isinstance(top_k, int) or not 1 <= top_k <= top):
        most = f"1..vocab_size={vocab_size}" if vocab_size else ">= 1"
        raise ValueError(f"top_k must be None or an int in {most}, got {top_k!r}")
    if top_p is not None and not (
        isinstance(top_p, (int, float)) and not isinstance(top_p, bool) and 0 < top_p <= 1
    ):
        raise ValueError(f"top_p must be None or a number in (0, 1], got {top_p!r}")
    for _ in range(max_new_tokens):
        nxt = sample_next(next_logits(idx), temperature, top_k, generator, top_p)  # (B, 1)
        idx = torch.cat((idx, nxt), dim=1)  # (B, T + 1)
    return idx


class GPT(nn.Module):
    """A GPT language model: ``forward(idx (B, T), targets (B, T) | None) -> (logits (B, T, V), loss)``.

    ``forward(..., cache=KVCache(n_layer))`` continues from the cached tokens (chapter 12).
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"GPT needs a GPTConfig, got {type(config).__name__}")
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)  # token embeddings (V, C)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)  # position embeddings (T, C)
        self.drop = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        # Weight tying: reading a token in and writing it out use the same (V, C) matrix.
        self.lm_head.weight = self.wte.weight
        self.apply(self._init_weights)
        # Each block adds two residual branches; scale their last layer so the sum stays ~ N(0, 1).
        for name, p in self.named_parameters():
            if name.endswith("proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def num_params(self, non_embedding: bool = True) -> int:
        """Number of parameters (the tied output matrix counted once; positions left out by default)."""
        n = sum(p.numel() for p in self.parameters())
        return n - self.wpe.weight.numel() if non_embedding else n

    def _check_idx(self, idx: torch.Tensor, name: str, check_length: bool = True) -> None:
        if not isinstance(idx, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of token ids, got {type(idx).__name__}")
        if idx.dtype != torch.long:
            raise TypeError(f"{name} must hold int64 token ids, got dtype {idx.dtype}")
        if idx.dim() != 2 or idx.shape[1] == 0:
            raise ValueError(f"{name} must have shape (B, T) with T >= 1, got {tuple(idx.shape)}")
        if check_length and idx.shape[1] > self.config.block_size:
            raise ValueError(
                f"{name} has length T={idx.shape[1]}, longer than block_size="
                f"{self.config.block_size}; crop it to the last {self.config.block_size} tokens"
            )
        if idx.device.type == "cuda" and self.training:
            return  # reading the range back would stall the GPU every step; the embedding asserts
        if _capturing():
            return  # reading values back would split a torch.compile / torch.export graph
        if idx.numel() > 0:
            lo, hi = torch.aminmax(idx)
            lo, hi = int(lo), int(hi)
            V = self.config.vocab_size
            if name == "targets" and lo == -1:  # -1 marks positions to ignore
                lo = 0
            if lo < 0 or hi >= V:
                raise ValueError(
                    f"{name} contains token id {lo if lo < 0 else hi}, outside the vocabulary "
                    f"0..{V - 1} (vocab_size={V})"
                )

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """idx ``(B, T)`` int64 -> logits ``(B, T, V)`` and, with targets ``(B, T)``, the mean
        cross-entropy of predicting each next token (targets of -1 are ignored).

        With a ``cache`` (``course_lib.kv_cache.KVCache``) the tokens continue the ones already
        in it: their positions start at ``cache.length``, and each layer attends over the cached
        keys and values too, then appends its own (chapter 12).
        """
        start = 0 if cache is None else cache.length
        self._check_idx(idx, "idx", check_length=cache is None)
        B, T = idx.shape
        if cache is not None and start + T > self.config.block_size:
            raise ValueError(
                f"cache length {start} + {T} new tokens exceeds block_size="
                f"{self.config.block_size}; start a new KVCache with the last tokens"
            )
        pos = torch.arange(start, start + T, dtype=torch.long, device=idx.device)  # (T,)
        x = self.drop(self.wte(idx) + self.wpe(pos))  # (B, T, C) + (T, C) -> (B, T, C)
        for i, block in enumerate(self.blocks):
            x = block(x, cache=None if cache is None else cache.layer(i))  # (B, T, C)
        x = self.ln_f(x)  # (B, T, C)
        logits = self.lm_head(x)  # (B, T, V)
        if targets is None:
            return logits, None
        if not isinstance(targets, torch.Tensor) or targets.shape != idx.shape:
            got = tuple(targets.shape) if isinstance(targets, torch.Tensor) else type(targets)
            raise ValueError(f"targets must have the shape of idx {tuple(idx.shape)}, got {got}")
        self._check_idx(targets, "targets")
        loss = F.cross_entropy(logits.view(B * T, -1), targets.reshape(B * T), ignore_index=-1)
        return logits, loss

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
        use_cache: bool = False,
        top_p: float | None = None,
    ) -> torch.Tensor:
        """Continue ``idx (B, T)`` by ``max_new_tokens`` sampled tokens: returns ``(B, T + new)``.

        Each step feeds the last ``block_size`` tokens, divides the last position's logits by
        ``temperature`` (< 1: sharper, > 1: flatter), keeps only the ``top_k`` most likely tokens
        and/or the nucleus of probability ``top_p`` if asked (``filter_logits``), and samples from
        the softmax. Pass a seeded ``generator`` (or seed PyTorch) to get the same text every
        time. ``use_cache=True`` keeps each layer's keys and values in a ``KVCache``, so each step
        feeds only the newest token: the same tokens, much faster.
        """
        block = self.config.block_size
        cache: KVCache | None = None

        def next_logits(idx: torch.Tensor) -> torch.Tensor:  # (B, T) -> (B, V)
            nonlocal cache
            if cache is not None and cache.length < block:  # the cache holds all but the newest
                logits, _ = self(idx[:, -1:], cache=cache)
            else:  # first step, no cache, or the window slid (positions renumber): whole window
                cache = KVCache(len(self.blocks)) if use_cache else None
                logits, _ = self(idx[:, -block:], cache=cache)
            return logits[:, -1, :]

        if isinstance(idx, torch.Tensor):
            self._check_idx(idx, "idx", check_length=False)  # longer prompts are cropped
        was_training = self.training
        self.eval()
        try:
            args = (max_new_tokens, temperature, top_k, generator, self.config.vocab_size)
            return sample_tokens(next_logits, idx, *args, top_p=top_p)
        finally:
            self.train(was_training)


def _capturing() -> bool:
    """True while torch.compile, torch.export or TorchScript tracing records the model."""
    compiling = getattr(getattr(torch, "compiler", None), "is_compiling", lambda: False)
    return compiling() or torch.jit.is_tracing()


def adamw_param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Parameter groups for AdamW: weight decay on matrices (Linear, Embedding), none on vectors.

    Biases and LayerNorm gains only shift and scale; shrinking them toward 0 does not regularize.
    A tied weight is listed once. ``torch.optim.AdamW(adamw_param_groups(model, 0.1), lr=1e-3)``.
    """
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
    params = [p for p in model.parameters() if p.requires_grad]  # parameters() deduplicates
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
