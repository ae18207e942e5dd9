"""Single-source workbooks: stubs, sync with solutions/, and the learner's `start` command."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from course_lib import workbook
from course_lib.workbook import MD_PROMPT, strip_code, strip_markdown


def test_code_block_becomes_indented_stub() -> None:
    src = "def f(x):\n    # BEGIN SOLUTION\n    y = x * 2\n    return y\n    # END SOLUTION\n"
    assert strip_code(src) == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError\n"


def test_value_block_keeps_its_stub_and_code_around_it() -> None:
    src = "a = 1\n# BEGIN SOLUTION: answer = None\nanswer = (3, 4)\n# END SOLUTION\nprint(a)"
    assert strip_code(src) == "a = 1\nanswer = None  # YOUR CODE HERE\nprint(a)"


def test_several_blocks_and_markdown() -> None:
    src = "# BEGIN SOLUTION\na = 1\n# END SOLUTION\nb = 2\n# BEGIN SOLUTION\nc = 3\n# END SOLUTION"
    out = strip_code(src)
    assert out.count("raise NotImplementedError") == 2 and "b = 2" in out and "a = 1" not in out
    md = "Why?\n\n<!-- BEGIN SOLUTION -->\nBecause.\n<!-- END SOLUTION -->"
    assert strip_markdown(md) == f"Why?\n\n{MD_PROMPT}"


def test_exercises_are_up_to_date() -> None:
    stale = workbook.stale()
    assert not stale, f"exercises/ is stale for {stale}: run `make exercises`"


def test_every_lecture_has_a_workbook_and_no_solution_leaks() -> None:
    lectures = {p.name for p in workbook.ROOT.glob("notebooks/[0-9][0-9]_*.ipynb")}
    solutions = {p.name for p in workbook.SOLUTIONS.glob("[0-9][0-9]_*.ipynb")}
    assert lectures == solutions
    for path in workbook.EXERCISES.glob("*.ipynb"):
        text = path.read_text(encoding="utf-8")
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text, path.name
        nb = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), path.name


def _fake_course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "course"
    for folder in ("solutions", "exercises"):
        (root / folder).mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("# BEGIN SOLUTION\nx = 1\n# END SOLUTION")]
    nbformat.write(nb, root / "solutions/07_demo.ipynb")
    monkeypatch.setattr(workbook, "ROOT", root)
    monkeypatch.setattr(workbook, "SOLUTIONS", root / "solutions")
    monkeypatch.setattr(workbook, "EXERCISES", root / "exercises")
    monkeypatch.setattr(workbook, "MY_WORK", root / "my_work")
    return root


def test_generate_then_stale_detection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _fake_course(tmp_path, monkeypatch)
    assert workbook.stale() == ["07_demo.ipynb"]
    workbook.generate()
    assert workbook.stale() == []
    (root / "exercises/07_demo.ipynb").write_text("{}", encoding="utf-8")
    assert workbook.stale() == ["07_demo.ipynb"]
    (root / "exercises/99_orphan.ipynb").write_text("{}", encoding="utf-8")
    workbook.generate()
    assert not (root / "exercises/99_orphan.ipynb").exists()


def test_start_copies_once_and_never_overwrites(tmp_path, monkeypatch, capsys) -> None:
    root = _fake_course(tmp_path, monkeypatch)
    workbook.generate()
    target = workbook.start("7")
    assert target == root / "my_work/07_demo.ipynb" and target.exists()
    target.write_text("my answers", encoding="utf-8")
    workbook.start("07")
    assert target.read_text(encoding="utf-8") == "my answers"
    assert "keeping your work" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="available: 07"):
        workbook.start("42")


def test_my_work_is_ignored_by_git() -> None:
    ignored = (workbook.ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert "my_work/" in ignored
