"""Adapting a pretrained GPT (chapter 14): a classification head, padded batches, prompt masking.

- ``GPTClassifier``: a GPT body, mean-pooled over the real tokens, and a new linear head.
  Freeze the body and it is a *linear probe*; train everything and it is *full fine-tuning*; add
  ``course_lib.lora`` layers and train only those (and the head) and it is *LoRA*.
- ``pad_batch``: variable-length token sequences -> one ``(N, T)`` tensor, padding marked ``-1``.
- ``prompt_masked_example``: an instruction-tuning example whose loss ignores the prompt.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .pretrained import hidden_states
from .transformer import GPT

__all__ = [
    "GPTClassifier",
    "classification_batches",
    "greedy_answer",
    "instruction_batch",
    "pad_batch",
    "prompt_masked_example",
]

PAD = -1  # marks padding in inputs and ignored positions in targets (as GPT's loss does)


def pad_batch(seqs: Sequence[torch.Tensor], length: int, pad: int = PAD) -> torch.Tensor:
    """1-D int64 sequences -> ``(N, length)``: each cropped to ``length`` or padded with ``pad``."""
    if not isinstance(length, int) or length < 1:
        raise ValueError(f"length must be a positive int, got {length!r}")
    out = torch.full((len(seqs), length), pad, dtype=torch.long)
    for i, s in enumerate(seqs):
        s = s[:length]
        out[i, : len(s)] = s
    return out


class GPTClassifier(nn.Module):
    """``forward(idx (B, T), targets (B,) | None) -> (logits (B, K), loss)``; ``-1`` in idx is padding.

    The GPT's last hidden states ``(B, T, C)`` are averaged over the real (non-padding) positions
    and a new ``nn.Linear(C, K)`` head turns the average into class logits. The GPT's own output
    layer is not used (its weights stay, so the language model can be evaluated afterwards).
    """

    def __init__(self, gpt: GPT, num_classes: int) -> None:
        super().__init__()
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
        self.gpt = gpt
        self.head = nn.Linear(gpt.config.n_embd, num_classes)
        w = gpt.wte.weight
        self.head.to(device=w.device, dtype=w.dtype)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        real = idx != PAD  # (B, T)
        if not bool(real[:, 0].all()):
            raise ValueError(
                "every row of idx must start with a real token (padding goes at the end)"
            )
        h = hidden_states(
            self.gpt, idx.masked_fill(~real, 0)
        )  # (B, T, C); padding sees nothing later
        w = real.unsqueeze(-1).to(h.dtype)  # (B, T, 1)
        pooled = (h * w).sum(1) / w.sum(1)  # (B, C): mean over real tokens
        logits = self.head(pooled)  # (B, K)
        loss = None if targets is None else F.cross_entropy(logits, targets)
        return logits, loss


def classification_batches(
    examples: Sequence[tuple[str, int]],
    tokenizer,
    length: int,
    batch_size: int,
    device: torch.device | str = "cpu",
    seed: int = 0,
):
    """``fit``-style batch function over ``(text, label)`` examples: step -> ``(idx (B, T), y (B,))``.

    Texts are encoded once and cropped/padded to ``length`` tokens; batches are drawn at random
    from a generator seeded with ``seed``.
    """
    X = pad_batch([tokenizer.encode(t) for t, _ in examples], length).to(device)  # (N, T)
    Y = torch.tensor([y for _, y in examples], dtype=torch.long, device=device)  # (N,)
    g = torch.Generator().manual_seed(seed)

    def batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        ix = torch.randint(len(Y), (batch_size,), generator=g).to(device)
        return X[ix], Y[ix]

    batch.tensors = (X, Y)  # type: ignore[attr-defined]  # the whole set, for evaluation
    return batch


def prompt_masked_example(
    prompt: torch.Tensor, response: torch.Tensor, mask_prompt: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and next-token targets for one instruction example: ``(T,)`` and ``(T,)``, T = P + R - 1.

    ``ids = prompt + response``; inputs ``ids[:-1]``, targets ``ids[1:]``. With ``mask_prompt`` the
    targets that are prompt tokens (the first ``P - 1``) become ``-1``: the loss counts only the
    response, the part the model should learn to write. The last prompt position still predicts
    the first response token.
    """
    for name, t in (("prompt", prompt), ("response", response)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(
                f"{name} must be a 1-D tensor of token ids, got {type(t).__name__}: "
                "use tokenizer.encode(text) or torch.tensor(ids)"
            )
    if prompt.dim() != 1 or response.dim() != 1 or len(prompt) < 1 or len(response) < 1:
        raise ValueError("prompt and response must be non-empty 1-D token tensors")
    ids = torch.cat((prompt, response))
    x, y = ids[:-1], ids[1:].clone()
    if mask_prompt:
        y[: len(prompt) - 1] = PAD
    return x, y


def instruction_batch(
    pairs: Sequence[tuple[str, str]], tokenizer, length: int, mask_prompt: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """All ``(prompt, response)`` pairs as ``(N, length)`` inputs (padding 0) and targets (padding -1)."""
    xs, ys = zip(
        *(
            prompt_masked_example(tokenizer.encode(p), tokenizer.encode(r), mask_prompt)
            for p, r in pairs
        )
    )
    return pad_batch(xs, length, pad=0), pad_batch(ys, length, pad=PAD)


@torch.no_grad()
def greedy_answer(
    model: GPT, tokenizer, prompt: str, max_new_tokens: int = 20, stop: str = "\n"
) -> str:
    """The model's greedy continuation of ``prompt``, up to (not including) the first ``stop``."""
    dev = next(model.parameters()).device
    idx = tokenizer.encode(prompt)[None].to(dev)  # (1, T)
    out = model.generate(idx, max_new_tokens, top_k=1, use_cache=True)[0, idx.shape[1] :]
    text = tokenizer.decode(out.cpu())
    return text.split(stop)[0] if stop else text
