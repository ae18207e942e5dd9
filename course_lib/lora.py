"""LoRA from scratch (chapter 14): a trainable low-rank update beside a frozen ``nn.Linear``.

A frozen layer computes ``y = x W^T + b`` with ``W (out, in)``. LoRA learns
``delta W = (alpha / r) * B A`` with ``A (r, in)`` and ``B (out, r)``, ``r << min(in, out)``:

    y = x W^T + b + (alpha / r) * (x A^T) B^T

``A`` starts random (Kaiming-uniform, as in ``peft``) and ``B`` at zero, so the model is unchanged
before training and the gradient still reaches ``B``. ``merge`` folds the update into ``W`` (no
extra cost at inference); ``unmerge`` takes it out again. Source: Hu et al., "LoRA: Low-Rank
Adaptation of Large Language Models" (2021). The parameter names and shapes match ``peft``'s
(``lora_A.weight (r, in)``, ``lora_B.weight (out, r)``, scaling ``alpha / r``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

__all__ = [
    "LoRALinear",
    "add_lora",
    "count_parameters",
    "merge_lora",
    "optimizer_state_bytes",
    "unmerge_lora",
]


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a rank-``r`` update: ``x (..., in)`` -> ``(..., out)``.

    ``alpha / r`` scales the update, so changing ``r`` does not change how big a step on ``A``
    and ``B`` moves the output (tune ``alpha`` once). ``dropout`` applies to the update's input.
    """

    def __init__(
        self, base: nn.Linear, r: int = 8, alpha: float = 16.0, dropout: float = 0.0
    ) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"LoRALinear wraps an nn.Linear, got {type(base).__name__}")
        if not isinstance(r, int) or isinstance(r, bool) or r < 1:
            raise ValueError(f"rank r must be a positive int, got {r!r}")
        if r > min(base.in_features, base.out_features):
            raise ValueError(
                f"rank r={r} exceeds min(in, out) = {min(base.in_features, base.out_features)} "
                f"of this {base.out_features}x{base.in_features} layer: a full-rank update needs "
                "no LoRA; choose a smaller r"
            )
        if not alpha > 0:
            raise ValueError(f"alpha must be > 0, got {alpha!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        w = base.weight
        self.r, self.alpha, self.scaling = r, float(alpha), float(alpha) / r
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features, device=w.device, dtype=w.dtype))
        self.lora_B = nn.Parameter(
            torch.zeros(base.out_features, r, device=w.device, dtype=w.dtype)
        )
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # nn.Linear's default init
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.merged = False

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    @property
    def weight(self) -> torch.Tensor:
        """The frozen base weight ``(out, in)`` (holding the update while merged)."""
        return self.base.weight

    @property
    def bias(self) -> torch.Tensor | None:
        return self.base.bias

    def delta_weight(self) -> torch.Tensor:
        """The update ``(alpha / r) * B A`` as a full ``(out, in)`` matrix."""
        return (self.lora_B @ self.lora_A) * self.scaling  # (out, r) @ (r, in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base(x)  # (..., out): the frozen path
        if self.merged:
            return y
        update = (self.drop(x) @ self.lora_A.T) @ self.lora_B.T  # (..., r) -> (..., out)
        return y + update * self.scaling

    @torch.no_grad()
    def merge(self) -> None:
        """Fold the update into the base weight: one matmul per call again, same outputs."""
        if not self.merged:
            self.base.weight += self.delta_weight()
            self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Take the update out of the base weight again (up to float rounding)."""
        if self.merged:
            self.base.weight -= self.delta_weight()
            self.merged = False

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, r={self.r}, alpha={self.alpha:g}"


def _matches(name: str, targets: Iterable[str]) -> bool:
    return any(name == t or name.endswith("." + t) for t in targets)


def add_lora(
    model: nn.Module,
    targets: Iterable[str] = ("qkv",),
    r: int = 8,
    alpha: float = 16.0,
    dropout: float = 0.0,
    freeze: bool = True,
) -> list[str]:
    """Replace each ``nn.Linear`` of ``model`` named by ``targets`` with a ``LoRALinear``, in place.

    A module matches a target when its qualified name equals it or ends with ``"." + target``
    (``peft``'s rule): in the course GPT ``"qkv"`` is every block's fused query/key/value layer,
    ``"attn.proj"`` the attention output, ``"mlp.fc"`` and ``"mlp.proj"`` the MLP (``"proj"`` alone
    names both projections). With ``freeze`` every other parameter stops training. Returns the
    replaced names; raises ``ValueError`` when a target matches no ``nn.Linear``, when ``model``
    already has LoRA layers, or when ``r`` exceeds a layer's smaller dimension.
    """
    targets = [targets] if isinstance(targets, str) else list(targets)
    adapted = [n for n, m in model.named_modules() if isinstance(m, LoRALinear)]
    if adapted:
        raise ValueError(
            f"{type(model).__name__} already has LoRA (e.g. {adapted[0]!r}): add it once, to a "
            "fresh copy of the pretrained model (copy.deepcopy before add_lora)"
        )
    if not targets:
        raise ValueError("targets is empty: name at least one nn.Linear, e.g. targets=('qkv',)")
    found = [
        name
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear) and name and _matches(name, targets)
    ]
    missing = [t for t in targets if not any(_matches(n, [t]) for n in found)]
    if missing:
        linear = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
        raise ValueError(
            f"no nn.Linear named {missing[0]!r} in {type(model).__name__}; its Linear layers "
            f"are {linear[:6]}{' ...' if len(linear) > 6 else ''}"
        )
    if freeze:
        for p in model.parameters():
            p.requires_grad_(False)
    for name in found:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, LoRALinear(getattr(parent, child), r, alpha, dropout))
    return found


def merge_lora(model: nn.Module) -> int:
    """Merge every ``LoRALinear`` of ``model``; returns how many were merged."""
    layers = [m for m in model.modules() if isinstance(m, LoRALinear)]
    for m in layers:
        m.merge()
    return len(layers)


def unmerge_lora(model: nn.Module) -> int:
    """Unmerge every ``LoRALinear`` of ``model``; returns how many were unmerged."""
    layers = [m for m in model.modules() if isinstance(m, LoRALinear)]
    for m in layers:
        m.unmerge()
    return len(layers)


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """``(trainable, total)`` parameter counts; a tied (shared) weight is counted once."""
    params = list(model.parameters())  # parameters() lists a shared tensor once
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def optimizer_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes held in an optimizer's state (Adam: ``exp_avg`` and ``exp_avg_sq`` per trainable value).

    Measured from ``optimizer.state`` after at least one step (before it, the state is empty).
    """
    return sum(
        v.numel() * v.element_size()
        for state in optimizer.state.values()
        for v in state.values()
        if isinstance(v, torch.Tensor) and v.dim() > 0
    )
