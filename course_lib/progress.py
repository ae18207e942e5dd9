"""What the checkers recorded, for ``python -m course_lib.workbook status``.

Every checker line (``checks._core.report``) calls ``record``. It appends one JSON line to
``my_work/.progress.jsonl`` only when the checker runs in a workbook copy under ``my_work/``: the
kernel's notebook path (``JPY_SESSION_NAME``, which Jupyter Server sets for each kernel) is in that
folder, or, where no path is given, the kernel's working folder is ``my_work/`` (Jupyter starts a
kernel in its notebook's folder). Lectures, solutions, tests and Colab record nothing.
``COURSE_PROGRESS_FILE`` names another file instead (the grader uses it). Recording never fails a
checker: any error (a read-only folder, a full disk) only turns it off.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import nbformat

from . import workbook

LOG_NAME = ".progress.jsonl"
ENV_FILE = "COURSE_PROGRESS_FILE"
SOLVED, ATTEMPTED, NOT_STARTED = "solved", "attempted", "not started"
#: the mark that starts a checker's "not done yet" line (``checks._core`` prints it)
TODO = "\u270f\ufe0f"


def log_path() -> Path | None:
    """Where this process records checker results, or None when it records nothing."""
    if os.environ.get(ENV_FILE):
        return Path(os.environ[ENV_FILE])
    my_work = workbook.MY_WORK.resolve()
    session = os.environ.get("JPY_SESSION_NAME")
    folder = Path(session).resolve().parent if session else Path.cwd().resolve()
    return my_work / LOG_NAME if folder == my_work else None


def outcome(passed: bool, message: str) -> str:
    """``solved``, ``attempted`` (a wrong answer) or ``not started`` (the stub still raises)."""
    return SOLVED if passed else NOT_STARTED if message.startswith(TODO) else ATTEMPTED


def record(name: str, passed: bool, message: str) -> None:
    """Append one checker result to the log (see the module doc); never raises."""
    try:
        path = log_path()
        if path is None:
            return
        session = os.environ.get("JPY_SESSION_NAME")
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "checker": name,
            "outcome": outcome(passed, message),
            "message": message,
            "notebook": Path(session).name if session else None,
        }
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    except Exception:  # recording is a convenience; the checker's line is what matters
        pass


def read_log(path: Path) -> dict[str, dict]:
    """The last recorded result of each checker in the log at ``path`` (empty if none)."""
    last: dict[str, dict] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return last
    for text in lines:
        try:
            entry = json.loads(text)
            last[entry["checker"]] = entry
        except (ValueError, KeyError, TypeError):  # a torn line from an interrupted write
            continue
    return last


def detail(message: str) -> str:
    """A checker's line without its mark and name: the problem and hint."""
    _, _, rest = message.partition(": ")
    return rest or message


def status_table(my_work: Path | None = None) -> str:
    """A text table of each copy in ``my_work``: every exercise's state, with totals."""
    my_work = my_work or workbook.MY_WORK
    copies = sorted(p for p in my_work.glob("*.ipynb") if workbook.WORKBOOK_NAME.match(p.name))
    if not copies:
        return "No workbooks in my_work/ yet: `python -m course_lib.workbook start 00` makes one."
    results = read_log(my_work / LOG_NAME)
    lines, totals = [], {SOLVED: 0, ATTEMPTED: 0, NOT_STARTED: 0}
    for copy in copies:
        lines.append(f"{copy.stem}  (my_work/{copy.name})")
        try:
            nb = nbformat.read(copy, as_version=4)
        except Exception as e:
            lines.append(f"  cannot read it ({type(e).__name__}); open it in JupyterLab to see why")
            continue
        counts = dict.fromkeys(totals, 0)
        names = workbook.checker_names(nb)
        width = max([len(n) for n in names] + [24])
        for name in names:
            entry = results.get(name)
            state = entry["outcome"] if entry else NOT_STARTED
            counts[state] = counts.get(state, 0) + 1
            hint = f"  {detail(entry['message'])}" if state == ATTEMPTED else ""
            lines.append(f"  {name:<{width}}  {state:<11}{hint}")
        cells = {c.get("id"): c for c in nb.cells}
        course = workbook.EXERCISES / copy.name  # where the answer cells are (by cell id)
        explain = workbook.explain_cells(nbformat.read(course if course.exists() else copy, 4))
        for title, cell_id in explain:
            cell = cells.get(cell_id)
            written = cell is not None and workbook.MD_PROMPT not in cell.source
            lines.append(f"  {title:<{width}}  {'written' if written else 'not written'}")
        note = workbook.newer_version(copy)
        lines += [f"  Note: {note}"] if note else []
        lines.append(
            f"  {len(names)} checked exercises: {counts[SOLVED]} solved, "
            f"{counts[ATTEMPTED]} attempted, {counts[NOT_STARTED]} not started"
        )
        for key in totals:
            totals[key] += counts[key]
    total = sum(totals.values())
    lines.append(
        f"All workbooks: {totals[SOLVED]}/{total} solved, {totals[ATTEMPTED]} attempted, "
        f"{totals[NOT_STARTED]} not started"
    )
    return "\n".join(lines)
