"""Compression: int8 quantization keeps the loss, pruning hits the sparsity, distillation loss."""

from __future__ import annotations

import io

import pytest
import torch
import torch.nn.functional as F

from course_lib import compress
from course_lib.transformer import GPT, GPTConfig

QUANT_LOSS_TOL = 0.02  # |loss(int8) - loss(float32)| on a random batch, for a small GPT


def _gpt() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=31, block_size=16, n_layer=2, n_head=2, n_embd=32)).eval()


@pytest.mark.skipif(not compress.HAS_DYNAMIC_QUANT, reason="no dynamic quantization")
def test_quantized_loss_close_and_smaller() -> None:
    model = _gpt()
    x = torch.randint(0, 31, (8, 16))
    y = torch.randint(0, 31, (8, 16))
    with pytest.warns(UserWarning, match="lm_head"):  # tied to the embedding: stays float32
        q = compress.quantize_int8(model)
    loss_f, loss_q = model(x, y)[1].item(), q(x, y)[1].item()
    assert abs(loss_f - loss_q) < QUANT_LOSS_TOL
    assert compress.model_size_bytes(q) < compress.model_size_bytes(model)
    assert isinstance(model.blocks[0].mlp.fc, torch.nn.Linear)  # original untouched
    assert type(q.blocks[0].mlp.fc) is not torch.nn.Linear


@pytest.mark.skipif(not compress.HAS_DYNAMIC_QUANT, reason="no dynamic quantization")
def test_quantizing_a_tied_output_layer_never_grows_the_model() -> None:
    # issue 15: the tied (2000, 32) vocabulary matrix dominates this GPT. Quantizing lm_head kept
    # the float32 embedding and added an int8 copy of the same matrix: 303 KB became 333 KB.
    # Leaving the tied layer in float32 gives 270 KB (KiB here, 1024 bytes).
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=2000, block_size=8, n_layer=1, n_head=2, n_embd=32)).eval()
    size_f = compress.model_size_bytes(model)
    assert round(size_f / 1024) == 303
    with pytest.warns(UserWarning, match=r"lm_head \(weight shared with another layer"):
        q = compress.quantize_int8(model)
    size_q = compress.model_size_bytes(q)
    assert round(size_q / 1024) == 270 and size_q < size_f
    assert type(q.lm_head) is torch.nn.Linear and q.lm_head.weight is q.wte.weight  # still tied
    assert type(q.blocks[0].mlp.fc) is not torch.nn.Linear  # the untied layers are int8
    x = torch.randint(0, 2000, (2, 8))
    torch.testing.assert_close(q(x)[0], model(x)[0], atol=0.05, rtol=0)


@pytest.mark.skipif(not compress.HAS_DYNAMIC_QUANT, reason="no dynamic quantization")
def test_quantize_skips_layers_too_small_to_gain_and_shared_modules() -> None:
    # int8 Linear layers carry about 1 KB of fixed overhead: a 4x4 layer would grow. A module
    # registered under two names would become two quantized copies.
    shared = torch.nn.Linear(64, 64)
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 64), shared, shared)
    model.append(torch.nn.Linear(64, 64))
    with pytest.warns(UserWarning, match=r"2 \(weight shared.*3 \(weight shared.*0 \(too small"):
        q = compress.quantize_int8(model)
    assert compress.model_size_bytes(q) < compress.model_size_bytes(model)
    assert [type(m) is torch.nn.Linear for m in q] == [True, False, True, True, False]
    assert q[2] is q[3]


def test_sizes_count_shared_storage_once(tmp_path) -> None:
    # every size chapter 12 reports: the saved state (tied matrix written once), the parameter
    # count, the pruned fraction (tied layer excluded) and the exported program
    from course_lib import export

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=2000, block_size=8, n_layer=1, n_head=2, n_embd=32)).eval()
    matrix = model.wte.weight.numel() * 4  # bytes of the tied (V, C) float32 matrix
    untied = {k: v.clone() for k, v in model.state_dict().items()}
    buf = io.BytesIO()
    torch.save(untied, buf)  # what the size would be with the matrix stored twice
    assert buf.tell() - compress.model_size_bytes(model) > 0.99 * matrix
    assert model.num_params(non_embedding=False) == sum(p.numel() for p in set(model.parameters()))
    assert [n for n, _ in compress.prunable_linears(model)] == [
        "blocks.0.attn.qkv",
        "blocks.0.attn.proj",
        "blocks.0.mlp.fc",
        "blocks.0.mlp.proj",
    ]
    path = tmp_path / "gpt.pt2"
    export.export_model(model, torch.randint(0, 2000, (2, 8)), path)
    assert path.stat().st_size < compress.model_size_bytes(model) + matrix // 2


@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.5, 0.9])
def test_prune_sparsity_exact(sparsity: float) -> None:
    model = _gpt()
    pruned = compress.prune_magnitude(model, sparsity)
    assert compress.linear_sparsity(pruned) == pytest.approx(sparsity, abs=1e-3)
    assert compress.linear_sparsity(model) == 0.0  # a copy by default
    assert torch.equal(pruned.wte.weight, model.wte.weight)  # tied embedding left alone
    for (_, a), (_, b) in zip(compress.prunable_linears(model), compress.prunable_linears(pruned)):
        kept = b.weight != 0
        if kept.any() and (~kept).any():  # every kept weight is at least as large as any dropped
            assert a.weight[kept].abs().min() >= a.weight[~kept].abs().max()


def test_prune_inplace_and_errors() -> None:
    model = _gpt()
    out = compress.prune_magnitude(model, 0.5, inplace=True)
    assert out is model and compress.linear_sparsity(model) == pytest.approx(0.5, abs=1e-3)
    with pytest.raises(ValueError, match="sparsity"):
        compress.prune_magnitude(model, 1.0)


def test_distillation_loss_matches_formula(device: torch.device) -> None:
    s = torch.randn(2, 5, 7, device=device, requires_grad=True)
    t = torch.randn(2, 5, 7, device=device)
    y = torch.randint(0, 7, (2, 5), device=device)
    T, a = 3.0, 0.7
    got = compress.distillation_loss(s, t, y, T, a)
    p_t = F.softmax(t / T, -1)
    kl = (p_t * (p_t.log() - F.log_softmax(s / T, -1))).sum(-1).mean()
    want = a * T * T * kl + (1 - a) * F.cross_entropy(s.flatten(0, 1), y.flatten())
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert compress.distillation_loss(t, t, y, T, 1.0).abs().item() < 1e-5  # same logits: KL 0
    torch.testing.assert_close(
        compress.distillation_loss(s, t, y, T, 0.0), F.cross_entropy(s.flatten(0, 1), y.flatten())
    )
    s64, t64 = (
        torch.randn(3, 4, dtype=torch.float64, requires_grad=True),
        torch.randn(3, 4).double(),
    )
    y3 = torch.tensor([0, 3, 1])
    assert torch.autograd.gradcheck(lambda z: compress.distillation_loss(z, t64, y3), (s64,))
    with pytest.raises(ValueError, match="same shape"):
        compress.distillation_loss(s, t[:, :4], y)
    with pytest.raises(TypeError, match="int64"):
        compress.distillation_loss(s, t, y.float())


def test_distiller_trains_student_only() -> None:
    teacher = _gpt()
    student = GPT(GPTConfig(vocab_size=31, block_size=16, n_layer=1, n_head=1, n_embd=16))
    d = compress.Distiller(student, teacher)
    x = torch.randint(0, 31, (4, 16))
    logits, loss = d(x, x)
    loss.backward()
    assert logits.shape == (4, 16, 31)
    assert all(p.grad is None for p in teacher.parameters())
    assert student.wte.weight.grad is not None
