"""Make a trained model smaller (chapter 12): int8 quantization, magnitude pruning, distillation.

- ``quantize_int8(model)``: dynamic int8 quantization of the ``nn.Linear`` layers (weights stored
  as int8, activations quantized on the fly); CPU inference. Tied and tiny layers stay float32,
  so the saved model never grows.
- ``prune_magnitude(model, sparsity)``: zero the smallest-magnitude weights of each Linear layer.
- ``distillation_loss`` and ``Distiller``: train a small student to match a big teacher's
  temperature-softened predictions as well as the true next tokens.
- ``model_size_bytes(model)``: the size of the model's saved ``state_dict`` (shared storage,
  such as a tied embedding and output layer, counted once).
"""

from __future__ import annotations

import copy
import io
import warnings

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "HAS_DYNAMIC_QUANT",
    "Distiller",
    "distillation_loss",
    "linear_sparsity",
    "model_size_bytes",
    "prunable_linears",
    "prune_magnitude",
    "quantize_int8",
]


def _quantize_dynamic_fn():  # noqa: ANN202 - returns torch's function or None
    for mod in ("ao", None):
        base = getattr(torch, mod, None) if mod else torch
        q = getattr(base, "quantization", None) if base is not None else None
        fn = getattr(q, "quantize_dynamic", None) if q is not None else None
        if fn is not None:
            return fn
    return None


#: True when this PyTorch can quantize Linear layers dynamically (and has a CPU int8 engine).
HAS_DYNAMIC_QUANT: bool = _quantize_dynamic_fn() is not None and bool(
    getattr(torch.backends, "quantized", None) and torch.backends.quantized.supported_engines
)


def model_size_bytes(model: nn.Module) -> int:
    """Bytes of ``torch.save(model.state_dict())``.

    Storage shared by several entries (a tied embedding and output layer) is written, and so
    counted, once.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.tell()


def _tied_linear_names(model: nn.Module) -> set[str]:
    """Names of the ``nn.Linear`` layers whose weight another module shares (weight tying), or
    that sit in the model under two names: changing their weight changes something else too."""
    owners: dict[int, int] = {}
    for m in model.modules():  # each module once
        for p in m.parameters(recurse=False):
            owners[id(p)] = owners.get(id(p), 0) + 1
    named = list(model.named_modules(remove_duplicate=False))
    names_of: dict[int, int] = {}
    for _, m in named:
        names_of[id(m)] = names_of.get(id(m), 0) + 1
    return {
        name
        for name, m in named
        if isinstance(m, nn.Linear) and (owners[id(m.weight)] > 1 or names_of[id(m)] > 1)
    }


def quantize_int8(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with its ``nn.Linear`` layers dynamically quantized to int8 (CPU only).

    The original is untouched. Weights become int8 with one scale per layer; activations are
    quantized per batch at run time. The result is never larger than the model
    (``model_size_bytes``), so two kinds of layer stay float32, with a ``UserWarning`` naming them:

    - a Linear whose weight is tied to another layer (a GPT's output layer shares the token
      embedding): an int8 copy would sit beside the float32 matrix the other layer still needs,
      storing it twice;
    - a Linear so small that the int8 format's fixed overhead (about 1 KB per layer) outweighs the
      3 bytes it saves per weight.

    Raises ``RuntimeError`` where this PyTorch cannot quantize, ``ValueError`` for a model off
    the CPU.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    fn = _quantize_dynamic_fn()
    if fn is None or not HAS_DYNAMIC_QUANT:
        raise RuntimeError("this PyTorch build has no dynamic int8 quantization (quantize_dynamic)")
    devices = {p.device.type for p in model.parameters()}
    if devices - {"cpu"}:
        raise ValueError(
            f"dynamic int8 quantization runs on the CPU; the model is on {sorted(devices)}: "
            "call model.cpu() first"
        )
    was_training = model.training
    student = copy.deepcopy(model).eval()
    model.train(was_training)
    tied = _tied_linear_names(student)
    linears = [(n, m) for n, m in student.named_modules() if isinstance(m, nn.Linear) and n]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization deprecation notices

        def saves_bytes(layer: nn.Linear) -> bool:  # quantize_dynamic swaps children only
            alone = nn.Sequential(copy.deepcopy(layer))
            quantized = fn(alone, {nn.Linear}, dtype=torch.qint8)
            return model_size_bytes(quantized) < model_size_bytes(alone)

        small = {n for n, m in linears if n not in tied and not saves_bytes(m)}
        chosen = {n for n, _ in linears if n not in tied | small}
        q = fn(student, chosen, dtype=torch.qint8) if chosen else student
    kept = [f"{n} (weight shared with another layer)" for n in sorted(tied)]
    kept += [f"{n} (too small for int8 to save space)" for n in sorted(small)]
    if kept:
        warnings.warn(
            f"quantize_int8 kept {len(kept)} Linear layer(s) in float32: {', '.join(kept)}; "
            "int8 there would make the saved model larger, not smaller",
            UserWarning,
            stacklevel=2,
        )
    return q


def prunable_linears(model: nn.Module) -> list[tuple[str, nn.Linear]]:
    """The ``nn.Linear`` layers whose weight is not shared with another layer (tied output layers
    are left alone: pruning them would also prune the token embeddings)."""
    tied = _tied_linear_names(model)
    return [
        (name, m)
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear) and name not in tied
    ]


@torch.no_grad()
def prune_magnitude(model: nn.Module, sparsity: float, inplace: bool = False) -> nn.Module:
    """Zero the ``sparsity`` fraction of smallest-|w| weights in each prunable Linear layer.

    Returns the pruned model (a copy unless ``inplace``). The zeros are permanent: no masks or
    hooks remain, so the model saves and loads like any other.
    """
    if not isinstance(sparsity, (int, float)) or not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be a number in [0, 1), got {sparsity!r}")
    target = model if inplace else copy.deepcopy(model)
    for _, layer in prunable_linears(target):
        w = layer.weight
        k = int(round(sparsity * w.numel()))  # how many weights to zero
        if k == 0:
            continue
        # indices of the k smallest magnitudes (exact count even with ties)
        drop = torch.topk(w.abs().flatten(), k, largest=False).indices
        w.view(-1)[drop] = 0.0
    return target


def linear_sparsity(model: nn.Module) -> float:
    """Fraction of exactly-zero weights over all prunable Linear layers."""
    layers = prunable_linears(model)
    if not layers:
        raise ValueError(f"{type(model).__name__} has no prunable nn.Linear layers")
    zeros = sum(int((m.weight == 0).sum()) for _, m in layers)
    total = sum(m.weight.numel() for _, m in layers)
    return zeros / total


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    targets: torch.Tensor,
    temperature: float = 2.0,
    alpha: float = 0.5,
) -> torch.Tensor:
    """``alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE(student, targets)``.

    Logits ``(..., V)`` (for a GPT ``(B, T, V)``), targets ``(...)`` class ids (-1 ignored).
    ``teacher_T = softmax(teacher_logits / T)``; the KL is averaged over positions. The factor
    ``T^2`` keeps its gradients the same size as the cross-entropy's whatever ``T`` is.
    """
    if not isinstance(student_logits, torch.Tensor) or not isinstance(teacher_logits, torch.Tensor):
        raise TypeError("student_logits and teacher_logits must be tensors")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"student logits {tuple(student_logits.shape)} and teacher logits "
            f"{tuple(teacher_logits.shape)} must have the same shape"
        )
    if targets.shape != student_logits.shape[:-1]:
        raise ValueError(
            f"targets {tuple(targets.shape)} must match the logits' leading dims "
            f"{tuple(student_logits.shape[:-1])}"
        )
    if targets.dtype != torch.long:
        raise TypeError(f"targets must be int64 class ids, got {targets.dtype}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    V = student_logits.shape[-1]
    s = student_logits.reshape(-1, V)
    t = teacher_logits.detach().reshape(-1, V).to(s.dtype)
    y = targets.reshape(-1)
    keep = y != -1
    wide = torch.promote_types(s.dtype, torch.float32)  # half / temperature would overflow
    log_p_s = F.log_softmax(s[keep].to(wide) / temperature, dim=-1)
    log_p_t = F.log_softmax(t[keep].to(wide) / temperature, dim=-1)
    kl = F.kl_div(log_p_s, log_p_t, reduction="batchmean", log_target=True)
    ce = F.cross_entropy(s, y, ignore_index=-1)
    return alpha * temperature**2 * kl + (1 - alpha) * ce


class Distiller(nn.Module):
    """Wraps a student and a frozen teacher so ``fit`` can train the student by distillation.

    ``forward(idx, targets)`` -> ``(student_logits (B, T, V), loss)`` like a GPT; the loss is
    ``distillation_loss`` (None without targets). Give the optimizer
    ``distiller.student.parameters()`` only: the teacher is frozen.
    """

    def __init__(
        self, student: nn.Module, teacher: nn.Module, temperature: float = 2.0, alpha: float = 0.5
    ) -> None:
        super().__init__()
        self.student, self.teacher = student, teacher
        self.temperature, self.alpha = temperature, alpha
        for p in self.teacher.parameters():
            p.requires_grad_(False)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        logits = self.student(idx)[0]  # (B, T, V)
        if targets is None:
            return logits, None
        self.teacher.eval()
        with torch.no_grad():
            teacher_logits = self.teacher(idx)[0]  # (B, T, V)
        loss = distillation_loss(logits, teacher_logits, targets, self.temperature, self.alpha)
        return logits, loss
