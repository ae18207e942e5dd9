"""Single-source workbooks: ``solutions/`` is the source, ``exercises/`` is generated from it.

In a solution notebook, code between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` becomes a
``# YOUR CODE HERE`` line and ``raise NotImplementedError`` (or, for ``# BEGIN SOLUTION: x = None``,
the stub ``x = None``); markdown between ``<!-- BEGIN SOLUTION -->`` and ``<!-- END SOLUTION -->``
becomes a prompt for the learner's own answer.

``python -m course_lib.workbook generate``  rewrite exercises/ from solutions/
``python -m course_lib.workbook check``     exit 1 if exercises/ is stale
``python -m course_lib.workbook start 01``  copy workbook 01 into my_work/ (never overwrites)
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

import nbformat

from .notebooks import ROOT, normalize

SOLUTIONS, EXERCISES, MY_WORK = ROOT / "solutions", ROOT / "exercises", ROOT / "my_work"
_CODE_BLOCK = re.compile(
    r"^(?P<indent>[ \t]*)# BEGIN SOLUTION(?::[ \t]*(?P<stub>.*?))?[ \t]*\n.*?^[ \t]*# END SOLUTION[ \t]*$",
    re.M | re.S,
)
_MD_BLOCK = re.compile(r"<!-- BEGIN SOLUTION -->.*?<!-- END SOLUTION -->", re.S)
MD_PROMPT = "*Your answer here: double-click this cell and write it.*"


def strip_code(source: str) -> str:
    """Replace each solution block in a code cell's source by a stub at the same indentation."""

    def stub(m: re.Match[str]) -> str:
        indent = m.group("indent")
        if m.group("stub"):
            return f"{indent}{m.group('stub')}  # YOUR CODE HERE"
        return f"{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError"

    return _CODE_BLOCK.sub(stub, source)


def strip_markdown(source: str) -> str:
    """Replace each solution block in a markdown cell by a prompt for the learner's answer."""
    return _MD_BLOCK.sub(MD_PROMPT, source)


def exercise_notebook(solution: Path) -> nbformat.NotebookNode:
    """The learner's workbook made from one solution notebook: stubs in, outputs out."""
    nb = nbformat.read(solution, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = strip_code(cell.source)
            cell.outputs, cell.execution_count = [], None
        elif cell.cell_type == "markdown":
            cell.source = strip_markdown(cell.source)
    return normalize(nb, f"exercises/{solution.name}")


def generate() -> list[Path]:
    """Write ``exercises/NN_*.ipynb`` for every solution notebook; remove orphans; return paths."""
    EXERCISES.mkdir(exist_ok=True)
    written = []
    for solution in sorted(SOLUTIONS.glob("[0-9][0-9]_*.ipynb")):
        target = EXERCISES / solution.name
        nbformat.write(exercise_notebook(solution), target)
        written.append(target)
    for orphan in set(EXERCISES.glob("*.ipynb")) - set(written):
        orphan.unlink()
    return written


def stale() -> list[str]:
    """Names of workbooks in ``exercises/`` that differ from what ``generate()`` would write."""
    problems = []
    solutions = {p.name: p for p in SOLUTIONS.glob("[0-9][0-9]_*.ipynb")}
    for name, solution in sorted(solutions.items()):
        target = EXERCISES / name
        want = nbformat.writes(exercise_notebook(solution))
        if not target.exists() or target.read_text(encoding="utf-8").rstrip() != want.rstrip():
            problems.append(name)
    problems += sorted(p.name for p in EXERCISES.glob("*.ipynb") if p.name not in solutions)
    return problems


def start(number: str) -> Path:
    """Copy workbook ``number`` into ``my_work/`` (ignored by git) unless a copy is already there."""
    matches = sorted(EXERCISES.glob(f"{int(number):02d}_*.ipynb"))
    if not matches:
        have = ", ".join(p.name[:2] for p in sorted(EXERCISES.glob("*.ipynb")))
        raise SystemExit(f"no workbook numbered {number!r}; available: {have}")
    MY_WORK.mkdir(exist_ok=True)
    target = MY_WORK / matches[0].name
    if target.exists():
        print(f"{target.relative_to(ROOT)} already exists; keeping your work (nothing copied).")
    else:
        shutil.copyfile(matches[0], target)
        print(
            f"Copied {matches[0].relative_to(ROOT)} to {target.relative_to(ROOT)}: open it in JupyterLab."
        )
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.workbook",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["generate", "check", "start"])
    parser.add_argument("number", nargs="?", help="workbook number, for start")
    args = parser.parse_args(argv)
    if args.command == "generate":
        for path in generate():
            print(f"wrote {path.relative_to(ROOT)}")
    elif args.command == "check":
        problems = stale()
        if problems:
            print("exercises/ is stale for: " + ", ".join(problems) + ". Run `make exercises`.")
            return 1
        print("exercises/ is up to date.")
    else:
        if not args.number:
            parser.error(
                "start needs a workbook number, e.g. `python -m course_lib.workbook start 01`"
            )
        start(args.number)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
