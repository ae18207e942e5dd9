"""Optimizers from SGD to AdamW, written from scratch with ``torch.optim`` semantics.

Each optimizer holds ``param_groups`` (a list of dicts: ``"params"`` plus hyper-parameters) and a
per-parameter ``state`` dict, exactly like ``torch.optim``, so the same training loop drives either
one and their parameters agree to the last bit. Each optimizer writes its update rule once, for
one parameter, with ordinary tensor methods (``m.lerp_(g, 1 - beta1)``). ``step()`` runs that rule
on each parameter in turn, or, faster, once on a ``TensorList`` of all of a group's parameters:
a list that takes the same methods and runs each as one ``torch._foreach_*`` call (one loop in
C++ over every tensor), where this PyTorch has them.

The update rules (``g`` is the gradient, ``p`` the parameter, ``t`` the step count from 1):

- SGD:      ``g += wd * p``; ``b = g`` on the first step, then ``b = mu * b + (1 - dampening) * g``;
            ``p -= lr * (g + mu * b)`` with Nesterov, else ``p -= lr * b``.
- RMSprop:  ``v = alpha * v + (1 - alpha) * g^2``; ``p -= lr * g / (sqrt(v) + eps)`` (with momentum:
            ``b = mu * b + g / (sqrt(v) + eps)``, ``p -= lr * b``).
- Adam:     ``g += wd * p`` (L2); ``m = b1 * m + (1 - b1) * g``; ``v = b2 * v + (1 - b2) * g^2``;
            ``p -= lr * m_hat / (sqrt(v_hat) + eps)`` with ``m_hat = m / (1 - b1^t)``,
            ``v_hat = v / (1 - b2^t)`` (the bias correction).
- AdamW:    as Adam, but weight decay is decoupled: ``p *= 1 - lr * wd`` before the Adam step.

Learning-rate schedules are plain functions of the step (``lr_schedule("warmup_cosine", ...)``);
``as_lambda`` turns one into a multiplier for ``torch.optim.lr_scheduler.LambdaLR`` and ``set_lr``
writes a learning rate into any optimizer, ours or PyTorch's.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from typing import Any

import torch

__all__ = [
    "Optimizer",
    "SGD",
    "RMSprop",
    "Adam",
    "AdamW",
    "HAS_FOREACH",
    "step_lr",
    "cosine_lr",
    "warmup_cosine_lr",
    "lr_schedule",
    "as_lambda",
    "set_lr",
]

#: True when this PyTorch has the multi-tensor (``torch._foreach_*``) operations the optimizers use.
HAS_FOREACH: bool = all(
    hasattr(torch, f"_foreach_{name}")
    for name in ("add", "add_", "mul_", "div_", "lerp_", "addcmul", "addcmul_", "addcdiv_", "sqrt")
)


def _check_number(name: str, value: Any, lo: float = 0.0, hi: float | None = None) -> float:
    """``value`` as a float in ``[lo, hi)`` (``hi=None``: no upper bound), else a clear error."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        else:
            raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < lo or (hi is not None and value >= hi):
        where = f"[{lo:g}, {hi:g})" if hi is not None else f">= {lo:g}"
        raise ValueError(f"invalid {name}: {value!r} (must be {where})")
    return value


def _check_betas(betas: Any) -> tuple[float, float]:
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    return (_check_number("beta1", betas[0], 0.0, 1.0), _check_number("beta2", betas[1], 0.0, 1.0))


def _init_state(state: dict[str, Any], p: torch.Tensor, buffers: list[str]) -> None:
    """Count one more step in ``state`` and create the zero-filled ``buffers`` it lacks."""
    state["step"] = state.get("step", 0) + 1
    for name in buffers:
        if name not in state:
            state[name] = torch.zeros_like(p, memory_format=torch.preserve_format)


class TensorList(list):
    """A list of tensors with the tensor methods an update rule uses, each one ``torch._foreach_*``
    call: ``TensorList(ms).lerp_(grads, 0.1)`` does ``m.lerp_(g, 0.1)`` for every pair at once.

    Arguments are another list (element by element) or one number (for every tensor). In-place
    methods (ending in ``_``) return the list itself, so calls chain as on a tensor.
    """

    def add(self, other: Any, alpha: float = 1) -> TensorList:
        return TensorList(torch._foreach_add(self, other, alpha=alpha))

    def add_(self, other: Any, alpha: float = 1) -> TensorList:
        if isinstance(other, list):
            torch._foreach_add_(self, other, alpha=alpha)
        else:  # a number: alpha is 1 here
            torch._foreach_add_(self, other)
        return self

    def mul_(self, other: Any) -> TensorList:
        torch._foreach_mul_(self, other)
        return self

    def div_(self, other: Any) -> TensorList:
        torch._foreach_div_(self, other)
        return self

    def lerp_(self, end: list[torch.Tensor], weight: float) -> TensorList:
        torch._foreach_lerp_(self, end, weight)
        return self

    def addcmul(self, a: list[torch.Tensor], b: list[torch.Tensor], value: float = 1) -> TensorList:
        return TensorList(torch._foreach_addcmul(self, a, b, value=value))

    def addcmul_(
        self, a: list[torch.Tensor], b: list[torch.Tensor], value: float = 1
    ) -> TensorList:
        torch._foreach_addcmul_(self, a, b, value=value)
        return self

    def addcdiv_(
        self, a: list[torch.Tensor], b: list[torch.Tensor], value: float = 1
    ) -> TensorList:
        torch._foreach_addcdiv_(self, a, b, value=value)
        return self

    def sqrt(self) -> TensorList:
        return TensorList(torch._foreach_sqrt(self))

    def sqrt_(self) -> TensorList:
        torch._foreach_sqrt_(self)
        return self

    def detach(self) -> TensorList:
        return TensorList(t.detach() for t in self)

    def clone(self) -> TensorList:
        return TensorList(t.clone() for t in self)


def _bundle(tensors: list[torch.Tensor | None]) -> TensorList | None:
    """``TensorList(tensors)``, or None when the state entry is unused (all None)."""
    return None if tensors[0] is None else TensorList(tensors)


def _hyperparameters(arguments: dict[str, Any]) -> dict[str, Any]:
    """A constructor's hyper-parameters, from its ``locals()``: every argument but the parameters."""
    return {
        k: v for k, v in arguments.items() if k not in ("self", "params", "foreach", "__class__")
    }


class Optimizer:
    """Base class: parameter groups, per-parameter state, ``zero_grad`` and (de)serialization.

    Subclasses set ``defaults`` through ``__init__``, validate a group in ``_check_group``, write
    their update rule for one parameter in ``rule`` and hand it its tensors in ``_update(group,
    params, grads, states)`` (one device/dtype bucket of a group): each parameter in turn, or all
    of them at once as ``TensorList``s when ``foreach``.
    """

    #: state entries every parameter of this optimizer has once it has taken a step
    _state_keys: tuple[str, ...] = ()

    def __init__(self, params: Any, defaults: dict[str, Any], foreach: bool | None = None) -> None:
        if isinstance(params, torch.Tensor):
            raise TypeError(
                "params must be an iterable of tensors or of dicts (parameter groups), got a single "
                f"tensor of shape {tuple(params.shape)}; pass model.parameters() or [tensor]"
            )
        self.defaults = dict(defaults)
        self.foreach = HAS_FOREACH if foreach is None else bool(foreach) and HAS_FOREACH
        self.state: dict[torch.Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            hyper = ", ".join(f"{k}={v}" for k, v in group.items() if k != "params")
            lines.append(f"  group {i}: {len(group['params'])} tensors, {hyper}")
        return "\n".join([*lines, ")"])

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group (``{"params": [...], "lr": ...}``); missing hyper-parameters take defaults."""
        if not isinstance(group, dict):
            raise TypeError(f"a parameter group must be a dict, got {type(group).__name__}")
        if "params" not in group:
            raise ValueError("a parameter group needs a 'params' entry")
        params = group["params"]
        params = [params] if isinstance(params, torch.Tensor) else list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got a parameter group with no parameters")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, torch.Tensor):
                raise TypeError(f"parameter {i} is a {type(p).__name__}, not a torch.Tensor")
            if not p.is_floating_point():
                raise TypeError(
                    f"parameter {i} has dtype {p.dtype}; optimizers need floating point"
                )
            if not p.is_leaf:
                raise ValueError(f"parameter {i} (shape {tuple(p.shape)}) is not a leaf tensor")
            if id(p) in seen:
                raise ValueError(f"parameter {i} (shape {tuple(p.shape)}) appears in two groups")
            seen.add(id(p))
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise ValueError(
                f"unknown hyper-parameters {sorted(unknown)} for {type(self).__name__}"
            )
        full = {**self.defaults, **group, "params": params}
        self._check_group(full)
        self.param_groups.append(full)

    def _check_group(self, group: dict[str, Any]) -> None:
        group["lr"] = _check_number("lr", group["lr"])
        if "weight_decay" in group:
            group["weight_decay"] = _check_number("weight_decay", group["weight_decay"])

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients (``None``, as PyTorch does by default, or zeros)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.detach_()
                    p.grad.zero_()

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; return ``closure()`` if one is given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            buckets: dict[tuple[torch.device, torch.dtype], list[torch.Tensor]] = {}
            for p in group["params"]:
                if p.grad is not None:
                    if p.grad.is_sparse:
                        raise TypeError(f"{type(self).__name__} does not support sparse gradients")
                    buckets.setdefault((p.device, p.dtype), []).append(p)
            for params in buckets.values():
                grads = [p.grad for p in params]
                states = [self.state.setdefault(p, {}) for p in params]
                self._update(group, params, grads, states)
        return loss

    def _update(
        self,
        group: dict[str, Any],
        params: list[torch.Tensor],
        grads: list[torch.Tensor],
        states: list[dict[str, Any]],
    ) -> None:
        raise NotImplementedError

    # ---- saving and loading -------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}`` as torch.

        Parameters are numbered in group order; the tensors are the live state (as in PyTorch),
        so save the dict (``torch.save``) or deep-copy it before stepping on.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
        state = {
            index[id(p)]: dict(s)
            for group in self.param_groups
            for p in group["params"]
            if (s := self.state.get(p))
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyper-parameters and state saved by ``state_dict`` (ours or torch.optim's)."""
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            raise TypeError(
                "load_state_dict expects a dict with 'state' and 'param_groups' entries"
            )
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"the state dict has {len(saved_groups)} parameter groups, this optimizer has "
                f"{len(self.param_groups)}"
            )
        for i, (mine, saved) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            if len(mine["params"]) != len(saved["params"]):
                raise ValueError(
                    f"parameter group {i} has {len(mine['params'])} parameters here but "
                    f"{len(saved['params'])} in the state dict"
                )
        lookup = {
            idx: p
            for mine, saved in zip(self.param_groups, saved_groups, strict=True)
            for idx, p in zip(saved["params"], mine["params"], strict=True)
        }
        new_state: dict[torch.Tensor, dict[str, Any]] = {}
        for idx, saved in state_dict["state"].items():
            if idx not in lookup:
                raise ValueError(
                    f"the state dict has state for parameter {idx}, which no group has"
                )
            p = lookup[idx]
            missing = [k for k in self._state_keys if k not in saved]
            if missing:
                raise ValueError(
                    f"state of parameter {idx} lacks {missing}: was it saved by another optimizer "
                    f"than {type(self).__name__} (or with other options)?"
                )
            entry: dict[str, Any] = {}
            for key, value in saved.items():
                if key == "step":
                    entry[key] = int(value.item() if isinstance(value, torch.Tensor) else value)
                elif isinstance(value, torch.Tensor):
                    if value.shape != p.shape:
                        raise ValueError(
                            f"state {key!r} of parameter {idx} has shape {tuple(value.shape)}, "
                            f"the parameter has shape {tuple(p.shape)}"
                        )
                    entry[key] = value.detach().to(device=p.device, dtype=p.dtype, copy=True)
                else:
                    entry[key] = copy.deepcopy(value)
            new_state[p] = entry
        for mine, saved in zip(self.param_groups, saved_groups, strict=True):
            for key, value in saved.items():
                if key != "params" and key in self.defaults:
                    mine[key] = copy.deepcopy(value)
            self._check_group(mine)
        self.state = new_state


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay.

    The momentum buffer starts as a copy of the first gradient (not as zeros), as in PyTorch.
    """

    _state_keys = ()

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        dampening: float = 0.0,
        foreach: bool | None = None,
    ) -> None:
        super().__init__(params, _hyperparameters(locals()), foreach)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        group["momentum"] = _check_number("momentum", group["momentum"])
        group["dampening"] = _check_number("dampening", group["dampening"])
        group["nesterov"] = bool(group["nesterov"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"Nesterov momentum needs momentum > 0 and dampening = 0, got momentum="
                f"{group['momentum']} and dampening={group['dampening']}"
            )

    @staticmethod
    def rule(group: dict[str, Any], p: Any, g: Any, buf: Any) -> Any:
        """The update of parameter ``p`` with gradient ``g``; returns the new momentum buffer."""
        lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
        if wd != 0:
            g = g.add(p, alpha=wd)
        if mu != 0:
            if buf is None:  # the first step: the buffer is a copy of the gradient
                buf = g.detach().clone()
            else:
                buf.mul_(mu).add_(g, alpha=1 - group["dampening"])
            g = g.add(buf, alpha=mu) if group["nesterov"] else buf
        p.add_(g, alpha=-lr)
        return buf

    def _update(self, group, params, grads, states) -> None:  # noqa: ANN001
        bufs = [s.get("momentum_buffer") for s in states]
        started = {b is not None for b in bufs}
        if self.foreach and len(started) == 1:  # all at once (all first steps, or none)
            buf = TensorList(bufs) if started == {True} else None
            bufs = self.rule(group, TensorList(params), TensorList(grads), buf)
        else:
            bufs = [self.rule(group, *args) for args in zip(params, grads, bufs, strict=True)]
        if group["momentum"] != 0:
            for s, b in zip(states, bufs, strict=True):
                s["momentum_buffer"] = b


class RMSprop(Optimizer):
    """RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

    _state_keys = ("step", "square_avg")

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        centered: bool = False,
        foreach: bool | None = None,
    ) -> None:
        super().__init__(params, _hyperparameters(locals()), foreach)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        group["alpha"] = _check_number("alpha", group["alpha"], 0.0, 1.0)
        group["eps"] = _check_number("eps", group["eps"])
        group["momentum"] = _check_number("momentum", group["momentum"])
        group["centered"] = bool(group["centered"])

    @staticmethod
    def rule(group: dict[str, Any], p: Any, g: Any, sq: Any, gavg: Any, buf: Any) -> None:
        """The update of ``p`` with gradient ``g``, mean square ``sq`` (and mean ``gavg`` when
        centered, momentum buffer ``buf`` with momentum)."""
        lr, alpha, eps, mu = group["lr"], group["alpha"], group["eps"], group["momentum"]
        if group["weight_decay"] != 0:
            g = g.add(p, alpha=group["weight_decay"])
        sq.mul_(alpha).addcmul_(g, g, value=1 - alpha)
        if group["centered"]:
            gavg.lerp_(g, 1 - alpha)
            avg = sq.addcmul(gavg, gavg, value=-1).sqrt_()
        else:
            avg = sq.sqrt()
        avg = avg.add_(eps)
        if mu > 0:
            buf.mul_(mu).addcdiv_(g, avg)
            p.add_(buf, alpha=-lr)
        else:
            p.addcdiv_(g, avg, value=-lr)

    def _update(self, group, params, grads, states) -> None:  # noqa: ANN001
        keys = ["square_avg", "grad_avg", "momentum_buffer"]  # the last two only when used
        used = [True, group["centered"], group["momentum"] > 0]
        wanted = [k for k, u in zip(keys, used, strict=True) if u]
        for p, s in zip(params, states, strict=True):
            _init_state(s, p, wanted)
        columns = [[s.get(k) for s in states] for k in keys]  # None where unused
        if self.foreach:
            self.rule(group, TensorList(params), TensorList(grads), *map(_bundle, columns))
        else:
            for args in zip(params, grads, *columns, strict=True):
                self.rule(group, *args)


class Adam(Optimizer):
    """Adam with L2 weight decay added to the gradient (as ``torch.optim.Adam``).

    ``bias_correction=False`` gives the textbook formula without ``1 - beta^t`` (for teaching:
    the moment estimates then start near zero and the early steps have the wrong size).
    """

    _state_keys = ("step", "exp_avg", "exp_avg_sq")
    _decoupled = False

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        bias_correction: bool = True,
        foreach: bool | None = None,
    ) -> None:
        super().__init__(params, _hyperparameters(locals()), foreach)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        group["betas"] = _check_betas(group["betas"])
        group["eps"] = _check_number("eps", group["eps"])
        group["bias_correction"] = bool(group["bias_correction"])

    def rule(self, group: dict[str, Any], p: Any, g: Any, m: Any, v: Any, t: int) -> None:
        """Step ``t`` (from 1) of ``p`` with gradient ``g``, first moment ``m``, second ``v``."""
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        wd = group["weight_decay"]
        if wd != 0:
            if self._decoupled:
                p.mul_(1 - lr * wd)
            else:
                g = g.add(p, alpha=wd)
        m.lerp_(g, 1 - beta1)  # m = beta1 * m + (1 - beta1) * g
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)  # v = beta2 * v + (1 - beta2) * g^2
        step_size, bc2_sqrt = -lr, 1.0
        if group["bias_correction"]:  # m_hat = m / (1 - beta1^t), v_hat = v / (1 - beta2^t)
            step_size, bc2_sqrt = -lr / (1 - beta1**t), (1 - beta2**t) ** 0.5
        denom = v.sqrt().div_(bc2_sqrt).add_(eps)  # sqrt(v_hat) + eps
        p.addcdiv_(m, denom, value=step_size)

    def _update(self, group, params, grads, states) -> None:  # noqa: ANN001
        for p, s in zip(params, states, strict=True):
            _init_state(s, p, ["exp_avg", "exp_avg_sq"])
        m = [s["exp_avg"] for s in states]
        v = [s["exp_avg_sq"] for s in states]
        steps = [s["step"] for s in states]
        if self.foreach and len(set(steps)) == 1:  # the usual case: one step count for all
            self.rule(group, *map(TensorList, (params, grads, m, v)), steps[0])
        else:
            for args in zip(params, grads, m, v, steps, strict=True):
                self.rule(group, *args)


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p *= 1 - lr * weight_decay``, then the Adam step."""

    _decoupled = True

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        bias_correction: bool = True,
        foreach: bool | None = None,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, bias_correction, foreach)


# ---- learning-rate schedules ------------------------------------------------------------------
def _check_step(step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, int):
        raise TypeError(f"step must be an int, got {type(step).__name__} {step!r}")
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    return step


def step_lr(step: int, base_lr: float, step_size: int, gamma: float = 0.1) -> float:
    """Step decay: ``base_lr * gamma ** (step // step_size)`` (as ``torch.optim.lr_scheduler.StepLR``)."""
    _check_step(step)
    if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 1:
        raise ValueError(f"step_size must be a positive int, got {step_size!r}")
    return _check_number("base_lr", base_lr) * _check_number("gamma", gamma) ** (step // step_size)


def cosine_lr(step: int, base_lr: float, total_steps: int, min_lr: float = 0.0) -> float:
    """Cosine decay from ``base_lr`` at step 0 to ``min_lr`` at ``total_steps`` (then flat)."""
    _check_step(step)
    if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
        raise ValueError(f"total_steps must be a positive int, got {total_steps!r}")
    base_lr, min_lr = _check_number("base_lr", base_lr), _check_number("min_lr", min_lr)
    progress = min(step, total_steps) / total_steps
    return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + math.cos(math.pi * progress))


def warmup_cosine_lr(
    step: int, base_lr: float, warmup_steps: int, total_steps: int, min_lr: float = 0.0
) -> float:
    """Linear warmup ``base_lr * (step + 1) / warmup_steps``, then cosine decay to ``min_lr``.

    The cosine runs from ``base_lr`` at ``warmup_steps`` to ``min_lr`` at ``total_steps``.
    """
    _check_step(step)
    if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps < 0:
        raise ValueError(f"warmup_steps must be an int >= 0, got {warmup_steps!r}")
    if isinstance(total_steps, bool) or not isinstance(total_steps, int):
        raise ValueError(f"total_steps must be an int, got {total_steps!r}")
    if total_steps <= warmup_steps:
        raise ValueError(f"total_steps ({total_steps}) must exceed warmup_steps ({warmup_steps})")
    base_lr = _check_number("base_lr", base_lr)
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    return cosine_lr(step - warmup_steps, base_lr, total_steps - warmup_steps, min_lr)


def lr_schedule(
    kind: str,
    base_lr: float,
    *,
    total_steps: int | None = None,
    warmup_steps: int = 0,
    min_lr: float = 0.0,
    step_size: int | None = None,
    gamma: float = 0.1,
) -> Callable[[int], float]:
    """A function ``lr_at(step) -> float`` for ``kind`` in ``"constant"``, ``"step"``,
    ``"cosine"``, ``"warmup_cosine"``. Arguments are checked now, not at the first call."""
    kinds = ("constant", "step", "cosine", "warmup_cosine")
    if kind not in kinds:
        raise ValueError(f"unknown schedule {kind!r}; choose one of {', '.join(kinds)}")
    if kind == "constant":
        lr = _check_number("base_lr", base_lr)
        return lambda step: (_check_step(step), lr)[1]
    if kind == "step":
        if step_size is None:
            raise ValueError("the 'step' schedule needs step_size")
        step_lr(0, base_lr, step_size, gamma)
        return lambda step: step_lr(step, base_lr, step_size, gamma)
    if total_steps is None:
        raise ValueError(f"the {kind!r} schedule needs total_steps")
    if kind == "cosine":
        cosine_lr(0, base_lr, total_steps, min_lr)
        return lambda step: cosine_lr(step, base_lr, total_steps, min_lr)
    warmup_cosine_lr(0, base_lr, warmup_steps, total_steps, min_lr)
    return lambda step: warmup_cosine_lr(step, base_lr, warmup_steps, total_steps, min_lr)


def as_lambda(lr_at: Callable[[int], float], base_lr: float) -> Callable[[int], float]:
    """Turn ``lr_at(step)`` into the multiplier ``torch.optim.lr_scheduler.LambdaLR`` expects."""
    base_lr = _check_number("base_lr", base_lr)
    if base_lr == 0:
        raise ValueError("base_lr must be > 0 to express a schedule as a multiplier")
    return lambda step: lr_at(step) / base_lr


def set_lr(optimizer: Any, lr: float) -> None:
    """Write ``lr`` into every parameter group of ``optimizer`` (ours or a ``torch.optim`` one)."""
    lr = _check_number("lr", lr)
    groups = getattr(optimizer, "param_groups", None)
    if groups is None:
        raise TypeError(f"expected an optimizer with param_groups, got {type(optimizer).__name__}")
    for group in groups:
        group["lr"] = lr
