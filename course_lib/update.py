"""``make update``: take the course's new version without a fight over the notebooks you ran.

Running a lecture and saving it changes a tracked file, and ``git pull`` then refuses to merge.
``update`` sets every changed course notebook (``notebooks/``, ``exercises/``, ``solutions/``) back
to the committed version: silently when only outputs changed, and after keeping a copy in
``my_work/`` when you also edited its cells. Then it runs ``git pull --ff-only`` and names the
workbooks in ``my_work/`` whose course version is newer than the copy (``start NN --fresh``
takes it). It never touches ``my_work/`` otherwise, nor any other file you changed.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import nbformat

from . import workbook

COURSE_FOLDERS = ("notebooks", "exercises", "solutions")


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)


def _sources(text: str) -> list[tuple[str, str]] | None:
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception:
        return None
    return [(c.cell_type, c.source) for c in nb.cells]


def set_back(root: Path) -> list[str]:
    """Restore every changed tracked course notebook; keep edited ones in ``my_work/``.

    Returns the sentences to print. A notebook counts as edited when its cells' sources differ
    from the committed ones (outputs, execution counts and metadata do not count).
    """
    said = []
    changed = _git(root, "diff", "--name-only", "HEAD", "--", *COURSE_FOLDERS).stdout.split("\n")
    for rel in filter(None, changed):
        path = root / rel
        if not rel.endswith(".ipynb"):
            continue
        if not path.exists():
            said.append(f"{rel}: restored (it had been deleted).")
            _git(root, "checkout", "HEAD", "--", rel)
            continue
        committed = _git(root, "show", f"HEAD:{rel}").stdout
        mine = path.read_text(encoding="utf-8", errors="replace")
        if _sources(mine) is None or _sources(mine) != _sources(committed):
            workbook.MY_WORK.mkdir(exist_ok=True)
            folder = Path(rel).parts[0]
            kept = workbook.MY_WORK / f"{path.stem}.{folder}-{time.strftime('%Y%m%d-%H%M%S')}.ipynb"
            kept.write_text(mine, encoding="utf-8")
            said.append(
                f"{rel}: you edited its cells; your version is kept as {kept.name} in my_work/."
            )
        else:
            said.append(f"{rel}: set back (only outputs had changed).")
        _git(root, "checkout", "HEAD", "--", rel)
    return said


def update(pull: bool = True, root: Path | None = None) -> int:
    """Set run notebooks back, ``git pull --ff-only``, and list workbooks with a newer version."""
    root = root or workbook.ROOT
    if _git(root, "rev-parse", "--is-inside-work-tree").returncode != 0:
        print(f"{root} is not a git checkout; download the new version of the course instead.")
        return 1
    for sentence in set_back(root):
        print(sentence)
    others = _git(root, "status", "--porcelain", "--untracked-files=no").stdout.splitlines()
    if others:
        names = ", ".join(line[3:] for line in others)
        print(f"Left as you changed them (not course notebooks): {names}.")
    if pull:
        result = _git(root, "pull", "--ff-only")
        print((result.stdout + result.stderr).strip())
        if result.returncode != 0:
            print("git pull failed (its reason is above); your work in my_work/ is untouched.")
            return 1
    copies = sorted(
        p for p in workbook.MY_WORK.glob("*.ipynb") if workbook.WORKBOOK_NAME.match(p.name)
    )
    notes = [note for note in map(workbook.newer_version, copies) if note]
    for note in notes:
        print(note[0].upper() + note[1:])
    if copies and not notes:
        print("Your workbooks in my_work/ are on the course's current version.")
    return 0
