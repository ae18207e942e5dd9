"""LoRA from scratch against peft's LoRA: same base weights and same A, B -> same outputs and merges.

peft's ``lora.Linear`` computes the same expression, ``base(x) + (alpha / r) * B(A(dropout(x)))``,
with ``A.weight (r, in)`` and ``B.weight (out, r)``, so copying our ``A`` and ``B`` into it must
give the same outputs, gradients and merged weights.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from course_lib.lora import (
    LoRALinear,
    add_lora,
    count_parameters,
    merge_lora,
    optimizer_state_bytes,
    unmerge_lora,
)
from course_lib.transformer import GPT, GPTConfig

CFG = GPTConfig(vocab_size=31, block_size=16, n_layer=2, n_head=2, n_embd=16, bias=True)


def _gpt(device: torch.device) -> GPT:
    torch.manual_seed(0)
    return GPT(CFG).to(device).eval()


def _randomize_lora(model: nn.Module) -> None:
    """Give B nonzero values (as after training) so the update matters in the comparison."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, LoRALinear):
                m.lora_B.copy_(torch.randn(m.lora_B.shape, generator=g) * 0.1)


def _peft_twin(base: GPT, ours: GPT, targets: list[str], r: int, alpha: float) -> nn.Module:
    peft = pytest.importorskip("peft", reason="peft is not installed")
    cfg = peft.LoraConfig(r=r, lora_alpha=alpha, target_modules=targets, lora_dropout=0.0)
    twin = peft.inject_adapter_in_model(cfg, copy.deepcopy(base))
    ours_layers = {n: m for n, m in ours.named_modules() if isinstance(m, LoRALinear)}
    theirs = {
        n: m for n, m in twin.named_modules() if hasattr(m, "lora_A") and hasattr(m, "base_layer")
    }
    assert set(ours_layers) == set(theirs)  # the same layers were chosen by the same name rule
    with torch.no_grad():
        for name, m in ours_layers.items():
            theirs[name].lora_A["default"].weight.copy_(m.lora_A)
            theirs[name].lora_B["default"].weight.copy_(m.lora_B)
            assert theirs[name].scaling["default"] == m.scaling
    return twin


@pytest.mark.parametrize("targets", [["qkv"], ["qkv", "attn.proj", "mlp.fc", "mlp.proj"], ["proj"]])
@pytest.mark.parametrize("r,alpha", [(4, 8.0), (8, 32.0)])
def test_outputs_and_gradients_equal_peft(device: torch.device, targets, r, alpha) -> None:
    base = _gpt(device)
    ours = copy.deepcopy(base)
    add_lora(ours, targets, r=r, alpha=alpha)
    _randomize_lora(ours)
    twin = _peft_twin(base, ours, targets, r, alpha)
    idx = torch.randint(0, 31, (3, 11), device=device)
    tgt = torch.randint(0, 31, (3, 11), device=device)
    got, loss = ours(idx, tgt)
    want, loss_ref = twin(idx, tgt)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-6)
    loss.backward()
    loss_ref.backward()
    theirs = dict(twin.named_modules())
    for name, m in ours.named_modules():
        if isinstance(m, LoRALinear):
            torch.testing.assert_close(m.lora_A.grad, theirs[name].lora_A["default"].weight.grad)
            torch.testing.assert_close(m.lora_B.grad, theirs[name].lora_B["default"].weight.grad)


def test_merge_equals_peft_merge_and_unmerge_restores(device: torch.device) -> None:
    peft = pytest.importorskip("peft", reason="peft is not installed")
    base = _gpt(device)
    ours = copy.deepcopy(base)
    add_lora(ours, ["qkv", "mlp.fc"], r=4, alpha=16.0)
    _randomize_lora(ours)
    twin = _peft_twin(base, ours, ["qkv", "mlp.fc"], 4, 16.0)
    idx = torch.randint(0, 31, (2, 9), device=device)
    before = ours(idx)[0]
    assert merge_lora(ours) == 4
    torch.testing.assert_close(ours(idx)[0], before, atol=1e-6, rtol=1e-6)
    for m in twin.modules():
        if isinstance(m, peft.tuners.lora.LoraLayer):
            m.merge()
    theirs = twin.state_dict()
    for name, m in ours.named_modules():
        if isinstance(m, LoRALinear):
            torch.testing.assert_close(m.base.weight, theirs[f"{name}.base_layer.weight"])
    unmerge_lora(ours)
    w0 = dict(base.named_parameters())
    for name, m in ours.named_modules():
        if isinstance(m, LoRALinear):
            torch.testing.assert_close(m.base.weight, w0[f"{name}.weight"], atol=1e-6, rtol=0)


def test_zero_init_leaves_model_unchanged_and_trains_b_first() -> None:
    base = _gpt(torch.device("cpu"))
    ours = copy.deepcopy(base)
    add_lora(ours, ["qkv"], r=4)
    idx = torch.randint(0, 31, (2, 8))
    assert torch.equal(ours(idx)[0], base(idx)[0])  # B = 0: exactly the pretrained model
    _, loss = ours(idx, torch.randint(0, 31, (2, 8)))
    loss.backward()
    layer = ours.blocks[0].attn.qkv
    assert layer.lora_A.grad.abs().max() == 0  # dL/dA = B^T (...) = 0 at the start
    assert layer.lora_B.grad.abs().max() > 0  # but B moves, since A is random


def test_gradcheck_float64() -> None:
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(5, 4).double(), r=2, alpha=3.0)
    with torch.no_grad():
        layer.lora_B.normal_()
    x = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, a, b: layer(x), (x, layer.lora_A, layer.lora_B))


def test_counts_freezing_and_optimizer_memory() -> None:
    model = _gpt(torch.device("cpu"))
    trainable, total = count_parameters(model)
    assert trainable == total == model.num_params(non_embedding=False)
    names = add_lora(model, "qkv", r=4)
    assert names == ["blocks.0.attn.qkv", "blocks.1.attn.qkv"]
    trainable, total2 = count_parameters(model)
    assert trainable == 2 * 4 * (16 + 48)  # A (r, in) + B (out, r) per layer
    assert total2 == total + trainable
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])
    assert optimizer_state_bytes(opt) == 0
    model(torch.randint(0, 31, (2, 5)), torch.randint(0, 31, (2, 5)))[1].backward()
    opt.step()
    assert optimizer_state_bytes(opt) == 2 * 4 * trainable  # two float32 moments per value


def test_errors_are_sentences() -> None:
    model = _gpt(torch.device("cpu"))
    with pytest.raises(ValueError, match="no nn.Linear named 'c_attn'"):
        add_lora(model, ["c_attn"])
    assert all(p.requires_grad for p in model.parameters())  # a failed call changes nothing
    with pytest.raises(ValueError, match="empty"):
        add_lora(model, [])
    with pytest.raises(ValueError, match="rank"):
        LoRALinear(nn.Linear(3, 3), r=0)
    with pytest.raises(TypeError, match="nn.Linear"):
        LoRALinear(nn.Conv1d(3, 3, 1))
    with pytest.raises(ValueError, match=r"r=100 exceeds min\(in, out\) = 4"):
        LoRALinear(nn.Linear(4, 4), r=100)
    add_lora(model, ["qkv"], r=2)
    with pytest.raises(ValueError, match="already has LoRA"):
        add_lora(model, ["qkv"], r=2)


def test_keeps_device_and_dtype(device: torch.device) -> None:
    dtype = torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64
    layer = LoRALinear(nn.Linear(6, 3).to(device, dtype), r=2)
    assert layer.lora_A.device.type == device.type and layer.lora_A.dtype == dtype
    x = torch.randn(2, 6, device=device, dtype=dtype)
    assert layer(x).dtype == dtype
