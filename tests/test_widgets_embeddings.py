"""Chapter 08's explorer: nearest neighbours by cosine (against a brute-force reference), every control moved."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from explorer_moves import move_every_control  # noqa: E402

from course_lib.widgets.embeddings import embedding_explorer, nearest_neighbours  # noqa: E402

ITOS = ["<pad>", "<unk>", "storm", "rain", "wind", "guitar", "drum", "song", "pizza", "bread"]


def _table(device: torch.device | str = "cpu") -> torch.Tensor:
    """Three clusters (weather, music, food) in 8-D, with a little noise."""
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 8, generator=g) * 3
    rows = [torch.randn(8, generator=g)] * 2 + [centres[i // 3] for i in range(8)]
    return (torch.stack(rows) + 0.3 * torch.randn(10, 8, generator=g)).to(device)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_neighbours_match_torch_cosine_similarity(device: torch.device) -> None:
    emb = _table(device)
    found = nearest_neighbours(emb, ITOS, "storm", k=4)
    ref = torch.nn.functional.cosine_similarity(emb, emb[2][None], dim=1)  # (V,)
    ref[2] = -2
    order = ref.argsort(descending=True)[:4].tolist()
    assert [w for w, _ in found] == [ITOS[i] for i in order]
    assert [s for _, s in found] == pytest.approx(ref[order].tolist(), abs=1e-6)
    assert {w for w, _ in found[:2]} == {"rain", "wind"}


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="'thunder' is not in the vocabulary"):
        nearest_neighbours(_table(), ITOS, "thunder")
    with pytest.raises(ValueError, match="k must be in 1..9"):
        nearest_neighbours(_table(), ITOS, "storm", k=10)
    with pytest.raises(ValueError, match="len\\(itos\\) = 3"):
        nearest_neighbours(_table(), ITOS[:3], "storm")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        embedding_explorer(_table(), ITOS, ["storm", "thunder"])


def test_explorer_default_figure_and_every_control_moved(device: torch.device) -> None:
    words = ITOS[2:9]  # "bread" is off the map
    groups = ["weather"] * 3 + ["music"] * 3 + ["food"]
    ex = embedding_explorer(_table(device), ITOS, words, groups, word="pizza")
    assert ex.draws == 1
    labels = [t.get_text() for t in plt.gcf().axes[1].get_yticklabels()]
    assert "bread (off the map)" in labels
    pytest.importorskip("ipywidgets")
    seconds = move_every_control(ex)
    assert set(seconds) == {"word", "k"}
