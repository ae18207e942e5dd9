"""Workbook 14 checkers: the reference passes, each usual mistake fails with its hint, stubs say 'not done'."""

from __future__ import annotations

import torch
from torch import nn

from course_lib import checks
from course_lib.finetune import prompt_masked_example
from course_lib.lora import LoRALinear


# ---- Conv1D -> Linear -----------------------------------------------------------------------
def _linear(w, b, transpose=True, bias=True):
    lin = nn.Linear(w.shape[0], w.shape[1], bias=bias)
    with torch.no_grad():
        lin.weight.copy_(w.T if transpose else w)
        if bias:
            lin.bias.copy_(b)
    return lin


def test_conv1d_to_linear(checker_line):
    checker_line.passes(checks.ex14_conv1d_to_linear, _linear)
    checker_line.not_done(checks.ex14_conv1d_to_linear)

    def no_transpose_square_only(w, b):  # passes the shape checks only when in == out
        lin = nn.Linear(w.shape[0], w.shape[1])
        with torch.no_grad():
            lin.weight.copy_(w.reshape(lin.weight.shape))
            lin.bias.copy_(b)
        return lin

    checker_line.fails(
        checks.ex14_conv1d_to_linear, no_transpose_square_only, needles=("weight.T",)
    )

    def swapped_features(w, b):
        return nn.Linear(w.shape[1], w.shape[0])

    checker_line.fails(checks.ex14_conv1d_to_linear, swapped_features, needles=("weight.shape[0]",))
    checker_line.fails(
        checks.ex14_conv1d_to_linear, lambda w, b: _linear(w, b, bias=False), needles=("bias",)
    )
    checker_line.fails(checks.ex14_conv1d_to_linear, lambda w, b: w.T, needles=("nn.Linear",))


# ---- LoRA forward and merge -----------------------------------------------------------------
def test_lora_forward(checker_line):
    def ref(x, W, b, A, B, alpha, r):
        return x @ W.T + b + (alpha / r) * (x @ A.T) @ B.T

    checker_line.passes(checks.ex14_lora_forward, ref)
    checker_line.not_done(checks.ex14_lora_forward)
    checker_line.fails(
        checks.ex14_lora_forward,
        lambda x, W, b, A, B, alpha, r: x @ W.T + b + x @ A.T @ B.T,
        needles=("alpha / r",),
    )
    checker_line.fails(
        checks.ex14_lora_forward,
        lambda x, W, b, A, B, alpha, r: x @ W.T + b,
        needles=("base layer",),
    )
    checker_line.fails(
        checks.ex14_lora_forward, lambda x, W, b, A, B, alpha, r: x @ W.T + b + x @ B @ A
    )
    checker_line.passes(checks.ex14_lora_forward, lambda *a: ref(*a).double())  # float64 is fine
    checker_line.fails(
        checks.ex14_lora_forward,
        lambda x, W, b, A, B, alpha, r: (x @ W.T + b + x @ A.T @ B.T).double(),
        needles=("alpha / r",),
    )


def test_lora_merge(checker_line):
    checker_line.passes(checks.ex14_lora_merge, lambda W, A, B, alpha, r: W + alpha / r * B @ A)
    checker_line.not_done(checks.ex14_lora_merge)
    checker_line.fails(
        checks.ex14_lora_merge, lambda W, A, B, alpha, r: W + B @ A, needles=("scaled",)
    )
    checker_line.fails(
        checks.ex14_lora_merge, lambda W, A, B, alpha, r: A @ B, needles=("(out, r)",)
    )


# ---- counting -------------------------------------------------------------------------------
def test_count_trainable(checker_line):
    def ref(model):
        return sum(p.numel() for p in model.parameters() if p.requires_grad)

    checker_line.passes(checks.ex14_count_trainable, ref)
    checker_line.not_done(checks.ex14_count_trainable)
    checker_line.fails(
        checks.ex14_count_trainable,
        lambda m: sum(
            p.numel() for _, p in m.named_parameters(remove_duplicate=False) if p.requires_grad
        ),
        needles=("tied",),
    )
    checker_line.fails(
        checks.ex14_count_trainable,
        lambda m: sum(p.numel() for p in m.parameters()),
        needles=("requires_grad",),
    )
    np = __import__("pytest").importorskip("numpy")
    checker_line.passes(
        checks.ex14_count_trainable, lambda m: np.int64(ref(m))
    )  # a NumPy int is fine
    checker_line.fails(
        checks.ex14_count_trainable, lambda m: torch.tensor(ref(m)), needles=("Python int",)
    )


# ---- prompt masking -------------------------------------------------------------------------
def test_prompt_mask(checker_line):
    checker_line.passes(checks.ex14_prompt_mask, prompt_masked_example)
    checker_line.not_done(checks.ex14_prompt_mask)

    def off_by_one(prompt, response):
        ids = torch.cat((prompt, response))
        y = ids[1:].clone()
        y[: len(prompt)] = -1
        return ids[:-1], y

    checker_line.fails(checks.ex14_prompt_mask, off_by_one, needles=("P - 1",))
    checker_line.fails(
        checks.ex14_prompt_mask,
        lambda p, r: prompt_masked_example(p, r, mask_prompt=False),
        needles=("nothing is masked",),
    )
    checker_line.fails(checks.ex14_prompt_mask, lambda p, r: torch.cat((p, r)), needles=("pair",))

    def float_targets(prompt, response):
        x, y = prompt_masked_example(prompt, response)
        return x, y.float()

    checker_line.fails(checks.ex14_prompt_mask, float_targets, needles=("torch.long",))

    def minus_100(prompt, response):
        x, y = prompt_masked_example(prompt, response, mask_prompt=False)
        y[: len(prompt) - 1] = -100
        return x, y

    # -100 is PyTorch's default ignore_index; the course's loss ignores -1
    checker_line.fails(checks.ex14_prompt_mask, minus_100, needles=("-100", "-1"))


# ---- fix the bug: LoRA init -----------------------------------------------------------------
class _Buggy(nn.Module):
    def __init__(self, base, r, alpha, zero_b=False, scale=False, zero_a=False):
        super().__init__()
        self.base = base
        A = torch.zeros(r, base.in_features) if zero_a else torch.randn(r, base.in_features) * 0.1
        B = torch.zeros(base.out_features, r) if zero_b else torch.randn(base.out_features, r) * 0.1
        self.lora_A, self.lora_B = nn.Parameter(A), nn.Parameter(B)
        self.scaling = alpha / r if scale else 1.0

    def forward(self, x):
        return self.base(x) + (x @ self.lora_A.T) @ self.lora_B.T * self.scaling


def test_fix_lora_init(checker_line):
    checker_line.passes(checks.ex14_fix_lora_init, LoRALinear)
    checker_line.passes(
        checks.ex14_fix_lora_init, lambda b, r, a: _Buggy(b, r, a, zero_b=True, scale=True)
    )
    checker_line.not_done(checks.ex14_fix_lora_init)
    checker_line.fails(checks.ex14_fix_lora_init, _Buggy, needles=("zeros",))
    checker_line.fails(
        checks.ex14_fix_lora_init,
        lambda b, r, a: _Buggy(b, r, a, zero_b=True),
        needles=("alpha / r",),
    )
    checker_line.fails(
        checks.ex14_fix_lora_init,
        lambda b, r, a: _Buggy(b, r, a, zero_b=True, zero_a=True, scale=True),
        needles=("A starts at zero",),
    )
    # A zero, B random: the layer still equals its base at init, but A (not B) is the zero one
    checker_line.fails(
        checks.ex14_fix_lora_init,
        lambda b, r, a: _Buggy(b, r, a, zero_a=True, scale=True),
        needles=("A starts at zero", "B starts at zero"),
    )
