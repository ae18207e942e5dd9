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

import contextlib
import copy
import functools
import inspect
import math
import traceback
import warnings
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from ..device import get_device
from ..progress import TODO, record

PASS = "\u2705"
FAIL = "\u274c"


class CaseFailed(Exception):
    """One case of a checker did not hold; carries the case name, what went wrong and a hint."""

    def __init__(self, case: str, problem: str, hint: str = "") -> None:
        super().__init__(f"{case}: {problem}")
        self.case, self.problem, self.hint = case, problem, hint


class _NotDone(Exception):
    """The learner's function still raises NotImplementedError (or, with "answer", no answer yet)."""


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
    """A learner's value in a few words: its type, and its shape or contents when short."""
    if isinstance(x, torch.Tensor):
        return f"a tensor of shape {tuple(x.shape)} and dtype {x.dtype}"
    if type(x).__module__ == "torch.return_types":  # what .max(dim) / .min(dim) / .sort() give
        return f"the pair (values, indices) that .{type(x).__name__}(dim=...) returns; take its .values"
    if type(x).__module__ == "numpy" and hasattr(x, "shape"):
        return f"a NumPy array of shape {tuple(x.shape)} (dtype {x.dtype})"
    if x is None:
        return "None (is a `return` missing?)"
    if isinstance(x, (tuple, list)) and x and not all(isinstance(v, torch.Tensor) for v in x):
        kinds = ", ".join(type(v).__name__ for v in x[:4]) + (", ..." if len(x) > 4 else "")
        return f"a {type(x).__name__} of {len(x)} items ({kinds})"
    if isinstance(x, str):
        return f"the string {x!r}"[:120]
    return f"{type(x).__name__} {x!r}"[:120]


def _type_hint(got: Any, want: torch.Tensor) -> str:
    """One sentence on turning the learner's value of the wrong type into the tensor expected."""
    shape = tuple(want.shape)
    if got is None:
        return "end your function with `return ...`: without it Python returns None"
    if type(got).__module__ == "numpy":
        return "compute with torch operations on the input tensors (a NumPy detour loses the dtype, the device and the gradient)"
    if isinstance(got, (list, tuple)):
        return f"return one tensor of shape {shape}: build it with torch operations (torch.stack if you collected pieces)"
    if isinstance(got, str):
        return f"return the tensor itself, not its text: a tensor of shape {shape}"
    if isinstance(got, (int, float, bool)):
        return f"return a tensor of shape {shape} (without .item() or float(...))"
    return f"return a torch.Tensor of shape {shape}"


def as_number(answer: Any, *, case: str, hint: str = "") -> float:
    """A learner's single number (Python, NumPy or 1-element tensor) as a float, or a failed case.

    ``None`` and ``...`` mean "no answer yet" (raised as not done, without a hint that would give
    the answer away); every other kind of value gets a sentence naming what it is.
    """
    if answer is None or answer is ...:
        raise _NotDone("answer")
    if isinstance(answer, (str, bytes)):
        raise CaseFailed(
            case,
            f"expected a number, got the string {answer!r}"[:120],
            "write the number without quotes",
        )
    if isinstance(answer, torch.Tensor) or type(answer).__module__ == "numpy":
        size = int(getattr(answer, "numel", lambda: getattr(answer, "size", 1))())
        if size != 1:
            raise CaseFailed(
                case,
                f"expected a single number, got {_describe(answer)}",
                hint or "reduce it to one number (for example a product of the sizes, or .sum())",
            )
        answer = answer.item()
    if isinstance(answer, (list, tuple, dict, set)):
        raise CaseFailed(
            case, f"expected a single number, got {_describe(answer)}", hint or "write one number"
        )
    try:
        value = float(answer)
    except (TypeError, ValueError, OverflowError):
        raise CaseFailed(case, f"expected a number, got {_describe(answer)}", hint) from None
    return value


def _same_value(got: Any, want: Any) -> bool:
    """``got == want`` for answers of any type, never raising (tensors and arrays included)."""
    try:
        if isinstance(got, torch.Tensor) or type(got).__module__ == "numpy":
            if isinstance(want, torch.Tensor):
                return isinstance(got, torch.Tensor) and torch.equal(got, want)
            return False
        return bool(got == want)
    except Exception:  # noqa: BLE001 - a value that cannot be compared is not equal
        return False


def float_tolerance(dtype: torch.dtype, scale: float) -> float:
    """The absolute error float rounding allows at inputs of size ``scale``: a few grid spacings.

    Near 1e4, float32's grid spacing is about 1e-3 (eps 1.2e-7 times 1e4), so two correct formulas
    (for instance logsumexp and max + log-sum-exp) can differ by 1e-4 there.
    """
    if not dtype.is_floating_point:
        return 0.0
    return 8 * torch.finfo(dtype).eps * float(scale)


def only_low_slices_fail(got: torch.Tensor, x: torch.Tensor, dim: int) -> bool:
    """Are the nan/inf slices of ``got`` exactly those of ``x`` whose max lies far below x's max?

    That is the mark of a max taken over the whole batch instead of each slice along ``dim``
    (``got`` is the result, ``x`` the logits or scores it came from).
    """
    low = (x.amax() - x.amax(dim, keepdim=True)) > 100
    bad = ~torch.isfinite(got.detach()).all(dim, keepdim=True)
    return bool((bad & low).any()) and not bool((bad & ~low).any())


def learner_device() -> torch.device:
    """The device the learner's notebook computes on (``get_device()``); cpu if that fails."""
    try:
        return get_device()
    except Exception:  # noqa: BLE001 - a bad COURSE_DEVICE is reported by the notebook, not here
        return torch.device("cpu")


RUN_CELL_HINT = "run the cell above on this case and read the error"
DEVICE_HINT = (
    "your notebook computes on {device}: make every new tensor on the device of your inputs, "
    "e.g. torch.zeros(n, device=x.device), torch.zeros_like(x) or torch.arange(n, device=x.device)"
)


def _tensors_in(x: Any) -> Iterator[torch.Tensor]:
    if isinstance(x, torch.Tensor):
        yield x
    elif isinstance(x, (list, tuple)):
        for v in x:
            yield from _tensors_in(v)
    elif isinstance(x, dict):
        for v in x.values():
            yield from _tensors_in(v)


def _snapshot(x: Any) -> Any:
    """A copy of ``x`` to compare with after the learner's call (tensors, lists, dicts); else None."""
    if isinstance(x, torch.Tensor):
        return x.detach().clone()
    if isinstance(x, (list, tuple)):
        return (
            type(x)(_snapshot(v) for v in x)
            if isinstance(x, list)
            else tuple(_snapshot(v) for v in x)
        )
    if isinstance(x, dict):
        return {k: _snapshot(v) for k, v in x.items()}
    if isinstance(x, (str, int, float, bool, bytes)) or x is None:
        return x
    return _UNCHECKED


_UNCHECKED = object()


def _unchanged(x: Any, snap: Any) -> bool:
    if snap is _UNCHECKED:
        return True
    if isinstance(snap, torch.Tensor):
        if not isinstance(x, torch.Tensor) or x.shape != snap.shape or x.dtype != snap.dtype:
            return False
        if x.device.type == "meta":
            return True
        a = x.detach()
        return bool(
            ((a == snap) | (a.isnan() & snap.isnan()) if a.is_floating_point() else a == snap).all()
        )
    if isinstance(snap, (list, tuple)):
        return (
            isinstance(x, (list, tuple)) and len(x) == len(snap) and all(map(_unchanged, x, snap))
        )
    if isinstance(snap, dict):
        return (
            isinstance(x, dict)
            and x.keys() == snap.keys()
            and all(_unchanged(x[k], snap[k]) for k in snap)
        )
    return _same_value(x, snap)


def _to_device(x: Any, device: torch.device) -> Any:
    """A copy of ``x`` on ``device`` (tensors, modules, containers of them); other values as they are."""
    if isinstance(x, torch.Tensor):
        y = x.detach().to(device, copy=True)
        return y.requires_grad_() if x.requires_grad and y.is_floating_point() else y
    if isinstance(x, torch.nn.Module):
        y = copy.deepcopy(x).to(device)
        for m in y.modules():  # the checker's recording hooks stay on the CPU original
            m._forward_hooks.clear()
            m._forward_pre_hooks.clear()
        return y
    if isinstance(x, (list, tuple)):
        items = [_to_device(v, device) for v in x]
        return items if isinstance(x, list) else tuple(items)
    if isinstance(x, dict):
        return {k: _to_device(v, device) for k, v in x.items()}
    return x


def _arg_name(fn: Callable[..., Any], args: tuple, kwargs: dict, index: int | str) -> str:
    """The learner's name of positional argument ``index`` (or the keyword itself)."""
    if isinstance(index, str):
        return index
    try:
        params = list(inspect.signature(fn).parameters)
        return params[index]
    except (TypeError, ValueError, IndexError):
        return f"argument {index + 1}"


class _Forbidden(Exception):
    """The learner's code used a tool the exercise rules out."""


AUTOGRAD_TOOLS = (
    "torch.Tensor.backward",
    "torch.autograd.backward",
    "torch.autograd.grad",
    "torch.autograd.functional.jacobian",
    "torch.autograd.functional.vjp",
    "torch.func.grad",
    "torch.func.grad_and_value",
    "torch.func.vjp",
    "torch.func.jacrev",
    "torch.func.jacfwd",
    "torch.enable_grad",
    "torch.set_grad_enabled",
    "torch._C._set_grad_enabled",  # what enable_grad and torch.func switch autograd on with
)


def _resolve(path: str) -> tuple[Any, str]:
    parts = path.split(".")
    obj: Any = torch
    for part in parts[1:-1]:
        obj = getattr(obj, part)
    return obj, parts[-1]


def _tool_from_stack(default: str) -> str:
    """Name torch.func or torch.autograd.functional when the call came through them (both switch
    autograd on themselves, so a name imported before the check is caught too)."""
    for frame in traceback.extract_stack():
        if "_functorch" in frame.filename:
            return "torch.func (grad, vjp, jacrev)"
        if frame.filename.endswith(("autograd/functional.py", "autograd\\functional.py")):
            return "torch.autograd.functional (jacobian, vjp)"
    return default


class Check:
    """The helper a checker body uses to call learner code and compare results."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.cases = 0
        self.device = learner_device()
        self._forbid: tuple[tuple[str, ...], str] | None = None  # (tools, hint) switched off
        self._pending: list[tuple[Any, str, str, Any]] = []  # device runs, see finish()
        self._forbidden: tuple[str, str] | None = None  # (tool used, hint) once caught

    # ------------------------------------------------------------------ calling learner code

    def _invoke(
        self, fn: Callable[..., Any], args: tuple, kwargs: dict, case: str, error_hint: str
    ) -> Any:
        try:
            with self._tools_off():
                got = fn(*args, **kwargs)
        except _Forbidden:
            got = None  # reported just below, with the tool's name
        except NotImplementedError:
            raise _NotDone() from None
        except Exception as e:  # the learner's error, reported as a sentence
            if self._forbidden is None:
                raise CaseFailed(
                    case, f"your code raised {type(e).__name__}: {e}", error_hint
                ) from None
        if self._forbidden is not None:
            tool, hint = self._forbidden
            raise CaseFailed(case, f"your code called {tool}", hint)
        return got

    def call(
        self,
        fn: Callable[..., Any],
        *args: Any,
        case: str,
        error_hint: str = RUN_CELL_HINT,
        inplace_ok: bool | Collection[int] = False,
        inplace_hint: str | None = None,
        on_device: bool = True,
        **kwargs: Any,
    ) -> Any:
        """Call the learner's ``fn``; turn anything it raises into a failed case (``error_hint``).

        Then check that ``fn`` left its tensor (and list, dict) arguments as they were, except the
        positions in ``inplace_ok`` (True: all; ``inplace_hint`` replaces the general advice), and, when the learner's notebook computes on a
        GPU, queue a run of ``fn`` on copies of the inputs there (``on_device``; run by ``finish``
        once every CPU case has passed): a new tensor made without ``device=`` fails that run
        with a hint instead of failing in the learner's notebook.
        """
        if not callable(fn):
            raise CaseFailed(
                case,
                f"expected a function, got {_describe(fn)}",
                "pass the function itself, without calling it: check(my_fn), not check(my_fn())",
            )
        keep = set() if inplace_ok is False else None if inplace_ok is True else set(inplace_ok)
        watched = (
            {}
            if keep is None
            else {i: _snapshot(a) for i, a in enumerate(args) if i not in keep}
            | {k: _snapshot(v) for k, v in kwargs.items()}
        )
        device_args = None
        if (
            on_device
            and self.device.type != "cpu"
            and (
                isinstance(fn, torch.nn.Module)
                or any(True for _ in _tensors_in((args, kwargs)))
                or any(isinstance(a, torch.nn.Module) for a in (*args, *kwargs.values()))
            )
        ):
            device_args = _to_device((fn, args, kwargs), self.device)  # before fn can change them
        got = self._invoke(fn, args, kwargs, case, error_hint)
        for key, snap in watched.items():
            now = args[key] if isinstance(key, int) else kwargs[key]
            if not _unchanged(now, snap):
                name = _arg_name(fn, args, kwargs, key)
                what = "tensor" if isinstance(snap, torch.Tensor) else type(snap).__name__
                hint = inplace_hint or (
                    f"an in-place operation such as `{name} /= ...`, `{name} += ...`, "
                    f"`{name}[...] = ...` or a method ending in _ (.add_(), .masked_fill_()) "
                    f"changes the caller's tensor too: write `{name} = {name} / ...`, which "
                    "makes a new one"
                    if what == "tensor"
                    else f"`{name}[...] = ...`, `{name}.append(...)`, `del {name}[...]` or "
                    f"`{name} += ...` change the caller's {what} too: build a new {what} "
                    f"(or start from a copy, `{name} = {what}({name})`) and return that"
                )
                raise CaseFailed(
                    case,
                    f"your function changed its input `{name}` in place (the caller's {what} "
                    "is different after the call)",
                    hint,
                )
        if device_args is not None:  # run once every CPU case has passed (see finish)
            self._pending.append((device_args, case, error_hint, self._forbid))
        return got

    def on_device(
        self,
        fn: Callable[..., Any],
        *args: Any,
        case: str,
        error_hint: str = RUN_CELL_HINT,
        **kwargs: Any,
    ) -> None:
        """Run ``fn`` on copies of its inputs on the learner's device only (nothing on a CPU)."""
        if self.device.type != "cpu":
            device_args = _to_device((fn, args, kwargs), self.device)
            self._pending.append((device_args, case, error_hint, self._forbid))

    def finish(self) -> None:
        """Run the cases queued for the learner's device, after every CPU case has passed.

        A wrong value gets its own hint first; a device mix-up is reported only in an answer that
        is otherwise right, as the one thing left to fix.
        """
        pending, self._pending = self._pending, []
        for (fn, args, kwargs), case, error_hint, forbid in pending:
            saved, self._forbid = self._forbid, forbid
            try:
                self._device_run(fn, args, kwargs, case=case, error_hint=error_hint)
            finally:
                self._forbid = saved

    def _device_run(
        self, fn: Callable[..., Any], args: tuple, kwargs: dict, *, case: str, error_hint: str
    ) -> None:
        """Run ``fn`` on copies of its inputs on the learner's device; fail on a device mix-up."""
        dev = self.device.type
        case = f"{case}, on {dev}"
        hint = DEVICE_HINT.format(device=dev)
        cuda = [self.device.index or 0] if dev == "cuda" else []
        with torch.random.fork_rng(devices=cuda):  # the CPU cases' random draws stay as they were
            try:
                with self._tools_off():
                    got = fn(*args, **kwargs)
            except _Forbidden:
                tool, hint_ = self._forbidden or ("a switched-off tool", "")
                raise CaseFailed(case, f"your code called {tool}", hint_) from None
            except Exception as e:  # noqa: BLE001 - the learner's error on the device
                msg = str(e)
                if "device" in msg.lower():
                    raise CaseFailed(
                        case, f"your code raised {type(e).__name__}: {msg}", hint
                    ) from None
                if (
                    dev == "meta"
                ):  # the tests' stand-in for a GPU computes no values: only device errors count
                    return
                raise CaseFailed(
                    case, f"your code raised {type(e).__name__}: {msg}", error_hint
                ) from None
        stray = [t for t in _tensors_in(got) if t.device.type != dev]
        if stray:
            raise CaseFailed(
                case,
                f"your result is on {stray[0].device.type} while the inputs are on {dev}",
                hint,
            )

    @contextlib.contextmanager
    def forbidding(self, tools: Collection[str], hint: str) -> Iterator[None]:
        """While the block runs, each learner call made through ``call`` finds ``tools`` refusing.

        ``tools`` are dotted paths under ``torch`` (see ``AUTOGRAD_TOOLS``); they are switched off
        only around the learner's code, never around the checker's reference. A call to one of
        them fails the case with "your code called <tool>" and ``hint``, even if the learner's code
        catches the exception. ``set_grad_enabled`` refuses only to switch autograd ON.
        """
        saved, self._forbid = self._forbid, (tuple(tools), hint)
        try:
            yield
        finally:
            self._forbid = saved

    @contextlib.contextmanager
    def _tools_off(self) -> Iterator[None]:
        if self._forbid is None:
            yield
            return
        tools, hint = self._forbid
        saved = []

        def stub_for(path: str, original: Any) -> Any:
            grad_switch = path.endswith("set_grad_enabled")

            def stub(*args: Any, **kwargs: Any) -> Any:
                if grad_switch and not (args[0] if args else kwargs.get("mode", True)):
                    return original(*args, **kwargs)
                tool = path.replace("torch._C._set_grad_enabled", "torch.enable_grad")
                tool = _tool_from_stack(tool)
                if self._forbidden is None:
                    self._forbidden = (tool, hint)
                raise _Forbidden(f"{tool} is switched off in this exercise")

            return stub

        for path in tools:
            try:
                owner, attr = _resolve(path)
                original = getattr(owner, attr)
            except AttributeError:  # a tool this torch version does not have
                continue
            saved.append((owner, attr, original))
            setattr(owner, attr, stub_for(path, original))
        try:
            yield
        finally:
            for owner, attr, original in reversed(saved):
                setattr(owner, attr, original)

    def gradients(
        self,
        fn: Callable[..., Any],
        reference: Callable[..., Any] | None,
        *args: Any,
        case: str,
        wrt: Collection[int] | None = None,
        hint: str = "",
        scale: float = 1.0,
    ) -> None:
        """Backpropagate through the learner's ``fn`` as training will, and compare gradients.

        The float tensors of ``args`` (positions ``wrt``, default all) become leaves of a graph
        and reach ``fn`` as non-leaf copies (as activations do in a network); the outputs are
        weighted by fixed random numbers and summed, then ``backward()`` runs. An in-place
        operation that autograd needs undone, a ``.detach()`` or a copy through Python numbers
        fails here. With a ``reference``, every input gradient is compared with its own.
        """
        case = f"{case}: backward pass"
        self.cases += 1

        where = [  # the positions of the inputs whose gradients are compared
            i
            for i, a in enumerate(args)
            if isinstance(a, torch.Tensor) and a.is_floating_point() and (wrt is None or i in wrt)
        ]

        def run(f: Callable[..., Any]) -> tuple[Any, list[torch.Tensor]]:
            leaves = {i: args[i].detach().clone().requires_grad_() for i in where}
            call_args = [leaves[i].clone() if i in leaves else a for i, a in enumerate(args)]
            return f(*call_args), list(leaves.values())

        with torch.enable_grad():
            want_out, want_leaves = run(reference) if reference is not None else (None, [])
            got_out, leaves = run(lambda *a: self.call(fn, *a, case=case, on_device=False))
            outs = [t for t in _tensors_in(got_out) if t.is_floating_point()]
            if not any(t.requires_grad for t in outs):
                raise CaseFailed(
                    case,
                    "no gradient can flow through your result",
                    "build the result from torch operations on the inputs, without .detach(), "
                    ".item(), .tolist(), .numpy(), torch.tensor(...) copies or torch.no_grad()",
                )
            g = torch.Generator().manual_seed(0)
            weights = [torch.randn(t.shape, generator=g, dtype=torch.float64) for t in outs]
            total = sum(
                (t.double() * w.to(t.device)).sum()
                for t, w in zip(outs, weights)
                if t.requires_grad
            )
            try:
                total.backward()
            except RuntimeError as e:
                inplace = "inplace" in str(e) or "in-place" in str(e)
                raise CaseFailed(
                    case,
                    f"loss.backward() failed: {str(e)[:160]}",
                    "an in-place operation (x += ..., x[...] = ..., .masked_fill_(), .add_()) "
                    "overwrote a tensor autograd needs for the backward pass: write x = x + ... "
                    "(a new tensor) instead"
                    if inplace
                    else "build the result from torch operations on the inputs",
                ) from None
            if reference is None:
                for leaf in leaves:
                    self.expect(
                        leaf.grad is not None and bool(torch.isfinite(leaf.grad).all()),
                        case=case,
                        problem="an input got no gradient, or a nan/inf one",
                        hint=hint or "keep every step a torch operation on the inputs",
                    )
                return
            ref_outs = [t for t in _tensors_in(want_out) if t.is_floating_point()]
            ref_total = sum(  # the outputs the learner's result lets gradients through
                (r.double() * w).sum()
                for r, t, w in zip(ref_outs, outs, weights)
                if t.requires_grad and r.requires_grad
            )
            if isinstance(ref_total, torch.Tensor):
                ref_total.backward()
        for i, leaf, ref in zip(where, leaves, want_leaves):
            name = _arg_name(fn, args, {}, i)
            if ref.grad is None:
                continue
            if leaf.grad is None:
                raise CaseFailed(
                    case,
                    f"no gradient reaches `{name}`",
                    "compute with torch operations on every input (no .detach() or copies)",
                )
            self.close(
                leaf.grad,
                ref.grad,
                case=f"{case}, gradient of `{name}`",
                hint=hint
                or "the values are right but their gradient is not: avoid .detach(), "
                "clamps and copies that cut or change the graph",
                scale=scale,
                atol=1e-5,
                rtol=1e-4,
            )

    def raises(
        self,
        fn: Callable[..., Any],
        *args: Any,
        exc: type[Exception] = ValueError,
        case: str,
        hint: str = "",
        mentions: str | Collection[str | tuple[str, ...]] | None = None,
    ) -> None:
        """Fail unless ``fn(*args)`` raises ``exc`` whose message contains ``mentions``.

        Several mentions must all appear; a tuple among them lists spellings of which any one will
        do (``("(4, 1)", "[4, 1]")`` accepts a tuple or a ``torch.Size``).
        """
        self.cases += 1
        try:
            fn(*args)
        except NotImplementedError:
            raise _NotDone() from None
        except exc as e:
            needles = [mentions] if isinstance(mentions, str) else list(mentions or ())
            for needle in needles:  # a needle may be a tuple of spellings, any one will do
                spellings = (needle,) if isinstance(needle, str) else tuple(needle)
                if not any(s in str(e) for s in spellings):
                    raise CaseFailed(
                        case,
                        f"the message {str(e)!r} does not mention {spellings[0]!r}",
                        hint,
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

        ``None`` or ``...`` means "no answer yet" (not done, with no hint); a value near a key of
        ``known_wrong`` fails with that key's specific hint (the usual mistakes), before the
        general comparison.
        """
        self.cases += 1
        value = as_number(answer, case=case, hint=hint)
        if math.isnan(value):
            raise CaseFailed(case, "your answer is nan", hint)
        for wrong, wrong_hint in (known_wrong or {}).items():
            if math.isclose(value, wrong, rel_tol=rel, abs_tol=abs_tol):
                raise CaseFailed(case, f"got {value:g}", wrong_hint)
        if want is not None and not math.isclose(value, want, rel_tol=rel, abs_tol=abs_tol):
            raise CaseFailed(case, f"got {value:g}", hint)
        return value

    def answered(self, answer: Any) -> None:
        """Not done yet (with no hint) while a prediction is still ``None`` or ``...``."""
        if answer is None or answer is ...:
            raise _NotDone("answer")

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
        scale: float = 0.0,
    ) -> None:
        """Fail unless ``got`` equals ``want`` (tensors or numbers) within the tolerances.

        ``scale`` is the size of the inputs: the absolute tolerance grows to what rounding in the
        result's dtype allows at that size (``float_tolerance``), so two correct formulas agree.
        """
        self.cases += 1
        if isinstance(want, torch.Tensor):
            if not isinstance(got, torch.Tensor):
                raise CaseFailed(
                    case,
                    f"expected a torch.Tensor, got {_describe(got)}",
                    _type_hint(got, want),
                )
            if tuple(got.shape) != tuple(want.shape):
                raise CaseFailed(
                    case, f"expected shape {tuple(want.shape)}, got {tuple(got.shape)}", hint
                )
            g, w = got.detach().to("cpu", torch.float64), want.detach().to("cpu", torch.float64)
            if not torch.isfinite(g).all() and torch.isfinite(w).all():
                raise CaseFailed(
                    case, "your result contains nan or inf where the answer is finite", hint
                )
            dtypes = [t.dtype for t in (got, want) if t.is_floating_point()]
            low = max(dtypes, key=lambda d: torch.finfo(d).eps, default=torch.float64)
            atol = max(atol, float_tolerance(low, scale))
            if not torch.allclose(g, w, atol=atol, rtol=rtol, equal_nan=True):
                err = (g - w).abs().nan_to_num(math.inf).max().item()
                raise CaseFailed(
                    case, f"values differ from the reference (largest difference {err:.3g})", hint
                )
            return
        if (
            isinstance(got, torch.Tensor)
            and got.numel() != 1
            or got is None
            or isinstance(got, (str, bytes, list, tuple, dict))
        ):
            raise CaseFailed(case, f"expected a number, got {_describe(got)}", hint)
        try:
            g, w = float(got), float(want)
        except (TypeError, ValueError, RuntimeError):
            raise CaseFailed(case, f"expected a number, got {_describe(got)}", hint) from None
        if not math.isclose(g, w, abs_tol=atol, rel_tol=rtol):
            digits = 6 if f"{w:.6g}" != f"{g:.6g}" else 12  # show where they differ
            problem = f"expected {w:.{digits}g}, got {g:.{digits}g}"
            if isinstance(got, torch.Tensor):
                problem += f" (a {got.dtype} tensor: return a Python float, e.g. float(...))"
            raise CaseFailed(case, problem, hint)

    def equal(self, got: Any, want: Any, *, case: str, hint: str = "") -> None:
        """Fail unless ``got == want`` (for shapes, strings, small answers), whatever ``got`` is."""
        self.cases += 1
        if not _same_value(got, want):
            shown = (
                _describe(got)
                if isinstance(got, torch.Tensor) or type(got).__module__ == "numpy"
                else repr(got)
            )
            raise CaseFailed(case, f"expected {want!r}, got {shown}"[:200], hint)


def report(name: str, passed: bool, message: str) -> CheckResult:
    """Print the checker's one line and return its result."""
    message = " ".join(message.split())  # one line, even when a learner's error spans several
    print(message)
    record(name, passed, message)  # for `workbook status`; never raises
    return CheckResult(name, passed, message)


def checker(body: Callable[..., str | None]) -> Callable[..., CheckResult]:
    """Turn ``body(c, *learner_args)`` into a learner-facing checker that prints one line.

    ``body`` raises ``CaseFailed`` (directly or via ``Check``) for a wrong answer and may return a
    short phrase for the pass line (such as ``"5 cases including logits of 1e4"``).
    """
    name = body.__name__
    params = list(inspect.signature(body).parameters)
    predicts = params[1:2] == ["answer"]  # a prediction, not a function to call

    @functools.wraps(body)
    def run(*args: Any, **kwargs: Any) -> CheckResult:
        c = Check(name)
        try:
            with warnings.catch_warnings():  # the one line is the whole output
                warnings.simplefilter("ignore")
                if args and (args[0] is None or args[0] is ...) and predicts:
                    raise _NotDone("answer")
                detail = body(c, *args, **kwargs)
                c.finish()
        except _NotDone as e:
            todo = (
                "write your prediction in `answer = ...` (before running any code), run that "
                "cell, then run this check again"
                if e.args == ("answer",)
                else "replace `raise NotImplementedError` in the exercise cell with your code, "
                "run it, then run this check again"
            )
            return report(name, False, f"{TODO} {name}: not done yet. {todo[0].upper()}{todo[1:]}.")
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
