"""Explorer for chapter 11: cross-attention of a trained encoder-decoder over a typed input, greedy vs beam."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import torch

from .core import Explorer, dropdown, explorer, slider

try:
    import ipywidgets as _w
except ImportError:  # pragma: no cover
    _w = None

__all__ = ["cross_attention_explorer", "decode_with_attention"]


@torch.no_grad()
def decode_with_attention(
    model: Any, tokenizer: Any, text: str, beam_size: int = 1
) -> tuple[list[int], torch.Tensor, torch.Tensor, float | None]:
    """Decode ``text`` (greedy for ``beam_size`` 1, else beam search) and read the model's attention.

    Returns the output ids up to and including ``<eos>`` (``L`` of them), the cross-attention of
    every decoder layer while each was chosen ``(n_layers, H, L, S)`` (``S`` source characters),
    the probability the model gave each chosen token ``(L,)``, and the beam's length-normalized
    score (``None`` for greedy). Runs on the model's device; results on the CPU. Raises
    ``ValueError`` for text the tokenizer or the model cannot take.
    """
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}")
    src = _src(model, tokenizer, text)  # (1, S)
    device = src.device
    if src.shape[1] == 0:
        raise ValueError("type a date: the input is empty")
    was_training = model.training
    model.eval()
    try:
        if beam_size == 1:
            ids, score = model.greedy_decode(src), None
        else:
            ids, scores = model.beam_search(src, beam_size=beam_size)
            score = scores[0].item()
        out = ids[0].tolist()
        if tokenizer.eos_id in out:
            out = out[: out.index(tokenizer.eos_id) + 1]
        dec_in = torch.tensor([[tokenizer.bos_id, *out[:-1]]], device=device)  # (1, L)
        memory, src_mask = model.encode(src)
        logits, weights = model.decode(dec_in, memory, src_mask, need_weights=True)
    finally:
        model.train(was_training)
    probs = torch.softmax(logits[0].float(), dim=-1)  # (L, V)
    chosen = probs[torch.arange(len(out), device=device), torch.tensor(out, device=device)]
    attn = torch.stack([w[0] for w in weights]).float().cpu()  # (n_layers, H, L, S)
    return out, attn, chosen.cpu(), score


def _show(tokenizer: Any, i: int) -> str:
    if i == tokenizer.eos_id:
        return "<eos>"
    return tokenizer.itos[i]


def cross_attention_explorer(
    model: Any, tokenizer: Any, text: str = "September 30, 1987"
) -> Explorer:
    """Beam width (1 = greedy), decoder layer, head and the input text -> cross-attention heat map.

    The title compares the greedy output with the beam's; the rows are the output tokens of the
    chosen decoder, each with the probability the model gave it.
    """
    n_layers, n_heads = len(model.decoder), model.config.n_heads
    text_control: Any = text
    if _w is not None:
        text_control = _w.Text(value=text, description="input", continuous_update=False)

    def draw(beam_size: int, layer: int, head: str, text: str) -> None:
        fig, ax = plt.subplots(figsize=(7, 4.2))
        try:
            out, attn, chosen, score = decode_with_attention(model, tokenizer, text, beam_size)
            greedy = tokenizer.decode(decode_with_attention(model, tokenizer, text)[0])
        except ValueError as e:
            ax.text(0.5, 0.5, str(e), ha="center", va="center", wrap=True, color="crimson")
            ax.set_axis_off()
            return
        w = attn[layer - 1].mean(dim=0) if head == "mean" else attn[layer - 1, int(head) - 1]
        ax.imshow(w.numpy(), cmap="Blues", vmin=0, vmax=1, aspect="auto")  # (L, S)
        ax.set_xticks(range(len(text)), list(text), fontsize=8)
        rows = [f"{_show(tokenizer, i)}  {p:.2f}" for i, p in zip(out, chosen.tolist())]
        ax.set_yticks(range(len(out)), rows, fontsize=8)
        ax.set(xlabel="source character", ylabel="output token, its probability")
        result = tokenizer.decode(out)
        line = f"greedy: {greedy}"
        if beam_size > 1:
            same = "same" if result == greedy else "DIFFERENT"
            line += f"   beam {beam_size}: {result} ({same}, score {score:.3f})"
        which = "mean of heads" if head == "mean" else f"head {head}"
        ax.set_title(f"{line}\ncross-attention, decoder layer {layer}, {which}", fontsize=9)
        fig.tight_layout()

    controls = {
        "beam_size": slider(1, 1, 8, 1, "beam width (1 = greedy)"),
        "layer": slider(n_layers, 1, n_layers, 1, "decoder layer") if n_layers > 1 else n_layers,
        "head": dropdown(["mean", *[str(h + 1) for h in range(n_heads)]], "mean", "head"),
        "text": text_control,
    }
    if n_layers == 1:  # a one-position slider could not move: keep the value, show no control
        fixed = controls.pop("layer")
        return explorer(lambda **v: draw(layer=fixed, **v), controls)
    return explorer(draw, controls)


def _src(model: Any, tokenizer: Any, text: str) -> torch.Tensor:
    return torch.tensor([tokenizer.encode(text)], device=next(model.parameters()).device)
