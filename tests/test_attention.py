"""course_lib.attention against PyTorch: fused attention, nn.MultiheadAttention, the paper's formula."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.attention import (
    LearnedPositionalEncoding,
    MultiHeadAttention,
    SinusoidalPositionalEncoding,
    scaled_dot_product_attention,
    sinusoidal_encoding,
)

SHAPES = [  # (leading dims, T, S, d, dv)
    ((2, 3), 5, 5, 8, 8),
    ((1, 1), 1, 1, 4, 4),
    ((4,), 7, 7, 16, 16),
    ((2, 2), 6, 9, 4, 3),
    ((3, 1), 9, 4, 8, 8),
]


def _qkv(lead, T, S, d, dv, device, dtype=torch.float32, grad=False):
    q = torch.randn(*lead, T, d, device=device, dtype=dtype, requires_grad=grad)
    k = torch.randn(*lead, S, d, device=device, dtype=dtype, requires_grad=grad)
    v = torch.randn(*lead, S, dv, device=device, dtype=dtype, requires_grad=grad)
    return q, k, v


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", ["none", "mask", "causal", "mask+causal", "dead-row"])
def test_equals_torch_fused(device, shape, kind):
    lead, T, S, d, dv = shape
    q, k, v = _qkv(lead, T, S, d, dv, device, grad=True)
    mask, causal = None, kind in ("causal", "mask+causal")
    if kind in ("mask", "mask+causal", "dead-row"):
        mask = torch.rand(T, S, device=device) > 0.3
        mask[:, 0] = True  # every query row keeps one key
        if kind == "dead-row":
            mask[0] = False  # ...except this one: PyTorch gives it zeros
    want_mask = mask
    if kind == "mask+causal":  # the fused kernel takes one or the other
        want_mask = mask & torch.ones(T, S, dtype=torch.bool, device=device).tril()
    want = F.scaled_dot_product_attention(
        q, k, v, attn_mask=want_mask, is_causal=causal and want_mask is None
    )
    got, weights = scaled_dot_product_attention(q, k, v, mask=mask, is_causal=causal)
    assert got.shape == want.shape and got.dtype == q.dtype and got.device == q.device
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert weights.shape == (*lead, T, S)
    g = torch.randn_like(want)
    grads_want = torch.autograd.grad(want, (q, k, v), g)
    grads_got = torch.autograd.grad(got, (q, k, v), g)
    for a, b in zip(grads_got, grads_want):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_weights_rows_sum_to_one_and_respect_masks():
    q, k, v = _qkv((2,), 6, 6, 8, 8, "cpu")
    _, w = scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 6))
    assert (w.triu(1) == 0).all()  # nothing from the future
    pad = torch.tensor([True, True, True, True, False, False])  # last two keys are padding
    _, w = scaled_dot_product_attention(q, k, v, mask=pad)
    assert (w[..., 4:] == 0).all()


def test_huge_scores_stay_finite():
    q, k, v = _qkv((1,), 4, 4, 8, 8, "cpu")
    out, w = scaled_dot_product_attention(q * 1e4, k * 1e4, v)
    assert torch.isfinite(out).all() and torch.isfinite(w).all()
    torch.testing.assert_close(
        out, F.scaled_dot_product_attention(q * 1e4, k * 1e4, v), atol=1e-4, rtol=1e-4
    )


@pytest.mark.parametrize("causal", [False, True])
def test_gradcheck_float64(causal):
    q, k, v = _qkv((2,), 4, 4, 3, 5, "cpu", dtype=torch.float64, grad=True)
    mask = torch.tensor([[1, 1, 0, 1]] * 4, dtype=torch.bool)
    fn = lambda q, k, v: scaled_dot_product_attention(q, k, v, mask=mask, is_causal=causal)[0]  # noqa: E731
    assert torch.autograd.gradcheck(fn, (q, k, v))


def test_float64_kept():
    q, k, v = _qkv((2,), 3, 3, 4, 4, "cpu", dtype=torch.float64)
    out, w = scaled_dot_product_attention(q, k, v)
    assert out.dtype == w.dtype == torch.float64
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v))


def test_dropout_zeroes_some_weights_only_in_output():
    torch.manual_seed(0)
    q, k, v = _qkv((2, 2), 8, 8, 4, 4, "cpu")
    out, w = scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 2, 8))  # weights are before dropout
    assert not torch.allclose(out, scaled_dot_product_attention(q, k, v)[0])


@settings(max_examples=25, deadline=None)
@given(T=st.integers(1, 6), S=st.integers(1, 6), d=st.integers(1, 8), shift=st.floats(-50, 50))
def test_property_shifting_all_keys_changes_nothing(T, S, d, shift):
    """q.(k + c) = q.k + q.c: the same amount is added to a whole row, and softmax ignores it."""
    g = torch.Generator().manual_seed(T * 100 + S * 10 + d)
    q, k, v = (torch.randn(2, n, d, generator=g, dtype=torch.float64) for n in (T, S, S))
    c = torch.full((d,), shift, dtype=torch.float64)
    a, wa = scaled_dot_product_attention(q, k, v)
    b, wb = scaled_dot_product_attention(q, k + c, v)
    torch.testing.assert_close(wa, wb, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)


def test_bad_inputs_name_the_problem():
    q, k, v = _qkv((2,), 4, 5, 8, 8, "cpu")
    with pytest.raises(TypeError, match="torch.float32"):
        scaled_dot_product_attention(q, k, v, mask=torch.ones(4, 5))
    with pytest.raises(ValueError, match=r"\(3, 5\)"):
        scaled_dot_product_attention(q, k, v, mask=torch.ones(3, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"\(2, 4, 8\).*\(2, 5, 7\)"):
        scaled_dot_product_attention(q, torch.randn(2, 5, 7), v)
    with pytest.raises(ValueError, match="length S"):
        scaled_dot_product_attention(q, k, torch.randn(2, 6, 8))
    with pytest.raises(TypeError, match="float64"):
        scaled_dot_product_attention(q, k, v.double())
    with pytest.raises(TypeError, match="int64"):
        scaled_dot_product_attention(q.long(), k, v)
    with pytest.raises(ValueError, match="1.5"):
        scaled_dot_product_attention(q, k, v, dropout_p=1.5)


# ----------------------------------------------------------------------------- multi-head


def _masks(B, H, T, device):
    pad = torch.ones(B, T, dtype=torch.bool, device=device)
    pad[0, -2:] = False
    return {
        "none": (None, False),
        "causal": (None, True),
        "padding (B,1,1,T)": (pad[:, None, None, :], False),
        "padding + causal": (pad[:, None, None, :], True),
        "full (B,H,T,T)": (torch.rand(B, H, T, T, device=device) > 0.2, False),
    }


@pytest.mark.parametrize("kind", ["none", "causal", "padding (B,1,1,T)", "padding + causal", "full (B,H,T,T)"])  # fmt: skip
def test_mha_paths_agree(device, kind):
    B, T, D, H = 3, 7, 32, 4
    mha = MultiHeadAttention(D, H).to(device)
    x = torch.randn(B, T, D, device=device)
    mask, causal = _masks(B, H, T, device)[kind]
    if kind == "full (B,H,T,T)":
        mask[..., 0] = True
    fused, none = mha(x, mask=mask, is_causal=causal)
    explicit, w = mha(x, mask=mask, is_causal=causal, need_weights=True)
    assert none is None and w.shape == (B, H, T, T)
    torch.testing.assert_close(fused, explicit, atol=1e-5, rtol=1e-5)
    mha.fused = False  # as on a PyTorch without the fused kernel
    torch.testing.assert_close(mha(x, mask=mask, is_causal=causal)[0], explicit)


@pytest.mark.parametrize("bias", [True, False])
def test_mha_equals_torch_multihead_attention(bias):
    B, T, D, H = 2, 6, 16, 2
    ours = MultiHeadAttention(D, H, bias=bias)
    ref = torch.nn.MultiheadAttention(D, H, bias=bias, batch_first=True)
    with torch.no_grad():  # same layout: q, k, v rows stacked in one (3D, D) matrix
        ref.in_proj_weight.copy_(ours.qkv.weight)
        ref.out_proj.weight.copy_(ours.proj.weight)
        if bias:
            ref.in_proj_bias.copy_(ours.qkv.bias)
            ref.out_proj.bias.copy_(ours.proj.bias)
    x = torch.randn(B, T, D)
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    want, want_w = ref(
        x, x, x, attn_mask=~causal, average_attn_weights=False
    )  # torch: True = block
    got, got_w = ours(x, is_causal=True, need_weights=True)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got_w, want_w, atol=1e-5, rtol=1e-5)


def test_mha_dropout_only_in_training():
    mha = MultiHeadAttention(16, 4, dropout=0.5)
    x = torch.randn(2, 5, 16)
    mha.eval()
    torch.testing.assert_close(mha(x)[0], mha(x, need_weights=True)[0])
    mha.train()
    torch.manual_seed(1)
    a = mha(x)[0]
    assert not torch.allclose(a, mha.eval()(x)[0])


def test_mha_bad_inputs():
    with pytest.raises(ValueError, match="d_model=10.*n_heads=4"):
        MultiHeadAttention(10, 4)
    mha = MultiHeadAttention(16, 4)
    with pytest.raises(ValueError, match=r"\(B, T, 16\).*\(2, 5, 8\)"):
        mha(torch.randn(2, 5, 8))
    with pytest.raises(ValueError, match=r"\(2, 4\)"):
        mha(torch.randn(2, 5, 16), mask=torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match="torch.int64"):
        mha(torch.randn(2, 5, 16), mask=torch.ones(5, 5, dtype=torch.long))


# ----------------------------------------------------------------------------- positions


@pytest.mark.parametrize("d_model", [8, 7, 1])
def test_sinusoidal_matches_the_paper(d_model):
    pe = sinusoidal_encoding(20, d_model)
    assert pe.shape == (20, d_model) and pe.dtype == torch.float32
    for pos in (0, 1, 5, 19):
        for j in range(d_model):
            angle = pos / 10000 ** ((j - j % 2) / d_model)
            want = math.sin(angle) if j % 2 == 0 else math.cos(angle)
            assert abs(pe[pos, j].item() - want) < 1e-5, (pos, j)


def test_positional_modules(device):
    x = torch.randn(2, 5, 8, device=device)
    sin = SinusoidalPositionalEncoding(16, 8).to(device)
    torch.testing.assert_close(
        sin(x) - x, sinusoidal_encoding(16, 8, device=device)[:5].expand(2, 5, 8)
    )
    assert list(sin.parameters()) == []  # nothing to learn
    learned = LearnedPositionalEncoding(16, 8).to(device)
    learned(x).sum().backward()
    grad = learned.wpe.weight.grad
    assert grad[:5].abs().sum() > 0 and grad[5:].abs().sum() == 0  # only the used positions
    for module in (sin, learned):
        with pytest.raises(ValueError, match="length 17.*max_len=16"):
            module(torch.randn(1, 17, 8, device=device))
    with pytest.raises(ValueError, match="max_len"):
        sinusoidal_encoding(0, 8)
