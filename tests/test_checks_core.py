"""The checker pattern itself: one line out, learner errors become sentences."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_lib.checks import Check, CheckResult, checker


@checker
def ex99_double(c: Check, fn) -> str:
    x = torch.tensor([1.0, -2.0, 3.0])
    c.close(c.call(fn, x, case="three numbers"), 2 * x, case="three numbers", hint="multiply by 2")
    big = torch.tensor([1e30])
    c.close(c.call(fn, big, case="a huge value"), 2 * big, case="a huge value", rtol=1e-6)
    return "2 cases"


def test_pass_line(capsys) -> None:
    result = ex99_double(lambda x: x * 2)
    out = capsys.readouterr().out.strip().splitlines()
    assert out == ["\u2705 ex99_double passed (2 cases)."]
    assert isinstance(result, CheckResult) and result


def test_wrong_value_names_case_and_hint(capsys) -> None:
    assert not ex99_double(lambda x: x + 2)
    out = capsys.readouterr().out
    assert "three numbers" in out and "Hint: multiply by 2" in out and "Traceback" not in out


def test_wrong_shape_and_type(capsys) -> None:
    ex99_double(lambda x: (x * 2)[None])
    assert "expected shape (3,), got (1, 3)" in capsys.readouterr().out
    ex99_double(lambda x: (x * 2).tolist())
    assert "expected a torch.Tensor, got a list of 3 items (float" in capsys.readouterr().out
    ex99_double(lambda x: (x * 2)[:, None].max(dim=1))
    assert "take its .values" in capsys.readouterr().out


def test_multiline_error_stays_one_line(capsys) -> None:
    def noisy(x):
        raise RuntimeError("first line\nsecond line\n\nthird")

    ex99_double(noisy)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "first line second line third" in out


@checker
def ex99_rate(c: Check, fn) -> str:
    c.close(c.call(fn, case="a rate"), 1e-3, case="a rate", rtol=1e-9, atol=0)
    return "1 case"


def test_float32_tensor_for_a_float_says_so(capsys) -> None:
    ex99_rate(lambda: torch.tensor(1e-3))
    out = capsys.readouterr().out
    assert "expected 0.001, got 0.0010000000475" in out and "return a Python float" in out


def test_not_implemented_is_a_sentence(capsys) -> None:
    def stub(x):
        raise NotImplementedError

    assert not ex99_double(stub)
    out = capsys.readouterr().out
    assert "not done yet" in out and "Traceback" not in out


def test_learner_exception_is_a_sentence(capsys) -> None:
    assert not ex99_double(lambda x: x @ torch.ones(7))
    out = capsys.readouterr().out
    assert "your code raised RuntimeError" in out and "three numbers" in out


def test_not_a_function(capsys) -> None:
    assert not ex99_double(torch.ones(3))
    assert "expected a function" in capsys.readouterr().out


def test_overflow_to_inf_is_named(capsys) -> None:
    assert not ex99_double(lambda x: x.float().exp().log() * 2 if x.abs().max() > 1e20 else 2 * x)
    assert "nan or inf" in capsys.readouterr().out or "differ" in capsys.readouterr().out


@checker
def ex99_number(c: Check, answer) -> str:
    c.number(answer, 0.8, case="an MSE", hint="average", known_wrong={4.0: "that is the sum"})
    return "1 case"


def test_number_answers(capsys) -> None:
    assert ex99_number(0.8)
    assert "passed" in capsys.readouterr().out
    for answer, needle in [
        (None, "not done yet"),
        (..., "not done yet"),
        ("zero point eight", "expected a number"),
        (torch.tensor([0.8, 0.1]), "a tensor of shape (2,)"),
        ([0.8], "a list of 1 items"),
        (float("nan"), "nan"),
        (4.0, "Hint: that is the sum"),
        (0.9, "Hint: average"),
    ]:
        assert not ex99_number(answer)
        out = capsys.readouterr().out
        assert needle in out and "Traceback" not in out, (answer, out)


# ---- the shared machinery of issue 16: inputs, devices, tools, tolerances, answer types


@checker
def ex99_scale(c: Check, fn) -> str:
    x = torch.tensor([[1.0, -2.0], [3.0, 4.0]])
    got = c.call(fn, x, case="a 2x2 matrix")
    c.close(got, x * 3, case="a 2x2 matrix", hint="multiply by 3")
    c.gradients(fn, lambda t: t * 3, x, case="a 2x2 matrix")
    return "1 case"


def test_inputs_changed_in_place_are_named(capsys) -> None:
    def in_place(x):
        x *= 3
        return x

    assert not ex99_scale(in_place)
    out = capsys.readouterr().out
    assert "changed its input `x` in place" in out and "`x = x / ...`" in out


def test_backward_pass_through_the_learner_function(capsys) -> None:
    assert ex99_scale(lambda x: x * 3)
    capsys.readouterr()

    def cut(x):
        return (x * 3).detach()

    assert not ex99_scale(cut)
    assert "no gradient can flow" in capsys.readouterr().out

    def saved_then_overwritten(x):
        y = x.exp()  # exp saves its output for backward
        y.mul_(0).add_(x * 3)
        return y

    assert not ex99_scale(saved_then_overwritten)
    out = capsys.readouterr().out
    assert "loss.backward() failed" in out and "in-place" in out


def test_device_runs_on_the_learners_device(capsys, monkeypatch) -> None:
    """A stand-in device ('meta') plays the GPU: a tensor made without device= is caught."""
    from course_lib.checks import _core

    monkeypatch.setattr(_core, "learner_device", lambda: torch.device("meta"))
    assert ex99_scale(lambda x: x * 3)
    capsys.readouterr()
    assert not ex99_scale(lambda x: x * torch.full(x.shape, 3.0))
    out = capsys.readouterr().out
    assert "on meta" in out and "device=x.device" in out
    assert not ex99_scale(lambda x: x * torch.full(x.shape, 2.0))  # a wrong value comes first
    assert "multiply by 3" in capsys.readouterr().out

    def builds_on_cpu(x):  # right on the CPU; elsewhere a result made without device=
        return x * 3 if x.device.type == "cpu" else torch.zeros(2, 2)

    assert not ex99_scale(builds_on_cpu)
    assert "your result is on cpu while the inputs are on meta" in capsys.readouterr().out


@checker
def ex99_no_exp(c: Check, fn) -> str:
    x = torch.tensor([0.0, 1.0])
    with c.forbidding(("torch.exp", "torch.Tensor.exp"), "write exp yourself"):
        got = c.call(fn, x, case="two numbers")
    c.close(got, torch.exp(x), case="two numbers", atol=1e-3)
    return "1 case"


def test_forbidden_tools_are_named(capsys) -> None:
    assert not ex99_no_exp(lambda x: torch.exp(x))
    out = capsys.readouterr().out
    assert "your code called torch.exp" in out and "write exp yourself" in out
    assert not ex99_no_exp(lambda x: x.exp())
    assert "your code called torch.Tensor.exp" in capsys.readouterr().out
    assert ex99_no_exp(lambda x: sum(x**k / math.factorial(k) for k in range(12)))
    capsys.readouterr()
    assert torch.exp(torch.zeros(1)).item() == 1.0  # switched back on after the check


@checker
def ex99_logits(c: Check, fn) -> str:
    z = torch.tensor([1e4, 0.0, -1e4])
    c.close(
        c.call(fn, z, case="logits of 1e4"), torch.logsumexp(z, 0), case="logits of 1e4", scale=1e4
    )
    return "1 case"


def test_tolerance_follows_dtype_and_magnitude(capsys) -> None:
    """float32's grid spacing near 1e4 is about 1e-3: a correct formula may differ by that."""
    assert ex99_logits(lambda z: torch.logsumexp(z, 0) + 6e-4)
    capsys.readouterr()
    assert not ex99_logits(lambda z: torch.logsumexp(z, 0) + 0.5)
    assert "largest difference 0.5" in capsys.readouterr().out


@pytest.mark.parametrize(
    "answer,needle",
    [
        (None, "`return` missing"),
        (np.array([2.0, -4.0, 6.0]), "a NumPy array of shape (3,)"),
        ((2.0, -4.0, 6.0), "a tuple of 3 items"),
        ("tensor([2., -4., 6.])", "the string"),
        (2.0, "float 2.0"),
    ],
)
def test_every_answer_type_gets_a_sentence(capsys, answer, needle) -> None:
    assert not ex99_double(lambda x: answer)
    out = capsys.readouterr().out
    assert needle in out and "Hint:" in out and "could not check" not in out


def test_no_warning_reaches_the_notebook(capsys, recwarn) -> None:
    import warnings

    def noisy(x):
        warnings.warn("deprecated", DeprecationWarning, stacklevel=1)
        return x * 2

    assert ex99_double(noisy)
    assert not [w for w in recwarn if "deprecated" in str(w.message)]


@checker
def ex99_prediction(c: Check, answer) -> str:
    c.number(answer, 0.8, case="a prediction", hint="the answer is 0.8")
    return "1 case"


def test_untouched_prediction_is_not_done_without_hint(capsys) -> None:
    for answer in (None, ...):
        assert not ex99_prediction(answer)
        out = capsys.readouterr().out
        assert "not done yet" in out and "Hint" not in out and "0.8" not in out
