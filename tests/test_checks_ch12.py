"""Workbook 12 checkers: the reference passes, each usual mistake fails with its hint, stubs say 'not done'."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from course_lib import checks
from course_lib.checks._core import FAIL, PASS, TODO
from course_lib.compress import distillation_loss
from course_lib.kv_cache import append_kv


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


def _is_todo(capsys, check) -> None:
    assert not check(_todo)
    assert _line(capsys).startswith(TODO)


# ---- KV-cache attention step ---------------------------------------------------------------
def _kv_step(cat=lambda past, new: torch.cat((past, new), dim=-2), scale=True, attend_new=True):
    def step(q, k, v, past_k, past_v):
        k_all = k if past_k is None else cat(past_k, k)
        v_all = v if past_v is None else cat(past_v, v)
        keys, values = (k_all, v_all) if attend_new or past_k is None else (past_k, past_v)
        scores = q @ keys.transpose(-2, -1) / (q.shape[-1] ** 0.5 if scale else 1.0)
        return torch.softmax(scores, dim=-1) @ values, k_all, v_all

    return step


def test_kv_attention_step(capsys) -> None:
    _passes(capsys, checks.ex12_kv_attention_step, _kv_step())

    def library(q, k, v, past_k, past_v):
        k_all, v_all = append_kv(past_k, past_v, k, v)
        return torch.nn.functional.scaled_dot_product_attention(q, k_all, v_all), k_all, v_all

    _passes(capsys, checks.ex12_kv_attention_step, library)
    _is_todo(capsys, checks.ex12_kv_attention_step)
    new_first = _kv_step(cat=lambda past, new: torch.cat((new, past), dim=-2))
    _fails(capsys, checks.ex12_kv_attention_step, new_first, "old positions first")
    wrong_dim = _kv_step(cat=lambda past, new: torch.cat((past, new), dim=1))
    _fails(capsys, checks.ex12_kv_attention_step, wrong_dim, "dim=-2")
    _fails(capsys, checks.ex12_kv_attention_step, _kv_step(scale=False), "sqrt(hs)")
    _fails(capsys, checks.ex12_kv_attention_step, _kv_step(attend_new=False), "attend to itself")

    def top_left_causal(q, k, v, past_k, past_v):  # the fused kernel's is_causal with 1 query
        k_all, v_all = append_kv(past_k, past_v, k, v)
        out = torch.nn.functional.scaled_dot_product_attention(q, k_all, v_all, is_causal=True)
        return out, k_all, v_all

    _fails(capsys, checks.ex12_kv_attention_step, top_left_causal, "sees only the first key")

    def crashes_on_none(q, k, v, past_k, past_v):
        return _kv_step()(q, k, v, past_k, past_v)[0], torch.cat((past_k, k), -2), None

    _fails(capsys, checks.ex12_kv_attention_step, crashes_on_none, "raised TypeError")


# ---- loss scale -----------------------------------------------------------------------------
def test_loss_scale(capsys) -> None:
    _passes(capsys, checks.ex12_loss_scale, (True, 32768.0))
    _passes(capsys, checks.ex12_loss_scale, (True, 32768))
    assert not checks.ex12_loss_scale(None)
    assert "not done yet" in _line(capsys)
    _fails(capsys, checks.ex12_loss_scale, (False, 32768.0), "skips the update")
    _fails(capsys, checks.ex12_loss_scale, (True, 65536.0), "backoff_factor")
    _fails(capsys, checks.ex12_loss_scale, (True, 131072.0), "shrinks")
    _fails(capsys, checks.ex12_loss_scale, (True, 16384.0), "0.5")
    _fails(capsys, checks.ex12_loss_scale, "halve", "pair")
    _fails(capsys, checks.ex12_loss_scale, (1, 32768.0), "should be a bool", "Python bool True")
    _fails(capsys, checks.ex12_loss_scale, (torch.tensor(True), 32768.0), "torch.Tensor")
    _fails(capsys, checks.ex12_loss_scale, ("True", 32768.0), "without quotes")
    _fails(capsys, checks.ex12_loss_scale, (True, "32768"), "without quotes")


# ---- attention memory -----------------------------------------------------------------------
def test_attention_memory(capsys) -> None:
    _passes(capsys, checks.ex12_attention_memory, lambda B, L, H, T, nb: L * B * H * T * T * nb)
    _is_todo(capsys, checks.ex12_attention_memory)
    _fails(
        capsys, checks.ex12_attention_memory, lambda B, L, H, T, nb: L * B * T * T * nb, "n_head"
    )
    _fails(
        capsys, checks.ex12_attention_memory, lambda B, L, H, T, nb: B * H * T * T * nb, "n_layer"
    )
    _fails(capsys, checks.ex12_attention_memory, lambda B, L, H, T, nb: L * B * H * T * nb, "T * T")
    _fails(
        capsys,
        checks.ex12_attention_memory,
        lambda B, L, H, T, nb: L * B * H * T * T,
        "bytes_per_value",
    )


# ---- gradient accumulation ----------------------------------------------------------------
def _accumulate(divide=True, zero_between=False, micro=True):
    def accumulate_gradients(model, loss_fn, x, y, k):
        for xb, yb in zip(x.chunk(k), y.chunk(k)) if micro else [(x, y)] * k:
            if zero_between:
                model.zero_grad()
            loss = loss_fn(model(xb), yb)
            (loss / k if divide else loss).backward()

    return accumulate_gradients


def test_grad_accumulation(capsys) -> None:
    _passes(capsys, checks.ex12_grad_accumulation, _accumulate())
    _is_todo(capsys, checks.ex12_grad_accumulation)
    _fails(capsys, checks.ex12_grad_accumulation, _accumulate(divide=False), "k times too large")
    _fails(capsys, checks.ex12_grad_accumulation, _accumulate(zero_between=True), "do not zero")
    _fails(capsys, checks.ex12_grad_accumulation, _accumulate(micro=False), "x.chunk(k)")

    def steps_too(model, loss_fn, x, y, k):
        _accumulate()(model, loss_fn, x, y, k)
        torch.optim.SGD(model.parameters(), lr=0.1).step()

    _fails(capsys, checks.ex12_grad_accumulation, steps_too, "no optimizer step")


# ---- distillation ---------------------------------------------------------------------------
def _kl_parts(s, t, y, T):
    V = s.shape[-1]
    ls, lt = F.log_softmax(s.reshape(-1, V) / T, -1), F.log_softmax(t.reshape(-1, V) / T, -1)
    ce = F.cross_entropy(s.reshape(-1, V), y.reshape(-1))
    return ls, lt, ce


def test_distill_loss(capsys) -> None:
    _passes(capsys, checks.ex12_distill_loss, distillation_loss)
    _is_todo(capsys, checks.ex12_distill_loss)

    def no_t2(s, t, y, T, a):
        ls, lt, ce = _kl_parts(s, t, y, T)
        return a * (lt.exp() * (lt - ls)).sum(-1).mean() + (1 - a) * ce

    def reversed_kl(s, t, y, T, a):
        ls, lt, ce = _kl_parts(s, t, y, T)
        return a * T * T * (ls.exp() * (ls - lt)).sum(-1).mean() + (1 - a) * ce

    def swapped_alpha(s, t, y, T, a):
        return distillation_loss(s, t, y, T, 1 - a)

    def unsoftened_teacher(s, t, y, T, a):
        return distillation_loss(s, t * T, y, T, a)

    _fails(capsys, checks.ex12_distill_loss, no_t2, "temperature**2")
    _fails(capsys, checks.ex12_distill_loss, reversed_kl, "TEACHER")
    _fails(capsys, checks.ex12_distill_loss, swapped_alpha, "alpha multiplies")
    _fails(capsys, checks.ex12_distill_loss, unsoftened_teacher, "alpha * T^2")

    def naive_softmax(s, t, y, T, a):  # no max subtraction: exp overflows for large logits
        V = s.shape[-1]
        es, et = (s.reshape(-1, V) / T).exp(), (t.reshape(-1, V) / T).exp()
        ps, pt = es / es.sum(-1, keepdim=True), et / et.sum(-1, keepdim=True)
        kl = (pt * (pt.log() - ps.log())).sum(-1).mean()
        return a * T * T * kl + (1 - a) * F.cross_entropy(s.reshape(-1, V), y.reshape(-1))

    line = _fails(capsys, checks.ex12_distill_loss, naive_softmax, "overflows to inf")
    assert "large logits" in line

    def kl_div_batchmean(s, t, y, T, a):  # another right answer, computed differently
        ls, lt, ce = _kl_parts(s, t, y, T)
        kl = F.kl_div(ls, lt, log_target=True, reduction="batchmean")
        return a * T * T * kl + (1 - a) * ce

    _passes(capsys, checks.ex12_distill_loss, kl_div_batchmean)
    _fails(
        capsys,
        checks.ex12_distill_loss,
        lambda s, t, y, T, a: float(distillation_loss(s, t, y, T, a)),
        "torch.Tensor",
    )


# ---- issue 16: the planted answers of each kind


def test_distill_batch_wide_max(capsys) -> None:
    import torch.nn.functional as F

    def batch_max(s, t, y, T, alpha):
        V = s.shape[-1]
        s2, t2 = s.reshape(-1, V) / T, t.reshape(-1, V) / T
        ls = s2 - s2.max() - torch.log(torch.exp(s2 - s2.max()).sum(-1, keepdim=True))
        lt = t2 - t2.max() - torch.log(torch.exp(t2 - t2.max()).sum(-1, keepdim=True))
        kl = (lt.exp() * (lt - ls)).sum(-1).mean()
        return alpha * T * T * kl + (1 - alpha) * F.cross_entropy(s.reshape(-1, V), y.reshape(-1))

    assert not checks.ex12_distill_loss(batch_max)
    line = _line(capsys)
    assert "own max" in line and "whole batch" in line


def test_new_exercises_on_another_device(capsys, monkeypatch) -> None:
    """'meta' plays the GPU: the right answers pass there too (the cases are run on it)."""
    from course_lib.checks import _core

    monkeypatch.setattr(_core, "learner_device", lambda: torch.device("meta"))
    _passes(capsys, checks.ex12_kv_attention_step, _kv_step())
    _passes(capsys, checks.ex12_grad_accumulation, _accumulate())
