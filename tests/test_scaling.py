import pytest
import torch

from course_lib import scaling
from course_lib.transformer import GPT, GPTConfig


def test_training_flops_is_six_n_d():
    assert scaling.training_flops(1000, 50) == 300_000.0
    assert scaling.training_flops(0, 10) == 0.0
    with pytest.raises(ValueError, match="n_params"):
        scaling.training_flops(-1, 10)


def test_six_n_d_matches_counted_matmul_flops_of_a_linear_layer():
    # The reference: FLOPs counted by torch's own FlopCounterMode on forward + backward of a Linear
    # layer, whose work is exactly 2 (forward) + 4 (backward) multiply-add FLOPs per weight per row.
    from torch.utils.flop_counter import FlopCounterMode

    layer = torch.nn.Linear(64, 32, bias=False)
    x = torch.randn(10, 64, requires_grad=True)
    with FlopCounterMode(display=False) as counter:
        layer(x).sum().backward()
    assert counter.get_total_flops() == scaling.training_flops(layer.weight.numel(), 10)


def test_six_n_d_is_close_for_a_small_gpt():
    from torch.utils.flop_counter import FlopCounterMode

    cfg = GPTConfig(vocab_size=32, block_size=8, n_layer=2, n_head=2, n_embd=64)
    model = GPT(cfg)
    x = torch.randint(0, 32, (4, 8))
    with FlopCounterMode(display=False) as counter:
        _, loss = model(x, x)
        loss.backward()
    estimate = scaling.training_flops(model.num_params(), x.numel())
    # Embedding lookups, norms and attention's T x T products make the count differ slightly.
    assert 0.8 < counter.get_total_flops() / estimate < 1.2


def test_peak_and_mfu():
    peak = scaling.matmul_peak_flops(n=64, repeat=2)
    assert peak > 0
    assert scaling.mfu(2e9, 2.0, 1e9) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="seconds"):
        scaling.mfu(1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="repeat"):
        scaling.matmul_peak_flops(n=8, repeat=0)
