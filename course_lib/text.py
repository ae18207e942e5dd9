"""Text into tensors, and the bag-of-embeddings classifier (chapter 08).

The pipeline: ``word_tokenize`` a sentence into words (for characters, use
``course_lib.data.CharTokenizer`` or ``list(text)``), map the tokens to ids with a ``Vocabulary``
(which reserves ``<pad>`` and ``<unk>``), pad a batch of id lists to one ``(B, T)`` tensor plus a
``(B, T)`` mask with ``pad_batch``, and classify with ``BagOfEmbeddings``: embed each token,
average the embeddings of the real (non-padding) tokens, and apply one dense layer.

>>> vocab = Vocabulary.build([word_tokenize(t) for t in texts], min_freq=2)
>>> ids, mask = pad_batch([vocab.encode(word_tokenize(t)) for t in texts[:4]], vocab.pad_id)
>>> logits = BagOfEmbeddings(len(vocab), 32, 5, pad_id=vocab.pad_id)(ids, mask)  # (4, 5)
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader

__all__ = [
    "PAD",
    "UNK",
    "BagOfEmbeddings",
    "Vocabulary",
    "encode_texts",
    "masked_mean_pool",
    "pad_batch",
    "text_loader",
    "token_contributions",
    "word_tokenize",
]

PAD = "<pad>"
UNK = "<unk>"
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")


def word_tokenize(text: str) -> list[str]:
    """Lower-case ``text`` and split it into words and single punctuation marks.

    ``"The cloud's down!"`` -> ``["the", "cloud's", "down", "!"]``.
    """
    if not isinstance(text, str):
        raise TypeError(f"word_tokenize takes a str, got {type(text).__name__}")
    return _WORD.findall(text.lower())


class Vocabulary:
    """Token <-> id table. Id 0 is ``<pad>``, id 1 is ``<unk>``; unknown tokens encode to ``<unk>``.

    Build one from training tokens with ``Vocabulary.build``; ids after the two special tokens
    follow decreasing frequency (ties alphabetical), so the same data always gives the same ids.
    """

    def __init__(self, tokens: Sequence[str]) -> None:
        tokens = list(tokens)
        if any(not isinstance(t, str) for t in tokens):
            raise TypeError("a Vocabulary holds str tokens only")
        if PAD in tokens or UNK in tokens:
            raise ValueError(f"{PAD!r} and {UNK!r} are added by the Vocabulary itself")
        if len(set(tokens)) != len(tokens):
            dup = sorted({t for t in tokens if tokens.count(t) > 1})
            raise ValueError(f"duplicate tokens: {dup[:5]!r}")
        self.itos: list[str] = [PAD, UNK, *tokens]
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}
        self.pad_id, self.unk_id = 0, 1

    @classmethod
    def build(
        cls, token_lists: Iterable[Sequence[str]], min_freq: int = 1, max_size: int | None = None
    ) -> Vocabulary:
        """Vocabulary of the tokens seen at least ``min_freq`` times, most frequent first.

        ``max_size`` caps the number of ids, the two special tokens included.
        """
        if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
            raise ValueError(f"min_freq must be an int >= 1, got {min_freq!r}")
        if max_size is not None and (not isinstance(max_size, int) or max_size < 2):
            raise ValueError(
                f"max_size must be None or an int >= 2 (room for specials), got {max_size!r}"
            )
        counts: Counter[str] = Counter()
        n_lists = 0
        for tokens in token_lists:
            if isinstance(tokens, str):
                raise TypeError(
                    "Vocabulary.build takes lists of tokens, got a str: tokenize first "
                    "(e.g. [word_tokenize(t) for t in texts])"
                )
            counts.update(tokens)
            n_lists += 1
        if n_lists == 0:
            raise ValueError("Vocabulary.build got no token lists (is the data set empty?)")
        counts.pop(PAD, None)
        counts.pop(UNK, None)
        kept = sorted(
            (t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t)
        )
        if max_size is not None:
            kept = kept[: max_size - 2]
        return cls(kept)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens: {self.itos[:6]!r}...)"

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Tokens -> ids; a token not in the vocabulary becomes ``unk_id``."""
        if isinstance(tokens, str):
            raise TypeError("encode takes a list of tokens, got a str: tokenize it first")
        return [self.stoi.get(t, self.unk_id) for t in tokens]

    def decode(self, ids: Iterable[int] | torch.Tensor) -> list[str]:
        """Ids -> tokens (padding included; drop it with the mask)."""
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        bad = [i for i in ids if not 0 <= i < len(self)]
        if bad:
            raise ValueError(f"ids {bad[:5]} are outside the vocabulary 0..{len(self) - 1}")
        return [self.itos[i] for i in ids]


def encode_texts(
    texts: Sequence[str], vocab: Vocabulary, tokenize: Callable[[str], list[str]] = word_tokenize
) -> list[list[int]]:
    """Tokenize and encode each text: N strings -> N lists of ids (lengths differ)."""
    if isinstance(texts, str):
        raise TypeError("encode_texts takes a list of texts, got a single str")
    return [vocab.encode(tokenize(t)) for t in texts]


def pad_batch(
    seqs: Sequence[Sequence[int] | torch.Tensor],
    pad_id: int = 0,
    max_len: int | None = None,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id sequences to one length. -> ids ``(B, T)`` int64 and mask ``(B, T)`` bool.

    ``T`` is the longest sequence (or ``max_len``, which also truncates longer ones). The mask is
    True on real tokens and False on padding. Tensor inputs keep their device unless ``device`` is
    given.
    """
    if isinstance(seqs, torch.Tensor) or isinstance(seqs, str):
        raise TypeError(f"pad_batch takes a list of sequences, got {type(seqs).__name__}")
    seqs = list(seqs)
    if not seqs:
        raise ValueError("pad_batch got an empty batch: need at least one sequence")
    if max_len is not None and (
        isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1
    ):
        raise ValueError(f"max_len must be None or an int >= 1, got {max_len!r}")
    rows: list[torch.Tensor] = []
    for i, s in enumerate(seqs):
        t = s if isinstance(s, torch.Tensor) else torch.as_tensor(list(s), dtype=torch.long)
        if t.dim() != 1:
            raise ValueError(f"sequence {i} must be 1-D, got shape {tuple(t.shape)}")
        if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            raise TypeError(f"sequence {i} must hold integer ids, got dtype {t.dtype}")
        rows.append(t.long())
    if device is None:
        device = rows[0].device
    T = max_len if max_len is not None else max(len(r) for r in rows)
    T = max(T, 1)  # a batch of empty sequences still has one (padding) column
    ids = torch.full((len(rows), T), pad_id, dtype=torch.long, device=device)
    mask = torch.zeros((len(rows), T), dtype=torch.bool, device=device)
    for i, r in enumerate(rows):
        n = min(len(r), T)
        ids[i, :n] = r[:n].to(device)
        mask[i, :n] = True
    return ids, mask


def masked_mean_pool(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average ``x`` ``(B, T, D)`` over the time steps where ``mask`` ``(B, T)`` is True -> ``(B, D)``.

    Padding positions do not count, neither in the sum nor in the number of tokens. A row with no
    real token gives zeros (not nan).
    """
    if not isinstance(x, torch.Tensor) or not isinstance(mask, torch.Tensor):
        raise TypeError("masked_mean_pool takes two tensors: x (B, T, D) and mask (B, T)")
    if x.dim() != 3:
        raise ValueError(f"x must have shape (B, T, D), got {tuple(x.shape)}")
    if mask.shape != x.shape[:2]:
        raise ValueError(
            f"mask must have shape (B, T) = {tuple(x.shape[:2])} to match x {tuple(x.shape)}, "
            f"got {tuple(mask.shape)}"
        )
    if mask.dtype != torch.bool:
        raise TypeError(f"mask must be a bool tensor (True = real token), got dtype {mask.dtype}")
    if mask.device != x.device:
        raise ValueError(f"mask is on {mask.device} but x is on {x.device}")
    m = mask.unsqueeze(-1).to(x.dtype)  # (B, T, 1)
    total = (x * m).sum(dim=1)  # (B, D)
    count = m.sum(dim=1).clamp(min=1)  # (B, 1): number of real tokens
    return total / count


class BagOfEmbeddings(nn.Module):
    """Embedding -> masked mean pooling -> dense layer: ids ``(B, T)`` -> logits ``(B, C)``.

    The order of the tokens does not matter (a "bag" of words); padding does not either.
    """

    def __init__(self, vocab_size: int, embed_dim: int, num_classes: int, pad_id: int = 0) -> None:
        super().__init__()
        for name, v, low in (
            ("vocab_size", vocab_size, 1),
            ("embed_dim", embed_dim, 1),
            ("num_classes", num_classes, 1),
        ):
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"{name} must be an int >= {low}, got {v!r}")
        if not 0 <= pad_id < vocab_size:
            raise ValueError(f"pad_id={pad_id} is outside the vocabulary 0..{vocab_size - 1}")
        self.pad_id = pad_id
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)  # (V, D)
        self.fc = nn.Linear(embed_dim, num_classes)  # (D,) -> (C,)

    def pooled(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The sentence vector: mean embedding of the real tokens, ``(B, T)`` -> ``(B, D)``."""
        if not isinstance(ids, torch.Tensor):
            raise TypeError(f"ids must be a tensor of token ids (B, T), got {type(ids).__name__}")
        if ids.dim() != 2:
            raise ValueError(f"ids must have shape (B, T), got {tuple(ids.shape)}")
        if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
            raise TypeError(f"ids must hold integer token ids, got dtype {ids.dtype}")
        weight = self.embedding.weight
        if ids.device != weight.device:
            raise ValueError(f"ids are on {ids.device} but the model is on {weight.device}")
        if ids.numel():
            lo, hi = (int(v) for v in torch.aminmax(ids))  # one host sync for both bounds
            V = self.embedding.num_embeddings
            if lo < 0 or hi >= V:
                raise ValueError(f"token ids must be in 0..{V - 1}, got values from {lo} to {hi}")
        if mask is None:
            mask = ids != self.pad_id
        return masked_mean_pool(self.embedding(ids), mask)  # (B, D)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(B, C)``; ``mask`` ``(B, T)`` defaults to ``ids != pad_id``."""
        return self.fc(self.pooled(ids, mask))


@torch.no_grad()
def token_contributions(model: BagOfEmbeddings, ids: torch.Tensor) -> torch.Tensor:
    """How much each token adds to each class logit: ids ``(T,)`` -> ``(T, C)``.

    The model is linear after the embedding lookup, so ``logits = bias + sum_t W e_t / n``:
    row ``t`` is ``W e_t / n`` (zero for padding), and the rows plus the bias sum to the logits.
    """
    if not isinstance(ids, torch.Tensor) or ids.dim() != 1:
        shape = tuple(ids.shape) if isinstance(ids, torch.Tensor) else type(ids).__name__
        raise ValueError(f"ids must be one sequence of shape (T,), got {shape}")
    real = ids != model.pad_id
    e = model.embedding(ids)  # (T, D)
    n = real.sum().clamp(min=1)
    return (e @ model.fc.weight.T) * real[:, None] / n  # (T, C)


def _collate(
    pad_id: int,
) -> Callable[[list[tuple[list[int], int]]], tuple[torch.Tensor, torch.Tensor]]:
    def collate(batch: list[tuple[list[int], int]]) -> tuple[torch.Tensor, torch.Tensor]:
        ids, _ = pad_batch([s for s, _ in batch], pad_id)
        return ids, torch.tensor([y for _, y in batch], dtype=torch.long)

    return collate


def text_loader(
    texts: Sequence[str],
    labels: torch.Tensor | Sequence[int],
    vocab: Vocabulary,
    batch_size: int = 64,
    shuffle: bool = True,
    tokenize: Callable[[str], list[str]] = word_tokenize,
    seed: int | None = None,
) -> DataLoader:
    """A ``DataLoader`` of padded batches ``(ids (B, T), labels (B,))`` for ``course_lib.train.fit``.

    No worker processes (works the same on Windows, macOS and Linux). ``seed`` fixes the shuffle
    order independently of the global random state.
    """
    if isinstance(texts, str):
        raise TypeError("text_loader takes a list of texts, got a single str")
    labels_list = labels.tolist() if isinstance(labels, torch.Tensor) else list(labels)
    if len(texts) == 0:
        raise ValueError("text_loader got an empty data set: no texts")
    if len(labels_list) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(labels_list)} labels")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    items = list(zip(encode_texts(texts, vocab, tokenize), labels_list, strict=True))
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    return DataLoader(
        items,  # type: ignore[arg-type]
        batch_size=batch_size,
        shuffle=shuffle,
        collate_fn=_collate(vocab.pad_id),
        num_workers=0,
        generator=gen,
    )
