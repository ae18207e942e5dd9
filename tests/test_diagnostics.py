"""course_lib.diagnostics: the range test's schedule and stop rule, layer statistics against a
manual forward/backward pass, and update ratios against the weights before and after a step."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.diagnostics import layer_stats, lr_range_test, update_ratios, weight_snapshot
from course_lib.viz import plot_histograms


def _net(device: torch.device) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).to(device)


def _batches(n: int = 5) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    return [
        (torch.randn(16, 4, generator=g), torch.randint(0, 3, (16,), generator=g)) for _ in range(n)
    ]


def test_range_test_rates_are_geometric_and_the_batches_cycle(device: torch.device) -> None:
    net = _net(device)
    opt = torch.optim.SGD(net.parameters(), lr=0.0)
    lrs, losses = lr_range_test(
        net, opt, _batches(3), F.cross_entropy, lr_min=1e-4, lr_max=1e-2, steps=7, stop_factor=1e9
    )
    # the reference: the same sequence from torch.logspace (10 ** linspace(-4, -2, 7))
    want = torch.logspace(-4, -2, 7, dtype=torch.float64).tolist()
    assert len(lrs) == len(losses) == 7  # 7 steps from 3 batches: the data was cycled
    assert all(math.isclose(a, b, rel_tol=1e-12) for a, b in zip(lrs, want))
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-2)
    assert all(math.isfinite(v) for v in losses)


def test_range_test_loss_is_the_batch_loss_before_the_step(device: torch.device) -> None:
    net, ref = _net(device), _net(device)
    (x, y), *_ = _batches(1)
    _, losses = lr_range_test(
        net, torch.optim.SGD(net.parameters()), [(x, y)], F.cross_entropy, steps=2
    )
    assert losses[0] == pytest.approx(
        F.cross_entropy(ref(x.to(device)), y.to(device)).item(), rel=1e-6
    )


def test_range_test_stops_when_the_loss_blows_up(device: torch.device) -> None:
    net = _net(device)
    lrs, losses = lr_range_test(
        net,
        torch.optim.SGD(net.parameters()),
        _batches(),
        F.cross_entropy,
        lr_min=1e-3,
        lr_max=1e6,
        steps=60,
    )
    assert len(lrs) < 60
    assert not math.isfinite(losses[-1]) or losses[-1] > 4 * min(losses)


@pytest.mark.parametrize("kwargs", [dict(lr_min=0.0), dict(lr_min=1.0, lr_max=0.5), dict(steps=1)])
def test_range_test_rejects_bad_settings(kwargs: dict) -> None:
    net = _net(torch.device("cpu"))
    with pytest.raises(ValueError, match="lr_min|steps"):
        lr_range_test(
            net, torch.optim.SGD(net.parameters(), lr=0.1), _batches(), F.cross_entropy, **kwargs
        )


def test_layer_stats_match_a_manual_forward_and_autograd(device: torch.device) -> None:
    net, ref = _net(device), _net(device)
    (x, y), *_ = _batches(1)
    net[0].weight.grad = torch.full_like(net[0].weight, 99.0)  # stale gradients must not leak in
    stats = layer_stats(net, x, y, F.cross_entropy)
    xd = x.to(device)
    h = ref[0](xd)
    out = ref[2](torch.relu(h))
    F.cross_entropy(out, y.to(device)).backward()
    assert set(stats["activations"]) == set(stats["gradients"]) == {"0", "2"}
    torch.testing.assert_close(stats["activations"]["0"], h.detach().cpu())
    torch.testing.assert_close(stats["activations"]["2"], out.detach().cpu())
    torch.testing.assert_close(stats["gradients"]["0"], ref[0].weight.grad.cpu())
    torch.testing.assert_close(stats["gradients"]["2"], ref[2].weight.grad.cpu())
    assert not net[0]._forward_hooks  # hooks removed


def test_update_ratios_compare_one_step_with_the_weights(device: torch.device) -> None:
    net = _net(device)
    before = weight_snapshot(net)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    (x, y), *_ = _batches(1)
    F.cross_entropy(net(x.to(device)), y.to(device)).backward()
    grads = {k: net[int(k)].weight.grad.clone() for k in before}
    opt.step()
    ratios = update_ratios(before, net)
    for k, w0 in before.items():  # plain SGD: the update is -lr * grad
        assert ratios[k] == pytest.approx(((0.1 * grads[k]).std() / w0.std()).item(), rel=1e-5)


def test_plot_histograms_draws_one_per_tensor_and_rejects_empty() -> None:
    ax = plot_histograms({"a": torch.randn(100), "b": torch.tensor([1.0, float("nan"), 2.0])})
    assert len(ax.get_legend().get_texts()) == 2
    plt.close("all")
    with pytest.raises(ValueError, match="empty"):
        plot_histograms({})
