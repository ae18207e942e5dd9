"""Colab's ipywidgets (7.7.1) under every notebook: a kernel that moves every explorer's controls.

``make colab-env`` builds ``.venv-colab``: the packages of ``.venv``, seen through a .pth file,
with ipywidgets 7.7.1 in front of them as on Colab. ``make test`` runs every lecture and solution
under nbval with the kernel ``course-colab`` (``--nbval-kernel-name=course-colab``;
``tests/conftest.py`` writes its spec with ``write_kernel_spec``): that environment's Python,
which at start-up runs ``colab_kernel_start.py`` and so ``install_hooks``. From then on:

- "unrecognized widget argument" warnings are errors (ipywidgets 7 silently ignores options it
  does not know, such as 8's ``tooltip``);
- after each cell, every explorer the cell created has each control moved once (to another
  option, or a slider to its far end), as a learner would, then put back without a redraw; each
  move must redraw once, and a draw that
  raises (for the default figure or after a move) fails the cell, although inside an Output widget
  it would only be printed;
- a cell that displays an explorer (``EXPLORER_CALL``) but created none fails, and so does an
  explorer made under any ipywidgets but 7.7.1.

A failure is raised as the cell's own error, so nbval reports it like any failing cell: the notebook
runs once for nbval and for the Colab check together. ``make colab-check`` runs the same kernel over
the explorer notebooks without pytest::

    COURSE_FAST=1 .venv-colab/bin/python tests/colab_widgets_check.py [NOTEBOOK ...]

``tests/test_colab_widgets.py`` proves the kernel right: a working fixture notebook passes, a broken
one (its draw raises once a slider moves) fails. The rule that finds explorer notebooks lives here
and is shared by the browser and static tests.
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.util
import json
import os
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parent.parent
COLAB_IPYWIDGETS = "7.7.1"
KERNEL_NAME = "course-colab"
KERNEL_START = Path(__file__).resolve().parent / "colab_kernel_start.py"

#: An explorer cell calls ``explorer(...)`` or a chapter's ``*_explorer(...)`` at top level: on a
#: line that starts in column 0 and is not a ``def``, ``class`` or comment (an indented call
#: inside a function body is a definition, not a display).
EXPLORER_CALL = re.compile(r"^(?!def |class |async def |#|\s)[^\n#]*?\b\w*explorer\(", re.M)


def explorer_cells(nb: nbformat.NotebookNode) -> list[int]:
    """Indices of the code cells of ``nb`` that display an explorer (see ``EXPLORER_CALL``)."""
    return [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and EXPLORER_CALL.search(cell.source)
    ]


def explorer_notebooks(folders: tuple[str, ...] = ("notebooks",)) -> list[Path]:
    """The notebooks under ``folders`` (repository-relative) with at least one explorer cell."""
    found = []
    for folder in folders:
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            if explorer_cells(nbformat.read(path, as_version=4)):
                found.append(path)
    return found


# --------------------------------------------------------------------------- the kernel


def write_kernel_spec(folder: str | os.PathLike[str], python: str) -> Path:
    """Write the ``course-colab`` kernel spec under ``folder/kernels/``; return its directory.

    Put ``folder`` on ``JUPYTER_PATH`` and ``course-colab`` is a kernel name Jupyter knows: the
    kernel runs ``python`` (``.venv-colab``'s) and starts with ``install_hooks``.
    """
    spec_dir = Path(folder) / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    argv = [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    argv.append(f"--IPKernelApp.exec_files={json.dumps([str(KERNEL_START)])}")
    spec = {"argv": argv, "display_name": "Colab widgets check", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
    return spec_dir


class ColabWidgetCheckError(AssertionError):
    """An explorer that does not work under Colab's ipywidgets, raised as the cell's error."""


def other_move(widget: Any) -> tuple[str, Any] | None:
    """Where a learner would move ``widget``: the next option, or a slider's far end."""
    if getattr(widget, "options", None) is not None:
        n = len(widget.options)
        return None if n < 2 else ("index", (widget.index + 1) % n)
    if getattr(widget, "max", None) is None:
        return None  # a text box: nothing to slide
    return ("value", widget.min if widget.value == widget.max else widget.max)


def _move_every_control(ex: Any, k: int) -> list[str]:
    """Move each control of explorer ``k`` once; each move must redraw exactly once.

    The control is then put back without a redraw (the figure keeps the moved state), so the
    notebook's later cells see the values the learner would have left untouched.
    """
    problems = []
    for name, widget in ex.controls.items():
        move = other_move(widget)
        if move is None:
            continue
        attr, value = move
        before = ex.draws
        original = getattr(widget, attr)
        try:
            setattr(widget, attr, value)  # observe -> redraw, as a learner's move would
        except Exception as e:  # a draw's error the Output widget did not swallow
            problems.append(f"explorer {k}: moving {name!r} raised {e!r}")
            continue
        if ex.draws != before + 1:
            problems.append(f"explorer {k}: moving {name!r} did not redraw")
        widget.unobserve(ex.redraw, names="value")
        try:
            setattr(widget, attr, original)
        finally:
            widget.observe(ex.redraw, names="value")
    return problems


class _OnImport(importlib.abc.MetaPathFinder):
    """Calls ``then(module)`` right after the module ``name`` is first executed."""

    def __init__(self, name: str, then: Callable[[Any], None]) -> None:
        self.name, self.then = name, then

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)  # once; and so the lookup below finds the real spec
        spec = importlib.util.find_spec(fullname)
        run = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            run(module)
            self.then(module)

        spec.loader.exec_module = exec_module
        return spec


def install_hooks(ip: Any, expected: str = COLAB_IPYWIDGETS) -> None:
    """Make the IPython shell ``ip`` check every explorer its cells create (see the module text)."""
    import ipywidgets

    warnings.filterwarnings("error", message=".*unrecognized arguments.*")
    created: list[Any] = []
    failures: list[str] = []  # draws that raised since the cell started
    first = [0]  # index in `created` of the current cell's first explorer

    def patch(core: Any) -> None:
        init = core.Explorer.__init__

        def tracked(self: Any, draw: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
            k = len(created)

            def guarded(**values: Any) -> Any:
                try:
                    return draw(**values)
                except Exception as e:  # inside an Output widget it would only be printed
                    failures.append(f"explorer {k}: draw({values}) raised {e!r}")
                    raise

            init(self, guarded, *args, **kwargs)
            created.append(self)

        core.Explorer.__init__ = tracked

    name = "course_lib.widgets.core"
    if name in sys.modules:
        patch(sys.modules[name])
    else:
        sys.meta_path.insert(0, _OnImport(name, patch))

    def pre_run_cell(info: Any = None) -> None:
        first[0] = len(created)
        failures.clear()

    def post_run_cell(result: Any) -> None:
        if result.error_before_exec is not None or result.error_in_exec is not None:
            return  # the cell failed already; that error is the one to read
        new = created[first[0] :]
        problems = []
        if EXPLORER_CALL.search(getattr(result.info, "raw_cell", "") or "") and not new:
            problems.append("this cell displays an explorer, but no Explorer was created")
        if new and ipywidgets.__version__ != expected:
            problems.append(f"the kernel has ipywidgets {ipywidgets.__version__}, not {expected}")
        for k, ex in enumerate(new, start=first[0]):
            problems += _move_every_control(ex, k)
        problems += failures
        if not problems:
            return
        try:
            raise ColabWidgetCheckError("; ".join(problems))
        except ColabWidgetCheckError as e:
            ip.showtraceback()  # the cell's error output, which nbval reports
            result.error_in_exec = e  # and the cell's reply says "error"

    ip.events.register("pre_run_cell", pre_run_cell)
    ip.events.register("post_run_cell", post_run_cell)


# --------------------------------------------------------------------------- without pytest


def check(path: Path, python: str | None = None, timeout: int = 600) -> list[str]:
    """Execute ``path`` with the ``course-colab`` kernel of ``python``; return the problems found."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    if not explorer_cells(nb):
        return [f"{path.name}: no explorer cell"]
    with tempfile.TemporaryDirectory(prefix="colab-check-") as folder:
        write_kernel_spec(folder, python or sys.executable)
        specs = KernelSpecManager(kernel_dirs=[str(Path(folder) / "kernels")])
        client = NotebookClient(
            nb,
            km=KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs),
            timeout=timeout,
            resources={"metadata": {"path": str(path.parent)}},
            shutdown_kernel="immediate",  # the outputs are in: no graceful shutdown to wait for
        )
        client.comm_open_handlers = {}  # no widget frontend: Output widgets print into the cells
        failure = None
        try:
            client.execute(cleanup_kc=True)
        except CellExecutionError as e:
            failure = str(e).strip().splitlines()[-1]
        except Exception as e:  # kernel died, timeout, ...
            failure = f"{type(e).__name__}: {e}"
    problems = [
        f"{path.name}: cell {i}: {out.get('ename')}: {out.get('evalue')}"
        for i, cell in enumerate(nb.cells)
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    return problems or ([f"{path.name}: {failure}"] if failure else [])


def _timed_check(path: Path) -> tuple[list[str], float]:
    start = time.perf_counter()
    return check(path), time.perf_counter() - start


def self_test_problems(ok: list[str], broken: list[str]) -> list[str]:
    """The test of the check: the working fixture passes, the broken one fails as it should."""
    problems = [f"working fixture: {p}" for p in ok]
    if not any("broken on purpose" in p and "draw(" in p for p in broken):
        problems.append(f"broken fixture not caught: {broken}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="default: every explorer notebook")
    parser.add_argument("--no-self-test", action="store_true", help="skip the fixture check")
    parser.add_argument("-j", "--jobs", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args(argv)
    import ipywidgets

    version = ipywidgets.__version__
    if version != COLAB_IPYWIDGETS:
        print(
            f"colab-check: this Python has ipywidgets {version}, not "
            f"{COLAB_IPYWIDGETS}: run it with .venv-colab/bin/python (make colab-check)"
        )
        return 2
    os.environ.setdefault("COURSE_FAST", "1")
    paths = [p.resolve() for p in args.paths] or explorer_notebooks()
    fixtures = Path(__file__).resolve().parent / "fixtures"
    selftest = (
        [] if args.no_self_test else [fixtures / f"explorer_{k}.ipynb" for k in ("ok", "broken")]
    )
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {path: pool.submit(_timed_check, path) for path in [*selftest, *paths]}
        if selftest:
            problems = self_test_problems(*(futures[f].result()[0] for f in selftest))
            if problems:
                print("colab-check: the self-test failed (the check itself is wrong):")
                print("\n".join(f"    {p}" for p in problems))
                return 1
            print("colab-check self-test ok: the working fixture passes, the broken one is caught")
        failed = 0
        for path in paths:
            problems, seconds = futures[path].result()
            status = "ok" if not problems else "FAILED"
            print(f"colab-check {status}: {path} ({seconds:.0f} s, ipywidgets {version})")
            print("".join(f"    {p}\n" for p in problems), end="")
            failed += bool(problems)
    print(f"colab-check: {len(paths) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
