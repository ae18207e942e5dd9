"""Chapter 03's explorer: the neuron's gradients against torch.autograd, and every control moved."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from explorer_moves import move_every_control  # noqa: E402

from course_lib.widgets.autograd import NEURON_ACTIVATIONS, neuron_explorer, neuron_graph  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.mark.parametrize("activation", NEURON_ACTIVATIONS)
@pytest.mark.parametrize(
    "point", [(2.0, -3.0, 0.0, 1.0, 6.9), (0.5, 1.5, -2.0, 0.3, -0.7), (3, 3, 3, 3, 8)]
)
def test_neuron_values_and_gradients_match_torch(activation: str, point: tuple) -> None:
    """The same expression written in torch (float64): out and every input's gradient agree."""
    out, inputs = neuron_graph(*point, activation=activation)
    t = torch.tensor(point, dtype=torch.float64, requires_grad=True)
    ref = getattr(torch, activation)(t[0] * t[1] + t[2] * t[3] + t[4])
    ref.backward()
    assert out.data == pytest.approx(ref.item(), rel=1e-12, abs=1e-15)
    got = [inputs[k].grad for k in ("x1", "w1", "x2", "w2", "b")]
    torch.testing.assert_close(
        torch.tensor(got, dtype=torch.float64), t.grad, rtol=1e-12, atol=1e-15
    )


def test_bad_activation_is_named() -> None:
    with pytest.raises(ValueError, match="'gelu'"):
        neuron_graph(1, 1, 1, 1, 1, "gelu")


def test_explorer_default_figure_and_every_control_moved() -> None:
    ex = neuron_explorer()
    assert ex.draws == 1
    fig = plt.gcf()
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any(t.startswith("out | data 0.7") for t in texts)  # tanh(0.9) = 0.716
    pytest.importorskip("ipywidgets")
    seconds = move_every_control(ex)
    assert set(seconds) == {"x1", "w1", "x2", "w2", "b", "activation"}
