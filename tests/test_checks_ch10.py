"""Workbook 10 checkers: the reference passes, each usual mistake fails with its hint, stubs say 'not done'."""

from __future__ import annotations

import functools
import math

import pytest
import torch

from course_lib import checks
from course_lib.transformer import GPT, GPTConfig


# ---- sampling -------------------------------------------------------------------------------
def top_k_filter(logits, k):
    kth = torch.topk(logits, k).values[:, -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_k_plus_one(logits, k):
    kth = torch.topk(logits, min(k + 1, logits.shape[-1])).values[:, -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_k_minus_one(logits, k):
    kth = torch.topk(logits, k).values[:, -1:]
    return logits.masked_fill(logits <= kth, float("-inf"))


def test_top_k(checker_line):
    checker_line.passes(checks.ex10_top_k_filter, top_k_filter)
    checker_line.fails(checks.ex10_top_k_filter, top_k_plus_one, needles=("k+1 tokens",))
    checker_line.fails(checks.ex10_top_k_filter, top_k_minus_one, needles=("k-1 tokens",))
    checker_line.fails(
        checks.ex10_top_k_filter, lambda z, k: z.float(), needles=("expected 3 finite",)
    )


def temperature_probs(logits, temperature):
    return torch.softmax(logits / temperature, dim=-1)


def test_temperature(checker_line):
    checker_line.passes(checks.ex10_temperature_probs, temperature_probs)
    checker_line.fails(
        checks.ex10_temperature_probs,
        lambda z, t: torch.softmax(z, -1) / t,
        needles=("after the softmax",),
    )
    checker_line.fails(
        checks.ex10_temperature_probs,
        lambda z, t: torch.softmax(z * t, -1),
        needles=("multiplied",),
    )
    checker_line.fails(
        checks.ex10_temperature_probs,
        lambda z, t: (z / t).exp() / (z / t).exp().sum(-1, keepdim=True),
        needles=("nan or inf",),
    )
    checker_line.fails(
        checks.ex10_temperature_probs,
        lambda z, t: torch.softmax(z.float() / t, -1),
        needles=("dtype",),
    )


# ---- the block ------------------------------------------------------------------------------
def block_forward(x, ln_1, attn, ln_2, mlp):
    x = x + attn(ln_1(x))
    return x + mlp(ln_2(x))


def block_post_ln(x, ln_1, attn, ln_2, mlp):
    x = ln_1(x + attn(x))
    return ln_2(x + mlp(x))


def block_no_residual(x, ln_1, attn, ln_2, mlp):
    return mlp(ln_2(attn(ln_1(x))))


def test_block(checker_line):
    checker_line.passes(checks.ex10_block_forward, block_forward)
    checker_line.fails(checks.ex10_block_forward, block_post_ln, needles=("post-LN",))
    checker_line.fails(checks.ex10_block_forward, block_no_residual, needles=("residual",))


# ---- predictions ----------------------------------------------------------------------------
def test_loss_at_init(checker_line):
    checker_line.passes(checks.ex10_loss_at_init, math.log(65))
    checker_line.fails(checks.ex10_loss_at_init, 1 / 65, needles=("-log(1/65)",))
    checker_line.fails(checks.ex10_loss_at_init, math.log2(65), needles=("natural log",))
    assert not checks.ex10_loss_at_init(None)
    assert "not done yet" in checker_line.line()


def test_param_count(checker_line):
    cfg = GPTConfig(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128, bias=False)
    n = GPT(cfg).num_params(non_embedding=False)
    checker_line.passes(checks.ex10_param_count, n)
    checker_line.fails(checks.ex10_param_count, n + 65 * 128, needles=("count it once",))
    checker_line.fails(checks.ex10_param_count, n - 64 * 128, needles=("position table",))
    checker_line.fails(checks.ex10_param_count, "many", needles=("expected a number",))


# ---- generate -------------------------------------------------------------------------------
@torch.no_grad()
def generate(model, idx, max_new_tokens, temperature=1.0, top_k=None):
    for _ in range(max_new_tokens):
        logits, _ = model(idx[:, -model.config.block_size :])
        logits = logits[:, -1, :] / temperature
        if top_k is not None:
            logits = top_k_filter(logits, top_k)
        nxt = torch.multinomial(torch.softmax(logits, -1), 1)
        idx = torch.cat((idx, nxt), dim=1)
    return idx


@torch.no_grad()
def generate_no_crop(model, idx, max_new_tokens, temperature=1.0, top_k=None):
    for _ in range(max_new_tokens):
        logits, _ = model(idx)
        nxt = torch.multinomial(torch.softmax(logits[:, -1] / temperature, -1), 1)
        idx = torch.cat((idx, nxt), dim=1)
    return idx


@torch.no_grad()
def generate_k_plus_one(model, idx, max_new_tokens, temperature=1.0, top_k=None):
    for _ in range(max_new_tokens):
        logits, _ = model(idx[:, -model.config.block_size :])
        logits = logits[:, -1, :] / temperature
        if top_k is not None:
            logits = top_k_plus_one(logits, top_k)
        idx = torch.cat((idx, torch.multinomial(torch.softmax(logits, -1), 1)), dim=1)
    return idx


@torch.no_grad()
def generate_greedy(model, idx, max_new_tokens, temperature=1.0, top_k=None):
    for _ in range(max_new_tokens):
        logits, _ = model(idx[:, -model.config.block_size :])
        idx = torch.cat((idx, logits[:, -1:].argmax(-1)), dim=1)
    return idx


def generate_cropped(crop):
    """The reference generate, but feeding the model ``crop(idx, block_size)``."""

    @torch.no_grad()
    def gen(model, idx, max_new_tokens, temperature=1.0, top_k=None):
        for _ in range(max_new_tokens):
            logits, _ = model(crop(idx, model.config.block_size))
            logits = logits[:, -1, :] / temperature
            if top_k is not None:
                logits = top_k_filter(logits, top_k)
            idx = torch.cat((idx, torch.multinomial(torch.softmax(logits, -1), 1)), dim=1)
        return idx

    return gen


@torch.no_grad()
def generate_no_top_k(model, idx, max_new_tokens, temperature=1.0, top_k=None):
    for _ in range(max_new_tokens):
        logits, _ = model(idx[:, -model.config.block_size :])
        probs = torch.softmax(logits[:, -1, :] / temperature, -1)
        idx = torch.cat((idx, torch.multinomial(probs, 1)), dim=1)
    return idx


@torch.no_grad()
def generate_first_position(model, idx, max_new_tokens, temperature=1.0, top_k=None):
    for _ in range(max_new_tokens):
        logits, _ = model(idx[:, -model.config.block_size :])
        logits = top_k_filter(logits[:, 0, :] / temperature, top_k) if top_k else logits[:, 0]
        idx = torch.cat((idx, torch.multinomial(torch.softmax(logits, -1), 1)), dim=1)
    return idx


@pytest.mark.parametrize(
    ("crop", "needle"),
    [
        (lambda idx, bs: idx[:, -(bs - 1) :], "too short"),
        (lambda idx, bs: idx[:, -4:], "too short"),
        (lambda idx, bs: idx[:, -1:], "too short"),
        (lambda idx, bs: idx[:, :bs], "first tokens"),
        (lambda idx, bs: idx, "too long"),
    ],
)
def test_generate_wrong_crop(checker_line, crop, needle):
    line = checker_line.fails(
        checks.ex10_generate, generate_cropped(crop), needles=("idx[:, -block_size:]", needle)
    )
    assert "k+1" not in line and "top_k=1 for 20 tokens" in line, line


def test_generate(checker_line):
    checker_line.passes(checks.ex10_generate, generate)
    checker_line.fails(checks.ex10_generate, generate_no_crop, needles=("block_size",))
    checker_line.fails(checks.ex10_generate, generate_k_plus_one, needles=("k+1 tokens",))
    checker_line.fails(checks.ex10_generate, generate_greedy, needles=("multinomial",))
    checker_line.fails(checks.ex10_generate, generate_no_top_k, needles=("apply top-k filtering",))
    checker_line.fails(checks.ex10_generate, generate_first_position, needles=("LAST position",))


@pytest.mark.parametrize(
    "check",
    [
        checks.ex10_top_k_filter,
        checks.ex10_temperature_probs,
        checks.ex10_block_forward,
        checks.ex10_generate,
    ],
)
def test_not_done_yet(checker_line, check):
    checker_line.not_done(check)


# ---- issue 16: the planted answers of each kind


def test_block_forward_in_place_residuals(checker_line) -> None:
    """`x += ...` changes the caller's x; `h += ...` on a saved tensor breaks backward (kind 2)."""

    def in_place_input(x, ln_1, attn, ln_2, mlp):
        x += attn(ln_1(x))
        return x + mlp(ln_2(x))

    checker_line.fails(
        checks.ex10_block_forward, in_place_input, needles=("changed its input `x` in place",)
    )

    def in_place_inside(x, ln_1, attn, ln_2, mlp):
        h = x + attn(ln_1(x))
        h += mlp(ln_2(h))
        return h

    checker_line.fails(
        checks.ex10_block_forward,
        in_place_inside,
        needles=("backward pass", "loss.backward() failed", "in-place"),
    )


def test_temperature_per_row_max(checker_line) -> None:
    def batch_max(logits, temperature):
        z = logits / temperature
        e = torch.exp(z - z.max())
        return e / e.sum(-1, keepdim=True)

    checker_line.fails(checks.ex10_temperature_probs, batch_max, needles=("its own max",))


# ---- causal self-attention ------------------------------------------------------------------
def _attention(
    x, w_qkv, b_qkv, w_proj, b_proj, n_head, *, scale=True, allowed=None, dim=-1, merge=True
):
    B, T, C = x.shape
    hs = C // n_head
    q, k, v = (x @ w_qkv.T + b_qkv).split(C, dim=2)
    q, k, v = (t.view(B, T, n_head, hs).transpose(1, 2) for t in (q, k, v))
    scores = q @ k.transpose(-2, -1)
    if scale:
        scores = scores / math.sqrt(hs)
    ones = torch.ones(T, T, dtype=torch.bool, device=x.device)
    allowed = ones.tril() if allowed is None else allowed(ones)
    scores = scores.masked_fill(~allowed, float("-inf"))
    y = torch.softmax(scores, dim=dim) @ v
    y = y.transpose(1, 2).reshape(B, T, C) if merge else y.reshape(B, T, C)
    return y @ w_proj.T + b_proj


_ATTENTION_MISTAKES = {
    "sqrt(head size)": dict(scale=False),
    "LOWER triangle": dict(allowed=lambda o: o.triu()),
    "one token ahead": dict(allowed=lambda o: o.tril(1)),
    "keep the diagonal": dict(allowed=lambda o: o.tril(-1)),
    "over the KEYS": dict(dim=-2),
    "transpose(1, 2)": dict(merge=False),
}


def test_causal_self_attention(checker_line):
    checker_line.passes(checks.ex10_causal_self_attention, _attention)
    for needle, mistake in _ATTENTION_MISTAKES.items():
        wrong = functools.partial(_attention, **mistake)
        checker_line.fails(checks.ex10_causal_self_attention, wrong, needles=(needle,))
    checker_line.fails(
        checks.ex10_causal_self_attention,
        lambda x, *a: torch.nn.functional.scaled_dot_product_attention(x, x, x, is_causal=True),
        needles=("scaled_dot_product_attention",),
    )
    checker_line.not_done(checks.ex10_causal_self_attention)


def test_causal_self_attention_in_place_breaks_backward(checker_line):
    def in_place(x, w_qkv, b_qkv, w_proj, b_proj, n_head):
        B, T, C = x.shape
        hs = C // n_head
        q, k, v = (x @ w_qkv.T + b_qkv).split(C, dim=2)
        q, k, v = (t.view(B, T, n_head, hs).transpose(1, 2) for t in (q, k, v))
        w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(hs), dim=-1)
        w *= torch.ones(T, T).tril()  # masks after the softmax, in place: rows no longer sum to 1
        w /= w.sum(-1, keepdim=True)
        return (w @ v).transpose(1, 2).reshape(B, T, C) @ w_proj.T + b_proj

    checker_line.fails(checks.ex10_causal_self_attention, in_place, needles=("in-place",))


# ---- one training step ----------------------------------------------------------------------
def train_step(model, optimizer, x, y, max_norm):
    optimizer.zero_grad()
    logits = model(x)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()
    return loss.item()


def _mean_ce(logits, y):
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def _step(order, loss_fn=_mean_ce):
    def step(model, optimizer, x, y, max_norm):
        loss = None
        for op in order:
            if op == "zero":
                optimizer.zero_grad()
            elif op == "backward":
                loss = loss_fn(model(x), y)
                loss.backward()
            elif op == "clip":
                torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            else:
                optimizer.step()
        return loss.item()

    return step


def test_train_step(checker_line):
    checker_line.passes(checks.ex10_train_step, train_step)
    checker_line.fails(
        checks.ex10_train_step, _step(["backward", "clip", "step"]), needles=("zero_grad()",)
    )
    checker_line.fails(
        checks.ex10_train_step,
        _step(["zero", "backward", "step", "clip"]),
        needles=("clipping after the step",),
    )
    checker_line.fails(
        checks.ex10_train_step,
        _step(["step", "zero", "backward", "clip"]),
        needles=("before loss.backward()",),
    )

    def summed_over_time(logits, y):  # averages over B only, sums over T
        return torch.nn.functional.cross_entropy(logits.transpose(1, 2), y, reduction="sum") / len(
            y
        )

    wrong_reshape = _step(["zero", "backward", "clip", "step"], summed_over_time)
    checker_line.fails(checks.ex10_train_step, wrong_reshape, needles=("all B*T positions",))

    def stub(model, optimizer, x, y, max_norm):
        raise NotImplementedError

    assert not checks.ex10_train_step(stub)
    assert "not done yet" in checker_line.line()


def test_new_exercises_on_another_device(checker_line, monkeypatch) -> None:
    """'meta' plays the GPU: a mask made without device= fails there with the device hint, and the
    right answers (attention with device=x.device, the training step) pass."""
    from course_lib.checks import _core

    monkeypatch.setattr(_core, "learner_device", lambda: torch.device("meta"))

    def cpu_mask(x, w_qkv, b_qkv, w_proj, b_proj, n_head):
        T = x.shape[1]
        return _attention(
            x,
            w_qkv,
            b_qkv,
            w_proj,
            b_proj,
            n_head,
            allowed=lambda o: torch.ones(T, T).bool().tril(),
        )

    checker_line.fails(checks.ex10_causal_self_attention, cpu_mask, needles=("on meta", "device="))
    checker_line.passes(checks.ex10_causal_self_attention, _attention)
    checker_line.passes(checks.ex10_train_step, train_step)
