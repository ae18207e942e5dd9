"""Checks for a training run that does not learn (chapter 06): a learning-rate range test and the
per-layer statistics worth plotting as histograms (activations, weight gradients, update/weight ratios).

The checks follow common practice: the range test is Smith, "Cyclical Learning Rates for Training
Neural Networks" (WACV 2017, section 3.3); the update/weight ratio of about 1e-3 is the rule of thumb
of Stanford's CS231n notes ("Babysitting the learning process").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

__all__ = ["lr_range_test", "layer_stats", "weight_snapshot", "update_ratios"]

_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d)


def _device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def lr_range_test(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: Iterable[tuple[torch.Tensor, torch.Tensor]],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    lr_min: float = 1e-5,
    lr_max: float = 1.0,
    steps: int = 100,
    stop_factor: float = 4.0,
) -> tuple[list[float], list[float]]:
    """Train for up to ``steps`` mini-batches while the learning rate grows geometrically.

    Step ``i`` uses ``lr_min * (lr_max / lr_min) ** (i / (steps - 1))`` for every parameter group.
    The run stops early once the loss is not finite or exceeds ``stop_factor`` times the lowest loss
    so far (the rate has become too large). ``model`` and ``optimizer`` are changed: run it on a
    copy. ``data`` yields ``(x, y)`` batches and is cycled if it runs out; batches are moved to the
    model's device. Returns ``(lrs, losses)``, equally long: the rate used at each step and the
    loss of that step's batch (before the update). Source: Smith, WACV 2017, section 3.3.

    Raises ValueError for ``lr_min <= 0``, ``lr_max <= lr_min`` or ``steps < 2``.
    """
    if not (lr_min > 0 and lr_max > lr_min):
        raise ValueError(f"need 0 < lr_min < lr_max, got lr_min={lr_min}, lr_max={lr_max}")
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    device = _device_of(model)
    model.train()
    lrs: list[float] = []
    losses: list[float] = []
    batches = iter(data)
    for i in range(steps):
        try:
            x, y = next(batches)
        except StopIteration:
            batches = iter(data)
            x, y = next(batches)
        lr = lr_min * (lr_max / lr_min) ** (i / (steps - 1))
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad()
        loss = loss_fn(model(x.to(device)), y.to(device))
        loss.backward()
        optimizer.step()
        value = loss.item()
        lrs.append(lr)
        losses.append(value)
        if not math.isfinite(value) or value > stop_factor * min(losses):
            break
    return lrs, losses


def layer_stats(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> dict[str, dict[str, torch.Tensor]]:
    """One forward and backward pass on ``(x, y)``; what each Linear/Conv layer saw and received.

    Returns ``{"activations": {name: out}, "gradients": {name: weight.grad}}`` for every
    ``nn.Linear``, ``nn.Conv1d`` and ``nn.Conv2d`` in ``model`` (by module name), detached and on
    the CPU: ``out`` is the layer's output (before the nonlinearity that follows it), shape
    ``(N, out_features)`` or ``(N, C, ...)``. The gradients are those of this batch only (earlier
    ``.grad`` values are cleared first); parameters are not updated.
    """
    device = _device_of(model)
    acts: dict[str, torch.Tensor] = {}
    hooks = []
    for name, module in model.named_modules():
        if isinstance(module, _LAYERS):

            def save(_m: nn.Module, _inp: Any, out: torch.Tensor, name: str = name) -> None:
                acts[name] = out.detach().cpu()

            hooks.append(module.register_forward_hook(save))
    try:
        model.zero_grad(set_to_none=True)
        loss_fn(model(x.to(device)), y.to(device)).backward()
    finally:
        for h in hooks:
            h.remove()
    grads = {
        name: m.weight.grad.detach().cpu()
        for name, m in model.named_modules()
        if isinstance(m, _LAYERS) and m.weight.grad is not None
    }
    return {"activations": acts, "gradients": grads}


def weight_snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the weight of every Linear/Conv layer, by module name (for ``update_ratios``)."""
    return {
        n: m.weight.detach().clone() for n, m in model.named_modules() if isinstance(m, _LAYERS)
    }


def update_ratios(before: dict[str, torch.Tensor], model: nn.Module) -> dict[str, float]:
    """``std(W_now - W_before) / std(W_before)`` for each weight in ``before`` (from ``weight_snapshot``).

    The size of one optimizer step relative to the size of the weights it changes. Around 1e-3
    is healthy (CS231n); much smaller means the layer barely learns, much larger that the learning
    rate is too high for it. Raises KeyError if ``model`` lacks a layer named in ``before``.
    """
    modules = dict(model.named_modules())
    out = {}
    for name, w0 in before.items():
        w = modules[name].weight.detach()
        out[name] = ((w - w0).std() / w0.std()).item()
    return out
