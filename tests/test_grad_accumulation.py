"""Gradient accumulation: k micro-batches of B rows give the same step as one batch of k*B rows."""

from __future__ import annotations

import copy

import pytest
import torch

from course_lib.train import fit
from course_lib.transformer import GPT, GPTConfig


@pytest.mark.parametrize("accumulate", [2, 4])
def test_accumulate_equals_large_batch(device: torch.device, accumulate: int) -> None:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=17, block_size=8, n_layer=1, n_head=2, n_embd=16))
    big = copy.deepcopy(model)
    g = torch.Generator().manual_seed(1)
    steps, B = 3, 4
    xs = torch.randint(0, 17, (steps, accumulate * B, 8), generator=g)
    ys = torch.randint(0, 17, (steps, accumulate * B, 8), generator=g)

    def micro(i: int):  # micro-batch i: step i // k, slice i % k
        s, j = divmod(i, accumulate)
        return xs[s, j * B : (j + 1) * B], ys[s, j * B : (j + 1) * B]

    def whole(i: int):
        return xs[i], ys[i]

    kw = dict(steps=steps, amp=None, device=device, progress=False, log_every=1)
    fit(model, torch.optim.SGD(model.parameters(), lr=0.5), micro, accumulate=accumulate, **kw)
    fit(big, torch.optim.SGD(big.parameters(), lr=0.5), whole, **kw)
    for (name, a), (_, b) in zip(model.named_parameters(), big.named_parameters()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5, msg=name)
    assert not torch.equal(model.wte.weight, GPT(model.config).wte.weight.to(device))
