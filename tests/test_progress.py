"""Recording checker results for ``workbook status``: only from my_work/, never failing a checker."""

from __future__ import annotations

import builtins
import json
from pathlib import Path

import nbformat
import pytest

from course_lib import progress, workbook
from course_lib.checks._core import Check, checker


@checker
def ex07_demo(c: Check, answer):
    c.equal(c.call(answer, case="one") if callable(answer) else answer, 1, case="one", hint="one")


@pytest.fixture
def my_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "my_work"
    folder.mkdir()
    monkeypatch.setattr(workbook, "MY_WORK", folder)
    monkeypatch.setattr(workbook, "EXERCISES", tmp_path / "exercises")
    monkeypatch.delenv(progress.ENV_FILE, raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    return folder


def _log(folder: Path) -> list[dict]:
    path = folder / progress.LOG_NAME
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _not_done():
    raise NotImplementedError


def test_records_each_outcome_for_a_notebook_in_my_work(my_work: Path, monkeypatch) -> None:
    monkeypatch.setenv("JPY_SESSION_NAME", str(my_work / "07_demo.ipynb"))
    ex07_demo(1)
    ex07_demo(2)
    ex07_demo(_not_done)
    got = [(e["checker"], e["outcome"], e["notebook"]) for e in _log(my_work)]
    assert got == [
        ("ex07_demo", "solved", "07_demo.ipynb"),
        ("ex07_demo", "attempted", "07_demo.ipynb"),
        ("ex07_demo", "not started", "07_demo.ipynb"),
    ]
    assert "Hint: one" in _log(my_work)[1]["message"]


def test_lectures_solutions_and_tests_record_nothing(my_work: Path, monkeypatch) -> None:
    monkeypatch.setenv("JPY_SESSION_NAME", str(my_work.parent / "notebooks/07_demo.ipynb"))
    ex07_demo(1)
    monkeypatch.delenv("JPY_SESSION_NAME")
    ex07_demo(1)  # no notebook path and the working folder is not my_work/
    assert _log(my_work) == []


def test_without_a_session_path_the_working_folder_decides(my_work: Path, monkeypatch) -> None:
    monkeypatch.chdir(my_work)  # Jupyter starts a kernel in its notebook's folder
    ex07_demo(1)
    assert [e["outcome"] for e in _log(my_work)] == ["solved"]


def test_recording_never_fails_a_checker(my_work: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("JPY_SESSION_NAME", str(my_work / "07_demo.ipynb"))
    (my_work / progress.LOG_NAME).mkdir()  # the log cannot be opened for writing
    assert ex07_demo(1)
    real_open = builtins.open

    def read_only(path, mode="r", *args, **kwargs):
        if "a" in mode:
            raise PermissionError(13, "Read-only file system", str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", read_only)  # a read-only folder
    assert not ex07_demo(2)
    assert capsys.readouterr().out.count("ex07_demo") == 2  # both lines still printed


def test_explicit_file_is_used_anywhere(tmp_path: Path, my_work: Path, monkeypatch) -> None:
    target = tmp_path / "grading.jsonl"
    monkeypatch.setenv(progress.ENV_FILE, str(target))
    ex07_demo(2)
    assert progress.read_log(target)["ex07_demo"]["outcome"] == "attempted"


def _workbook(path: Path, checkers: list[str], answer: str | None = None) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"checks.{name}(f)") for name in checkers]
    nb.cells.append(nbformat.v4.new_markdown_cell("## Exercise 4 · Explain\n\nWhy?"))
    answer_cell = nbformat.v4.new_markdown_cell(answer or workbook.MD_PROMPT)
    answer_cell.id = "answer"
    nb.cells.append(answer_cell)
    nbformat.write(nb, path)


def test_status_table(my_work: Path) -> None:
    assert "No workbooks in my_work/ yet" in progress.status_table()
    workbook.EXERCISES.mkdir()
    names = ["ex07_a", "ex07_b", "ex07_c"]
    _workbook(workbook.EXERCISES / "07_demo.ipynb", names)
    _workbook(my_work / "07_demo.ipynb", names, answer="Because the sum is per row.")
    _workbook(my_work / "07_demo.before-20260101-120000.ipynb", ["ex07_zzz"])  # moved aside
    log = [
        {"checker": "ex07_a", "outcome": "attempted", "message": "\u274c ex07_a: failed. Hint: x"},
        {"checker": "ex07_a", "outcome": "solved", "message": "\u2705 ex07_a passed (1 case)."},
        {"checker": "ex07_b", "outcome": "attempted", "message": "\u274c ex07_b: got 3. Hint: y"},
    ]
    lines = [json.dumps(e) for e in log] + ['{"torn']  # an interrupted write is skipped
    (my_work / progress.LOG_NAME).write_text("\n".join(lines), encoding="utf-8")
    table = progress.status_table()
    rows = {line.split()[0]: line for line in table.splitlines() if line.startswith("  ex07")}
    assert rows["ex07_a"].split()[1] == "solved"  # the last record wins
    assert "attempted" in rows["ex07_b"] and rows["ex07_b"].endswith("got 3. Hint: y")
    assert "not started" in rows["ex07_c"]
    assert "ex07_zzz" not in table
    explain = next(line for line in table.splitlines() if "Exercise 4 · Explain" in line)
    assert explain.split()[-1] == "written" and "not written" not in explain
    assert "3 checked exercises: 1 solved, 1 attempted, 1 not started" in table
    assert "Note: 07_demo.ipynb was started before version stamps" in table  # no stamp in it
    assert table.splitlines()[-1] == "All workbooks: 1/3 solved, 1 attempted, 1 not started"
