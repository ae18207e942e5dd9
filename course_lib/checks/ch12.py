"""Checkers for workbook 12: the KV-cache append, loss scaling, attention memory, DDP batch, distillation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from ..compress import distillation_loss
from ..distributed import effective_batch_size
from ..kv_cache import append_kv
from ._core import CaseFailed, Check, checker

__all__ = [
    "ex12_attention_memory",
    "ex12_distill_loss",
    "ex12_effective_batch",
    "ex12_kv_append",
    "ex12_loss_scale",
]


def _pair(c: Check, got: Any, case: str) -> tuple[torch.Tensor, torch.Tensor]:
    c.expect(
        isinstance(got, (tuple, list)) and len(got) == 2,
        case=case,
        problem=f"expected a pair (keys, values), got {type(got).__name__}",
        hint="return k_all, v_all",
    )
    return got[0], got[1]


@checker
def ex12_kv_append(c: Check, kv_append: Callable[..., Any]) -> str:
    g = torch.Generator().manual_seed(0)
    k1, v1 = torch.randn(2, 3, 1, 4, generator=g), torch.randn(2, 3, 1, 4, generator=g)
    case = "empty cache (past_k = past_v = None), one new token"
    k, v = _pair(c, c.call(kv_append, None, None, k1, v1, case=case), case)
    c.close(k, k1, case=case, hint="with no cache yet, the new keys are the whole cache")
    c.close(v, v1, case=case, hint="with no cache yet, the new values are the whole cache")
    pk, pv = torch.randn(2, 3, 5, 4, generator=g), torch.randn(2, 3, 5, 4, generator=g)
    for new_len in (1, 2):
        kn, vn = (
            torch.randn(2, 3, new_len, 4, generator=g),
            torch.randn(2, 3, new_len, 4, generator=g),
        )
        case = f"cache of 5 positions + {new_len} new (B=2, H=3, hs=4)"
        try:
            got = _pair(c, c.call(kv_append, pk, pv, kn, vn, case=case), case)
        except CaseFailed as e:
            if "must match" in e.problem:  # torch.cat along a dim where the sizes differ
                e.hint = "concatenate along the time dim, dim=-2 of (B, H, T, hs)"
            raise
        want = append_kv(pk, pv, kn, vn)
        for g_, w_, name, past, new in (
            (got[0], want[0], "keys", pk, kn),
            (got[1], want[1], "values", pv, vn),
        ):
            if isinstance(g_, torch.Tensor) and tuple(g_.shape) == tuple(new.shape):
                raise CaseFailed(
                    case,
                    f"the {name} are only the new ones",
                    "keep the cached ones too: concatenate past and new",
                )
            if (
                isinstance(g_, torch.Tensor)
                and g_.shape == w_.shape
                and torch.equal(g_, torch.cat((new, past), -2))
            ):
                raise CaseFailed(
                    case,
                    f"the new {name} come first",
                    "old positions first, then the new ones: torch.cat((past, new), ...)",
                )
            c.close(
                g_, w_, case=case, hint="concatenate along the time dim, dim=-2 of (B, H, T, hs)"
            )
    return "3 cases: empty cache, 1 and 2 new positions"


@checker
def ex12_loss_scale(c: Check, answer: Any) -> str:
    case = "scale 65536, a step whose gradients contain inf"
    c.answered(answer)
    c.expect(
        isinstance(answer, (tuple, list)) and len(answer) == 2,
        case=case,
        problem=f"expected a pair (step_skipped, new_scale), got {answer!r}",
        hint="for example answer = (False, 65536.0)",
    )
    skipped, scale = answer
    if not isinstance(skipped, bool):
        if isinstance(skipped, str) and skipped.strip().lower() in ("true", "false"):
            raise CaseFailed(
                case,
                f"step_skipped is the string {skipped!r}",
                "write the bool True or False, without quotes",
            )
        try:
            looks_true = bool(skipped == True)  # noqa: E712 - 1, 1.0, numpy/torch True
        except Exception:  # noqa: BLE001 - a value that cannot be compared is simply not True
            looks_true = False
        if looks_true:
            kind = type(skipped)
            kind_name = (
                kind.__name__
                if kind.__module__ == "builtins"
                else f"{kind.__module__.split('.')[0]}.{kind.__name__}"
            )
            raise CaseFailed(
                case,
                f"step_skipped should be a bool, got {kind_name} {skipped!r}"[:160],
                "the value is right, but write the Python bool True (not 1 or a tensor)",
            )
    c.expect(
        skipped is True,
        case=case,
        problem="the optimizer step is not applied when gradients overflow",
        hint="GradScaler.step() checks the unscaled gradients for inf/nan and skips the update: a step with inf would wreck the weights",
    )
    if isinstance(scale, (str, bytes)):
        raise CaseFailed(
            case,
            f"the new scale is the string {scale!r}"[:120],
            "write a number without quotes, a float such as 1024.0",
        )
    try:
        scale = float(scale)
    except (TypeError, ValueError):
        raise CaseFailed(
            case, f"the new scale must be a number, got {scale!r}", "a float such as 1024.0"
        ) from None
    c.expect(
        scale != 65536.0,
        case=case,
        problem="the scale does change after an overflow",
        hint="an overflow means the scale is too big for fp16: it is multiplied by backoff_factor",
    )
    c.expect(
        scale != 131072.0,
        case=case,
        problem="the scale grows only after growth_interval clean steps",
        hint="after an overflow it shrinks, by backoff_factor = 0.5",
    )
    c.close(scale, 32768.0, case=case, hint="new scale = 65536 * backoff_factor (0.5)")
    return "step skipped and scale halved"


def _attn_mem_ref(batch_size: int, n_layer: int, n_head: int, T: int, bytes_per_value: int) -> int:
    return n_layer * batch_size * n_head * T * T * bytes_per_value


@checker
def ex12_attention_memory(c: Check, attention_memory: Callable[..., Any]) -> str:
    cases = [(32, 6, 8, 64, 4), (8, 12, 12, 1024, 2), (1, 1, 1, 1, 4), (16, 6, 8, 256, 4)]
    for B, L, H, T, nb in cases:
        case = f"B={B}, n_layer={L}, n_head={H}, T={T}, {nb} bytes per value"
        got = c.call(attention_memory, B, L, H, T, nb, case=case)
        want = _attn_mem_ref(B, L, H, T, nb)
        wrong = {
            "forgot the heads": (
                B * L * T * T * nb,
                "each head has its own (T, T) weight matrix: multiply by n_head",
            ),
            "forgot the layers": (
                B * H * T * T * nb,
                "every layer keeps its own weights for backward: multiply by n_layer",
            ),
            "T instead of T^2": (
                L * B * H * T * nb,
                "the weights are a (T, T) table per head: T * T entries",
            ),
            "counted values, not bytes": (
                L * B * H * T * T,
                "multiply the number of values by bytes_per_value",
            ),
        }
        got = c.number(got, case=case, hint="return a plain number of bytes")
        if got != want:
            for problem, (value, hint) in wrong.items():
                if got == value and value != want:
                    raise CaseFailed(case, f"expected {want}, got {got} ({problem})", hint)
        c.close(
            got,
            want,
            case=case,
            atol=0.5,
            rtol=0,
            hint="n_layer * B * n_head * T * T * bytes_per_value",
        )
    return f"{len(cases)} configurations"


@checker
def ex12_effective_batch(c: Check, effective_batch: Callable[..., Any]) -> str:
    cases = [(8, 1, 1), (8, 2, 1), (8, 1, 4), (16, 4, 2), (3, 8, 5)]
    for per_rank, world, acc in cases:
        case = f"per-rank batch {per_rank}, {world} processes, accumulate={acc}"
        got = c.call(effective_batch, per_rank, world, acc, case=case)
        want = effective_batch_size(per_rank, world, acc)
        got = c.number(got, case=case, hint="return a plain whole number")
        if got == per_rank * acc and world > 1:
            raise CaseFailed(
                case,
                f"expected {want}, got {got}",
                "every process takes its own B rows: multiply by the number of processes",
            )
        if got == per_rank * world and acc > 1:
            raise CaseFailed(
                case,
                f"expected {want}, got {got}",
                "each optimizer step also sums `accumulate` micro-batches",
            )
        c.close(got, want, case=case, atol=0, rtol=0, hint="per_rank * world_size * accumulate")
    return f"{len(cases)} cases"


@checker
def ex12_distill_loss(c: Check, distill_loss: Callable[..., Any]) -> str:
    g = torch.Generator().manual_seed(0)
    setups = [
        ("(N, V) logits, T=2, alpha=0.5", (6, 10), 2.0, 0.5),
        ("(B, T, V) logits, T=4, alpha=0.9", (2, 3, 7), 4.0, 0.9),
        ("T=1, alpha=1 (teacher only)", (5, 4), 1.0, 1.0),
        ("large logits (x1000), T=3, alpha=0.3", (4, 9), 3.0, 0.3),
        ("rows on different scales (x1000 in one row only), T=1, alpha=0.5", (3, 6), 1.0, 0.5),
    ]
    for case, shape, T, a in setups:
        scale = 1000.0 if "large" in case else 1.0
        s = torch.randn(*shape, generator=g) * scale
        t = torch.randn(*shape, generator=g) * scale
        if "different scales" in case:
            s[0] *= 1000.0
            t[1] *= 1000.0
        y = torch.randint(0, shape[-1], shape[:-1], generator=g)
        got = c.call(distill_loss, s, t, y, T, a, case=case)
        want = distillation_loss(s, t, y, T, a)
        if (
            isinstance(got, torch.Tensor)
            and not torch.isfinite(got.detach()).all()
            and torch.isfinite(want).all()
        ):
            raise CaseFailed(
                case,
                f"your loss is {got.detach().flatten()[:1].item()} where the answer is "
                f"{want.item():.5g}",
                "use F.log_softmax(z / T, dim=-1), which subtracts each row's own max: with "
                "logits in the hundreds exp(z / T) overflows to inf, and a max taken over the "
                "whole batch leaves exp(-1000) = 0 in rows of smaller logits, so log(0) = -inf",
            )
        if (
            isinstance(got, torch.Tensor)
            and got.numel() == 1
            and not torch.allclose(got.double(), want.double(), atol=1e-4, rtol=1e-4)
        ):
            V = shape[-1]
            ls, lt = (
                F.log_softmax(s.reshape(-1, V) / T, -1),
                F.log_softmax(t.reshape(-1, V) / T, -1),
            )
            kl = (lt.exp() * (lt - ls)).sum(-1).mean()
            rev = (ls.exp() * (ls - lt)).sum(-1).mean()
            ce = F.cross_entropy(s.reshape(-1, V), y.reshape(-1))
            wrong = {
                "the T^2 factor is missing": (
                    a * kl + (1 - a) * ce,
                    "multiply the KL term by temperature**2 so its gradients keep their size",
                ),
                "the KL goes the wrong way": (
                    a * T * T * rev + (1 - a) * ce,
                    "KL(teacher || student): weight log(p_t / p_s) by the TEACHER's probabilities",
                ),
                "alpha weights the wrong term": (
                    (1 - a) * T * T * kl + a * ce,
                    "alpha multiplies the teacher (KL) term, 1 - alpha the cross-entropy",
                ),
            }
            for problem, (value, hint) in wrong.items():
                if T != 1 or "T^2" not in problem:
                    if torch.allclose(got.double(), value.double(), atol=1e-4, rtol=1e-4):
                        raise CaseFailed(
                            case,
                            f"expected {want.item():.5f}, got {got.item():.5f} ({problem})",
                            hint,
                        )
        c.close(
            got,
            want,
            case=case,
            atol=1e-4,
            rtol=1e-4,
            hint="alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) averaged over rows + (1 - alpha) * CE(s, y)",
            scale=float(s.abs().max() / T),
        )
        c.gradients(
            distill_loss,
            distillation_loss,
            s,
            t,
            y,
            T,
            a,
            case=case,
            wrt={0},
            scale=float(s.abs().max() / T),
        )
    return (
        f"{len(setups)} cases including logits of size 1000 and rows on different scales, gradients"
    )
