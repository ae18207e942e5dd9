"""Explorer for chapter 13: a BPE vocabulary size and a text -> the text as coloured tokens."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt

from ..tokenizers import BPETokenizer
from ..viz.tokens import show_tokens
from .core import Explorer, explorer, slider

try:
    import ipywidgets as _w
except ImportError:  # pragma: no cover
    _w = None

__all__ = ["tokenizer_explorer"]


def tokenizer_explorer(
    tokenizer: BPETokenizer,
    text: str = "To be, or not to be: that is the question.",
    step: int = 64,
) -> Explorer:
    """Split ``text`` with the first merges of ``tokenizer`` and draw the tokens in colour.

    Controls: the vocabulary size (256 = bytes only, up to ``tokenizer.vocab_size``; a smaller
    vocabulary is the same training stopped earlier, ``BPETokenizer.truncated``) and the text. The
    title gives the number of tokens and the compression ratio, characters per token.
    """
    if not isinstance(tokenizer, BPETokenizer):
        raise TypeError(f"tokenizer_explorer takes a BPETokenizer, got {type(tokenizer).__name__}")
    top = tokenizer.vocab_size - len(tokenizer.special_tokens)
    by_size: dict[int, BPETokenizer] = {}
    text_control: Any = text
    if _w is not None:
        text_control = _w.Text(value=text, description="text", continuous_update=False)

    def draw(vocab_size: int, text: str) -> None:
        size = int(vocab_size) + len(tokenizer.special_tokens)
        if size not in by_size:
            by_size[size] = tokenizer.truncated(size)
        tokens = by_size[size].tokens(text, allow_special=False)
        ratio = len(text) / max(len(tokens), 1)
        title = (
            f"vocabulary {int(vocab_size)}: {len(text)} characters, "
            f"{len(text.encode('utf-8'))} bytes -> {len(tokens)} tokens "
            f"({ratio:.2f} characters per token)"
        )
        show_tokens(tokens, title=title)
        plt.tight_layout()

    return explorer(
        draw,
        {"vocab_size": slider(top, 256, top, step, "vocabulary size"), "text": text_control},
        columns=2,
    )
