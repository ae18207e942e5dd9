"""Chapter 04's explorer: the playground's training (gradient descent, cache, device) and its controls."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from explorer_moves import move_every_control  # noqa: E402

from course_lib import get_device  # noqa: E402
from course_lib.widgets.mlp import mlp_playground_explorer, train_playground_mlp  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_training_learns_moons_and_is_cached() -> None:
    model, losses, acc = train_playground_mlp("moons", 16, 2, "relu", 0.3, 200, device="cpu")
    assert len(losses) == 200 and losses[-1] < 0.5 * losses[0] and acc > 0.85
    again = train_playground_mlp("moons", 16, 2, "relu", 0.3, 200, device="cpu", progress=True)
    assert (
        again[0] is model
    )  # same settings: the cached run, no retraining (progress is not a setting)
    assert [m.__class__.__name__ for m in model] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]


def test_one_step_is_plain_gradient_descent() -> None:
    """After one step every parameter moved by exactly -lr * its gradient at the start."""
    start, _, _ = train_playground_mlp("spirals", 8, 1, "tanh", 0.0, 0, device="cpu")
    one, losses, _ = train_playground_mlp("spirals", 8, 1, "tanh", 0.5, 1, device="cpu")
    from course_lib.data import make_spirals

    X, y = make_spirals(300, classes=3, noise=0.15, seed=0)
    loss = torch.nn.functional.cross_entropy(start(X), y)
    grads = torch.autograd.grad(loss, list(start.parameters()))
    assert losses == [pytest.approx(loss.item(), rel=1e-6)]
    for p0, g, p1 in zip(start.parameters(), grads, one.parameters()):
        torch.testing.assert_close(p1, p0 - 0.5 * g)


def test_bad_settings_are_named() -> None:
    with pytest.raises(ValueError, match="'gelu'"):
        train_playground_mlp(activation="gelu")
    with pytest.raises(ValueError, match="'circles'"):
        train_playground_mlp(dataset="circles")


def test_model_lives_on_the_course_device() -> None:
    model, _, _ = train_playground_mlp("moons", 4, 1, "relu", 0.3, 5)
    assert next(model.parameters()).device.type == get_device().type


def test_explorer_default_figure_and_every_control_moved() -> None:
    ex = mlp_playground_explorer(steps=50)
    assert ex.draws == 1
    pytest.importorskip("ipywidgets")
    seconds = move_every_control(ex)
    assert set(seconds) == {"dataset", "width", "depth", "activation", "log10_lr", "steps"}
