"""Checkers for workbook 10: sampling (temperature, top-k), causal self-attention, the pre-LN block,
GPT sizes, one training step, generate."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..attention import MultiHeadAttention
from ..transformer import GPT, GPTConfig
from ._core import CaseFailed, Check, checker, only_low_slices_fail

__all__ = [
    "ex10_block_forward",
    "ex10_causal_self_attention",
    "ex10_train_step",
    "ex10_generate",
    "ex10_loss_at_init",
    "ex10_param_count",
    "ex10_temperature_probs",
    "ex10_top_k_filter",
]


def _ref_top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
    kth = torch.topk(logits, k).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


@checker
def ex10_top_k_filter(c: Check, top_k_filter: Callable[..., Any]) -> str:
    """``top_k_filter(logits (B, V), k)``: keep the k largest logits per row, set the rest to -inf."""
    g = torch.Generator().manual_seed(10)
    cases = [
        ("logits (1, 10), k=3", torch.randn(1, 10, generator=g), 3),
        ("logits (4, 65), k=5", torch.randn(4, 65, generator=g), 5),
        ("k=1: only the arg-max survives", torch.randn(3, 8, generator=g), 1),
        ("k=V: nothing is removed", torch.randn(2, 6, generator=g), 6),
        (
            "float64 logits of size 1e4",
            1e4 * torch.randn(2, 9, generator=g, dtype=torch.float64),
            4,
        ),
    ]
    for name, logits, k in cases:
        want = _ref_top_k(logits, k)
        got = c.call(top_k_filter, logits.clone(), k, case=name)
        c.expect(
            isinstance(got, torch.Tensor) and got.shape == logits.shape,
            case=name,
            problem=f"expected a tensor of shape {tuple(logits.shape)}, got "
            + (str(tuple(got.shape)) if isinstance(got, torch.Tensor) else type(got).__name__),
            hint="return the filtered logits, same shape as the input",
        )
        c.expect(
            got.dtype == logits.dtype,
            case=name,
            problem=f"expected dtype {logits.dtype}, got {got.dtype}",
            hint="keep the input's dtype",
        )
        kept = torch.isfinite(got).sum(-1)
        hint = "torch.topk(logits, k).values[:, -1:] is the k-th largest logit: drop those below it"
        if (kept == k + 1).all() and k < logits.shape[-1]:
            hint = "you keep k+1 tokens: compare with the k-th largest value (index k-1 / [-1]), not the (k+1)-th"
        elif (kept == k - 1).all():
            hint = "you keep k-1 tokens: drop logits strictly below the k-th largest (<, not <=)"
        elif (kept == logits.shape[-1] - k).all() and k != logits.shape[-1] - k:
            hint = "you removed the top k instead of keeping them"
        c.expect(
            bool((kept == k).all()),
            case=name,
            problem=f"expected {k} finite logits per row, got {kept.tolist()}",
            hint=hint,
        )
        c.close(got, want, case=name, hint="the kept logits must keep their values", atol=0)
    return f"{c.cases} checks including k=1, k=V and huge logits"


@checker
def ex10_temperature_probs(c: Check, temperature_probs: Callable[..., Any]) -> str:
    """``temperature_probs(logits (B, V), temperature) -> probs (B, V)`` = softmax(logits / T)."""
    g = torch.Generator().manual_seed(11)
    cases = [
        ("T = 1", torch.randn(2, 7, generator=g), 1.0),
        ("T = 0.5 (sharper)", torch.randn(3, 10, generator=g), 0.5),
        ("T = 2 (flatter)", torch.randn(1, 65, generator=g), 2.0),
        ("T = 0.01 and large logits", 50 * torch.randn(2, 5, generator=g), 0.01),
        ("float64", torch.randn(2, 4, generator=g, dtype=torch.float64), 0.7),
        (
            "T = 0.01, rows on different scales (max 50 in one, -49.9 in the other)",
            torch.tensor([[50.0, 0.0, -50.0], [-50.0, -50.0, -49.9]]),
            0.01,
        ),
    ]
    for name, logits, T in cases:
        want = torch.softmax(logits / T, dim=-1)
        got = c.call(temperature_probs, logits.clone(), T, case=name)
        c.expect(
            isinstance(got, torch.Tensor) and got.shape == logits.shape,
            case=name,
            problem=f"expected a tensor of shape {tuple(logits.shape)}",
            hint="return probabilities, one row per example",
        )
        c.expect(
            got.dtype == logits.dtype,
            case=name,
            problem=f"expected dtype {logits.dtype}, got {got.dtype}",
            hint="keep the input's dtype: don't cast to float32",
        )
        hint = "divide the logits by the temperature, then take the softmax over the last dim"
        after = torch.softmax(logits, -1)
        if T != 1 and (
            torch.allclose(got.double(), (after / T).double(), atol=1e-6)
            or torch.allclose(got.double(), (after * T).double(), atol=1e-6)
        ):
            hint = (
                "the temperature is applied after the softmax, so the rows no longer sum to 1 "
                "and the shape of the distribution does not change: divide the LOGITS by T"
            )
        elif T != 1 and torch.allclose(got.double(), torch.softmax(logits * T, -1).double()):
            hint = "you multiplied by the temperature: divide (T < 1 must sharpen)"
        finite = bool(torch.isfinite(got.detach()).all())
        c.expect(
            finite,
            case=name,
            problem="nan or inf in the probabilities",
            hint="each row needs its own max: subtract (logits / T).amax(-1, keepdim=True), not "
            "the largest value of the whole batch, or use torch.softmax, which does it per row"
            if not finite and only_low_slices_fail(got, logits / T, -1)
            else "use torch.softmax, which subtracts the row maximum for you",
        )
        c.close(got, want, case=name, hint=hint, atol=1e-6, scale=float((logits / T).abs().max()))
    return f"{c.cases} checks including T = 0.01"


class _Tiny(nn.Module):
    """A deterministic stand-in sub-layer: Linear + tanh."""

    def __init__(self, d: int, seed: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w = nn.Parameter(torch.randn(d, d, generator=g) / math.sqrt(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x @ self.w)


@checker
def ex10_block_forward(c: Check, block_forward: Callable[..., Any]) -> str:
    """``block_forward(x, ln_1, attn, ln_2, mlp)``: x + attn(ln_1(x)), then + mlp(ln_2(.))."""
    for name, (B, T, D) in [("x (2, 5, 8)", (2, 5, 8)), ("x (1, 1, 16)", (1, 1, 16))]:
        g = torch.Generator().manual_seed(B * 100 + D)
        x = 3 * torch.randn(B, T, D, generator=g) + 1
        ln_1, ln_2 = nn.LayerNorm(D), nn.LayerNorm(D)
        with torch.no_grad():
            for ln in (ln_1, ln_2):
                ln.weight.uniform_(0.5, 1.5, generator=g)
                ln.bias.uniform_(-0.5, 0.5, generator=g)
        attn, mlp = _Tiny(D, 1), _Tiny(D, 2)
        h = x + attn(ln_1(x))
        want = h + mlp(ln_2(h))
        got = c.call(block_forward, x, ln_1, attn, ln_2, mlp, case=name)
        post = ln_1(x + attn(x))
        post = ln_2(post + mlp(post))
        no_res = mlp(ln_2(attn(ln_1(x))))
        same_ln = x + attn(ln_1(x))
        same_ln = same_ln + mlp(ln_1(same_ln))
        hint = "pre-LN: x = x + attn(ln_1(x)); then x = x + mlp(ln_2(x)); return x"
        if isinstance(got, torch.Tensor) and got.shape == want.shape:
            if torch.allclose(got, post, atol=1e-5):
                hint = "that is post-LN (the 2017 paper); normalize the INPUT of each branch: x + attn(ln_1(x))"
            elif torch.allclose(got, no_res, atol=1e-5):
                hint = "the residual connections are missing: add each branch's output to x"
            elif torch.allclose(got, same_ln, atol=1e-5):
                hint = "use ln_2 before the MLP; each branch has its own LayerNorm"
        c.close(got, want, case=name, hint=hint, atol=1e-5)
        c.gradients(block_forward, _ref_block, x, ln_1, attn, ln_2, mlp, case=name, wrt={0})
    return f"{c.cases} checks, with a backward pass"


def _ref_block(x: torch.Tensor, ln_1: Any, attn: Any, ln_2: Any, mlp: Any) -> torch.Tensor:
    h = x + attn(ln_1(x))
    return h + mlp(ln_2(h))


@checker
def ex10_loss_at_init(c: Check, answer: Any) -> str:
    """Predict: the cross-entropy of an untrained GPT on a 65-character vocabulary."""
    value = c.number(answer, case="your prediction", hint="write a number in `answer`")
    want = math.log(65)
    hint = "at init every character is about equally likely, p = 1/65; the loss is -log p"
    if math.isclose(value, 1 / 65, rel_tol=0.05) or math.isclose(value, 65, rel_tol=0.05):
        hint = "that is a probability or the vocabulary size; the loss is -log(1/65)"
    elif math.isclose(value, math.log2(65), rel_tol=0.02):
        hint = "PyTorch's cross-entropy uses the natural log, not log2"
    c.close(value, want, case="loss at init, V = 65", hint=hint, rtol=0.02)
    return f"ln 65 = {want:.3f}"


@checker
def ex10_param_count(c: Check, answer: Any) -> str:
    """Predict: parameters of GPT(vocab 65, block 64, 4 layers, 4 heads, 128 wide, no biases)."""
    value = c.number(answer, case="your count", hint="write a whole number in `answer`")
    V, T, L, C = 65, 64, 4, 128
    per_block = 2 * C + 3 * C * C + C * C + 4 * C * C + 4 * C * C  # LNs, qkv, proj, fc, proj
    want = L * per_block + V * C + T * C + C  # blocks, tied embedding, positions, final LN
    hint = (
        "per block: 2 LayerNorms (C each), qkv (C x 3C), proj (C x C), fc (C x 4C), proj (4C x C)"
    )
    if value == want + 65 * C:
        hint = "the output layer shares its matrix with the token embedding: count it once"
    elif value == want - 64 * C:
        hint = "the position table (block_size x C) is a parameter too"
    elif value == want - (2 * L + 1) * C:
        hint = (
            "each LayerNorm has a gain of C numbers (no bias here): 2 per block plus the final one"
        )
    c.close(value, want, case="parameter count", hint=hint, atol=0.5, rtol=0)
    return f"{want:,} parameters"


def _small_gpt() -> GPT:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        cfg = GPTConfig(vocab_size=13, block_size=8, n_layer=2, n_head=2, n_embd=16)
        return GPT(cfg).eval()


@torch.no_grad()
def _within_top(model: GPT, ids: torch.Tensor, start: int, k: int, pos: int = -1) -> bool:
    """Is every token after ``start`` among the ``k`` most likely at position ``pos`` of its context?"""
    block = model.config.block_size
    for t in range(start, ids.shape[1]):
        logits, _ = model(ids[:, max(0, t - block) : t])
        allowed = torch.topk(logits[:, pos], k).indices  # (B, k)
        if not (ids[:, t : t + 1] == allowed).any(-1).all():
            return False
    return True


def _record_inputs(model: nn.Module) -> tuple[list[Any], Any]:
    """Record every input ``model(...)`` gets (a forward pre-hook); returns (inputs, handle)."""
    inputs: list[Any] = []

    def hook(_module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        x = args[0] if args else kwargs.get("idx")
        inputs.append(x.detach().clone() if isinstance(x, torch.Tensor) else x)

    return inputs, model.register_forward_pre_hook(hook, with_kwargs=True)


def _check_crop(
    inputs: list[Any], prompt_len: int, block: int, seq: torch.Tensor | None, *, case: str
) -> None:
    """Fail unless step i fed the model the last min(T, block) tokens of the sequence so far.

    ``seq`` is the learner's output (None when their code raised: then only lengths are checked).
    """
    crop = f"feed the last block_size tokens: idx[:, -block_size:] (block_size={block})"
    for i, x in enumerate(inputs):
        T = prompt_len + i  # length of the sequence before step i's new token
        n = min(T, block)
        if not isinstance(x, torch.Tensor) or x.dim() != 2:
            return  # not a batch of ids: the other cases report it
        if x.shape[1] > n:
            raise CaseFailed(
                case,
                f"at step {i + 1} the model got {x.shape[1]} tokens, expected the last {n} "
                f"of the {T} so far",
                f"{crop}; yours is too long",
            )
        if x.shape[1] < n:
            raise CaseFailed(
                case,
                f"at step {i + 1} the model got only {x.shape[1]} of the {T} tokens so far, "
                f"expected the last {n}",
                f"{crop}; yours is too short, the model can read up to block_size tokens",
            )
        if seq is None or seq.shape[1] < T or x.shape[0] != seq.shape[0]:
            continue
        if not torch.equal(x.to(seq.device), seq[:, T - n : T]):
            if torch.equal(x.to(seq.device), seq[:, :n]):
                problem, why = (
                    f"the FIRST {n} tokens",
                    "; yours takes the first tokens, not the last",
                )
            else:
                problem, why = f"{n} tokens that are not the last {n}", ""
            raise CaseFailed(
                case, f"at step {i + 1} the model got {problem} of the {T} so far", crop + why
            )
    if seq is not None and len(inputs) != seq.shape[1] - prompt_len:
        raise CaseFailed(
            case,
            f"the model was called {len(inputs)} times for {seq.shape[1] - prompt_len} new tokens",
            f"call the model once per new token, on idx[:, -block_size:] (block_size={block})",
        )


@checker
def ex10_generate(c: Check, generate: Callable[..., Any]) -> str:
    """``generate(model, idx, max_new_tokens, temperature=1.0, top_k=None)``: sample, token by token."""
    model = _small_gpt()
    block = model.config.block_size
    prompt = torch.tensor([[1, 2, 3], [4, 5, 6]])
    # 1. greedy (top_k=1) must equal the reference exactly, past the block size; every step
    #    must feed the model the last block_size tokens (recorded, since this untrained model
    #    often repeats its last token and a wrong crop could give the same text)
    name = "top_k=1 for 20 tokens (longer than block_size=8)"
    want = model.generate(prompt, 20, top_k=1)
    torch.manual_seed(0)
    inputs, handle = _record_inputs(model)
    try:
        got = c.call(generate, model, prompt.clone(), 20, 1.0, 1, case=name)
    except CaseFailed:  # a wrong crop often raises inside the model: name the crop instead
        handle.remove()
        _check_crop(inputs, prompt.shape[1], block, None, case=name)
        raise
    handle.remove()
    c.expect(
        isinstance(got, torch.Tensor) and got.shape == want.shape,
        case=name,
        problem=f"expected shape {tuple(want.shape)}, got "
        + (str(tuple(got.shape)) if isinstance(got, torch.Tensor) else type(got).__name__),
        hint="return the prompt followed by the new tokens, (B, T + max_new_tokens)",
    )
    c.expect(
        torch.equal(got[:, :3], prompt),
        case=name,
        problem="the output does not start with the prompt",
        hint="append each new token: idx = torch.cat((idx, next_token), dim=1)",
    )
    if inputs:  # empty when the model was called as model.forward(...), which skips hooks
        _check_crop(inputs, prompt.shape[1], block, got, case=name)
    hint = "take logits[:, -1, :] (the LAST position) and keep its top_k largest logits"
    if not torch.equal(got, want):
        if _within_top(model, got, 3, 1):
            pass  # the most likely tokens (a tie broken the other way): the general hint
        elif _within_top(model, got, 3, 1, pos=0):
            hint = "take logits[:, -1, :] (the LAST position), not the first"
        elif _within_top(model, got, 3, 2):
            hint = "your top-k keeps k+1 tokens: keep logits >= the k-th largest, torch.topk(logits, k)"
        else:
            hint = (
                "apply top-k filtering when top_k is given: set the logits below the k-th "
                "largest to -inf before the softmax (top_k=1 leaves only the most likely token)"
            )
    c.expect(
        torch.equal(got, want),
        case=name,
        problem="with top_k=1 the tokens differ from the most likely ones",
        hint=hint,
    )
    # 2. sampled with top_k=3: every token must be among the 3 most likely for its context
    name = "temperature 2, top_k=3, 12 tokens"
    torch.manual_seed(1)
    got = c.call(generate, model, prompt.clone(), 12, 2.0, 3, case=name)
    c.expect(
        isinstance(got, torch.Tensor) and got.shape == (2, 15) and got.dtype == torch.long,
        case=name,
        problem="expected int64 tokens of shape (2, 15)",
        hint="torch.multinomial(probs, num_samples=1) gives int64 ids of shape (B, 1)",
    )
    c.expect(
        _within_top(model, got, 3, 3),
        case=name,
        problem="a token outside the 3 most likely ones was sampled",
        hint="set every logit below the k-th largest to -inf before the softmax",
    )
    # 3. temperature must act: near 0 it turns sampling into the arg-max
    name = "temperature 1e-4, no top-k: almost greedy"
    torch.manual_seed(3)
    got = c.call(generate, model, prompt.clone(), 12, 1e-4, None, case=name)
    c.expect(
        isinstance(got, torch.Tensor) and torch.equal(got, want[:, :15]),
        case=name,
        problem="a tiny temperature did not give the most likely tokens",
        hint="divide the last position's logits by temperature BEFORE the softmax",
    )
    # 4. sampling must actually sample (not always the arg-max)
    name = "temperature 1.5, no top-k: draws differ between runs"
    torch.manual_seed(2)
    a = c.call(generate, model, prompt.clone(), 15, 1.5, None, case=name)
    b = c.call(generate, model, prompt.clone(), 15, 1.5, None, case=name)
    c.expect(
        isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor),
        case=name,
        problem=f"expected tensors, got {type(a).__name__}",
        hint="return the token ids as a torch.Tensor",
    )
    c.expect(
        not torch.equal(a, b),
        case=name,
        problem="two runs gave the same text",
        hint="sample with torch.multinomial(probs, 1) instead of taking the arg-max",
    )
    return f"{c.cases} checks: greedy past block_size, top-k, sampling"


# ----------------------------------------------------------------------------- causal self-attention


def _mha_reference(
    x: torch.Tensor,
    w_qkv: torch.Tensor,
    b_qkv: torch.Tensor,
    w_proj: torch.Tensor,
    b_proj: torch.Tensor,
    n_head: int,
) -> torch.Tensor:
    """course_lib's MultiHeadAttention (causal) run with these weights: ``(B, T, C)``."""
    mha = MultiHeadAttention(x.shape[-1], n_head).to(x.device, x.dtype)
    weights = {"qkv.weight": w_qkv, "qkv.bias": b_qkv, "proj.weight": w_proj, "proj.bias": b_proj}
    return torch.func.functional_call(mha, weights, (x,), {"is_causal": True})[0]


def _attention_variant(args: tuple[Any, ...], mistake: str) -> torch.Tensor:
    """Causal self-attention of ``args`` (as the learner gets them) with one usual ``mistake``."""
    x, w_qkv, b_qkv, w_proj, b_proj, n_head = args
    B, T, C = x.shape
    hs = C // n_head
    q, k, v = (
        t.view(B, T, n_head, hs).transpose(1, 2) for t in F.linear(x, w_qkv, b_qkv).split(C, 2)
    )
    scores = q @ k.transpose(-2, -1) * (1.0 if mistake == "no scale" else hs**-0.5)
    ones = torch.ones(T, T, dtype=torch.bool)
    allowed = {"upper": ones.triu(), "next token": ones.tril(1), "no mask": ones}.get(mistake)
    scores = scores.masked_fill(~(ones.tril() if allowed is None else allowed), float("-inf"))
    weights = torch.softmax(scores, dim=-2 if mistake == "softmax dim" else -1)
    y = weights @ v  # (B, H, T, hs)
    y = y.reshape(B, T, C) if mistake == "merge" else y.transpose(1, 2).reshape(B, T, C)
    return F.linear(y, w_proj, b_proj)


_ATTENTION_HINTS = {
    "no scale": "divide the scores q @ k^T by sqrt(head size) (C // n_head), not sqrt(C) or nothing",
    "upper": "the mask is flipped: query t may see keys 0..t, the LOWER triangle "
    "(torch.tril), and the keys after t get -inf",
    "next token": "the mask lets each position see one token ahead: keep torch.tril(..., "
    "diagonal=0), so key j is allowed only when j <= t",
    "no mask": "the causal mask is missing: set the scores of keys after the query to -inf "
    "before the softmax",
    "softmax dim": "take the softmax over the KEYS, the last dim (dim=-1): each query's "
    "weights sum to 1",
    "merge": "merge the heads back with y.transpose(1, 2).reshape(B, T, C): a plain reshape "
    "of (B, H, T, hs) mixes positions and heads",
}


@checker
def ex10_causal_self_attention(c: Check, causal_self_attention: Callable[..., Any]) -> str:
    """``causal_self_attention(x, w_qkv, b_qkv, w_proj, b_proj, n_head)``: ``(B, T, C) -> (B, T, C)``.

    Compared with ``course_lib.attention.MultiHeadAttention`` holding the same weights, values
    and gradients; the fused kernel ``F.scaled_dot_product_attention`` is switched off.
    """
    g = torch.Generator().manual_seed(1010)
    cases = [
        ("x (2, 5, 8), 2 heads", (2, 5, 8), 2),
        ("x (1, 7, 12), 3 heads", (1, 7, 12), 3),
        ("x (3, 1, 4), one token, 1 head", (3, 1, 4), 1),
        ("x (2, 6, 16), 4 heads", (2, 6, 16), 4),
    ]
    rule = (
        "write the attention yourself (q @ k^T, mask, softmax, @ v): the fused "
        "F.scaled_dot_product_attention is what this exercise rebuilds"
    )
    with c.forbidding(["torch.nn.functional.scaled_dot_product_attention"], rule):
        for name, (B, T, C), H in cases:
            x = torch.randn(B, T, C, generator=g)
            w_qkv = torch.randn(3 * C, C, generator=g) / math.sqrt(C)
            b_qkv = 0.1 * torch.randn(3 * C, generator=g)
            w_proj = torch.randn(C, C, generator=g) / math.sqrt(C)
            b_proj = 0.1 * torch.randn(C, generator=g)
            args = (x, w_qkv, b_qkv, w_proj, b_proj, H)
            with torch.no_grad():
                want = _mha_reference(*args)
            got = c.call(causal_self_attention, *args, case=name)
            hint = "compare each step with the statement: qkv split, heads, scale, mask, softmax, merge"
            if isinstance(got, torch.Tensor) and got.shape == want.shape:
                finite = torch.isfinite(got.detach())
                if not finite.all() and finite[:, 1:].all():
                    hint = (
                        "the first position gets nan: its only allowed key is itself, so keep "
                        "the diagonal (torch.tril(..., diagonal=0)); mask only keys j > t"
                    )
                else:
                    for mistake, text in _ATTENTION_HINTS.items():
                        with torch.no_grad():
                            wrong = _attention_variant(args, mistake)
                        if not torch.allclose(wrong, want, atol=1e-5) and torch.allclose(
                            got.detach().float(), wrong, atol=1e-5
                        ):
                            hint = text
                            break
            elif isinstance(got, torch.Tensor):
                hint = "return (B, T, C): merge the heads and apply the output projection"
            c.close(got, want, case=name, hint=hint, atol=1e-5)
            c.gradients(causal_self_attention, _mha_reference, *args, case=name)
    return f"{c.cases} checks against MultiHeadAttention, values and gradients"


# ----------------------------------------------------------------------------- one training step


class _TinyLM(nn.Module):
    """A stand-in language model: ``idx (B, T)`` -> logits ``(B, T, V)``."""

    def __init__(self, vocab: int, width: int, seed: int) -> None:
        super().__init__()
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.emb = nn.Embedding(vocab, width)
            self.head = nn.Linear(width, vocab)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.emb(idx)))


def _stale_grads(model: nn.Module) -> None:
    """Leave gradients from an earlier batch in ``.grad``, as a training loop does."""
    g = torch.Generator().manual_seed(7)
    for p in model.parameters():
        p.grad = 3 * torch.randn(p.shape, generator=g)


def _simulate_step(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float, max_norm: float, mistake: str
) -> tuple[list[torch.Tensor], float]:
    """One SGD step on a copy of ``model``, right or with one usual ``mistake``: (params, loss)."""
    m = copy.deepcopy(model)
    _stale_grads(m)
    opt = torch.optim.SGD(m.parameters(), lr=lr)
    if mistake == "step first":
        opt.step()
    if mistake != "no zero_grad":
        opt.zero_grad()
    logits = m(x)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    loss.backward()
    if mistake != "no clip":
        nn.utils.clip_grad_norm_(m.parameters(), max_norm)
    if mistake != "step first":
        opt.step()
    return [p.detach().clone() for p in m.parameters()], loss.item()


_STEP_HINTS = {
    "no zero_grad": "the gradients of the previous batch were added to this one: call "
    "optimizer.zero_grad() before loss.backward()",
    "no clip": "the gradient was not clipped before the step: call "
    "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm) between loss.backward() and "
    "optimizer.step() (clipping after the step changes nothing this step)",
    "step first": "optimizer.step() ran before loss.backward(), with old or no gradients: the "
    "order is zero_grad, forward, loss, backward, clip, step",
}


@checker
def ex10_train_step(c: Check, train_step: Callable[..., Any]) -> str:
    """``train_step(model, optimizer, x, y, max_norm) -> float``: one clipped optimizer step.

    ``model(x (B, T))`` gives logits ``(B, T, V)``; the loss is the mean cross-entropy over the
    B * T positions. Stale gradients are left in ``.grad`` first, as after an earlier step.
    """
    lr, max_norm = 0.5, 0.3
    cases = [("batch (4, 6), vocabulary 11", 4, 6, 11), ("batch (1, 9), vocabulary 5", 1, 9, 5)]
    for name, B, T, V in cases:
        g = torch.Generator().manual_seed(B * 10 + T)
        x = torch.randint(0, V, (B, T), generator=g)
        y = torch.randint(0, V, (B, T), generator=g)
        model = _TinyLM(V, 8, seed=T)
        _stale_grads(model)
        want, want_loss = _simulate_step(model, x, y, lr, max_norm, "right")
        wrongs = {m: _simulate_step(model, x, y, lr, max_norm, m)[0] for m in _STEP_HINTS}
        before = [p.detach().clone() for p in model.parameters()]
        opt = torch.optim.SGD(model.parameters(), lr=lr)
        got_loss = c.call(train_step, model, opt, x, y, max_norm, case=name, on_device=False)
        got = [p.detach() for p in model.parameters()]
        if all(torch.equal(a, b) for a, b in zip(got, before)):
            raise CaseFailed(
                name,
                "the parameters did not change",
                "call optimizer.step() after loss.backward() (and clipping)",
            )
        for mistake, text in _STEP_HINTS.items():
            c.expect(
                not all(torch.allclose(a, b, atol=1e-6) for a, b in zip(got, wrongs[mistake])),
                case=f"{name}: the parameters after the step",
                problem="they match a step with one of the usual mistakes",
                hint=text,
            )
        c.close(
            got_loss,
            want_loss,
            case=f"{name}: the returned loss",
            hint="return loss.item(), the mean cross-entropy over all B*T positions: "
            "F.cross_entropy(logits.reshape(-1, V), y.reshape(-1)), computed before the step",
            atol=1e-5,
        )
        hint = "the order is zero_grad, forward, loss, backward, clip_grad_norm_, step"
        for i, (a, b) in enumerate(zip(got, want)):
            c.close(a, b, case=f"{name}: parameter {i} after the step", hint=hint, atol=1e-6)
        c.on_device(
            lambda m, x_, y_: train_step(
                m, torch.optim.SGD(m.parameters(), lr=lr), x_, y_, max_norm
            ),
            _TinyLM(V, 8, seed=T),
            x,
            y,
            case=name,
        )
    return f"{c.cases} checks: loss, zero_grad, clipping and step order"
