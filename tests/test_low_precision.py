"""Half-precision inputs to sampling, attention weights and distillation (issue: low-precision
logits overflow). Each computes its softmax in float32, so float16 values give the float32 answer."""

from __future__ import annotations

import torch

from course_lib.attention import scaled_dot_product_attention
from course_lib.compress import distillation_loss
from course_lib.transformer import GPT, GPTConfig, sample_next


def test_sample_next_float16_logits_at_a_tiny_temperature() -> None:
    # 2 x 9 float16 logits up to 9: divided by 1e-4 in float16 they would be inf (max 65504),
    # softmax nan, and torch.multinomial would raise; the right answer is the most likely token.
    logits = torch.arange(18, dtype=torch.float16).view(2, 9) % 10
    logits[1] = logits[1].flip(0)
    got = sample_next(logits, temperature=1e-4, generator=torch.Generator().manual_seed(0))
    assert got.tolist() == [[logits[0].argmax().item()], [logits[1].argmax().item()]]
    assert got.dtype == torch.long


def test_half_gpt_generates_at_a_tiny_temperature() -> None:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16))
    with torch.no_grad():
        model.wte.weight.mul_(300)  # logits up to about 20, as in a trained model
    idx = torch.randint(0, 11, (2, 3))
    want = model.generate(idx, 5, top_k=1)  # greedy, float32
    got = model.half().generate(idx, 5, temperature=1e-4)
    assert torch.equal(got, want)


def test_attention_weights_in_float16_match_float32() -> None:
    # large scores in float16: the softmax runs in float32 and is rounded once, at the end
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 4, 8, generator=g) * 3 for _ in range(3))
    out32, w32 = scaled_dot_product_attention(q, k, v, is_causal=True)
    out16, w16 = scaled_dot_product_attention(q.half(), k.half(), v.half(), is_causal=True)
    assert w16.dtype == torch.float16 and torch.isfinite(w16).all()
    torch.testing.assert_close(w16.float(), w32, atol=5e-3, rtol=0)  # q.k rounded in float16
    torch.testing.assert_close(out16.float(), out32, atol=2e-2, rtol=0)


def test_distillation_loss_float16_at_a_small_temperature() -> None:
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(2, 3, 7, generator=g) * 8, torch.randn(2, 3, 7, generator=g) * 8
    y = torch.randint(0, 7, (2, 3), generator=g)
    want = distillation_loss(s, t, y, temperature=1e-3)
    got = distillation_loss(s.half(), t.half(), y, temperature=1e-3)
    assert torch.isfinite(got)
    torch.testing.assert_close(got.float(), want, rtol=2e-2, atol=0)
