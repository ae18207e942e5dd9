"""The checker pattern itself: one line out, learner errors become sentences."""

from __future__ import annotations

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
