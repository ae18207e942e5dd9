"""How long ``workbook grade`` takes for a class: N solved copies of one workbook, graded.

    COURSE_FAST=1 python bench/grade_workbooks.py --submissions 20 --jobs 2 --workbook 00

Prints one JSON line: the submissions, jobs, wall-clock seconds and seconds per submission. The
copies are the solution without its markers (``workbook.solved_copy``), so every checker runs.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import tempfile
import time
from pathlib import Path

import nbformat

from course_lib import grade, workbook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--workbook", default="00")
    parser.add_argument("--timeout", type=int, default=120, help="seconds per cell")
    args = parser.parse_args(argv)
    solution = next(workbook.SOLUTIONS.glob(f"{int(args.workbook):02d}_*.ipynb"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "submissions"
        for i in range(args.submissions):
            (folder / f"learner{i:03d}").mkdir(parents=True)
            nbformat.write(
                workbook.solved_copy(solution), folder / f"learner{i:03d}" / solution.name
            )
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            grade.grade_folder(
                folder, Path(tmp) / "grades.csv", cell_timeout=args.timeout, jobs=args.jobs
            )
        seconds = time.perf_counter() - start
        with open(Path(tmp) / "grades.csv", encoding="utf-8", newline="") as f:
            rows = len(list(csv.DictReader(f)))
    figures = {
        "workbook": solution.stem,
        "submissions": args.submissions,
        "jobs": args.jobs,
        "rows": rows,
        "seconds": round(seconds, 1),
        "seconds_per_submission": round(seconds / args.submissions, 2),
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
