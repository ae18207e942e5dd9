"""Workbook 09 checkers: the reference passes, each usual mistake fails with its hint, stubs say 'not done'."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib import checks


# ---- attention ------------------------------------------------------------------------------
def attention(q, k, v, mask=None, scale_dim=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(scale_dim or q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    w = torch.softmax(scores, dim=-1)
    return w @ v, w


def attention_no_scale(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    w = torch.softmax(scores, dim=-1)
    return w @ v, w


def attention_mask_after(q, k, v, mask=None):
    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    if mask is not None:
        w = w.masked_fill(~mask, 0.0)
    return w @ v, w


def attention_inverted(q, k, v, mask=None):
    return attention(q, k, v, None if mask is None else ~mask)


def attention_naive_softmax(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    e = scores.exp()
    w = e / e.sum(-1, keepdim=True)
    return w @ v, w


def attention_scale_by_dv(q, k, v, mask=None):
    return attention(q, k, v, mask, scale_dim=v.shape[-1])


def attention_float_weights(q, k, v, mask=None):
    out, w = attention(q, k, v, mask)
    return out, w.float()


def test_attention(checker_line):
    checker_line.passes(checks.ex09_attention, attention)
    checker_line.fails(checks.ex09_attention, attention_no_scale, needles=("sqrt(d_k)",))
    checker_line.fails(checks.ex09_attention, attention_mask_after, needles=("BEFORE the softmax",))
    checker_line.fails(checks.ex09_attention, attention_inverted, needles=("MAY attend",))
    checker_line.fails(checks.ex09_attention, attention_naive_softmax, needles=("large scores",))
    checker_line.fails(
        checks.ex09_attention, attention_scale_by_dv, needles=("d_v != d_k", "queries and keys")
    )
    checker_line.fails(
        checks.ex09_attention, attention_float_weights, needles=("float64 inputs: weights", "dtype")
    )
    checker_line.fails(
        checks.ex09_attention, lambda q, k, v, m=None: attention(q, k, v, m)[0], needles=("pair",)
    )


def test_dot_product_std(checker_line):
    checker_line.passes(checks.ex09_dot_product_std, 22.6)
    checker_line.fails(checks.ex09_dot_product_std, 512, needles=("square root",))
    checker_line.fails(checks.ex09_dot_product_std, 1.0, needles=("AFTER",))
    assert not checks.ex09_dot_product_std(None)
    assert "not done yet" in checker_line.line()


# ---- heads ----------------------------------------------------------------------------------
def split_heads(x, n_heads):
    B, T, D = x.shape
    return x.view(B, T, n_heads, D // n_heads).transpose(1, 2)


def merge_heads(y):
    B, H, T, hs = y.shape
    return y.transpose(1, 2).contiguous().view(B, T, H * hs)


def test_heads(checker_line):
    checker_line.passes(checks.ex09_split_heads, split_heads)
    checker_line.fails(
        checks.ex09_split_heads,
        lambda x, h: x.reshape(x.shape[0], h, x.shape[1], -1),
        needles=("transpose(1, 2)",),
    )
    checker_line.passes(checks.ex09_merge_heads, merge_heads)
    checker_line.fails(
        checks.ex09_merge_heads,
        lambda y: y.reshape(y.shape[0], y.shape[2], -1),
        needles=("transpose(1, 2) first",),
    )
    checker_line.fails(
        checks.ex09_merge_heads, lambda y: y.transpose(1, 2), needles=("expected shape",)
    )


# ---- masks and positions --------------------------------------------------------------------
def test_causal_mask(checker_line):
    checker_line.passes(
        checks.ex09_causal_mask, lambda T: torch.ones(T, T, dtype=torch.bool).tril()
    )
    checker_line.fails(
        checks.ex09_causal_mask,
        lambda T: torch.ones(T, T, dtype=torch.bool).triu(),
        needles=("future",),
    )
    checker_line.fails(
        checks.ex09_causal_mask,
        lambda T: torch.ones(T, T, dtype=torch.bool).tril(-1),
        needles=("itself",),
    )
    checker_line.fails(
        checks.ex09_causal_mask, lambda T: torch.ones(T, T).tril(), needles=("torch.bool",)
    )


def sinusoidal(max_len, d_model):
    pos = torch.arange(max_len)[:, None]
    angle = pos / 10000 ** (torch.arange(0, d_model, 2) / d_model)
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)
    return pe


def sinusoidal_swapped(max_len, d_model):
    pe = sinusoidal(max_len, d_model)
    pe[:, 0::2], pe[:, 1::2] = pe[:, 1::2].clone(), pe[:, 0::2].clone()
    return pe


def sinusoidal_wrong_freq(max_len, d_model):  # i over columns instead of column pairs
    pos = torch.arange(max_len)[:, None]
    angle = pos / 10000 ** (2 * torch.arange(0, d_model, 2) / d_model)
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)
    return pe


def sinusoidal_positive_exponent(max_len, d_model):
    pos = torch.arange(max_len)[:, None]
    angle = pos * 10000 ** (torch.arange(0, d_model, 2) / d_model)
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)
    return pe


def test_sinusoidal(checker_line):
    checker_line.passes(checks.ex09_sinusoidal, sinusoidal)
    checker_line.fails(checks.ex09_sinusoidal, sinusoidal_swapped, needles=("swapped",))
    checker_line.fails(checks.ex09_sinusoidal, sinusoidal_wrong_freq, needles=("frequencies",))
    checker_line.fails(
        checks.ex09_sinusoidal, sinusoidal_positive_exponent, needles=("frequencies",)
    )
    checker_line.fails(
        checks.ex09_sinusoidal,
        lambda n, d: sinusoidal(n, d).double(),
        needles=("float32, like the embeddings",),
    )


@pytest.mark.parametrize(
    "check",
    [
        checks.ex09_attention,
        checks.ex09_split_heads,
        checks.ex09_merge_heads,
        checks.ex09_causal_mask,
        checks.ex09_sinusoidal,
    ],
)
def test_not_done_yet(checker_line, check):
    checker_line.not_done(check)


def test_learner_exception_is_a_sentence(checker_line):
    def broken(*args):
        raise RuntimeError("shapes do not match")

    line = checker_line.fails(
        checks.ex09_attention, broken, needles=("RuntimeError: shapes do not match",)
    )
    assert "Traceback" not in line


# ---- issue 16: the planted answers of each kind


def test_attention_that_divides_q_in_place(checker_line) -> None:
    """`q /= math.sqrt(d)` changes the caller's q: attention(x, x, x) goes wrong by up to 2 (kind 2)."""

    def in_place(q, k, v, mask=None):
        q /= math.sqrt(q.shape[-1])
        scores = q @ k.transpose(-2, -1)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        w = torch.softmax(scores, dim=-1)
        return w @ v, w

    checker_line.fails(
        checks.ex09_attention, in_place, needles=("changed its input `q` in place", "q = q /")
    )


def test_attention_batch_wide_max(checker_line) -> None:
    def batch_max(q, k, v, mask=None):
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        e = torch.exp(scores - scores.max())
        w = e / e.sum(-1, keepdim=True)
        return w @ v, w

    checker_line.fails(checks.ex09_attention, batch_max, needles=("its own max",))


def test_merge_heads_backward(checker_line) -> None:
    def detached(y):
        B, H, T, hs = y.shape
        return y.detach().transpose(1, 2).reshape(B, T, H * hs)

    checker_line.fails(checks.ex09_merge_heads, detached, needles=("no gradient can flow",))
