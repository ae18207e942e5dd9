"""KV-cache generation: identical greedy tokens to GPT.generate, cache shapes, clear errors."""

from __future__ import annotations

import pytest
import torch

from course_lib.kv_cache import KVCache, append_kv, forward_cached, generate_cached
from course_lib.transformer import GPT, GPTConfig


def _gpt(device: torch.device, block_size: int = 16) -> GPT:
    cfg = GPTConfig(vocab_size=23, block_size=block_size, n_layer=2, n_head=2, n_embd=16)
    return GPT(cfg).to(device)


def test_greedy_identical_within_and_beyond_block(device: torch.device) -> None:
    model = _gpt(device)
    idx = torch.randint(0, 23, (3, 4), device=device)
    want = model.generate(idx, 30, top_k=1)  # 34 tokens > block_size 16: the window slides
    got = generate_cached(model, idx, 30, top_k=1)
    assert got.device == idx.device
    assert torch.equal(got, want)


def test_sampling_matches_with_same_generator() -> None:
    model = _gpt(torch.device("cpu"), block_size=32)
    idx = torch.randint(0, 23, (2, 3))
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    a = model.generate(idx, 20, temperature=0.8, top_k=5, generator=g1)
    b = generate_cached(model, idx, 20, temperature=0.8, top_k=5, generator=g2)
    assert torch.equal(a, b)


def test_forward_cached_matches_full_forward(device: torch.device) -> None:
    model = _gpt(device).eval()
    idx = torch.randint(0, 23, (2, 12), device=device)
    full = model(idx)[0]
    cache = KVCache(2)
    parts = [forward_cached(model, idx[:, :5], cache)]  # prefill 5, then 3, then 1 at a time
    parts.append(forward_cached(model, idx[:, 5:8], cache))
    parts += [forward_cached(model, idx[:, t : t + 1], cache) for t in range(8, 12)]
    assert cache.length == 12
    assert cache.keys[0].shape == (2, 2, 12, 8)
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=1e-5, rtol=1e-5)


def test_append_kv_shapes_and_errors() -> None:
    k, v = torch.randn(2, 3, 1, 4), torch.randn(2, 3, 1, 4)
    k1, v1 = append_kv(None, None, k, v)
    assert k1 is k and v1 is v
    k2, v2 = append_kv(k1, v1, k * 2, v * 2)
    assert k2.shape == (2, 3, 2, 4)
    assert torch.equal(k2[:, :, 1:], k * 2)
    with pytest.raises(ValueError, match="outside the time dim"):
        append_kv(k1, v1, torch.randn(2, 4, 1, 4), torch.randn(2, 4, 1, 4))
    with pytest.raises(ValueError, match="both be None"):
        append_kv(k1, None, k, v)
    with pytest.raises(ValueError, match=r"\(B, H, T_new, hs\)"):
        append_kv(None, None, torch.randn(3, 4), v)


def test_errors_and_edge_cases() -> None:
    model = _gpt(torch.device("cpu"))
    idx = torch.randint(0, 23, (1, 3))
    assert torch.equal(generate_cached(model, idx, 0), idx)
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate_cached(model, idx, -1)
    with pytest.raises(ValueError, match="top_k"):
        generate_cached(model, idx, 2, top_k=0)
    with pytest.raises(TypeError, match="int64"):
        generate_cached(model, idx.float(), 2)
    with pytest.raises(TypeError, match="GPT"):
        generate_cached(torch.nn.Linear(2, 2), idx, 2)
    cache = KVCache(2)
    with pytest.raises(ValueError, match="exceeds block_size"):
        forward_cached(model, torch.randint(0, 23, (1, 17)), cache)
    # a prompt longer than block_size is cropped, as in GPT.generate
    long = torch.randint(0, 23, (1, 20))
    assert torch.equal(generate_cached(model, long, 3, top_k=1), model.generate(long, 3, top_k=1))
    assert model.training  # mode restored


def test_generate_use_cache_flag_gives_the_same_tokens(device: torch.device) -> None:
    model = _gpt(device)
    idx = torch.randint(0, 23, (2, 3), device=device)
    assert torch.equal(
        model.generate(idx, 20, top_k=1, use_cache=True), model.generate(idx, 20, top_k=1)
    )


@pytest.mark.parametrize("need_weights", [False, True])
def test_attention_with_a_cache_equals_causal_attention(need_weights: bool) -> None:
    # the fused kernel (need_weights=False) and the explicit path get the same offset mask
    from course_lib.attention import MultiHeadAttention

    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 4).eval()
    x = torch.randn(2, 9, 16)
    full = mha(x, is_causal=True)[0]
    cache = KVCache(1)
    parts = [
        mha(x[:, a:b], is_causal=True, need_weights=need_weights, cache=cache.layer(0))[0]
        for a, b in ((0, 4), (4, 7), (7, 8), (8, 9))
    ]
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=1e-5, rtol=1e-5)
    assert cache.length == 9


def test_gpt_forward_with_a_cache_continues_the_positions() -> None:
    model = _gpt(torch.device("cpu")).eval()
    idx = torch.randint(0, 23, (2, 10))
    cache = KVCache(2)
    with torch.no_grad():
        first = model(idx[:, :6], cache=cache)[0]
        rest = model(idx[:, 6:], cache=cache)[0]
        full = model(idx)[0]
    torch.testing.assert_close(torch.cat((first, rest), dim=1), full, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="exceeds block_size"):
        model(idx, cache=cache)  # 10 cached + 10 new > block_size 16
