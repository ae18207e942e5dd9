"""Export round trip (torch.export or TorchScript), serving generate, and try_compile's fallback."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from course_lib import export
from course_lib.transformer import GPT, GPTConfig


def _gpt() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=19, block_size=12, n_layer=1, n_head=2, n_embd=16)).eval()


METHODS = ["torchscript"] + (["export"] if export.HAS_EXPORT else [])


@pytest.mark.parametrize("method", METHODS)
def test_round_trip_equal(tmp_path, method: str) -> None:
    model = _gpt()
    example = torch.randint(0, 19, (2, 8))
    used = export.export_model(model, example, tmp_path / "m.pt2", method=method)
    assert used == {"export": "torch.export", "torchscript": "torchscript"}[method]
    loaded = export.load_exported(tmp_path / "m.pt2")
    samples = [example, torch.randint(0, 19, (1, 12)), torch.randint(0, 19, (3, 5))]
    assert export.round_trip_error(model, loaded, samples) < 1e-5
    idx = torch.randint(0, 19, (2, 3))
    served = export.generate_exported(loaded, idx, 15, block_size=12, top_k=1)
    assert torch.equal(served, model.generate(idx, 15, top_k=1))


def test_errors(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        export.export_model(_gpt(), torch.zeros(3, dtype=torch.long), tmp_path / "x")
    with pytest.raises(FileNotFoundError):
        export.load_exported(tmp_path / "missing.pt2")
    (tmp_path / "notes.pt2").write_text("not a model")
    with pytest.raises(ValueError, match="neither a torch.export archive"):
        export.load_exported(tmp_path / "notes.pt2")


def test_try_compile_failure_is_caught(monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("no C++ compiler found\nmore details")

    monkeypatch.setattr(torch, "compile", broken)
    model = nn.Linear(2, 2)
    out, reason = export.try_compile(model, torch.randn(1, 2))
    assert out is model
    assert "not usable" in reason and "no C++ compiler found" in reason and "\n" not in reason
