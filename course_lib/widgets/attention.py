"""Explorer for chapter 09: attention over a sentence, with a temperature slider."""

from __future__ import annotations

import hashlib
import math

import matplotlib.pyplot as plt
import torch

from ..attention import scaled_dot_product_attention, sinusoidal_encoding
from ..viz.attention import plot_attention
from .core import Explorer, dropdown, explorer, slider

__all__ = ["attention_explorer", "toy_sentence_attention"]

SENTENCE = "the cat sat on the mat because the cat was tired"


def _word_vector(word: str, dim: int) -> torch.Tensor:
    """A fixed unit vector per word from its letter trigrams: words that share letters are close."""
    padded = f"<{word.lower()}>"
    vec = torch.zeros(dim)
    for i in range(len(padded) - 2):
        digest = hashlib.sha256(padded[i : i + 3].encode()).digest()
        g = torch.Generator().manual_seed(int.from_bytes(digest[:8], "little"))
        vec += torch.randn(dim, generator=g)
    return vec / vec.norm().clamp_min(1e-9)


def toy_sentence_attention(
    sentence: str = SENTENCE,
    temperature: float = 1.0,
    causal: bool = False,
    position_weight: float = 0.5,
    dim: int = 64,
) -> tuple[list[str], torch.Tensor]:
    """Self-attention weights ``(T, T)`` of a toy model over the words of ``sentence``.

    Each word is a fixed unit vector built from its letters plus ``position_weight`` times a
    (unit-size) sinusoidal position encoding; queries and keys are those vectors (no learned
    projections), so a word matches itself, repeats of itself and words sharing letters. Scores are
    divided by ``sqrt(dim)`` and by ``temperature``. Returns the words and the weights.
    """
    words = sentence.split()
    if not words:
        raise ValueError("sentence has no words")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    x = torch.stack([_word_vector(w, dim) for w in words])  # (T, dim), unit vectors
    x = x + position_weight * sinusoidal_encoding(len(words), dim) / math.sqrt(dim / 2)
    x = x * (4.0 * math.sqrt(dim)) ** 0.5  # so that a word's score with itself is about 4
    _, weights = scaled_dot_product_attention(
        x, x, x, is_causal=causal, scale=1.0 / (math.sqrt(dim) * temperature)
    )
    return words, weights


def attention_explorer(sentence: str = SENTENCE) -> Explorer:
    """Heat-map of toy self-attention over ``sentence``; sliders for temperature and positions."""

    def draw(temperature: float, mask: str, position_weight: float) -> None:
        words, w = toy_sentence_attention(sentence, temperature, mask == "causal", position_weight)
        fig, ax = plt.subplots(figsize=(6, 4.5))
        entropy = -(w * w.clamp_min(1e-12).log()).sum(-1).mean()
        plot_attention(
            w,
            words,
            ax=ax,
            title=f"temperature {temperature:.2f}: mean row entropy {entropy:.2f} nats",
        )
        fig.tight_layout()

    return explorer(
        draw,
        {
            "temperature": slider(1.0, 0.05, 5.0, 0.05, "temperature"),
            "mask": dropdown(["none", "causal"], "none", "mask"),
            "position_weight": slider(0.5, 0.0, 2.0, 0.1, "position weight"),
        },
    )
