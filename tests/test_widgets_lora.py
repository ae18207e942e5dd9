"""Chapter 14's explorer: the full fine-tuning update of a layer, its singular values, the share a rank r keeps."""

from __future__ import annotations

import copy

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from explorer_moves import move_every_control  # noqa: E402

from course_lib.finetune import GPTClassifier  # noqa: E402
from course_lib.transformer import GPT, GPTConfig  # noqa: E402
from course_lib.viz.lora import low_rank_energy  # noqa: E402
from course_lib.widgets.lora import lora_rank_explorer, weight_updates  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_low_rank_energy_is_the_truncated_svd_error() -> None:
    """Eckart-Young: 1 - energy[k-1] is the squared error of the rank-k SVD truncation, over ||D||^2."""
    g = torch.Generator().manual_seed(0)
    D = torch.randn(7, 5, generator=g, dtype=torch.float64)
    energy = low_rank_energy(D)
    U, S, Vh = torch.linalg.svd(D, full_matrices=False)
    for k in range(1, 6):
        approx = U[:, :k] @ torch.diag(S[:k]) @ Vh[:k]
        err = ((D - approx) ** 2).sum() / (D**2).sum()
        torch.testing.assert_close(1 - energy[k - 1], err)
    rank1 = torch.outer(torch.randn(6, generator=g), torch.randn(4, generator=g))
    torch.testing.assert_close(low_rank_energy(rank1)[0], torch.tensor(1.0, dtype=torch.float64))
    assert torch.equal(low_rank_energy(torch.zeros(3, 3)), torch.ones(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="2-D"):
        low_rank_energy(torch.zeros(3))


def _pair():
    torch.manual_seed(0)
    before = GPT(GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=16))
    after = GPTClassifier(
        copy.deepcopy(before), 2
    )  # the notebook passes a classifier's GPT or itself
    with torch.no_grad():
        for p in after.gpt.parameters():
            p.add_(0.01 * torch.randn_like(p))
    return before, after


def test_weight_updates_match_by_name() -> None:
    before, after = _pair()
    ups = weight_updates(before, after)
    assert set(ups) == {
        "blocks.0.attn.qkv",
        "blocks.0.attn.proj",
        "blocks.0.mlp.fc",
        "blocks.0.mlp.proj",
    }
    want = after.gpt.blocks[0].attn.qkv.weight.double() - before.blocks[0].attn.qkv.weight.double()
    torch.testing.assert_close(ups["blocks.0.attn.qkv"], want.detach())
    with pytest.raises(ValueError, match="counterpart"):
        weight_updates(before, torch.nn.Linear(3, 3))


def test_explorer_moves_every_control() -> None:
    before, after = _pair()
    ex = lora_rank_explorer(before, after, r=4)
    assert ex.draws == 1 and plt.get_fignums()  # the default figure, without a frontend
    move_every_control(ex)
