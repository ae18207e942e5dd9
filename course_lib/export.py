"""Export a trained model for serving, and compile it where possible (chapter 12).

- ``export_model(model, example, path)``: ``torch.export`` (a whole-graph program, saved as
  ``.pt2``) where this PyTorch has it, else TorchScript tracing; returns the method used.
- ``load_exported(path)``: the saved model back as a callable ``idx (B, T) -> logits (B, T, V)``.
- ``round_trip_error(model, loaded, samples)``: the largest |difference| on sample inputs.
- ``generate_exported(fn, idx, ...)``: ``GPT.generate``'s loop and sampling rule, driven by
  nothing but the exported callable.

The GPT is exported as it stands: its forward reads no values back to the host while it is being
captured, so ``torch.export``, TorchScript and ``torch.compile`` see one graph.
- ``try_compile(model, example)``: ``torch.compile`` with a warm-up call; on any failure
  (no compiler, unsupported platform) returns the original model and the reason instead of crashing.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

from .transformer import sample_tokens

__all__ = [
    "HAS_COMPILE",
    "HAS_EXPORT",
    "export_model",
    "generate_exported",
    "load_exported",
    "round_trip_error",
    "try_compile",
]

#: True when this PyTorch has ``torch.export.export`` / ``save`` / ``load``.
HAS_EXPORT: bool = all(
    hasattr(getattr(torch, "export", None), n) for n in ("export", "save", "load", "Dim")
)
#: True when this PyTorch has ``torch.compile`` (whether it works here is found by trying).
HAS_COMPILE: bool = hasattr(torch, "compile")


class _LogitsOnly(nn.Module):
    """``model`` with its output reduced to the logits: a GPT returns ``(logits, None)``, and
    TorchScript tracing accepts tensors only."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return _logits(self.model(idx))


def _logits(out: torch.Tensor | tuple[torch.Tensor, ...]) -> torch.Tensor:
    """The logits ``(B, T, V)`` of a model's output, be it ``logits`` or ``(logits, loss)``."""
    return out[0] if isinstance(out, (tuple, list)) else out


def export_model(
    model: nn.Module,
    example: torch.Tensor,
    path: str | os.PathLike[str],
    max_len: int | None = None,
    method: str = "auto",
) -> str:
    """Save ``model`` (a GPT, or any ``idx -> logits`` module) for serving; return the method used.

    ``example``: a sample input ``(B, T)``. ``method``: "auto" (``torch.export`` if available,
    else TorchScript), "export" or "torchscript". With ``torch.export`` the batch size and the
    length (up to ``max_len``, default the GPT's ``block_size``) stay free.
    """
    if not isinstance(example, torch.Tensor) or example.dim() != 2:
        got = tuple(example.shape) if isinstance(example, torch.Tensor) else type(example).__name__
        raise ValueError(f"example must be a (B, T) tensor of token ids, got {got}")
    if method not in ("auto", "export", "torchscript"):
        raise ValueError(f"method must be 'auto', 'export' or 'torchscript', got {method!r}")
    if method == "export" and not HAS_EXPORT:
        raise RuntimeError("this PyTorch has no torch.export; use method='torchscript'")
    module = model.eval()
    cfg = getattr(model, "config", None)
    max_len = max_len or getattr(cfg, "block_size", None) or max(2, example.shape[1])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if method in ("auto", "export") and HAS_EXPORT:
        Dim = torch.export.Dim
        shapes = {"idx": {0: Dim("batch", min=1, max=4096), 1: Dim("time", min=1, max=max_len)}}
        with torch.no_grad():
            program = torch.export.export(module, (example,), dynamic_shapes=shapes)
        torch.export.save(program, str(path))
        return "torch.export"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript deprecation and tracer notices
        scripted = torch.jit.trace(_LogitsOnly(module), (example,), check_trace=False)
        torch.jit.save(scripted, str(path))
    return "torchscript"


def load_exported(path: str | os.PathLike[str]) -> Callable[[torch.Tensor], torch.Tensor]:
    """Load what ``export_model`` wrote (either format): ``idx (B, T) ->`` what the model returned
    (``(logits (B, T, V), None)`` for a GPT exported with ``torch.export``, logits otherwise)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no exported model {path.name} in {path.parent.name or '.'}")
    why = "this PyTorch has no torch.export"
    if HAS_EXPORT:
        try:
            return torch.export.load(str(path)).module()
        except Exception as e:  # not an export archive: try TorchScript below
            why = f"torch.export.load: {type(e).__name__}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.jit.load(str(path))
    except Exception as e:
        raise ValueError(
            f"{path.name} is neither a torch.export archive ({why}) nor a TorchScript file "
            f"({type(e).__name__}: {str(e).strip().splitlines()[0][:200]}); write it with "
            "export_model, with the same PyTorch version as the one loading it."
        ) from None


@torch.no_grad()
def round_trip_error(
    model: nn.Module,
    loaded: Callable[[torch.Tensor], torch.Tensor],
    samples: Sequence[torch.Tensor],
) -> float:
    """Largest |model logits - loaded logits| over the sample inputs ``(B, T)``."""
    was_training = model.training
    model.eval()
    try:
        worst = 0.0
        for idx in samples:
            want, got = _logits(model(idx)), _logits(loaded(idx))
            if want.shape != got.shape:
                raise ValueError(
                    f"loaded model gave shape {tuple(got.shape)}, expected {tuple(want.shape)}"
                )
            worst = max(worst, (want - got).abs().max().item())
    finally:
        model.train(was_training)
    return worst


@torch.no_grad()
def generate_exported(
    fn: Callable[[torch.Tensor], torch.Tensor],
    idx: torch.Tensor,
    max_new_tokens: int,
    block_size: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Sample ``max_new_tokens`` after ``idx (B, T)`` using only the exported callable ``fn``.

    ``GPT.generate``'s loop and sampling rule (``transformer.sample_tokens``): crop to
    ``block_size``, temperature, top-k; so greedy output (``top_k=1``) matches the original model.
    """

    def next_logits(idx: torch.Tensor) -> torch.Tensor:  # (B, T) -> (B, V)
        return _logits(fn(idx[:, -block_size:]))[:, -1, :]

    return sample_tokens(next_logits, idx, max_new_tokens, temperature, top_k, generator)


def try_compile(
    model: nn.Module, example: torch.Tensor | None = None, **compile_kwargs: object
) -> tuple[nn.Module, str | None]:
    """``torch.compile(model)``, warmed up on ``example``; returns ``(model, reason)``.

    Compilation happens at the first call, so that is where missing compilers show up: we make
    that call here. On success ``reason`` is None and the compiled model is returned; on any
    failure the original model comes back with a one-line reason (nothing is raised).
    """
    if not HAS_COMPILE:
        return model, "this PyTorch has no torch.compile (it needs PyTorch 2.0 or newer)"
    try:
        compiled = torch.compile(model, **compile_kwargs)
        if example is not None:
            with torch.no_grad():
                compiled(example)
    except Exception as e:  # missing C++ compiler, unsupported OS or Python, ...
        first = (str(e).strip().splitlines() or [""])[0][:200]
        return model, f"torch.compile is not usable here ({type(e).__name__}: {first})"
    return compiled, None
