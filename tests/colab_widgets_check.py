"""Run every explorer notebook headless under Colab's ipywidgets (7.7.1) and fail on any error.

``make colab-env`` builds ``.venv-colab``: the packages of ``.venv``, seen through a .pth file,
with ipywidgets 7.7.1 in front of them as on Colab. ``make test`` runs this check inside pytest
(``tests/test_colab_widgets.py``: one test per notebook, a kernel of that environment's Python);
``make colab-check`` runs it alone, with that environment's Python::

    COURSE_FAST=1 .venv-colab/bin/python tests/colab_widgets_check.py [NOTEBOOK ...]

Without arguments it checks every explorer notebook (see ``explorer_notebooks``). For each one it
executes all cells with a kernel of that interpreter, with two cells added: one before the content
that turns "unrecognized widget argument" warnings into errors (ipywidgets 7 silently ignores
options it does not know, such as 8's ``tooltip``) and records every ``Explorer``; and one at the
end that checks the kernel's ipywidgets version and moves every control of every explorer (to
another option, or a slider to its far end). A draw that raises, for the default figure or after
a move, is reported even though the Output widget only prints its traceback. Any error output, in
any cell, fails the check.

The rule that finds explorer notebooks lives here and is shared by the browser and static tests.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
COLAB_IPYWIDGETS = "7.7.1"

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


PRELUDE = """# colab-check prelude (added by tests/colab_widgets_check.py)
import warnings

warnings.filterwarnings("error", message=".*unrecognized arguments.*")

from course_lib.widgets import core as _cc_core

_cc_explorers, _cc_failures = [], []
_cc_init = _cc_core.Explorer.__init__


def _cc_tracked(self, draw, *args, **kwargs):
    k = len(_cc_explorers)

    def guarded(**values):
        try:
            return draw(**values)
        except Exception as e:  # inside an Output widget it would only be printed
            _cc_failures.append(f"explorer {k}: draw({values}) raised {e!r}")
            raise

    _cc_init(self, guarded, *args, **kwargs)
    _cc_explorers.append(self)


_cc_core.Explorer.__init__ = _cc_tracked
"""

EPILOGUE = """# colab-check epilogue (added by tests/colab_widgets_check.py)
import ipywidgets as _cc_w

assert _cc_w.__version__ == EXPECTED, f"kernel has ipywidgets {_cc_w.__version__}, not {EXPECTED}"
assert _cc_explorers, "no explorer was created"


def _cc_other(widget):
    if hasattr(widget, "options") and hasattr(widget, "index"):
        n = len(widget.options)
        return None if n < 2 else ("index", (widget.index + 1) % n)
    if hasattr(widget, "max") and hasattr(widget, "min"):
        return ("value", widget.max if widget.value != widget.max else widget.min)
    return None


for _cc_k, _cc_ex in enumerate(_cc_explorers):
    for _cc_name, _cc_widget in _cc_ex.controls.items():
        _cc_move = _cc_other(_cc_widget)
        if _cc_move is None:
            continue
        _cc_before = _cc_ex.draws
        setattr(_cc_widget, *_cc_move)  # observe -> redraw, as a learner's move would
        assert _cc_ex.draws == _cc_before + 1, f"explorer {_cc_k}: moving {_cc_name!r} did not redraw"
if _cc_failures:
    raise RuntimeError("; ".join(_cc_failures))
print(f"colab-check: {len(_cc_explorers)} explorer(s) moved under ipywidgets {_cc_w.__version__}")
"""


def check(
    path: Path,
    expected: str = COLAB_IPYWIDGETS,
    timeout: int = 600,
    python: str | None = None,
) -> list[str]:
    """Execute ``path`` with the prelude and epilogue cells; return the problems found.

    ``expected`` is the ipywidgets version the kernel must have; ``python`` the interpreter the
    kernel runs (default: this one).
    """
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    if not explorer_cells(nb):
        return [f"{path.name}: no explorer cell"]
    setup = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells.insert(setup + 1, nbformat.v4.new_code_cell(PRELUDE))
    epilogue = EPILOGUE.replace("EXPECTED", repr(expected))
    nb.cells.append(nbformat.v4.new_code_cell(epilogue))
    # A kernel spec of its own, so no "python3" spec found on the Jupyter path picks another Python.
    specs = tempfile.TemporaryDirectory(prefix="colab-check-")
    spec = Path(specs.name) / "colab-check" / "kernel.json"
    spec.parent.mkdir()
    argv = [python or sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.write_text(json.dumps({"argv": argv, "display_name": "colab-check", "language": "python"}))
    manager = KernelManager(
        kernel_name="colab-check", kernel_spec_manager=KernelSpecManager(kernel_dirs=[specs.name])
    )
    client = NotebookClient(
        nb,
        km=manager,
        timeout=timeout,
        resources={"metadata": {"path": str(path.parent)}},
        shutdown_kernel="immediate",  # the outputs are in: no graceful shutdown to wait for
    )
    # No widget frontend: output meant for Output widgets lands in the cells, so a traceback
    # printed inside an explorer's Output widget shows up below as an error output.
    client.comm_open_handlers = {}
    failure = None
    try:
        client.execute(cleanup_kc=True)  # stop the kernel after (a km passed in is kept alive)
    except CellExecutionError as e:
        failure = str(e).strip().splitlines()[-1]
    except Exception as e:  # kernel died, timeout, ...
        failure = f"{type(e).__name__}: {e}"
    finally:
        specs.cleanup()
    problems = [
        f"{path.name}: cell {i}: {out.get('ename')}: {out.get('evalue')}"
        for i, cell in enumerate(nb.cells)
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    return problems or ([f"{path.name}: {failure}"] if failure else [])


def _timed_check(path: Path, expected: str) -> tuple[list[str], float]:
    start = time.perf_counter()
    return check(path, expected), time.perf_counter() - start


def self_test_problems(ok: list[str], broken: list[str]) -> list[str]:
    """The test of the check: the working fixture passes, the broken one fails as it should."""
    problems = [f"working fixture: {p}" for p in ok]
    if not any("broken on purpose" in p and "draw(" in p for p in broken):
        problems.append(f"broken fixture not caught: {broken}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="default: every explorer notebook")
    parser.add_argument("--any-version", action="store_true", help="skip the 7.7.1 check")
    parser.add_argument("--no-self-test", action="store_true", help="skip the fixture check")
    parser.add_argument("-j", "--jobs", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args(argv)
    import ipywidgets

    version = ipywidgets.__version__
    if version != COLAB_IPYWIDGETS and not args.any_version:
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
    if not paths:
        print("colab-check: no explorer notebooks yet, nothing to check")
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {path: pool.submit(_timed_check, path, version) for path in [*selftest, *paths]}
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
