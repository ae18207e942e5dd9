"""The encoder-decoder Transformer of "Attention Is All You Need", small and readable (chapter 11).

The encoder reads the whole source at once (self-attention with a padding mask). The decoder writes
the target one token at a time: causal self-attention over what it has written so far, then
cross-attention whose queries come from the decoder and whose keys and values come from the encoder
output ("memory"). Training uses teacher forcing: the decoder is fed the true target shifted right
by one (``<bos> y_1 ... y_n``) and learns to predict ``y_1 ... y_n <eos>`` at every position at once.

Shapes: B batch, S source length, T target length, D d_model, H heads, V vocabulary, K beams.
Masks are boolean with True = "may attend", shaped to broadcast to ``(B, H, T_query, T_key)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .attention import (
    MultiHeadAttention,
    SinusoidalPositionalEncoding,
    attend,
    causal_mask,
    merge_heads,
    split_heads,
)

__all__ = [
    "CrossAttention",
    "Seq2SeqConfig",
    "Seq2SeqTransformer",
    "beam_search_step",
    "causal_mask",
    "padding_mask",
    "shift_targets",
]


# ----------------------------------------------------------------------------- masks and targets


def padding_mask(ids: torch.Tensor, pad_id: int = 0) -> torch.Tensor:
    """``(B, L)`` token ids -> ``(B, L)`` bool, True for real tokens and False for ``<pad>``."""
    _check_ids(ids, "ids")
    return ids != pad_id


def shift_targets(tgt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher forcing: ``tgt (B, T)`` = ``<bos> y <eos> <pad>..`` -> decoder input ``(B, T-1)``
    = ``<bos> y`` and labels ``(B, T-1)`` = ``y <eos>``, so position t is fed token t and must
    predict token t+1."""
    _check_ids(tgt, "tgt")
    if tgt.shape[1] < 2:
        raise ValueError(
            f"tgt needs at least 2 tokens (<bos> and one more), got shape {tuple(tgt.shape)}"
        )
    return tgt[:, :-1], tgt[:, 1:]


def beam_search_step(
    scores: torch.Tensor, log_probs: torch.Tensor, beam_size: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One step of beam search.

    ``scores (B, K)``: total log-probability of each live beam; ``log_probs (B, K, V)``: the next
    token's log-probabilities under each beam. Every beam-and-token extension is scored
    ``scores + log_probs``; the best ``beam_size`` of all ``K * V`` survive. Returns
    ``new_scores (B, beam_size)``, ``beam (B, beam_size)`` (which old beam each came from) and
    ``token (B, beam_size)`` (the token appended), best first.
    """
    if scores.dim() != 2 or log_probs.dim() != 3 or log_probs.shape[:2] != scores.shape:
        raise ValueError(
            f"need scores (B, K) and log_probs (B, K, V), got {tuple(scores.shape)} and "
            f"{tuple(log_probs.shape)}"
        )
    B, K, V = log_probs.shape
    if not 1 <= beam_size <= K * V:
        raise ValueError(f"beam_size must be in 1..K*V={K * V}, got {beam_size}")
    total = (scores.unsqueeze(-1) + log_probs).reshape(B, K * V)  # (B, K*V)
    new_scores, flat = total.topk(beam_size, dim=-1)  # (B, beam_size), sorted best first
    return new_scores, flat // V, flat % V


def _check_ids(
    ids: object, name: str, vocab_size: int | None = None, max_len: int | None = None
) -> None:
    """Raise a clear error unless ``ids`` is a (B, L) int64 tensor of ids in 0..vocab_size-1."""
    if not isinstance(ids, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of token ids, got {type(ids).__name__}")
    if ids.dtype != torch.long:
        raise TypeError(f"{name} must hold int64 token ids, got dtype {ids.dtype}")
    if ids.dim() != 2 or ids.shape[0] == 0 or ids.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty (B, L) tensor, got shape {tuple(ids.shape)}")
    if max_len is not None and ids.shape[1] > max_len:
        raise ValueError(
            f"{name} has length {ids.shape[1]}, longer than the model's maximum {max_len}"
        )
    if vocab_size is not None:
        lo, hi = torch.aminmax(ids)  # one small read-back; cheap next to the model itself
        if lo.item() < 0 or hi.item() >= vocab_size:
            bad = lo.item() if lo.item() < 0 else hi.item()
            raise ValueError(
                f"{name} contains token id {bad}, outside the vocabulary 0..{vocab_size - 1}"
            )


# ----------------------------------------------------------------------------- configuration


@dataclass
class Seq2SeqConfig:
    """Sizes of a ``Seq2SeqTransformer``. The paper's base model: d_model 512, 8 heads, 6 + 6
    layers, d_ff 2048, dropout 0.1, post-LayerNorm. Ours is much smaller."""

    vocab_size: int  # shared source/target vocabulary, special tokens included
    max_src_len: int = 32  # longest source the model accepts
    max_tgt_len: int = 32  # longest target, counting <bos> and <eos>
    d_model: int = 128  # width of every token vector
    n_heads: int = 4  # attention heads (d_model must be divisible by it)
    n_enc_layers: int = 2
    n_dec_layers: int = 2
    d_ff: int = 512  # hidden width of the feed-forward block
    dropout: float = 0.1
    pad_id: int = 0
    bos_id: int = 1
    eos_id: int = 2
    norm_first: bool = True  # pre-LN (trains without warm-up); False = the paper's post-LN


# ----------------------------------------------------------------------------- layers


class CrossAttention(nn.Module):
    """Multi-head attention whose queries come from ``x`` and keys/values from ``memory``.

    ``x (B, T, D)``, ``memory (B, S, D)``, ``mask`` broadcastable to ``(B, H, T, S)`` ->
    ``(B, T, D)`` and, if asked, the weights ``(B, H, T, S)``.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
        self.n_heads, self.dropout = n_heads, dropout
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.kv_proj = nn.Linear(d_model, 2 * d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        mask: torch.Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        H = self.n_heads
        q = split_heads(self.q_proj(x), H)  # (B, H, T, hs): queries from the decoder
        k, v = (split_heads(t, H) for t in self.kv_proj(memory).chunk(2, dim=-1))  # (B, H, S, hs)
        p = self.dropout if self.training else 0.0
        out, weights = attend(q, k, v, need_weights, mask, dropout_p=p)  # (B, H, T, hs)
        return self.out_proj(merge_heads(out)), weights  # (B, T, D): heads side by side, mixed


class FeedForward(nn.Module):
    """Position-wise MLP: ``(B, L, D) -> (B, L, D)`` through a ``d_ff`` hidden layer."""

    def __init__(self, d_model: int, d_ff: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_model, d_ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _Sublayer(nn.Module):
    """Residual + LayerNorm around one sublayer: pre-LN ``x + f(norm(x))`` or post-LN
    ``norm(x + f(x))`` (the paper's)."""

    def __init__(self, d_model: int, dropout: float, norm_first: bool) -> None:
        super().__init__()
        self.norm, self.norm_first = nn.LayerNorm(d_model), norm_first
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, f) -> torch.Tensor:  # noqa: ANN001 - f: tensor -> tensor
        if self.norm_first:
            return x + self.drop(f(self.norm(x)))
        return self.norm(x + self.drop(f(x)))


class EncoderLayer(nn.Module):
    """Self-attention over the source, then the feed-forward block: ``(B, S, D) -> (B, S, D)``."""

    def __init__(self, cfg: Seq2SeqConfig) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(cfg.d_model, cfg.n_heads, dropout=cfg.dropout)
        self.ff = FeedForward(cfg.d_model, cfg.d_ff, cfg.dropout)
        # MultiHeadAttention applies dropout to its own output, so its sublayer adds none.
        self.sub1 = _Sublayer(cfg.d_model, 0.0, cfg.norm_first)
        self.sub2 = _Sublayer(cfg.d_model, cfg.dropout, cfg.norm_first)

    def forward(self, x: torch.Tensor, src_mask: torch.Tensor) -> torch.Tensor:
        x = self.sub1(x, lambda h: self.self_attn(h, mask=src_mask)[0])  # src_mask (B, 1, 1, S)
        return self.sub2(x, self.ff)


class DecoderLayer(nn.Module):
    """Causal self-attention, cross-attention to the memory, feed-forward: ``(B, T, D) -> (B, T, D)``."""

    def __init__(self, cfg: Seq2SeqConfig) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(cfg.d_model, cfg.n_heads, dropout=cfg.dropout)
        self.cross_attn = CrossAttention(cfg.d_model, cfg.n_heads, dropout=cfg.dropout)
        self.ff = FeedForward(cfg.d_model, cfg.d_ff, cfg.dropout)
        self.sub1 = _Sublayer(cfg.d_model, 0.0, cfg.norm_first)  # dropout inside self_attn
        self.sub2 = _Sublayer(cfg.d_model, cfg.dropout, cfg.norm_first)
        self.sub3 = _Sublayer(cfg.d_model, cfg.dropout, cfg.norm_first)

    def forward(
        self,
        y: torch.Tensor,  # (B, T, D)
        memory: torch.Tensor,  # (B, S, D)
        tgt_mask: torch.Tensor,  # (B, 1, T, T): causal and not <pad>
        src_mask: torch.Tensor,  # (B, 1, 1, S): not <pad>
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        y = self.sub1(y, lambda h: self.self_attn(h, mask=tgt_mask)[0])
        store: list[torch.Tensor | None] = []

        def cross(h: torch.Tensor) -> torch.Tensor:
            out, w = self.cross_attn(h, memory, mask=src_mask, need_weights=need_weights)
            store.append(w)
            return out

        y = self.sub2(y, cross)
        return self.sub3(y, self.ff), store[0]  # weights (B, H, T, S) or None


# ----------------------------------------------------------------------------- the model


class Seq2SeqTransformer(nn.Module):
    """Encoder-decoder Transformer with shared, tied embeddings and sinusoidal positions.

    ``forward(src (B, S), tgt (B, T)) -> (logits (B, T-1, V), loss)``: teacher forcing on
    ``shift_targets(tgt)``; the loss ignores ``<pad>`` labels. ``greedy_decode`` and
    ``beam_search`` write new targets for a source.
    """

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        if not isinstance(config, Seq2SeqConfig):
            raise TypeError(
                f"Seq2SeqTransformer takes a Seq2SeqConfig, got {type(config).__name__}"
            )
        specials = {config.pad_id, config.bos_id, config.eos_id}
        if len(specials) != 3 or not all(0 <= i < config.vocab_size for i in specials):
            raise ValueError(
                f"pad/bos/eos ids must be distinct and inside the vocabulary 0..{config.vocab_size - 1}, "
                f"got {config.pad_id}, {config.bos_id}, {config.eos_id}"
            )
        self.config = c = config
        self.embed = nn.Embedding(c.vocab_size, c.d_model)  # shared by source, target and output
        self.pos = SinusoidalPositionalEncoding(max(c.max_src_len, c.max_tgt_len), c.d_model)
        self.drop = nn.Dropout(c.dropout)
        self.encoder = nn.ModuleList(EncoderLayer(c) for _ in range(c.n_enc_layers))
        self.decoder = nn.ModuleList(DecoderLayer(c) for _ in range(c.n_dec_layers))
        # With pre-LN the residual stream is never normalized inside the stack: normalize at the end.
        self.enc_norm = nn.LayerNorm(c.d_model) if c.norm_first else nn.Identity()
        self.dec_norm = nn.LayerNorm(c.d_model) if c.norm_first else nn.Identity()
        self.lm_head = nn.Linear(c.d_model, c.vocab_size, bias=False)
        self.lm_head.weight = self.embed.weight  # weight tying, as in the paper
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        # std d_model^-1/2, so the embedding times sqrt(d_model) has unit scale like the positions
        nn.init.normal_(self.embed.weight, std=self.config.d_model**-0.5)

    def num_parameters(self) -> int:
        """Number of trainable parameters (the tied embedding counted once)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def _embed(self, ids: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` ids -> ``(B, L, D)``: scaled token embedding plus position."""
        x = self.embed(ids) * math.sqrt(self.config.d_model)  # (B, L, D)
        return self.drop(self.pos(x))  # + fixed sinusoidal position vectors

    # -- the two halves ---------------------------------------------------------------------

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``src (B, S)`` -> ``memory (B, S, D)`` and the source mask ``(B, 1, 1, S)``."""
        c = self.config
        _check_ids(src, "src", c.vocab_size, c.max_src_len)
        keep = padding_mask(src, c.pad_id)  # (B, S)
        src_mask = keep[:, None, None, :]  # (B, 1, 1, S): every query may look at every real token
        x = self._embed(src)  # (B, S, D)
        for layer in self.encoder:
            x = layer(x, src_mask)
        return self.enc_norm(x), src_mask

    def decode(
        self,
        dec_in: torch.Tensor,
        memory: torch.Tensor,
        src_mask: torch.Tensor,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        """``dec_in (B, T)``, ``memory (B, S, D)`` -> logits ``(B, T, V)`` and, if asked, the
        cross-attention weights of each layer, ``(B, H, T, S)``."""
        c = self.config
        _check_ids(dec_in, "decoder input", c.vocab_size, c.max_tgt_len)
        T = dec_in.shape[1]
        tgt_mask = (
            causal_mask(T, dec_in.device)[None, None]
            & padding_mask(dec_in, c.pad_id)[:, None, None, :]
        )
        y = self._embed(dec_in)  # (B, T, D)
        weights = []
        for layer in self.decoder:
            y, w = layer(y, memory, tgt_mask, src_mask, need_weights)  # (B, T, D)
            weights.append(w)
        logits = self.lm_head(self.dec_norm(y))  # (B, T, V), tied to the embedding
        return logits, (weights if need_weights else None)

    # -- training ---------------------------------------------------------------------------

    def forward(
        self, src: torch.Tensor, tgt: torch.Tensor, return_attention: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor] | tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """Teacher forcing. ``src (B, S)``, ``tgt (B, T)`` = ``<bos> y <eos> <pad>..`` ->
        ``logits (B, T-1, V)`` predicting ``tgt[:, 1:]`` and the mean cross-entropy over
        non-pad labels (plus the cross-attention weights of each layer if asked)."""
        _check_ids(src, "src", self.config.vocab_size, self.config.max_src_len)
        _check_ids(tgt, "tgt", self.config.vocab_size, self.config.max_tgt_len)
        if tgt.shape[0] != src.shape[0]:
            raise ValueError(f"src has batch size {src.shape[0]} but tgt has {tgt.shape[0]}")
        dec_in, labels = shift_targets(tgt)  # (B, T-1) each
        memory, src_mask = self.encode(src)
        logits, weights = self.decode(dec_in, memory, src_mask, need_weights=return_attention)
        loss = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).float(),
            labels.reshape(-1),
            ignore_index=self.config.pad_id,
        )
        return (logits, loss, weights) if return_attention else (logits, loss)

    # -- inference --------------------------------------------------------------------------

    def _max_len(self, max_len: int | None) -> int:
        limit = self.config.max_tgt_len - 1  # the decoder never saw longer inputs in training
        max_len = limit if max_len is None else max_len
        if not isinstance(max_len, int) or not 1 <= max_len <= limit:
            raise ValueError(
                f"max_len must be an int in 1..{limit} (max_tgt_len - 1), got {max_len!r}"
            )
        return max_len

    def _next_log_probs(self, logits: torch.Tensor, finished: torch.Tensor) -> torch.Tensor:
        """``logits (N, V)`` of the last position -> log-probabilities ``(N, V)`` where unfinished
        rows may not produce <pad>/<bos> and finished rows can only add <pad> (at no cost)."""
        c = self.config
        logp = F.log_softmax(logits.float(), dim=-1)
        logp[:, [c.pad_id, c.bos_id]] = -math.inf
        done_row = torch.full_like(logp[:1], -math.inf)
        done_row[0, c.pad_id] = 0.0
        return torch.where(finished[:, None], done_row, logp)

    @torch.no_grad()
    def greedy_decode(
        self, src: torch.Tensor, max_len: int | None = None, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Write each target by taking the most likely next token every step.

        ``src (B, S)`` -> ``ids (B, L)``: the generated tokens after ``<bos>``, ending with
        ``<eos>`` and then ``<pad>`` (L <= max_len). With ``return_attention``, also the
        cross-attention weights of each decoder layer, ``(B, H, L, S)``: row l is where the decoder
        looked in the source while it chose ``ids[:, l]``.
        """
        c = self.config
        n = self._max_len(max_len)
        memory, src_mask = self.encode(src)
        B = src.shape[0]
        ys = torch.full((B, 1), c.bos_id, dtype=torch.long, device=src.device)  # (B, 1)
        finished = torch.zeros(B, dtype=torch.bool, device=src.device)
        for _ in range(n):
            logits, _ = self.decode(ys, memory, src_mask)  # (B, t, V): recomputed each step
            logp = self._next_log_probs(logits[:, -1], finished)  # (B, V)
            token = logp.argmax(dim=-1)  # (B,)
            ys = torch.cat([ys, token[:, None]], dim=1)
            finished |= token == c.eos_id
            if bool(finished.all()):
                break
        out = ys[:, 1:]  # drop <bos>
        if not return_attention:
            return out
        # One more pass over the finished prefix gives every step's cross-attention at once:
        # with the causal mask, position l sees exactly what it saw when token l+1 was chosen.
        _, weights = self.decode(ys[:, :-1], memory, src_mask, need_weights=True)
        return out, weights

    @torch.no_grad()
    def beam_search(
        self,
        src: torch.Tensor,
        beam_size: int = 4,
        max_len: int | None = None,
        length_penalty: float = 1.0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Keep the ``beam_size`` most likely partial targets at each step instead of one.

        ``src (B, S)`` -> best ``ids (B, L)`` (as ``greedy_decode``) and their scores ``(B,)``:
        total log-probability divided by ``length ** length_penalty`` (0: no normalization).
        ``beam_size=1`` gives the greedy result.
        """
        c = self.config
        n = self._max_len(max_len)
        if not isinstance(beam_size, int) or beam_size < 1:
            raise ValueError(f"beam_size must be a positive int, got {beam_size!r}")
        if length_penalty < 0:
            raise ValueError(f"length_penalty must be >= 0, got {length_penalty}")
        memory, src_mask = self.encode(src)  # (B, S, D), (B, 1, 1, S)
        B, K, dev = src.shape[0], beam_size, src.device
        memory = memory.repeat_interleave(K, dim=0)  # (B*K, S, D): each beam has its own copy
        src_mask = src_mask.repeat_interleave(K, dim=0)  # (B*K, 1, 1, S)
        ys = torch.full((B, K, 1), c.bos_id, dtype=torch.long, device=dev)  # (B, K, t)
        scores = torch.full((B, K), -math.inf, device=dev)
        scores[:, 0] = 0.0  # one live beam at the start, so the K beams do not all start equal
        finished = torch.zeros(B, K, dtype=torch.bool, device=dev)
        for _ in range(n):
            logits, _ = self.decode(ys.view(B * K, -1), memory, src_mask)  # (B*K, t, V)
            logp = self._next_log_probs(logits[:, -1], finished.view(-1)).view(
                B, K, -1
            )  # (B, K, V)
            scores, beam, token = beam_search_step(scores, logp, K)  # (B, K) each
            ys = ys.gather(1, beam[..., None].expand(-1, -1, ys.shape[-1]))  # reorder the beams
            ys = torch.cat([ys, token[..., None]], dim=-1)  # (B, K, t+1)
            finished = finished.gather(1, beam) | (token == c.eos_id)
            if bool(finished.all()):
                break
        out = ys[:, :, 1:]  # (B, K, L)
        lengths = (out != c.pad_id).sum(-1).clamp(min=1).to(scores.dtype)  # (B, K), <eos> included
        final = scores / lengths**length_penalty
        best = final.argmax(dim=-1)  # (B,)
        rows = torch.arange(B, device=dev)
        return out[rows, best], final[rows, best]
