"""Chapter 12's explorer: the model in four precisions (size, loss against float32), number formats, controls."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from explorer_moves import move_every_control  # noqa: E402

from course_lib.compress import HAS_DYNAMIC_QUANT  # noqa: E402
from course_lib.transformer import GPT, GPTConfig  # noqa: E402
from course_lib.viz.precision import stored_value  # noqa: E402
from course_lib.widgets.precision import PRECISIONS, measure_precisions, precision_explorer  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _gpt_and_batch(device):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=20, block_size=16, n_layer=1, n_head=2, n_embd=32)).to(device)
    g = torch.Generator().manual_seed(1)
    idx, targets = (
        torch.randint(0, 20, (4, 16), generator=g),
        torch.randint(0, 20, (4, 16), generator=g),
    )
    return model, idx, targets  # the batch on the CPU: the explorer moves it to the model


def test_four_precisions_of_one_model(device: torch.device) -> None:
    model, idx, targets = _gpt_and_batch(device)
    res = measure_precisions(model, idx, targets, repeat=1)
    assert list(res) == list(PRECISIONS)
    with torch.no_grad():  # the reference: the float32 model's own loss on the same batch
        ref = F.cross_entropy(model(idx.to(device))[0].flatten(0, 1), targets.to(device).flatten())
    assert res["float32"]["loss"] == pytest.approx(ref.item(), rel=1e-6)
    assert res["float32"]["error"] is None and res["float32"]["device"] == device.type
    for name in ("bfloat16", "float16"):
        if res[name]["error"] is None:  # half precision may be missing for some op on some device
            assert res[name]["bytes"] < 0.6 * res["float32"]["bytes"]
            assert abs(res[name]["loss"] - res["float32"]["loss"]) < 0.05
    if HAS_DYNAMIC_QUANT:
        assert res["int8"]["error"] is None and res["int8"]["device"] == "cpu"
        assert res["int8"]["bytes"] < res["float32"]["bytes"]
        assert abs(res["int8"]["loss"] - res["float32"]["loss"]) < 0.05
    assert next(model.parameters()).dtype == torch.float32  # the original is untouched


def test_stored_values_overflow_and_underflow() -> None:
    fmax = torch.finfo(torch.float16).max
    assert stored_value(fmax, torch.float16) == fmax
    assert math.isinf(stored_value(70000.0, torch.float16))
    assert stored_value(70000.0, torch.bfloat16) == pytest.approx(70000.0, rel=2**-8)
    assert stored_value(1e-9, torch.float16) == 0.0 and stored_value(1e-9, torch.bfloat16) > 0
    assert stored_value(0.1, torch.float32) == pytest.approx(0.1, rel=1e-7)


def test_explorer_default_figure_and_every_control_moved() -> None:
    ex = precision_explorer(*_gpt_and_batch("cpu"))
    assert ex.draws == 1
    assert "float16 stores inf" in plt.gcf().axes[-1].get_title()  # default: 10**4.9 > 65504
    pytest.importorskip("ipywidgets")
    seconds = move_every_control(ex)
    assert set(seconds) == {"precision", "log10_value"}
