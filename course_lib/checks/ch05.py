"""Checkers for workbook 05 (optimizers): each runs the learner's update rule next to torch.optim.

The learner's update functions are functional: they take the parameter, its gradient and the state,
and return the new parameter and state. The checkers drive them through a fixed sequence of
gradients and compare every step with ``torch.optim`` (and, to name the mistake, with the usual
wrong variants).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from .. import optim
from ._core import CaseFailed, Check, checker

__all__ = [
    "ex05_sgd_momentum",
    "ex05_adam_step",
    "ex05_first_step",
    "ex05_adamw_step",
    "ex05_warmup_cosine",
]


_NO_OPTIM = tuple(
    f"torch.optim.{name}" for name in ("SGD", "Adam", "AdamW", "lr_scheduler.LambdaLR",
    "lr_scheduler.CosineAnnealingLR", "lr_scheduler.LinearLR", "lr_scheduler.SequentialLR",
    "lr_scheduler.OneCycleLR")
)  # fmt: skip
_NO_OPTIM_HINT = (
    "this exercise writes the update rule as plain tensor arithmetic, so torch.optim is switched "
    "off while it is checked: use the formulas of the exercise"
)


def _gradients(n: int, shape: tuple[int, ...], dtype: torch.dtype, seed: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=gen, dtype=dtype) * 3 for _ in range(n)]


def _reference_path(make: Callable[[list[torch.Tensor]], Any], p0: torch.Tensor, grads) -> list:
    """Parameters after each step when ``make([p])`` (a torch-like optimizer) sees ``grads``."""
    p = p0.clone().requires_grad_()
    opt = make([p])
    path = []
    for g in grads:
        p.grad = g.clone()
        opt.step()
        path.append(p.detach().clone())
    return path


def _as_pair(out: Any, case: str, what: str) -> tuple[Any, Any]:
    if not isinstance(out, (tuple, list)) or len(out) < 2:
        raise CaseFailed(
            case,
            f"expected a tuple {what}, got {type(out).__name__}",
            f"end the function with `return {what.strip('()')}`",
        )
    return out[0], out[1]


def _same(a: Any, b: torch.Tensor) -> bool:
    return (
        isinstance(a, torch.Tensor)
        and a.shape == b.shape
        and torch.allclose(a.detach().to(b.dtype), b, atol=1e-6, rtol=1e-5)
    )


# ---- 1. SGD with momentum ------------------------------------------------------------------------
@checker
def ex05_sgd_momentum(c: Check, sgd_momentum_step: Callable[..., Any]) -> str:
    """``sgd_momentum_step(p, g, buf, lr, momentum, dampening=0.0, nesterov=False) -> (p, buf)``."""
    cases = [
        ("momentum 0.9", dict(lr=0.05, momentum=0.9), torch.float32),
        (
            "momentum 0.9 with dampening 0.5",
            dict(lr=0.03, momentum=0.9, dampening=0.5),
            torch.float32,
        ),
        ("Nesterov momentum 0.8", dict(lr=0.05, momentum=0.8, nesterov=True), torch.float32),
        ("momentum 0.5, float64", dict(lr=0.2, momentum=0.5), torch.float64),
    ]
    for name, kw, dtype in cases:
        grads = _gradients(6, (3, 2), dtype, seed=1)
        p0 = torch.linspace(-1, 1, 6, dtype=dtype).reshape(3, 2)
        want = _reference_path(lambda ps, kw=kw: torch.optim.SGD(ps, **kw), p0, grads)
        p, buf = p0.clone(), None
        mu, d = kw["momentum"], kw.get("dampening", 0.0)
        for t, g in enumerate(grads, start=1):
            with c.forbidding(_NO_OPTIM, _NO_OPTIM_HINT):  # p and buf may be updated in place
                out = c.call(
                    sgd_momentum_step, p.clone(), g.clone(), buf, case=name, inplace_ok={0, 2}, **kw
                )
            p, new_buf = _as_pair(out, name, "(p, buf)")
            case = f"{name}, step {t}"
            if t == 1 and isinstance(new_buf, torch.Tensor):
                g1 = grads[0]
                if _same(new_buf, kw["lr"] * g1):
                    raise CaseFailed(
                        case,
                        "the buffer holds lr * g (the 'velocity' form v = mu*v + lr*g; p -= v)",
                        "with a constant lr that moves p the same way, but PyTorch keeps lr out "
                        "of the buffer: buf = momentum*buf + (1-dampening)*g, then p -= lr*buf. "
                        "Return that buf (it stays right when a schedule changes lr)",
                    )
                if _same(new_buf, (1 - d) * g1) and d != 0:
                    raise CaseFailed(
                        case,
                        "the first buffer is (1 - dampening) * g",
                        "PyTorch does not start the buffer at zeros: on the first "
                        "step the buffer is a copy of the gradient itself "
                        "(buf = g.clone()); dampening applies from step 2 on",
                    )
                if _same(new_buf, (1 - mu) * g1):
                    raise CaseFailed(
                        case,
                        "the first buffer is (1 - momentum) * g",
                        "that is an average started at zeros (buf = mu*buf + (1-mu)*g); "
                        "PyTorch's buffer is buf = mu*buf + (1-dampening)*g and starts "
                        "as a copy of the first gradient, so step 1 is plain SGD",
                    )
            if t == 1 and not isinstance(new_buf, torch.Tensor):
                raise CaseFailed(
                    case,
                    f"the returned buffer is {type(new_buf).__name__}",
                    "return the new buffer (a tensor) so the next call can use it",
                )
            c.close(
                p,
                want[t - 1],
                case=case,
                hint="buf = g.clone() when buf is None, else buf = momentum*buf + "
                "(1-dampening)*g; the step uses g + momentum*buf for Nesterov, else buf",
            )
            if isinstance(p, torch.Tensor) and p.dtype != dtype:
                raise CaseFailed(
                    case,
                    f"the parameter came back as {p.dtype}, not {dtype}",
                    "update with tensor operations on p; don't convert its dtype",
                )
            buf = new_buf
    return f"{len(cases)} settings x 6 steps, equal to torch.optim.SGD"


# ---- 2. Adam -------------------------------------------------------------------------------------
def _drive_adam(c: Check, fn: Callable[..., Any], name: str, p0: torch.Tensor, grads, kw) -> list:
    """Run the learner's ``fn(p, g, m, v, t, lr, betas, eps[, weight_decay]) -> (p, m, v)``."""
    p, m, v = p0.clone(), torch.zeros_like(p0), torch.zeros_like(p0)
    path = []
    for t, g in enumerate(grads, start=1):
        with c.forbidding(_NO_OPTIM, _NO_OPTIM_HINT):  # p, m, v may be updated in place
            out = c.call(
                fn,
                p.clone(),
                g.clone(),
                m.clone(),
                v.clone(),
                t,
                case=name,
                inplace_ok={0, 2, 3},
                **kw,
            )
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            raise CaseFailed(
                name,
                f"expected a tuple (p, m, v), got {type(out).__name__}",
                "end the function with `return p, m, v`",
            )
        p, m, v = out
        if not all(isinstance(x, torch.Tensor) for x in (p, m, v)):
            raise CaseFailed(name, "p, m and v must all be tensors", "return p, m, v as tensors")
        path.append(p.detach().clone())
    return path


def _first_mismatch(path: list, want: list) -> int | None:
    for i, (a, b) in enumerate(zip(path, want)):
        if a.shape != b.shape or not torch.allclose(a.to(b.dtype), b, atol=1e-6, rtol=1e-5):
            return i
    return None


@checker
def ex05_adam_step(c: Check, adam_step: Callable[..., Any]) -> str:
    """``adam_step(p, g, m, v, t, lr, betas, eps) -> (p, m, v)`` with bias correction, t from 1."""
    cases = [
        ("default betas, lr 0.01", dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8), torch.float32, 1.0),
        (
            "betas (0.8, 0.99), eps 1e-6",
            dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6),
            torch.float32,
            1.0,
        ),
        ("tiny gradients (1e-6)", dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8), torch.float32, 1e-6),
        ("float64", dict(lr=0.1, betas=(0.9, 0.999), eps=1e-8), torch.float64, 1.0),
    ]
    for name, kw, dtype, scale in cases:
        grads = [g * scale for g in _gradients(8, (4,), dtype, seed=2)]
        p0 = torch.linspace(-1, 1, 4, dtype=dtype)
        want = _reference_path(lambda ps, kw=kw: torch.optim.Adam(ps, **kw), p0, grads)
        got = _drive_adam(c, adam_step, name, p0, grads, kw)
        bad = _first_mismatch(got, want)
        if bad is None:
            c.cases += len(got)
            if got[-1].dtype != dtype:
                raise CaseFailed(
                    name,
                    f"the parameter came back as {got[-1].dtype}, not {dtype}",
                    "keep the parameter's dtype",
                )
            continue
        raw = _reference_path(
            lambda ps, kw=kw: optim.Adam(ps, bias_correction=False, **kw), p0, grads
        )
        case = f"{name}, step {bad + 1}"
        if _first_mismatch(got, raw) is None:
            raise CaseFailed(
                case,
                "your steps match Adam WITHOUT bias correction",
                "divide by the bias corrections: m_hat = m / (1 - beta1**t), "
                "v_hat = v / (1 - beta2**t), then p - lr * m_hat / (sqrt(v_hat) + eps); "
                "without them the first update is lr*(1-beta1)/sqrt(1-beta2), "
                "not about lr",
            )
        c.close(
            got[bad],
            want[bad],
            case=case,
            hint="m = beta1*m + (1-beta1)*g; v = beta2*v + (1-beta2)*g*g; correct both with "
            "1 - beta**t (t starts at 1); eps goes outside the square root",
        )
    return f"{len(cases)} settings x 8 steps, equal to torch.optim.Adam"


@checker
def ex05_first_step(c: Check, answer: Any) -> str:
    """The first Adam update's size (lr=0.01, default betas, gradient 0.001): (with, without) bc."""
    c.answered(answer)
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        raise CaseFailed(
            "your answer",
            f"expected a pair of numbers, got {answer!r}"[:160],
            "answer = (with_correction, without_correction)",
        )
    with_bc, without = answer
    lr, g, eps = 0.01, 1e-3, 1e-8
    want_with = lr * g / (g + eps)
    want_without = lr * (0.1 * g) / (math.sqrt(0.001) * g + eps)
    try:
        with_bc, without = float(with_bc), float(without)
    except (TypeError, ValueError):
        raise CaseFailed(
            "your answer", "both entries must be numbers", "e.g. (0.5, 0.25)"
        ) from None
    if math.isclose(with_bc, lr * g, rel_tol=1e-2):
        raise CaseFailed(
            "with bias correction",
            f"{with_bc:g} is lr * g, the SGD step",
            "Adam divides m_hat by sqrt(v_hat): on step 1 that is g / |g|",
        )
    c.close(
        with_bc,
        want_with,
        case="with bias correction",
        rtol=2e-2,  # "two significant digits are enough"
        atol=0,
        hint="step 1: m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps)",
    )
    if math.isclose(without, lr * 0.1, rel_tol=1e-2):
        raise CaseFailed(
            "without bias correction",
            f"{without:g} forgets v's small start",
            "m = 0.1 g is 10x too small, but v = 0.001 g^2 is 1000x too small and "
            "we divide by its square root",
        )
    c.close(
        without,
        want_without,
        case="without bias correction",
        rtol=2e-2,  # "two significant digits are enough"
        atol=0,
        hint="m = (1 - beta1) g, v = (1 - beta2) g^2; the step is lr * m / (sqrt(v) + eps)",
    )
    return f"first step {want_with:.4g} with and {want_without:.4g} without bias correction"


# ---- 3. AdamW ------------------------------------------------------------------------------------
@checker
def ex05_adamw_step(c: Check, adamw_step: Callable[..., Any]) -> str:
    """``adamw_step(p, g, m, v, t, lr, betas, eps, weight_decay) -> (p, m, v)``, decoupled decay."""
    cases = [
        ("weight_decay 0.1", dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)),
        ("weight_decay 0.5, lr 0.1", dict(lr=0.1, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.5)),
        ("no weight decay", dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)),
    ]
    for name, kw in cases:
        grads = _gradients(8, (5,), torch.float32, seed=3)
        p0 = torch.linspace(-2, 2, 5)
        want = _reference_path(lambda ps, kw=kw: torch.optim.AdamW(ps, **kw), p0, grads)
        got = _drive_adam(c, adamw_step, name, p0, grads, kw)
        bad = _first_mismatch(got, want)
        if bad is None:
            c.cases += len(got)
            continue
        case = f"{name}, step {bad + 1}"
        l2 = _reference_path(lambda ps, kw=kw: torch.optim.Adam(ps, **kw), p0, grads)
        if _first_mismatch(got, l2) is None:
            raise CaseFailed(
                case,
                "your steps match Adam with L2 (weight decay added to the gradient)",
                "decouple it: shrink the parameter directly, p = p * (1 - lr * "
                "weight_decay), and give the Adam update the plain gradient g",
            )
        no_lr = dict(kw, weight_decay=kw["weight_decay"] / kw["lr"])
        scaled = _reference_path(lambda ps, kw=no_lr: torch.optim.AdamW(ps, **kw), p0, grads)
        if kw["weight_decay"] and _first_mismatch(got, scaled) is None:
            raise CaseFailed(
                case,
                "the decay ignores the learning rate",
                "PyTorch's AdamW multiplies p by (1 - lr * weight_decay)",
            )
        c.close(
            got[bad],
            want[bad],
            case=case,
            hint="first p = p * (1 - lr*weight_decay), then the usual Adam step with the "
            "original gradient (bias correction included)",
        )
    return f"{len(cases)} settings x 8 steps, equal to torch.optim.AdamW"


# ---- 4. warmup + cosine --------------------------------------------------------------------------
@checker
def ex05_warmup_cosine(c: Check, warmup_cosine: Callable[..., Any]) -> str:
    """``warmup_cosine(step, base_lr, warmup_steps, total_steps, min_lr) -> float``."""
    settings = [
        ("warmup 10 of 100 steps", (1e-3, 10, 100, 1e-5)),
        ("warmup 1 of 5 steps", (0.5, 1, 5, 0.0)),
        ("no warmup", (0.1, 0, 50, 0.01)),
    ]
    for name, (base, warm, total, low) in settings:
        for step in [*range(0, total + 1), total + 7, 3 * total]:
            case = f"{name}, step {step}"
            with c.forbidding(_NO_OPTIM, _NO_OPTIM_HINT):
                got = c.call(warmup_cosine, step, base, warm, total, low, case=case)
            want = optim.warmup_cosine_lr(step, base, warm, total, low)
            if step < warm and isinstance(got, (int, float)):
                if math.isclose(got, base * step / warm, rel_tol=1e-6, abs_tol=1e-15):
                    raise CaseFailed(
                        case,
                        f"{got:g} is base_lr * step / warmup_steps",
                        "count steps from 0 and use (step + 1) / warmup_steps, so "
                        "step 0 already learns a little and step warmup-1 is at base_lr",
                    )
            if step > total and isinstance(got, (int, float)) and not math.isclose(got, low):
                raise CaseFailed(
                    case,
                    f"expected min_lr = {low:g} after total_steps, got {got:g}",
                    "clamp the progress at 1: the rate stays at min_lr after the end",
                )
            c.close(
                got,
                want,
                case=case,
                atol=1e-12,
                rtol=1e-9,
                hint="during warmup (step < warmup_steps): lr = base_lr * (step + 1) / "
                "warmup_steps, rising from base_lr / warmup_steps to base_lr"
                if step < warm
                else "after warmup: progress = (step - warmup)/(total - warmup); "
                "lr = min_lr + 0.5*(base_lr - min_lr)*(1 + cos(pi*progress))",
            )
    return f"{c.cases} steps over {len(settings)} schedules"
