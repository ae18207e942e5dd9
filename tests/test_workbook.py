"""Single-source workbooks: stubs, sync with solutions/, and the learner's `start` command."""

from __future__ import annotations

import subprocess
from pathlib import Path

import nbformat
import pytest

from course_lib import update, workbook
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
    with pytest.raises(SystemExit, match="'abc' is not a workbook number: give its two digits"):
        workbook.start("abc")


def _edit_course(root: Path, source: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source)]
    nbformat.write(nb, root / "solutions/07_demo.ipynb")
    workbook.generate()


def test_start_stamps_the_version_and_says_when_a_newer_one_exists(
    tmp_path, monkeypatch, capsys
) -> None:
    root = _fake_course(tmp_path, monkeypatch)
    workbook.generate()
    target = workbook.start("07")
    stamp = nbformat.read(target, as_version=4).metadata[workbook.STAMP]
    course = nbformat.read(root / "exercises/07_demo.ipynb", as_version=4)
    assert stamp == {"workbook": "07_demo", "version": workbook.version_of(course)}
    assert workbook.newer_version(target) is None
    normalized_only = nbformat.read(target, as_version=4)
    normalized_only.metadata["kernelspec"] = {"name": "other"}  # metadata is not content
    assert workbook.version_of(normalized_only) == stamp["version"]
    _edit_course(root, "# BEGIN SOLUTION\nx = 2\n# END SOLUTION\nprint(x)")
    capsys.readouterr()
    workbook.start("07")
    out = capsys.readouterr().out
    assert "keeping your work" in out
    assert "The course has a newer version of 07_demo.ipynb" in out and "--fresh" in out


def test_fresh_moves_the_old_copy_aside_never_deletes_it(tmp_path, monkeypatch, capsys) -> None:
    root = _fake_course(tmp_path, monkeypatch)
    workbook.generate()
    target = workbook.start("07")
    nb = nbformat.read(target, as_version=4)
    nb.cells[0].source = "x = 'my answer'"
    nbformat.write(nb, target)
    _edit_course(root, "# BEGIN SOLUTION\nx = 2\n# END SOLUTION\ny = 3")
    workbook.start("07", fresh=True)
    kept = sorted((root / "my_work").glob("07_demo.before-*.ipynb"))
    assert len(kept) == 1 and "my answer" in kept[0].read_text(encoding="utf-8")
    assert "y = 3" in target.read_text(encoding="utf-8")
    assert workbook.newer_version(target) is None
    assert f"Moved your copy aside to my_work/{kept[0].name}" in capsys.readouterr().out


def test_unstamped_copy_gets_a_cautious_note(tmp_path, monkeypatch) -> None:
    root = _fake_course(tmp_path, monkeypatch)
    workbook.generate()
    (root / "my_work").mkdir()
    (root / "my_work/07_demo.ipynb").write_bytes((root / "exercises/07_demo.ipynb").read_bytes())
    assert "started before version stamps" in workbook.newer_version(root / "my_work/07_demo.ipynb")


def _git(cwd: Path, *args: str) -> str:
    ident = ["-c", "user.name=Course", "-c", "user.email=course@example.invalid"]
    result = subprocess.run(["git", *ident, *args], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _run_lecture(path: Path, output: str, source: str | None = None) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text=output)]
    nb.cells[0].execution_count = 1
    nb.cells[0].source = source or nb.cells[0].source
    nbformat.write(nb, path)


def test_update_sets_lectures_back_pulls_and_names_newer_workbooks(
    tmp_path, monkeypatch, capsys
) -> None:
    upstream = _fake_course(tmp_path, monkeypatch)  # the course as published
    workbook.generate()
    (upstream / "notebooks").mkdir()
    for name in ("01_a", "02_b"):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
        nbformat.write(nb, upstream / f"notebooks/{name}.ipynb")
    (upstream / ".gitignore").write_text("my_work/\n", encoding="utf-8")
    _git(upstream, "init", "-q", "-b", "main")
    _git(upstream, "add", ".")
    _git(upstream, "commit", "-qm", "course v1")
    clone = tmp_path / "learner"
    _git(tmp_path, "clone", "-q", str(upstream), str(clone))
    for name in ("ROOT", "SOLUTIONS", "EXERCISES", "MY_WORK"):  # the learner's clone from here on
        old = getattr(workbook, name)
        monkeypatch.setattr(workbook, name, clone / old.relative_to(upstream))
    workbook.start("07")
    _run_lecture(clone / "notebooks/01_a.ipynb", "1\n")  # run and saved: outputs only
    _run_lecture(clone / "notebooks/02_b.ipynb", "2\n", source="print(2)  # my note")
    (clone / "solutions/07_demo.ipynb").unlink()  # deleted by mistake
    # The course changes both lectures and the workbook upstream.
    for name in ("01_a", "02_b"):
        _run_lecture(upstream / f"notebooks/{name}.ipynb", "v2\n", source="print('v2')")
    monkeypatch.setattr(workbook, "SOLUTIONS", upstream / "solutions")
    monkeypatch.setattr(workbook, "EXERCISES", upstream / "exercises")
    _edit_course(upstream, "# BEGIN SOLUTION\nx = 1\n# END SOLUTION\nprint(x)")
    monkeypatch.setattr(workbook, "SOLUTIONS", clone / "solutions")
    monkeypatch.setattr(workbook, "EXERCISES", clone / "exercises")
    _git(upstream, "commit", "-qam", "course v2")
    capsys.readouterr()

    assert update.update() == 0
    out = capsys.readouterr().out
    assert _git(clone, "status", "--porcelain") == ""  # clean
    assert _git(clone, "rev-parse", "HEAD") == _git(upstream, "rev-parse", "HEAD")  # updated
    assert "notebooks/01_a.ipynb: set back (only outputs had changed)." in out
    assert "notebooks/02_b.ipynb: you edited its cells" in out
    assert "solutions/07_demo.ipynb: restored (it had been deleted)." in out
    kept = list((clone / "my_work").glob("02_b.notebooks-*.ipynb"))
    assert len(kept) == 1 and "my note" in kept[0].read_text(encoding="utf-8")
    assert "The course has a newer version of 07_demo.ipynb" in out
    assert (clone / "my_work/07_demo.ipynb").exists()  # the learner's copy is never touched


def test_update_outside_git_says_so(tmp_path, capsys) -> None:
    assert update.update(pull=False, root=tmp_path) == 1
    assert "is not a git checkout" in capsys.readouterr().out


def test_my_work_is_ignored_by_git() -> None:
    ignored = (workbook.ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert "my_work/" in ignored
