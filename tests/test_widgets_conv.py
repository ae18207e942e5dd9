"""Chapter 07's explorer: the drawn output map equals F.conv2d, its shape is right, every control moves."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from explorer_moves import move_every_control  # noqa: E402

from course_lib.viz.conv import plot_convolution  # noqa: E402
from course_lib.widgets.conv import CLASSIC_KERNELS, convolution_explorer  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.mark.parametrize("name", list(CLASSIC_KERNELS))
@pytest.mark.parametrize("stride, padding, dilation", [(1, 0, 1), (2, 1, 1), (3, 4, 2), (1, 2, 4)])
def test_output_map_is_torch_conv2d(name: str, stride: int, padding: int, dilation: int) -> None:
    """The image shown is F.conv2d of the image with the kernel (same settings), shape in the title."""
    image = torch.rand(28, 28, generator=torch.Generator().manual_seed(0))
    kernel = torch.tensor(CLASSIC_KERNELS[name], dtype=torch.float32)
    fig = plot_convolution(image, kernel, stride, padding, dilation)
    ref = F.conv2d(image[None, None], kernel[None, None], None, stride, padding, dilation)[0, 0]
    shown = torch.as_tensor(fig.axes[2].images[0].get_array().data)
    torch.testing.assert_close(shown.float(), ref, rtol=1e-5, atol=1e-5)
    assert fig.axes[2].get_title().startswith(f"output {ref.shape[0]}x{ref.shape[1]} = ")


def test_kernel_that_does_not_fit_is_explained() -> None:
    fig = plot_convolution(torch.rand(5, 5), torch.ones(3, 3), stride=1, padding=0, dilation=4)
    assert "does not fit" in fig.axes[2].texts[0].get_text()
    with pytest.raises(ValueError, match="must be 2-D"):
        plot_convolution(torch.rand(1, 5, 5), torch.ones(3, 3))


def test_explorer_default_figure_and_every_control_moved() -> None:
    images = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    ex = convolution_explorer(images)
    assert ex.draws == 1
    pytest.importorskip("ipywidgets")
    seconds = move_every_control(ex)
    assert set(seconds) == {"kernel", "stride", "padding", "dilation", "image"}
