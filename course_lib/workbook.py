"""Single-source workbooks: ``solutions/`` is the source, ``exercises/`` is generated from it.

In a solution notebook, code between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` becomes a
``# YOUR CODE HERE`` line and ``raise NotImplementedError`` (or, for ``# BEGIN SOLUTION: x = None``,
the stub ``x = None``); markdown between ``<!-- BEGIN SOLUTION -->`` and ``<!-- END SOLUTION -->``
becomes a prompt for the learner's own answer.

``python -m course_lib.workbook generate``  rewrite exercises/ from solutions/
``python -m course_lib.workbook check``     exit 1 if exercises/ is stale
``python -m course_lib.workbook start 01``  copy workbook 01 into my_work/ (never overwrites; says
                                           when the course has a newer version)
``python -m course_lib.workbook start 01 --fresh``  take the newer version; your copy is moved
                                           aside with a timestamp (never deleted)
``python -m course_lib.workbook status``    what the checkers recorded for your copies in my_work/
``python -m course_lib.workbook update``    set run lectures back, git pull, list newer workbooks
``python -m course_lib.workbook grade DIR`` run every submitted workbook headless into a CSV
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import time
from pathlib import Path

import nbformat

from .notebooks import BADGE_RE, ROOT, normalize

SOLUTIONS, EXERCISES, MY_WORK = ROOT / "solutions", ROOT / "exercises", ROOT / "my_work"
_CODE_BLOCK = re.compile(
    r"^(?P<indent>[ \t]*)# BEGIN SOLUTION(?::[ \t]*(?P<stub>.*?))?[ \t]*\n.*?^[ \t]*# END SOLUTION[ \t]*$",
    re.M | re.S,
)
_MD_BLOCK = re.compile(r"<!-- BEGIN SOLUTION -->.*?<!-- END SOLUTION -->", re.S)
_MARKER_LINE = re.compile(
    r"^[ \t]*(# BEGIN SOLUTION.*|# END SOLUTION|<!-- (BEGIN|END) SOLUTION -->)[ \t]*\n?", re.M
)
MD_PROMPT = "*Your answer here: double-click this cell and write it.*"
STAMP = "course_workbook"  # notebook metadata key: {"workbook": name, "version": hash}
WORKBOOK_NAME = re.compile(r"^\d\d_[A-Za-z0-9_]+\.ipynb$")  # not the moved-aside copies
_CHECKER_CALL = re.compile(r"\bchecks\.(ex\d\d_\w+)\s*\(")
_HEADING = re.compile(r"^#+\s*(Exercise\b.*)$", re.M)


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


def solved_copy(solution: Path) -> nbformat.NotebookNode:
    """A workbook as a learner who solved everything hands it in: the solution without its
    ``BEGIN``/``END SOLUTION`` lines and without outputs (for grading tests and benchmarks)."""
    nb = nbformat.read(solution, as_version=4)
    for cell in nb.cells:
        cell.source = _MARKER_LINE.sub("", cell.source)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


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


def version_of(nb: nbformat.NotebookNode) -> str:
    """A short hash of a workbook's content (cell types and sources; not the badge or setup cell)."""
    content = [
        (c.cell_type, c.source)
        for c in nb.cells
        if not (c.cell_type == "code" and c.source.startswith("# Setup"))
        and not (c.cell_type == "markdown" and BADGE_RE.search(c.source))
    ]
    return hashlib.sha256(json.dumps(content).encode("utf-8")).hexdigest()[:12]


def checker_names(nb: nbformat.NotebookNode) -> list[str]:
    """The checkers a workbook calls (``checks.ex01_mse(...)``), in order, each once."""
    names = [m for c in nb.cells if c.cell_type == "code" for m in _CHECKER_CALL.findall(c.source)]
    return list(dict.fromkeys(names))


def explain_cells(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """``(title, cell id)`` of each markdown answer cell (it holds ``MD_PROMPT`` in the workbook).

    The title is the nearest ``## Exercise ...`` heading above it (``"Exercise 5 · Explain"``).
    """
    found, title = [], "Explain"
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        if MD_PROMPT in cell.source:
            found.append((title, cell.get("id", "")))
        headings = _HEADING.findall(cell.source)
        title = headings[-1].strip() if headings else title
    return found


def _number(number: str) -> int:
    try:
        return int(number)
    except ValueError:
        raise SystemExit(
            f"{number!r} is not a workbook number: give its two digits, e.g. "
            "`python -m course_lib.workbook start 01`."
        ) from None


def _course_workbook(number: str) -> Path:
    matches = sorted(EXERCISES.glob(f"{_number(number):02d}_*.ipynb"))
    if not matches:
        have = ", ".join(p.name[:2] for p in sorted(EXERCISES.glob("*.ipynb")))
        raise SystemExit(f"no workbook numbered {number!r}; available: {have}")
    return matches[0]


def newer_version(copy: Path) -> str | None:
    """A sentence when the course's version of ``copy`` differs from the one it was started from."""
    course = EXERCISES / copy.name
    if not course.exists():
        return None
    try:
        stamp = nbformat.read(copy, as_version=4).metadata.get(STAMP, {}).get("version")
    except Exception:  # an unreadable copy is the learner's business, not an update's
        return None
    current = version_of(nbformat.read(course, as_version=4))
    if stamp == current:
        return None
    number = copy.name[:2]
    how = f"`python -m course_lib.workbook start {number} --fresh` takes it (your copy is kept)"
    if stamp is None:
        return f"{copy.name} was started before version stamps; if it looks out of date, {how}."
    return f"the course has a newer version of {copy.name}: {how}."


def start(number: str, fresh: bool = False) -> Path:
    """Copy workbook ``number`` into ``my_work/`` (ignored by git) unless a copy is already there.

    The copy's metadata records the version it was made from, so ``start`` and ``update`` can say
    when the course has a newer one. ``fresh=True`` takes the course's version even when a copy
    exists: the old copy is renamed ``NN_name.before-YYYYMMDD-HHMMSS.ipynb``, never deleted.
    """
    source = _course_workbook(number)
    MY_WORK.mkdir(exist_ok=True)
    target = MY_WORK / source.name
    if target.exists() and not fresh:
        print(f"{target.relative_to(ROOT)} already exists; keeping your work (nothing copied).")
        note = newer_version(target)
        print(note[0].upper() + note[1:]) if note else None
        return target
    if target.exists():
        kept = target.with_name(f"{target.stem}.before-{time.strftime('%Y%m%d-%H%M%S')}.ipynb")
        target.rename(kept)
        print(f"Moved your copy aside to {kept.relative_to(ROOT)}.")
    nb = nbformat.read(source, as_version=4)
    nb.metadata[STAMP] = {"workbook": source.stem, "version": version_of(nb)}
    nbformat.write(nb, target)
    print(
        f"Copied {source.relative_to(ROOT)} to {target.relative_to(ROOT)}: open it in JupyterLab."
    )
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.workbook",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("generate", help="rewrite exercises/ from solutions/")
    sub.add_parser("check", help="exit 1 if exercises/ is stale")
    p_start = sub.add_parser("start", help="copy a workbook into my_work/")
    p_start.add_argument("number", nargs="?", help="workbook number, e.g. 01")
    p_start.add_argument("--fresh", action="store_true", help="take the course's newer version")
    sub.add_parser("status", help="solved / attempted / not started, per workbook in my_work/")
    p_update = sub.add_parser(
        "update", help="set run lectures back, git pull, list newer workbooks"
    )
    p_update.add_argument("--no-pull", action="store_true", help="only set lectures back")
    p_grade = sub.add_parser("grade", help="execute submitted workbooks into a CSV")
    p_grade.add_argument("submissions", type=Path, help="folder of submitted .ipynb files")
    p_grade.add_argument("--out", type=Path, default=Path("grades.csv"), help="CSV to write")
    p_grade.add_argument("--workbook", help="the assigned workbook number, e.g. 01")
    p_grade.add_argument("--timeout", type=int, default=120, help="seconds per cell")
    p_grade.add_argument("--jobs", type=int, default=4, help="notebooks graded at once (default 4)")
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
    elif args.command == "start":
        if not args.number:
            parser.error(
                "start needs a workbook number, e.g. `python -m course_lib.workbook start 01`"
            )
        start(args.number, fresh=args.fresh)
    elif args.command == "status":
        from .progress import status_table

        print(status_table())
    elif args.command == "update":
        from .update import update

        return update(pull=not args.no_pull)
    else:
        from .grade import grade_folder

        number = None if args.workbook is None else _number(args.workbook)
        return grade_folder(
            args.submissions, args.out, number, cell_timeout=args.timeout, jobs=args.jobs
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
