"""Explorer for chapter 08: a word's nearest neighbours in a trained embedding, and where they sit."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from ..viz.embeddings import pca_2d, plot_embedding_space
from .core import Explorer, dropdown, explorer, slider

__all__ = ["embedding_explorer", "nearest_neighbours"]


def nearest_neighbours(
    embedding: torch.Tensor, itos: Sequence[str], word: str, k: int = 5
) -> list[tuple[str, float]]:
    """The ``k`` words whose rows of ``embedding`` ``(V, D)`` have the largest cosine similarity with ``word``'s.

    ``itos[i]`` is the word of row ``i``; ``word`` itself is left out. Returns ``(word, cosine)``
    pairs, most similar first. Raises ``ValueError`` for a word not in ``itos`` or a bad ``k``.
    """
    if embedding.dim() != 2 or embedding.shape[0] != len(itos):
        raise ValueError(
            f"embedding must be (V, D) with V = len(itos) = {len(itos)}, got {tuple(embedding.shape)}"
        )
    stoi = {w: i for i, w in enumerate(itos)}
    if word not in stoi:
        raise ValueError(f"{word!r} is not in the vocabulary; pick one of its {len(itos)} words")
    if not 1 <= k < len(itos):
        raise ValueError(f"k must be in 1..{len(itos) - 1}, got {k}")
    unit = F.normalize(embedding.detach().float(), dim=1)  # (V, D)
    sims = unit @ unit[stoi[word]]  # (V,)
    sims[stoi[word]] = -float("inf")
    top = torch.topk(sims, k)
    return [(itos[i], s) for i, s in zip(top.indices.tolist(), top.values.tolist())]


def embedding_explorer(
    embedding: torch.Tensor,
    itos: Sequence[str],
    words: Sequence[str],
    groups: Sequence[str] | None = None,
    word: str | None = None,
) -> Explorer:
    """Pick a word and a number of neighbours: its nearest words by cosine, and the 2-D map of ``words``.

    ``embedding`` ``(V, D)`` (a trained ``nn.Embedding``'s weight, any device), ``itos`` its words,
    ``words`` the words to draw on the PCA map (coloured by ``groups``), ``word`` the starting word.
    Neighbours are searched in the whole vocabulary; those on the map are joined to the word.
    """
    table = embedding.detach().float().cpu()
    words = list(words)
    stoi = {w: i for i, w in enumerate(itos)}
    missing = [w for w in words if w not in stoi]
    if missing:
        raise ValueError(f"words not in the vocabulary: {missing[:5]}")
    xy = pca_2d(table[[stoi[w] for w in words]])  # (N, 2), fixed for every redraw
    at = {w: xy[i] for i, w in enumerate(words)}

    def draw(word: str, k: int) -> None:
        found = nearest_neighbours(table, itos, word, k)
        fig, (a_map, a_bar) = plt.subplots(
            1, 2, figsize=(10, 4.2), gridspec_kw={"width_ratios": [3, 2]}
        )
        # a fixed layout and legend place: "best" and tight_layout measure every label (slow)
        fig.subplots_adjust(left=0.07, right=0.98, bottom=0.12, top=0.92, wspace=0.45)
        plot_embedding_space(
            table[[stoi[w] for w in words]], words, groups, ax=a_map, title="the words in 2-D (PCA)"
        )
        if groups is not None:
            a_map.legend(fontsize=7, loc="upper left")
        for other, _ in found:
            if other in at and word in at:
                (x0, y0), (x1, y1) = at[word].tolist(), at[other].tolist()
                a_map.plot([x0, x1], [y0, y1], color="crimson", lw=0.8, alpha=0.7)
        if word in at:
            a_map.scatter(*at[word].tolist(), s=160, marker="*", color="crimson", zorder=5)
        names = [w if w in at else f"{w} (off the map)" for w, _ in found]
        a_bar.barh(range(len(found))[::-1], [s for _, s in found], color="tab:red")
        a_bar.set_yticks(range(len(found))[::-1], names, fontsize=8)
        a_bar.set(xlim=(min(0.0, min(s for _, s in found)), 1.0), xlabel="cosine similarity")
        a_bar.set_title(f"the {k} nearest neighbours of {word!r}", fontsize=10)

    start = word if word is not None else words[0]
    return explorer(
        draw,
        {
            "word": dropdown(sorted(words), start, "word"),
            "k": slider(5, 1, min(15, len(itos) - 1), 1, "neighbours"),
        },
    )
