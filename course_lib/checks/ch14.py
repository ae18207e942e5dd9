"""Checkers for workbook 14: the Conv1D transpose, LoRA forward and merge, trainable counts,
the prompt-masked targets, and LoRA's initialization."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..finetune import prompt_masked_example
from ..lora import LoRALinear, count_parameters
from ._core import CaseFailed, Check, checker

__all__ = [
    "ex14_conv1d_to_linear",
    "ex14_count_trainable",
    "ex14_fix_lora_init",
    "ex14_lora_forward",
    "ex14_lora_merge",
    "ex14_prompt_mask",
]


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@checker
def ex14_conv1d_to_linear(c: Check, conv1d_to_linear: Callable[..., Any]) -> str:
    g = _gen()
    for n_in, n_out in ((4, 6), (5, 5)):
        case = f"Conv1D weight ({n_in}, {n_out}) (in, out)"
        w, b = torch.randn(n_in, n_out, generator=g), torch.randn(n_out, generator=g)
        x = torch.randn(3, n_in, generator=g)
        lin = c.call(conv1d_to_linear, w.clone(), b.clone(), case=case)
        c.expect(
            isinstance(lin, nn.Linear),
            case=case,
            problem=f"expected an nn.Linear, got {type(lin).__name__}",
            hint="build nn.Linear(in_features, out_features) and copy the weights into it",
        )
        c.expect(
            (lin.in_features, lin.out_features) == (n_in, n_out),
            case=case,
            problem=f"the layer maps {lin.in_features} -> {lin.out_features} features, "
            f"expected {n_in} -> {n_out}",
            hint="a Conv1D weight is (in, out): in_features = weight.shape[0]",
        )
        c.expect(
            tuple(lin.weight.shape) == (n_out, n_in),
            case=case,
            problem=f"the Linear weight has shape {tuple(lin.weight.shape)}, expected ({n_out}, {n_in})",
            hint="nn.Linear stores (out, in): copy weight.T",
        )
        with torch.no_grad():
            got = lin(x)
        want = x @ w + b  # what GPT-2's Conv1D computes
        if n_in == n_out and torch.allclose(got, x @ w.T + b, atol=1e-5):
            raise CaseFailed(
                case,
                "the outputs differ from Conv1D's x @ W + b (the weight was not transposed)",
                "a square weight fits either way, so only the values show it: copy weight.T",
            )
        if lin.bias is None:
            raise CaseFailed(
                case, "the layer has no bias", "GPT-2 has biases: nn.Linear(..., bias=True)"
            )
        c.close(
            got,
            want,
            case=case,
            atol=1e-5,
            hint="copy weight.T into lin.weight and bias into lin.bias",
        )
    return "2 cases, including a square weight"


def _lora_inputs(seed: int, r: int, n_in: int = 6, n_out: int = 5) -> tuple[torch.Tensor, ...]:
    g = _gen(seed)
    x = torch.randn(4, n_in, generator=g)
    W, b = torch.randn(n_out, n_in, generator=g), torch.randn(n_out, generator=g)
    A, B = torch.randn(r, n_in, generator=g), torch.randn(n_out, r, generator=g)
    return x, W, b, A, B


def _reference_layer(W, b, A, B, alpha, r) -> LoRALinear:
    base = nn.Linear(W.shape[1], W.shape[0])
    with torch.no_grad():
        base.weight.copy_(W)
        base.bias.copy_(b)
    layer = LoRALinear(base, r=r, alpha=alpha)
    with torch.no_grad():
        layer.lora_A.copy_(A)
        layer.lora_B.copy_(B)
    return layer


@checker
def ex14_lora_forward(c: Check, lora_forward: Callable[..., Any]) -> str:
    for r, alpha in ((2, 4.0), (4, 4.0)):
        case = f"r={r}, alpha={alpha}"
        x, W, b, A, B = _lora_inputs(r, r)
        got = c.call(
            lora_forward, x, W, b, A, B, alpha, r, case=case,
            error_hint="shapes: x (N, in), W (out, in), A (r, in), B (out, r): x @ A.T is (N, r)",
        )  # fmt: skip
        with torch.no_grad():
            want = _reference_layer(W, b, A, B, alpha, r)(x)
        if isinstance(got, torch.Tensor) and got.shape == want.shape:
            got = got.detach().to(want.dtype)  # a float64 result is compared in float32
            if torch.allclose(got, x @ W.T + b + x @ A.T @ B.T, atol=1e-5) and alpha != r:
                raise CaseFailed(
                    case, "the update is not scaled", "multiply the low-rank term by alpha / r"
                )
            if torch.allclose(got, x @ W.T + b, atol=1e-5):
                raise CaseFailed(
                    case, "the output is the base layer's alone", "add (x A^T) B^T * alpha / r"
                )
        c.close(got, want, case=case, atol=1e-5, hint="x W^T + b + (alpha / r) * (x A^T) B^T")
    return "2 cases"


@checker
def ex14_lora_merge(c: Check, lora_merge: Callable[..., Any]) -> str:
    for r, alpha in ((2, 8.0), (3, 3.0)):
        case = f"W (5, 6), A ({r}, 6), B (5, {r}), alpha={alpha}"
        _, W, _, A, B = _lora_inputs(10 + r, r)
        W_in = W.clone()
        got = c.call(
            lora_merge, W_in, A, B, alpha, r, case=case,
            error_hint="the update is B @ A: (out, r) @ (r, in) gives (out, in), the shape of W",
        )  # fmt: skip
        want = W + (alpha / r) * B @ A
        if isinstance(got, torch.Tensor) and got.shape == W.shape and alpha != r:
            if torch.allclose(got.detach().to(W.dtype), W + B @ A, atol=1e-5):
                raise CaseFailed(case, "the update is not scaled", "merge W + (alpha / r) * B @ A")
        c.close(
            got,
            want,
            case=case,
            atol=1e-5,
            hint="W + (alpha / r) * B @ A: (out, r) @ (r, in) is (out, in)",
        )
    return "2 cases"


class _Tied(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.hidden = nn.Linear(4, 4)
        self.out = nn.Linear(4, 10, bias=False)
        self.out.weight = self.emb.weight  # tied: one (10, 4) tensor in two places


def _as_count(got: Any, case: str) -> Any:
    """A NumPy integer is a fine count; a tensor gets a hint to return a Python int."""
    if isinstance(got, torch.Tensor):
        raise CaseFailed(
            case, f"expected a Python int, got a {got.dtype} tensor", "return int(...) of the sum"
        )
    if type(got).__module__ == "numpy" and hasattr(got, "item") and float(got) == int(got):
        return int(got)
    return got


@checker
def ex14_count_trainable(c: Check, count_trainable: Callable[..., Any]) -> str:
    torch.manual_seed(0)
    model = _Tied()
    got = c.call(count_trainable, model, case="a small model, everything trainable, a tied weight")
    got = _as_count(got, "a small model, everything trainable, a tied weight")
    want = count_parameters(model)[0]
    if got == want + 40:
        raise CaseFailed(
            "a tied weight",
            f"expected {want}, got {got}",
            "the tied weight is one tensor: model.parameters() lists it once",
        )
    c.equal(
        got, want, case="a small model, everything trainable, a tied weight", hint="sum p.numel()"
    )
    for p in model.hidden.parameters():
        p.requires_grad_(False)
    case = "the same model with its hidden layer frozen"
    got = _as_count(c.call(count_trainable, model, case=case), case)
    c.equal(got, want - 20, case=case, hint="count only parameters with p.requires_grad")
    return "2 cases: a tied weight, a frozen layer"


@checker
def ex14_prompt_mask(c: Check, masked_example: Callable[..., Any]) -> str:
    for P, R in ((4, 3), (1, 2), (5, 1)):
        case = f"prompt of {P} tokens, response of {R}"
        prompt, response = torch.arange(10, 10 + P), torch.arange(20, 20 + R)
        got = c.call(masked_example, prompt, response, case=case)
        c.expect(
            isinstance(got, (tuple, list)) and len(got) == 2,
            case=case,
            problem=f"expected a pair (x, y), got {type(got).__name__}",
            hint="return x, y",
        )
        x, y = got
        want_x, want_y = prompt_masked_example(prompt, response)
        c.close(x, want_x, case=case + ", inputs", hint="x = (prompt + response)[:-1]")
        for name, t in (("inputs", x), ("targets", y)):
            c.expect(
                not isinstance(t, torch.Tensor) or t.dtype == torch.long,
                case=case,
                problem=f"the {name} are {getattr(t, 'dtype', None)}, not token ids (torch.long)",
                hint="token ids are integers: build them from the int64 prompt and response",
            )
        if isinstance(y, torch.Tensor) and y.shape == want_y.shape and not torch.equal(y, want_y):
            if bool((y == -100).any()):
                raise CaseFailed(
                    case,
                    "ignored targets are marked -100 (PyTorch's default ignore_index)",
                    "the course marks ignored targets with -1: the GPT's loss uses ignore_index=-1",
                )
            n = int((y == -1).sum())
            if n == P:
                raise CaseFailed(
                    case,
                    "the target of the last prompt position (the first response token) is masked",
                    "mask the first P - 1 targets: y[i] is the token after x[i]",
                )
            if n == 0:
                raise CaseFailed(case, "nothing is masked", "set the prompt's targets to -1")
        c.close(
            y, want_y, case=case + ", targets", hint="y = ids[1:] with the first P - 1 set to -1"
        )
    return "3 cases, including a one-token prompt"


@checker
def ex14_fix_lora_init(c: Check, lora_cls: Callable[..., Any]) -> str:
    torch.manual_seed(0)
    base = nn.Linear(6, 5)
    x = torch.randn(3, 6)
    case = "a fresh layer, before any training"
    layer = c.call(lora_cls, base, 2, 8.0, case=case)
    c.expect(
        isinstance(layer, nn.Module), case=case, problem="the class did not build an nn.Module"
    )
    with torch.no_grad():
        got = c.call(layer, x, case=case)
        want = base(x)
    if (
        isinstance(got, torch.Tensor)
        and got.shape == want.shape
        and not torch.allclose(got, want, atol=1e-6)
    ):
        raise CaseFailed(
            case,
            "the output already differs from the frozen layer's",
            "initialize B to zeros, so the model is unchanged before fine-tuning",
        )
    c.close(got, want, case=case, hint="at init the LoRA layer must equal its base layer")
    A, B = getattr(layer, "lora_A", None), getattr(layer, "lora_B", None)
    c.expect(
        isinstance(A, torch.Tensor) and isinstance(B, torch.Tensor),
        case=case,
        problem="the layer has no lora_A / lora_B tensors",
        hint="keep the names lora_A (r, in) and lora_B (out, r)",
    )
    c.expect(
        bool(A.abs().sum() > 0),
        case=case,
        problem="A starts at zero",
        hint="B starts at zero and A random: with A = 0, B gets no gradient "
        "(and with A = B = 0 neither does A)",
    )
    case = "after a training step changed B (r=2, alpha=8)"
    with torch.no_grad():
        B.copy_(torch.randn(B.shape))
        got = c.call(layer, x, case=case)
        want = base(x) + (x @ A.T @ B.T) * 4.0
    if isinstance(got, torch.Tensor) and torch.allclose(
        got, base(x).detach() + x @ A.T @ B.T, atol=1e-5
    ):
        raise CaseFailed(
            case, "the update is not scaled", "multiply the low-rank term by alpha / r"
        )
    c.close(got, want, case=case, atol=1e-5, hint="base(x) + (x A^T) B^T * alpha / r")
    return "B starts at zero, A does not, the update is scaled by alpha / r"
