"""Checkers of workbook 05: the reference answers pass, each usual mistake fails with its hint."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib import checks


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ---- reference answers and the usual wrong ones --------------------------------------------------
def sgd_momentum_step(p, g, buf, lr, momentum, dampening=0.0, nesterov=False):
    if buf is None:
        buf = g.clone()
    else:
        buf = momentum * buf + (1 - dampening) * g
    step = g + momentum * buf if nesterov else buf
    return p - lr * step, buf


def sgd_zeros_init(p, g, buf, lr, momentum, dampening=0.0, nesterov=False):
    buf = torch.zeros_like(g) if buf is None else buf
    buf = momentum * buf + (1 - dampening) * g
    return p - lr * (g + momentum * buf if nesterov else buf), buf


def sgd_ema(p, g, buf, lr, momentum, dampening=0.0, nesterov=False):
    buf = torch.zeros_like(g) if buf is None else buf
    buf = momentum * buf + (1 - momentum) * g
    return p - lr * (g + momentum * buf if nesterov else buf), buf


def adam_step(p, g, m, v, t, lr, betas, eps):
    b1, b2 = betas
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
    return p - lr * m_hat / (v_hat.sqrt() + eps), m, v


def adam_no_bias_correction(p, g, m, v, t, lr, betas, eps):
    b1, b2 = betas
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    return p - lr * m / (v.sqrt() + eps), m, v


def adamw_step(p, g, m, v, t, lr, betas, eps, weight_decay):
    p = p * (1 - lr * weight_decay)
    return adam_step(p, g, m, v, t, lr, betas, eps)


def adamw_as_l2(p, g, m, v, t, lr, betas, eps, weight_decay):
    return adam_step(p, g + weight_decay * p, m, v, t, lr, betas, eps)


def adamw_without_lr(p, g, m, v, t, lr, betas, eps, weight_decay):
    return adam_step(p * (1 - weight_decay), g, m, v, t, lr, betas, eps)


def warmup_cosine(step, base_lr, warmup_steps, total_steps, min_lr):
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
    return min_lr + 0.5 * (base_lr - min_lr) * (1 + math.cos(math.pi * progress))


def warmup_from_zero(step, base_lr, warmup_steps, total_steps, min_lr):
    if step < warmup_steps:
        return base_lr * step / warmup_steps
    return warmup_cosine(step, base_lr, warmup_steps, total_steps, min_lr)


def cosine_unclamped(step, base_lr, warmup_steps, total_steps, min_lr):
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / (total_steps - warmup_steps)
    return min_lr + 0.5 * (base_lr - min_lr) * (1 + math.cos(math.pi * progress))


# ---- tests ---------------------------------------------------------------------------------------
def test_sgd_momentum(checker_line):
    checker_line.passes(checks.ex05_sgd_momentum, sgd_momentum_step)
    checker_line.fails(
        checks.ex05_sgd_momentum, sgd_zeros_init, needles=("dampening 0.5", "copy of the gradient")
    )
    checker_line.fails(
        checks.ex05_sgd_momentum, sgd_ema, needles=("(1 - momentum) * g", "first gradient")
    )


def test_adam(checker_line):
    checker_line.passes(checks.ex05_adam_step, adam_step)
    checker_line.fails(
        checks.ex05_adam_step,
        adam_no_bias_correction,
        needles=("WITHOUT bias correction", "1 - beta1**t"),
    )
    checker_line.fails(
        checks.ex05_adam_step, lambda p, g, m, v, t, lr, betas, eps: p, needles=("tuple (p, m, v)",)
    )


def test_adamw(checker_line):
    checker_line.passes(checks.ex05_adamw_step, adamw_step)
    checker_line.fails(checks.ex05_adamw_step, adamw_as_l2, needles=("L2", "decouple"))
    checker_line.fails(
        checks.ex05_adamw_step, adamw_without_lr, needles=("ignores the learning rate",)
    )


def sgd_velocity(p, g, buf, lr, momentum, dampening=0.0, nesterov=False):
    buf = lr * g if buf is None else momentum * buf + lr * g  # lr inside the buffer
    return p - buf, buf


def test_velocity_form_is_named(checker_line):
    checker_line.fails(checks.ex05_sgd_momentum, sgd_velocity, needles=("velocity", "lr out"))


def test_warmup_cosine(checker_line):
    checker_line.passes(checks.ex05_warmup_cosine, warmup_cosine)
    checker_line.fails(
        checks.ex05_warmup_cosine,
        lambda s, b, w, t, m: b * (s + 1) / (w + 1) if s < w else warmup_cosine(s, b, w, t, m),
        needles=("during warmup",),
    )
    checker_line.fails(
        checks.ex05_warmup_cosine,
        lambda *a: torch.tensor(warmup_cosine(*a)),
        needles=("return a Python float",),
    )
    checker_line.fails(
        checks.ex05_warmup_cosine, warmup_from_zero, needles=("step 0", "(step + 1)")
    )
    checker_line.fails(checks.ex05_warmup_cosine, cosine_unclamped, needles=("after total_steps",))


def test_first_step(checker_line):
    checker_line.passes(checks.ex05_first_step, (0.01, 0.0316))
    checker_line.passes(checks.ex05_first_step, (0.010, 0.032))  # two significant digits
    checker_line.not_done(checks.ex05_first_step, None)
    checker_line.fails(checks.ex05_first_step, (1e-5, 0.0316), needles=("SGD step",))
    checker_line.fails(checks.ex05_first_step, (0.01, 0.001), needles=("forgets v",))
    checker_line.fails(checks.ex05_first_step, "big", needles=("pair of numbers",))


@pytest.mark.parametrize(
    "check",
    [
        checks.ex05_sgd_momentum,
        checks.ex05_adam_step,
        checks.ex05_adamw_step,
        checks.ex05_warmup_cosine,
    ],
)
def test_not_done_and_crashing_code(checker_line, check):
    checker_line.not_done(check)
    checker_line.fails(check, lambda *a, **k: 1 / 0, needles=("ZeroDivisionError",))
    checker_line.fails(check, 42, needles=("expected a function",))
