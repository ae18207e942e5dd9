"""Workbook 09 checkers: the reference passes, each usual mistake fails with its hint, stubs say 'not done'."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib import checks
from course_lib.checks._core import FAIL, PASS, TODO


def _line(capsys) -> str:
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, out
    return out[0]


def _passes(capsys, check, answer) -> None:
    assert check(answer), _line(capsys)
    assert _line(capsys).startswith(PASS)


def _fails(capsys, check, answer, *needles: str) -> str:
    assert not check(answer)
    line = _line(capsys)
    assert line.startswith(FAIL), line
    assert "Hint:" in line
    for needle in needles:
        assert needle in line, line
    return line


def _todo(*args, **kwargs):
    raise NotImplementedError


# ---- attention ------------------------------------------------------------------------------
def attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
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


def test_attention(capsys):
    _passes(capsys, checks.ex09_attention, attention)
    _fails(capsys, checks.ex09_attention, attention_no_scale, "sqrt(d_k)")
    _fails(capsys, checks.ex09_attention, attention_mask_after, "BEFORE the softmax")
    _fails(capsys, checks.ex09_attention, attention_inverted, "MAY attend")
    _fails(capsys, checks.ex09_attention, attention_naive_softmax, "large scores")
    _fails(capsys, checks.ex09_attention, lambda q, k, v, m=None: attention(q, k, v, m)[0], "pair")


def test_dot_product_std(capsys):
    _passes(capsys, checks.ex09_dot_product_std, 22.6)
    _fails(capsys, checks.ex09_dot_product_std, 512, "square root")
    _fails(capsys, checks.ex09_dot_product_std, 1.0, "AFTER")
    assert not checks.ex09_dot_product_std(None)
    assert "no answer yet" in _line(capsys)


# ---- heads ----------------------------------------------------------------------------------
def split_heads(x, n_heads):
    B, T, D = x.shape
    return x.view(B, T, n_heads, D // n_heads).transpose(1, 2)


def merge_heads(y):
    B, H, T, hs = y.shape
    return y.transpose(1, 2).contiguous().view(B, T, H * hs)


def test_heads(capsys):
    _passes(capsys, checks.ex09_split_heads, split_heads)
    _fails(
        capsys,
        checks.ex09_split_heads,
        lambda x, h: x.reshape(x.shape[0], h, x.shape[1], -1),
        "transpose(1, 2)",
    )
    _passes(capsys, checks.ex09_merge_heads, merge_heads)
    _fails(
        capsys,
        checks.ex09_merge_heads,
        lambda y: y.reshape(y.shape[0], y.shape[2], -1),
        "transpose(1, 2) first",
    )
    _fails(capsys, checks.ex09_merge_heads, lambda y: y.transpose(1, 2), "expected shape")


# ---- masks and positions --------------------------------------------------------------------
def test_causal_mask(capsys):
    _passes(capsys, checks.ex09_causal_mask, lambda T: torch.ones(T, T, dtype=torch.bool).tril())
    _fails(
        capsys,
        checks.ex09_causal_mask,
        lambda T: torch.ones(T, T, dtype=torch.bool).triu(),
        "future",
    )
    _fails(
        capsys,
        checks.ex09_causal_mask,
        lambda T: torch.ones(T, T, dtype=torch.bool).tril(-1),
        "itself",
    )
    _fails(capsys, checks.ex09_causal_mask, lambda T: torch.ones(T, T).tril(), "torch.bool")


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


def test_sinusoidal(capsys):
    _passes(capsys, checks.ex09_sinusoidal, sinusoidal)
    _fails(capsys, checks.ex09_sinusoidal, sinusoidal_swapped, "swapped")
    _fails(capsys, checks.ex09_sinusoidal, sinusoidal_wrong_freq, "frequencies")
    _fails(capsys, checks.ex09_sinusoidal, sinusoidal_positive_exponent, "frequencies")


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
def test_not_done_yet(capsys, check):
    assert not check(_todo)
    line = _line(capsys)
    assert line.startswith(TODO) and "not done yet" in line


def test_learner_exception_is_a_sentence(capsys):
    def broken(*args):
        raise RuntimeError("shapes do not match")

    line = _fails(capsys, checks.ex09_attention, broken, "RuntimeError: shapes do not match")
    assert "Traceback" not in line
