"""Hand-written backward passes against torch.autograd, the gradient check, and bad input."""

from __future__ import annotations

import pytest
import torch

from course_lib.nn import MLP, Linear, ReLU, SoftmaxCrossEntropy, accuracy, gradient_check

F64 = torch.float64


def test_linear_forward_backward_match_torch(device):
    layer = Linear(5, 3, seed=0, device=device, dtype=F64)
    x = torch.randn(7, 5, dtype=F64, device=device)
    out, cache = layer.forward(x)
    dout = torch.randn(7, 3, dtype=F64, device=device)
    dx = layer.backward(dout, cache)
    w = layer.params["weight"].clone().requires_grad_()
    b = layer.params["bias"].clone().requires_grad_()
    xt = x.clone().requires_grad_()
    ref = torch.nn.functional.linear(xt, w, b)
    ref.backward(dout)
    assert out.device == x.device and out.dtype == F64
    torch.testing.assert_close(out, ref.detach(), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(dx, xt.grad, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(layer.grads["weight"], w.grad, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(layer.grads["bias"], b.grad, atol=1e-6, rtol=1e-6)


def test_linear_matches_torch_linear_init_shapes():
    layer = Linear(4, 6, bias=False, seed=1)
    assert layer.params["weight"].shape == torch.nn.Linear(4, 6).weight.shape
    assert "bias" not in layer.params
    assert layer.params["weight"].abs().max() <= 0.5  # 1 / sqrt(4)
    assert torch.equal(Linear(4, 6, seed=1).params["weight"], Linear(4, 6, seed=1).params["weight"])


def test_relu_backward_matches_torch_including_zero(device):
    x = torch.tensor([[-1.0, 0.0, 2.0], [3.0, -0.5, 0.0]], dtype=F64, device=device)
    out, cache = ReLU().forward(x)
    dout = torch.randn(2, 3, dtype=F64, device=device)
    dx = ReLU().backward(dout, cache)
    xt = x.clone().requires_grad_()
    torch.relu(xt).backward(dout)
    torch.testing.assert_close(out, torch.relu(x))
    torch.testing.assert_close(dx, xt.grad)


@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_softmax_ce_matches_torch(device, scale):
    logits = torch.randn(6, 4, dtype=F64, device=device) * scale
    target = torch.tensor([0, 3, 1, 1, 2, 0], device=device)
    ce = SoftmaxCrossEntropy()
    loss, cache = ce.forward(logits, target)
    dlogits = ce.backward(1.0, cache)
    lt = logits.clone().requires_grad_()
    ref = torch.nn.functional.cross_entropy(lt, target)
    ref.backward()
    assert torch.isfinite(loss) and loss.dtype == F64 and loss.device == logits.device
    torch.testing.assert_close(loss, ref.detach(), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(dlogits, lt.grad, atol=1e-6, rtol=1e-6)
    # the upstream gradient scales the result
    torch.testing.assert_close(ce.backward(2.0, cache), 2 * lt.grad)


def test_softmax_ce_float32_close_to_torch():
    logits = torch.randn(16, 5)
    target = torch.randint(0, 5, (16,))
    loss, cache = SoftmaxCrossEntropy().forward(logits, target)
    lt = logits.clone().requires_grad_()
    ref = torch.nn.functional.cross_entropy(lt, target)
    ref.backward()
    torch.testing.assert_close(loss, ref.detach(), atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(
        SoftmaxCrossEntropy().backward(1.0, cache), lt.grad, atol=1e-6, rtol=1e-6
    )


def _torch_mlp_grads(mlp: MLP, x, y):
    params = {k: v.clone().requires_grad_() for k, v in mlp.params.items()}
    h = x
    n_lin = len(mlp.layers) // 2 + 1
    for i in range(n_lin):
        h = torch.nn.functional.linear(h, params[f"{2 * i}.weight"], params[f"{2 * i}.bias"])
        if i < n_lin - 1:
            h = torch.relu(h)
    loss = torch.nn.functional.cross_entropy(h, y)
    loss.backward()
    return loss, {k: p.grad for k, p in params.items()}


def test_mlp_backward_matches_torch(device):
    mlp = MLP([3, 8, 8, 4], seed=0, device=device, dtype=F64)
    x = torch.randn(10, 3, dtype=F64, device=device)
    y = torch.randint(0, 4, (10,), device=device)
    ce = SoftmaxCrossEntropy()
    logits, cache = mlp.forward(x)
    loss, lcache = ce.forward(logits, y)
    dx = mlp.backward(ce.backward(1.0, lcache), cache)
    ref_loss, ref_grads = _torch_mlp_grads(mlp, x, y)
    assert dx.shape == x.shape
    torch.testing.assert_close(loss, ref_loss.detach(), atol=1e-6, rtol=1e-6)
    assert (
        set(mlp.grads)
        == set(ref_grads)
        == {"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"}
    )
    for k in ref_grads:
        torch.testing.assert_close(mlp.grads[k], ref_grads[k], atol=1e-6, rtol=1e-6)


def test_gradient_check_small_for_correct_large_for_wrong():
    mlp = MLP([2, 5, 3], seed=0, dtype=F64)
    x = torch.randn(6, 2, dtype=F64)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    ce = SoftmaxCrossEntropy()

    def loss() -> torch.Tensor:
        return ce.forward(mlp.predict(x), y)[0]

    logits, cache = mlp.forward(x)
    _, lcache = ce.forward(logits, y)
    mlp.backward(ce.backward(1.0, lcache), cache)
    errors = gradient_check(loss, mlp.params, mlp.grads)
    assert set(errors) == set(mlp.params)
    assert max(errors.values()) < 1e-7
    wrong = {k: g * 2 for k, g in mlp.grads.items()}
    assert min(gradient_check(loss, mlp.params, wrong).values()) > 0.1
    sampled = gradient_check(loss, mlp.params, mlp.grads, max_entries=3)
    assert max(sampled.values()) < 1e-7


def test_sgd_step_lowers_loss_and_accuracy():
    mlp = MLP([2, 16, 2], seed=0)
    x = torch.randn(64, 2)
    y = (x[:, 0] > 0).long()
    ce = SoftmaxCrossEntropy()
    first = None
    for _ in range(50):
        logits, cache = mlp.forward(x)
        loss, lc = ce.forward(logits, y)
        first = loss.item() if first is None else first
        mlp.backward(ce.backward(1.0, lc), cache)
        mlp.sgd_step(0.5)
    assert loss.item() < first
    assert accuracy(mlp.predict(x), y) > 0.9


def test_bad_input_raises():
    layer = Linear(3, 2)
    with pytest.raises(ValueError, match="features"):
        layer.forward(torch.randn(4, 5))
    with pytest.raises(ValueError, match="dimensions"):
        layer.forward(torch.randn(3))
    with pytest.raises(TypeError, match="dtype"):
        layer.forward(torch.ones(4, 3, dtype=torch.int64))
    with pytest.raises(TypeError, match="float64"):
        layer.forward(torch.ones(4, 3, dtype=F64))
    _, cache = layer.forward(torch.randn(4, 3))
    with pytest.raises(ValueError, match="shape"):
        layer.backward(torch.randn(4, 3), cache)
    with pytest.raises(ValueError, match="positive int"):
        Linear(0, 2)
    ce = SoftmaxCrossEntropy()
    with pytest.raises(ValueError, match="class indices"):
        ce.forward(torch.randn(2, 3), torch.tensor([0, 3]))
    with pytest.raises(TypeError, match="integer"):
        ce.forward(torch.randn(2, 3), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="empty"):
        ce.forward(torch.randn(0, 3), torch.tensor([], dtype=torch.long))
    with pytest.raises(ValueError, match="shape"):
        ce.forward(torch.randn(2, 3), torch.tensor([0, 1, 2]))
    _, lc = ce.forward(torch.randn(2, 3), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="scalar"):
        ce.backward(torch.ones(2, 3), lc)
    with pytest.raises(ValueError, match="at least"):
        MLP([4])
    with pytest.raises(ValueError, match="same keys"):
        gradient_check(lambda: 0.0, {"a": torch.ones(1)}, {"b": torch.ones(1)})
