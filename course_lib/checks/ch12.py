"""Checkers for workbook 12: a KV-cache attention step, loss scaling, attention memory, gradient
accumulation, distillation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..attention import scaled_dot_product_attention
from ..compress import distillation_loss
from ..kv_cache import append_kv
from ._core import CaseFailed, Check, checker

__all__ = [
    "ex12_attention_memory",
    "ex12_distill_loss",
    "ex12_grad_accumulation",
    "ex12_kv_attention_step",
    "ex12_loss_scale",
]


def _triple(c: Check, got: Any, case: str) -> tuple[Any, Any, Any]:
    c.expect(
        isinstance(got, (tuple, list)) and len(got) == 3,
        case=case,
        problem=f"expected (out, k_all, v_all), got {type(got).__name__}",
        hint="return the attention output and the grown cache: out, k_all, v_all",
    )
    return got[0], got[1], got[2]


def _kv_reference(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    past_k: torch.Tensor | None,
    past_v: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The cached step: course_lib's append, then the newest query over every key (no mask)."""
    k_all, v_all = append_kv(past_k, past_v, k, v)
    return scaled_dot_product_attention(q, k_all, v_all)[0], k_all, v_all


def _check_cache(
    c: Check,
    got: Any,
    want: torch.Tensor,
    past: torch.Tensor | None,
    new: torch.Tensor,
    name: str,
    case: str,
) -> None:
    """The learner's grown cache of keys or values: old positions first, then the new one."""
    if isinstance(got, torch.Tensor) and past is not None:
        if got.shape == new.shape:
            raise CaseFailed(
                case,
                f"the {name} returned are only the new one",
                "keep the cached ones too: torch.cat((past, new), dim=-2)",
            )
        if got.shape == want.shape and torch.equal(got.detach(), torch.cat((new, past), -2)):
            raise CaseFailed(
                case,
                f"the new {name} come first",
                "old positions first, then the new one: torch.cat((past, new), dim=-2)",
            )
    c.close(
        got,
        want,
        case=f"{case}: the returned {name}",
        hint="concatenate along the time dim, dim=-2 of (B, H, T, hs); with no cache yet "
        "(None) the new one is the whole cache",
    )


@checker
def ex12_kv_attention_step(c: Check, kv_attention_step: Callable[..., Any]) -> str:
    """``kv_attention_step(q, k, v, past_k, past_v) -> (out, k_all, v_all)`` for one new token.

    Compared with the full causal pass over the whole sequence at its last position.
    """
    g = torch.Generator().manual_seed(12)
    B, H, hs = 2, 3, 4
    for S in (0, 5, 9):
        case = "empty cache (None), the first token" if S == 0 else f"{S} cached positions + 1 new"
        q_all, k_all, v_all = (torch.randn(B, H, S + 1, hs, generator=g) for _ in range(3))
        full = scaled_dot_product_attention(q_all, k_all, v_all, is_causal=True)[0]  # (B, H, T, hs)
        q, k, v = q_all[..., -1:, :], k_all[..., -1:, :], v_all[..., -1:, :]
        past_k, past_v = (None, None) if S == 0 else (k_all[..., :-1, :], v_all[..., :-1, :])
        args = (q, k, v, past_k, past_v)
        try:
            out, got_k, got_v = _triple(c, c.call(kv_attention_step, *args, case=case), case)
        except CaseFailed as e:
            if "must match" in e.problem:  # torch.cat along a dim where the sizes differ
                e.hint = "concatenate along the time dim, dim=-2 of (B, H, T, hs)"
            raise
        _check_cache(c, got_k, k_all, past_k, k, "keys", case)
        _check_cache(c, got_v, v_all, past_v, v, "values", case)
        hint = "attend the new query over ALL the keys, cached and new: softmax(q @ k_all^T / sqrt(hs)) @ v_all"
        if isinstance(out, torch.Tensor) and out.shape == (B, H, 1, hs) and S > 0:
            if torch.allclose(out.detach(), v_all[..., :1, :], atol=1e-5):
                hint = (
                    "the new query sees only the first key: a causal mask aligned top left "
                    "(is_causal=True, or tril of a (1, S) table) is wrong here; the newest "
                    "token may see every cached key, so use no mask"
                )
            elif torch.allclose(
                out.detach(), scaled_dot_product_attention(q, past_k, past_v)[0], atol=1e-5
            ):
                hint = "the new token must attend to itself too: append k, v first, then attend"
            elif torch.allclose(
                out.detach(),
                scaled_dot_product_attention(q, k_all, v_all, scale=1.0)[0],
                atol=1e-5,
            ):
                hint = "divide the scores by sqrt(hs), the head size (q.shape[-1])"
        c.close(
            out,
            full[..., -1:, :],
            case=f"{case}: the output, against the full causal pass at the last position",
            hint=hint,
            atol=1e-5,
        )
        c.gradients(kv_attention_step, _kv_reference, *args, case=case)
    return f"{c.cases} checks: the cache grows, and the output equals the full causal pass"


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


class _Regression(nn.Module):
    """A small deterministic model for the accumulation exercise: ``(N, 3) -> (N, 2)``."""

    def __init__(self) -> None:
        super().__init__()
        with torch.random.fork_rng():
            torch.manual_seed(0)
            self.fc1, self.fc2 = nn.Linear(3, 5), nn.Linear(5, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.tanh(self.fc1(x)))


def _grads_of(model: nn.Module) -> list[torch.Tensor | None]:
    return [None if p.grad is None else p.grad.detach().clone() for p in model.parameters()]


def _all_close(got: list[torch.Tensor | None], want: list[torch.Tensor]) -> bool:
    return all(a is not None and torch.allclose(a, b, atol=1e-6) for a, b in zip(got, want))


@checker
def ex12_grad_accumulation(c: Check, accumulate_gradients: Callable[..., Any]) -> str:
    """``accumulate_gradients(model, loss_fn, x, y, k)``: k micro-batches, the big batch's gradient.

    The gradients left in ``.grad`` must equal those of ``loss_fn(model(x), y).backward()`` on the
    whole batch; the model must see micro-batches of ``B / k`` rows; the parameters stay as they were.
    """
    g = torch.Generator().manual_seed(120)
    for B, k in ((8, 4), (6, 2), (5, 1), (12, 3)):
        case = f"batch of {B} rows, k = {k} micro-batches"
        x, y = torch.randn(B, 3, generator=g), torch.randn(B, 2, generator=g)
        ref = _Regression()
        F.mse_loss(ref(x), y).backward()
        want = _grads_of(ref)
        model = _Regression()
        before = [p.detach().clone() for p in model.parameters()]
        rows: list[int] = []
        handle = model.register_forward_pre_hook(lambda _m, a, rows=rows: rows.append(len(a[0])))
        try:
            c.call(accumulate_gradients, model, F.mse_loss, x, y, k, case=case, on_device=False)
        finally:
            handle.remove()
        got = _grads_of(model)
        c.expect(
            all(torch.equal(p.detach(), b) for p, b in zip(model.parameters(), before)),
            case=case,
            problem="the parameters changed",
            hint="only accumulate the gradients: no optimizer step in this function",
        )
        c.expect(
            all(t is not None for t in got),
            case=case,
            problem="no gradient in .grad",
            hint="call loss.backward() for each micro-batch",
        )
        c.expect(
            rows == [B // k] * k,
            case=case,
            problem=f"the model saw batches of {rows} rows",
            hint=f"run the model on k micro-batches of B // k rows each (x.chunk(k)): {[B // k] * k}",
        )
        hint = "for each micro-batch: loss = loss_fn(model(xb), yb) / k; loss.backward()"
        if k > 1 and _all_close(got, [k * w for w in want]):
            hint = (
                "the gradients are k times too large: divide each micro-batch's loss by k, "
                "so the k backward passes add up to the mean over the whole batch"
            )
        else:
            last = _Regression()
            (F.mse_loss(last(x[-(B // k) :]), y[-(B // k) :]) / k).backward()
            if k > 1 and (
                _all_close(got, _grads_of(last))
                or _all_close(got, [k * w for w in _grads_of(last)])
            ):
                hint = (
                    "only the last micro-batch's gradient is left: backward() adds to .grad, so "
                    "do not zero the gradients between micro-batches"
                )
        for i, (a, b) in enumerate(zip(got, want)):
            c.close(a, b, case=f"{case}: gradient of parameter {i}", hint=hint, atol=1e-6)
        c.on_device(
            lambda m, x_, y_, k_=k: accumulate_gradients(m, F.mse_loss, x_, y_, k_),
            _Regression(),
            x,
            y,
            case=case,
        )
    return f"{c.cases} checks: k micro-batches give the big batch's gradient"


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
