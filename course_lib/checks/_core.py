"""The checker pattern: the learner passes their function or value, we compare with the reference.

A checker prints exactly one line: a pass line naming what was checked, or the first failing case
with a hint. Whatever the learner's code raises (``NotImplementedError`` included) becomes a sentence;
the learner never sees a traceback from ``course_lib``.

Writing a checker::

    @checker
    def ex01_mse(c: Check, mse):
        got = c.call(mse, pred, target, case="two short vectors")
        c.close(got, reference(pred, target), case="two short vectors", hint="average, not sum")
        return "4 cases"
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

PASS = "\u2705"
FAIL = "\u274c"
TODO = "\u270f\ufe0f"


class CaseFailed(Exception):
    """One case of a checker did not hold; carries the case name, what went wrong and a hint."""

    def __init__(self, case: str, problem: str, hint: str = "") -> None:
        super().__init__(f"{case}: {problem}")
        self.case, self.problem, self.hint = case, problem, hint


class _NotDone(Exception):
    """The learner's function still raises NotImplementedError."""


@dataclass
class CheckResult:
    """What a checker found. Truthy when it passed; shows nothing extra in a notebook."""

    name: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def _ipython_display_(self) -> None:  # the printed line is the whole display
        pass


def _describe(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        return f"a tensor of shape {tuple(x.shape)} and dtype {x.dtype}"
    if type(x).__module__ == "torch.return_types":  # what .max(dim) / .min(dim) / .sort() give
        return f"the pair (values, indices) that .{type(x).__name__}(dim=...) returns; take its .values"
    if isinstance(x, (tuple, list)) and x and not all(isinstance(v, torch.Tensor) for v in x):
        kinds = ", ".join(type(v).__name__ for v in x[:4]) + (", ..." if len(x) > 4 else "")
        return f"a {type(x).__name__} of {len(x)} items ({kinds})"
    return f"{type(x).__name__} {x!r}"[:120]


class Check:
    """The helper a checker body uses to call learner code and compare results."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.cases = 0

    def call(
        self,
        fn: Callable[..., Any],
        *args: Any,
        case: str,
        error_hint: str = "run the cell above on this case and read the error",
        **kwargs: Any,
    ) -> Any:
        """Call the learner's ``fn``; turn anything it raises into a failed case (``error_hint``)."""
        if not callable(fn):
            raise CaseFailed(
                case,
                f"expected a function, got {_describe(fn)}",
                "pass the function itself, without calling it: check(my_fn), not check(my_fn())",
            )
        try:
            return fn(*args, **kwargs)
        except NotImplementedError:
            raise _NotDone() from None
        except Exception as e:  # the learner's error, reported as a sentence
            raise CaseFailed(
                case, f"your code raised {type(e).__name__}: {e}", error_hint
            ) from None

    def raises(
        self,
        fn: Callable[..., Any],
        *args: Any,
        exc: type[Exception] = ValueError,
        case: str,
        hint: str = "",
        mentions: str | None = None,
    ) -> None:
        """Fail unless ``fn(*args)`` raises ``exc`` (whose message contains ``mentions``, if given)."""
        self.cases += 1
        try:
            fn(*args)
        except NotImplementedError:
            raise _NotDone() from None
        except exc as e:
            if mentions is not None and mentions not in str(e):
                raise CaseFailed(
                    case, f"the message {str(e)!r} does not mention {mentions!r}", hint
                ) from None
            return
        except Exception as e:
            raise CaseFailed(
                case, f"raised {type(e).__name__}, expected {exc.__name__}", hint
            ) from None
        raise CaseFailed(case, f"no {exc.__name__} was raised", hint)

    def number(
        self,
        answer: Any,
        want: float | None = None,
        *,
        case: str,
        hint: str = "",
        known_wrong: dict[float, str] | None = None,
        rel: float = 2e-3,
        abs_tol: float = 1e-4,
    ) -> float:
        """A learner's numeric answer as a float, compared with ``want`` when given.

        ``None`` or ``...`` means "no answer yet"; a value near a key of ``known_wrong`` fails with
        that key's specific hint (the usual mistakes), before the general comparison.
        """
        self.cases += 1
        if answer is None or answer is ...:
            raise CaseFailed(case, "no answer yet", hint or "set `answer = ...` to a number")
        if isinstance(answer, (str, bytes)):
            raise CaseFailed(case, f"expected a number, got the string {answer!r}"[:120], hint)
        try:
            value = float(answer)
        except (TypeError, ValueError):
            raise CaseFailed(case, f"expected a number, got {answer!r}"[:120], hint) from None
        if math.isnan(value):
            raise CaseFailed(case, "your answer is nan", hint)
        for wrong, wrong_hint in (known_wrong or {}).items():
            if math.isclose(value, wrong, rel_tol=rel, abs_tol=abs_tol):
                raise CaseFailed(case, f"got {value:g}", wrong_hint)
        if want is not None and not math.isclose(value, want, rel_tol=rel, abs_tol=abs_tol):
            raise CaseFailed(case, f"got {value:g}", hint)
        return value

    def expect(self, ok: bool, *, case: str, problem: str, hint: str = "") -> None:
        """Fail ``case`` with ``problem`` and ``hint`` unless ``ok``."""
        self.cases += 1
        if not ok:
            raise CaseFailed(case, problem, hint)

    def close(
        self,
        got: Any,
        want: Any,
        *,
        case: str,
        hint: str = "",
        atol: float = 1e-6,
        rtol: float = 1e-5,
    ) -> None:
        """Fail unless ``got`` equals ``want`` (tensors or numbers) within the tolerances."""
        self.cases += 1
        if isinstance(want, torch.Tensor):
            if not isinstance(got, torch.Tensor):
                raise CaseFailed(case, f"expected a torch.Tensor, got {_describe(got)}", hint)
            if tuple(got.shape) != tuple(want.shape):
                raise CaseFailed(
                    case, f"expected shape {tuple(want.shape)}, got {tuple(got.shape)}", hint
                )
            g, w = got.detach().to("cpu", torch.float64), want.detach().to("cpu", torch.float64)
            if not torch.isfinite(g).all() and torch.isfinite(w).all():
                raise CaseFailed(
                    case, "your result contains nan or inf where the answer is finite", hint
                )
            if not torch.allclose(g, w, atol=atol, rtol=rtol, equal_nan=True):
                err = (g - w).abs().max().item()
                raise CaseFailed(
                    case, f"values differ from the reference (largest difference {err:.3g})", hint
                )
            return
        try:
            g, w = float(got), float(want)
        except (TypeError, ValueError):
            raise CaseFailed(case, f"expected a number, got {_describe(got)}", hint) from None
        if not math.isclose(g, w, abs_tol=atol, rel_tol=rtol):
            digits = 6 if f"{w:.6g}" != f"{g:.6g}" else 12  # show where they differ
            problem = f"expected {w:.{digits}g}, got {g:.{digits}g}"
            if isinstance(got, torch.Tensor):
                problem += f" (a {got.dtype} tensor: return a Python float, e.g. float(...))"
            raise CaseFailed(case, problem, hint)

    def equal(self, got: Any, want: Any, *, case: str, hint: str = "") -> None:
        """Fail unless ``got == want`` (for shapes, strings, small answers)."""
        self.cases += 1
        if got != want:
            raise CaseFailed(case, f"expected {want!r}, got {got!r}", hint)


def report(name: str, passed: bool, message: str) -> CheckResult:
    """Print the checker's one line and return its result."""
    message = " ".join(message.split())  # one line, even when a learner's error spans several
    print(message)
    from ..progress import record  # for `workbook status`; never raises

    record(name, passed, message)
    return CheckResult(name, passed, message)


def checker(body: Callable[..., str | None]) -> Callable[..., CheckResult]:
    """Turn ``body(c, *learner_args)`` into a learner-facing checker that prints one line.

    ``body`` raises ``CaseFailed`` (directly or via ``Check``) for a wrong answer and may return a
    short phrase for the pass line (such as ``"5 cases including logits of 1e4"``).
    """
    name = body.__name__

    @functools.wraps(body)
    def run(*args: Any, **kwargs: Any) -> CheckResult:
        c = Check(name)
        try:
            detail = body(c, *args, **kwargs)
        except _NotDone:
            return report(
                name,
                False,
                f"{TODO} {name}: not done yet. Replace `raise NotImplementedError` in the exercise cell with your code, run it, then run this check again.",
            )
        except CaseFailed as e:
            hint = f" Hint: {e.hint}" if e.hint else ""
            return report(
                name, False, f"{FAIL} {name}: failed on case '{e.case}': {e.problem}.{hint}"
            )
        except Exception as e:  # last resort: an answer of a shape no case anticipated
            return report(
                name,
                False,
                f"{FAIL} {name}: could not check your answer ({type(e).__name__}: {e}). "
                "Hint: compare what your code returns with the type and shape the exercise asks for.",
            )
        detail = detail or f"{c.cases} cases"
        return report(name, True, f"{PASS} {name} passed ({detail}).")

    return run
