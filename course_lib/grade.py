"""``python -m course_lib.workbook grade SUBMISSIONS``: a gradebook from submitted workbooks.

Each ``.ipynb`` under ``SUBMISSIONS`` is one submission; its learner is the first folder under
``SUBMISSIONS`` (``alice/01_loss_functions.ipynb``) or, for a file directly in it, the file's stem
(``alice.ipynb``). Each one is copied into a temporary folder and executed there headless, in its
own kernel of this Python (``nbclient``), with a per-cell time limit and errors allowed, so one
broken cell does not hide the exercises after it; the submission itself is never written. The
checkers record their results through ``COURSE_PROGRESS_FILE`` (see ``course_lib.progress``).

The CSV has one row per learner and exercise: ``outcome`` is ``solved``, ``attempted`` (with the
checker's hint in ``detail``), ``not started``, ``error`` (the checker cell itself raised),
``checker cell deleted``, ``not run`` (the kernel died or time ran out first), or, for explain
cells, ``to read`` (``detail`` holds the learner's text) or ``not written``. A notebook-wide
problem gets a row with exercise ``(notebook)``: ``unreadable``, ``wrong workbook``,
``unknown workbook``, ``timed out`` or ``kernel died``. No submission ever stops the run.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple, dataclass, fields
from pathlib import Path

import nbformat

from . import progress, workbook

NOTEBOOK = "(notebook)"
_STOP_AFTER_TIMEOUTS = 2  # a loop the interrupt cannot stop would cost every later cell its limit


@dataclass
class Row:
    """One line of the gradebook."""

    learner: str
    submission: str
    workbook: str
    exercise: str
    outcome: str
    detail: str = ""


def learner_of(path: Path, folder: Path) -> str:
    """``alice`` for ``folder/alice/NN_x.ipynb`` and for ``folder/alice.ipynb``."""
    parts = path.relative_to(folder).parts
    return parts[0] if len(parts) > 1 else path.stem


def chapter_of(nb: nbformat.NotebookNode, path: Path) -> str | None:
    """The workbook number (``"01"``) from the copy's stamp, its file name, or its checker calls."""
    stamped = nb.metadata.get(workbook.STAMP, {}).get("workbook", "")
    for name in (stamped, path.name):
        if re.match(r"^\d\d_", name or ""):
            return name[:2]
    numbers = Counter(name[2:4] for name in workbook.checker_names(nb))
    return numbers.most_common(1)[0][0] if numbers else None


def _kernel_manager():
    """A kernel manager whose kernel is this Python, whatever kernel specs are installed."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    class ThisPython(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
            return KernelSpec(argv=argv, display_name="grader", language="python")

    return AsyncKernelManager(kernel_spec_manager=ThisPython(), kernel_name="python3")


@dataclass
class _Run:
    results: dict[str, dict]  # the last recorded result of each checker
    problem: str = ""  # a notebook-wide outcome ("timed out", "kernel died"), or ""
    detail: str = ""
    timeouts: tuple[int, ...] = ()  # indexes of the cells that ran over the limit
    stopped_at: int | None = None  # index of the cell where execution was given up


def _numbers(indexes: list[int]) -> str:
    """Cell indexes as a reader counts cells: from 1."""
    return ", ".join(str(i + 1) for i in indexes)


def _run(nb: nbformat.NotebookNode, folder: Path, cell_timeout: int) -> _Run:
    """Execute ``nb`` in ``folder`` (cells run on after an error or an interrupted timeout)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    log = folder / progress.LOG_NAME
    timeouts: list[int] = []

    def on_error(cell, cell_index, execute_reply) -> None:
        if execute_reply["content"].get("ename") == "CellTimeout":
            timeouts.append(cell_index)
            if len(timeouts) >= _STOP_AFTER_TIMEOUTS:
                raise TimeoutError

    client = NotebookClient(
        nb,
        km=_kernel_manager(),
        timeout=cell_timeout,
        allow_errors=True,
        interrupt_on_timeout=True,
        error_on_timeout={"ename": "CellTimeout", "evalue": f"ran over {cell_timeout} s"},
        store_widget_state=False,
        shutdown_kernel="immediate",  # nothing to save in a throwaway kernel
        resources={"metadata": {"path": str(folder)}},
        on_cell_error=on_error,
    )
    client.comm_open_handlers = {}  # no widget frontend
    env = {k: v for k, v in os.environ.items() if k != "JPY_SESSION_NAME"}
    env[progress.ENV_FILE] = str(log)
    run = _Run({})
    try:
        client.execute(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if timeouts:
            run.problem = "timed out"
            run.detail = f"cell {_numbers(timeouts)} ran over {cell_timeout} s and was interrupted"
    except TimeoutError:
        run.problem, run.stopped_at = "timed out", timeouts[-1]
        run.detail = (
            f"cell {_numbers(timeouts[:1])} ran over {cell_timeout} s and an interrupt did not "
            "stop it; the later cells did not run"
        )
    except DeadKernelError:
        run.problem, run.detail = "kernel died", "it crashed or exited; the later cells did not run"
    except Exception as e:  # the grader goes on with the next submission whatever happens
        run.problem, run.detail = "kernel died", f"it stopped: {type(e).__name__}: {e}"[:300]
    run.results, run.timeouts = progress.read_log(log), tuple(timeouts)
    return run


def _cell_error(cell: nbformat.NotebookNode) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"raised {out.get('ename')}: {out.get('evalue')}"[:200]
    return None


def grade_notebook(
    path: Path, folder: Path, number: int | None = None, cell_timeout: int = 120
) -> list[Row]:
    """Every row of one submission (see the module doc). Never raises for a bad submission."""
    learner, rel = learner_of(path, folder), path.relative_to(folder).as_posix()
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as e:
        reason = f"not a readable notebook ({type(e).__name__}: {e})"[:300]
        return [Row(learner, rel, "", NOTEBOOK, "unreadable", reason)]
    chapter = chapter_of(nb, path)
    course = sorted(workbook.EXERCISES.glob(f"{chapter}_*.ipynb")) if chapter else []
    if not course:
        return [Row(learner, rel, "", NOTEBOOK, "unknown workbook", "no course workbook matches")]
    name = course[0].stem
    if number is not None and int(chapter) != number:
        why = f"this is workbook {chapter}; the assignment is workbook {number:02d}"
        return [Row(learner, rel, name, NOTEBOOK, "wrong workbook", why)]
    want = nbformat.read(course[0], as_version=4)
    present = set(workbook.checker_names(nb))
    with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
        shutil.copyfile(path, Path(tmp) / path.name)
        executed = nbformat.read(Path(tmp) / path.name, as_version=4)
        run = _run(executed, Path(tmp), cell_timeout)
    rows = [Row(learner, rel, name, NOTEBOOK, run.problem, run.detail)] if run.problem else []
    errors = {}  # checker -> what went wrong in its cell, or in a cell since the previous checker
    earlier = None
    for index, cell in enumerate(executed.cells):
        if cell.cell_type != "code":
            continue
        if run.stopped_at is not None and index >= run.stopped_at:
            break  # queued behind a loop the interrupt could not stop: not run
        own = f"ran over {cell_timeout} s" if index in run.timeouts else _cell_error(cell)
        called = workbook.checker_names(nbformat.v4.new_notebook(cells=[cell]))
        for checker in called:
            before = f"an earlier cell {earlier}" if earlier else ""
            errors[checker] = f"the checker cell {own}" + (f" ({before})" if before else "")
            errors[checker] = errors[checker] if own else before
        earlier = None if called else own or earlier
    for checker in workbook.checker_names(want):
        entry = run.results.get(checker)
        if entry:
            attempted = entry["outcome"] == progress.ATTEMPTED
            detail = progress.detail(entry["message"]) if attempted else ""
            rows.append(Row(learner, rel, name, checker, entry["outcome"], detail))
        elif checker not in present:
            rows.append(Row(learner, rel, name, checker, "checker cell deleted"))
        elif errors.get(checker):
            rows.append(Row(learner, rel, name, checker, "error", errors[checker]))
        else:
            rows.append(Row(learner, rel, name, checker, "not run", run.problem))
    cells = {c.get("id"): c for c in nb.cells}
    for title, cell_id in workbook.explain_cells(want):
        cell = cells.get(cell_id)
        text = "" if cell is None else cell.source.replace(workbook.MD_PROMPT, "").strip()
        outcome = "to read" if text else "not written"
        rows.append(Row(learner, rel, name, title, outcome, text))
    return rows


def summarize(rows: list[Row]) -> list[dict[str, str | int]]:
    """One line per submission: counts of each outcome and the notebook-wide problem, if any."""
    lines: dict[str, dict[str, str | int]] = {}
    for row in rows:
        line = lines.setdefault(
            row.submission,
            {"learner": row.learner, "submission": row.submission, "workbook": row.workbook,
             "solved": 0, "exercises": 0, "attempted": 0, "not started": 0, "other": 0,
             "to read": 0, "problem": ""},
        )  # fmt: skip
        if row.exercise == NOTEBOOK:
            line["problem"] = f"{row.outcome}: {row.detail}".strip(": ")
        elif row.outcome in ("to read", "not written"):
            line["to read"] += row.outcome == "to read"
        else:
            line["exercises"] += 1
            key = row.outcome if row.outcome in ("solved", "attempted", "not started") else "other"
            line[key] += 1
    return list(lines.values())


def grade_folder(
    folder: Path,
    out: Path,
    number: int | None = None,
    *,
    cell_timeout: int = 120,
    jobs: int = 1,
) -> int:
    """Grade every submission under ``folder`` into ``out`` (CSV) and ``<out>_summary.csv``."""
    if not folder.is_dir():
        print(f"{folder} is not a folder; give the folder that holds the submitted .ipynb files.")
        return 1
    paths = sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if not paths:
        print(f"No .ipynb files under {folder}.")
        return 1
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        graded = pool.map(lambda p: grade_notebook(p, folder, number, cell_timeout), paths)
        rows = [row for rows in graded for row in rows]
    with open(out, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([field.name for field in fields(Row)])
        writer.writerows(astuple(row) for row in rows)
    summary = summarize(rows)
    summary_path = out.with_name(f"{out.stem}_summary.csv")
    with open(summary_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(summary[0]))
        writer.writeheader()
        writer.writerows(summary)
    for line in summary:
        problem = f"  [{line['problem']}]" if line["problem"] else ""
        print(
            f"{line['learner']:<16} {line['workbook'] or '?':<26} {line['solved']}/"
            f"{line['exercises']} solved, {line['attempted']} attempted, "
            f"{line['not started']} not started, {line['to read']} to read{problem}"
        )
    print(f"Wrote {out} ({len(rows)} rows) and {summary_path}.")
    return 0
