"""Explorer for chapter 14: how much of a full fine-tuning update could a rank-r LoRA update hold?"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torch import nn

from ..viz.lora import plot_update_spectrum
from .core import Explorer, dropdown, explorer, slider

__all__ = ["lora_rank_explorer", "weight_updates"]


@torch.no_grad()
def weight_updates(before: nn.Module, after: nn.Module) -> dict[str, torch.Tensor]:
    """``after``'s weight minus ``before``'s for every ``nn.Linear`` of ``before``: name -> ``(out, in)``.

    An output layer tied to the token embedding is left out (it is the embedding, not a layer).

    ``after`` is a fine-tuned copy of ``before`` (a model, or one holding it under another prefix,
    such as a classifier's ``gpt``): its parameters are matched by name suffix. Raises
    ``ValueError`` when a layer has no counterpart of the same shape in ``after``.
    """
    theirs = {name: p for name, p in after.named_parameters(remove_duplicate=False)}
    tied = {id(m.weight) for m in before.modules() if isinstance(m, nn.Embedding)}
    out = {}
    for name, m in before.named_modules():
        if not isinstance(m, nn.Linear) or id(m.weight) in tied:  # a tied head is the embedding
            continue
        key = f"{name}.weight"
        match = [
            p
            for n, p in theirs.items()
            if (n == key or n.endswith("." + key)) and p.shape == m.weight.shape
        ]
        if not match:
            raise ValueError(
                f"{key!r} has no counterpart of shape {tuple(m.weight.shape)} in the fine-tuned model"
            )
        out[name] = match[0].detach().cpu().double() - m.weight.detach().cpu().double()  # (out, in)
    if not out:
        raise ValueError(f"{type(before).__name__} has no nn.Linear layers to compare")
    return out


def lora_rank_explorer(
    before: nn.Module, after: nn.Module, r: int = 8, layer: str | None = None
) -> Explorer:
    """Pick a layer and a rank r: the singular values of its full fine-tuning update ``ΔW`` and the
    share of ``||ΔW||²`` that the best rank-r update keeps (an upper bound for LoRA of rank r).

    ``before``: the pretrained model; ``after``: its fully fine-tuned copy (see ``weight_updates``).
    The default figure is drawn without a widget frontend.
    """
    updates = weight_updates(before, after)
    names = list(updates)
    layer = layer if layer in updates else names[0]
    top = max(min(d.shape) for d in updates.values())

    def draw(layer: str, r: int) -> None:
        fig, (ax_s, ax_e) = plt.subplots(1, 2, figsize=(10, 3.2))
        plot_update_spectrum(ax_s, ax_e, updates[layer], r, name=layer)
        fig.tight_layout()

    controls = {
        "layer": dropdown(names, layer, "layer"),
        "r": slider(int(min(r, top)), 1, int(top), 1, "rank r"),
    }
    return explorer(draw, controls)
