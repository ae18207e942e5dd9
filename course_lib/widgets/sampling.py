"""Explorer for chapter 10: sample from a trained GPT with temperature, top-k and a prompt."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import torch

from .core import Explorer, explorer, slider

try:
    import ipywidgets as _w
except ImportError:  # pragma: no cover
    _w = None

__all__ = ["next_token_distribution", "sampling_explorer"]


def next_token_distribution(
    model: Any, ids: torch.Tensor, temperature: float = 1.0, top_k: int | None = None
) -> torch.Tensor:
    """Probabilities ``(V,)`` of the token after ``ids (T,)``: softmax(logits / T), top-k kept."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    block = model.config.block_size
    device = next(model.parameters()).device
    with torch.no_grad():
        was_training = model.training
        model.eval()
        logits, _ = model(ids[None, -block:].to(device))
        model.train(was_training)
    logits = logits[0, -1].float().cpu() / temperature  # (V,)
    if top_k:
        if not 1 <= top_k <= logits.numel():
            raise ValueError(f"top_k must be in 1..{logits.numel()}, got {top_k}")
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.softmax(logits, dim=-1)


def _show(ch: str) -> str:
    return {"\n": "\\n", " ": "␣"}.get(ch, ch)


def sampling_explorer(
    model: Any, tokenizer: Any, prompt: str = "ROMEO:", max_new_tokens: int = 200, seed: int = 0
) -> Explorer:
    """Next-character probabilities and a sampled continuation of ``prompt``.

    Controls: temperature, top-k (0 = off) and the prompt. Sampling uses a fixed ``seed``, so a
    setting always gives the same text: move one control at a time and compare.
    """
    V = tokenizer.vocab_size
    prompt_control: Any = prompt
    if _w is not None:
        prompt_control = _w.Text(value=prompt, description="prompt", continuous_update=False)

    def draw(temperature: float, top_k: int, prompt: str) -> None:
        fig, ax = plt.subplots(figsize=(6, 3))
        try:
            ids = tokenizer.encode(prompt or "\n")
        except ValueError as e:
            ax.text(0.5, 0.5, str(e), ha="center", va="center", wrap=True)
            ax.set_axis_off()
            return
        k = int(top_k) or None
        probs = next_token_distribution(model, ids, temperature, k)
        top = torch.topk(probs, min(20, V))
        ax.bar(range(len(top.values)), top.values.numpy(), color="tab:blue")
        ax.set_xticks(range(len(top.values)), [_show(tokenizer.chars[i]) for i in top.indices])
        ax.set_ylabel("probability")
        ax.set_title(f"next character after {prompt[-20:]!r} (T={temperature:.2f}, top-k={k})")
        fig.tight_layout()
        device = next(model.parameters()).device
        g = torch.Generator(device=device).manual_seed(seed)
        out = model.generate(ids[None].to(device), max_new_tokens, temperature, k, generator=g)
        print(tokenizer.decode(out[0].cpu()))

    return explorer(
        draw,
        {
            "temperature": slider(0.8, 0.1, 2.0, 0.05, "temperature"),
            "top_k": slider(0, 0, V, 1, "top-k (0 = off)"),
            "prompt": prompt_control,
        },
    )
