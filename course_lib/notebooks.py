"""Maintainer tools for the course notebooks: normalize, execute, and lint them.

``python -m course_lib.notebooks normalize PATH...``  put the Colab badge and setup cell in place,
                                                      drop widget state and run metadata
``python -m course_lib.notebooks run PATH...``        execute in full mode (outputs for the repo)
``python -m course_lib.notebooks lint PATH...``       fail on errors, machine paths, widget state
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import nbformat

from .colab import SETUP_CELL, badge_markdown
from .kernel import kernelspec

ROOT = Path(__file__).resolve().parent.parent
BADGE_RE = re.compile(r"^\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)\s*$", re.M)
_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
MACHINE_PATH_RE = re.compile(r"(/root/|/work/|/tmp/[A-Za-z0-9_]|/home/[a-z]+/|[A-Z]:\\\\Users)")


def repo_path(path: Path) -> str:
    """``path`` relative to the repository root, with forward slashes."""
    return Path(os.path.relpath(Path(path).resolve(), ROOT)).as_posix()


def _scrub(text: str) -> str:
    """Replace machine-specific prefixes (repo root, virtual env, home) in an output."""
    for prefix, token in ((str(ROOT), "<course>"), (sys.prefix, "<env>"), (str(Path.home()), "~")):
        text = text.replace(prefix, token)
    return text


def _is_widget_view(out: dict) -> bool:
    data = out.get("data", {})
    text = data.get("text/plain", "")
    return _WIDGET_VIEW in data or (
        set(data) == {"text/plain"} and text.startswith(("VBox(", "HBox(", "interactive("))
    )


def normalize(nb: nbformat.NotebookNode, path: str) -> nbformat.NotebookNode:
    """Badge first, setup cell second, the course kernel, no widget state or timing, scrubbed outputs."""
    badge = badge_markdown(path)
    cells = nb.cells
    if cells and cells[0].cell_type == "markdown" and BADGE_RE.search(cells[0].source):
        cells[0].source = BADGE_RE.sub(badge, cells[0].source, count=1)
    else:
        cells.insert(0, nbformat.v4.new_markdown_cell(badge, id="colab-badge"))
    first_code = next((i for i, c in enumerate(cells) if c.cell_type == "code"), None)
    if first_code is not None and cells[first_code].source.startswith("# Setup"):
        if cells[first_code].source != SETUP_CELL:
            cells[first_code].source = SETUP_CELL
            cells[first_code].outputs = []
    else:
        cells.insert(1, nbformat.v4.new_code_cell(SETUP_CELL, id="setup"))
    nb.metadata.pop("widgets", None)
    nb.metadata["kernelspec"] = kernelspec()  # the clone's own kernel (see course_lib.kernel)
    nb.metadata["language_info"] = {"name": "python"}
    for cell in cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("widgets", None)
        if cell.cell_type == "code":  # a widget view without its state is only a text repr
            cell.outputs = [o for o in cell.outputs if not _is_widget_view(o)]
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = _scrub(out["text"])
            for key, value in out.get("data", {}).items():
                if key.startswith("text/") and isinstance(value, str):
                    out["data"][key] = _scrub(value)
    nb.nbformat, nb.nbformat_minor = 4, max(nb.get("nbformat_minor", 5), 5)
    seen: set[str] = set()
    for i, cell in enumerate(cells):  # stable ids, so regenerated files do not churn
        if not cell.get("id") or cell.id in seen:
            cell.id = f"cell-{i}"
        seen.add(cell.id)
    return nb


def lint(path: Path) -> list[str]:
    """Problems that must not be committed: error outputs, machine paths, widget state."""
    nb = nbformat.read(path, as_version=4)
    problems = []
    if "widgets" in nb.metadata:
        problems.append("widget state in notebook metadata")
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                problems.append(f"cell {i}: stored error output {out.get('ename')}")
    m = MACHINE_PATH_RE.search(nbformat.writes(nb))
    if m:
        problems.append(f"machine-specific path {m.group(0)!r}")
    return [f"{repo_path(path)}: {p}" for p in problems]


def execute(path: Path, fast: bool = False, timeout: int = 3600) -> float:
    """Run every cell of ``path`` in its own folder (full mode unless ``fast``) and save it back."""
    from nbclient import NotebookClient

    os.environ["COURSE_FAST"] = "1" if fast else "0"
    nb = normalize(nbformat.read(path, as_version=4), repo_path(path))
    start = time.perf_counter()
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        store_widget_state=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    # No widget frontend: let output meant for Output widgets land in the cell, so the committed
    # notebook shows each explorer's default figure as an ordinary image.
    client.comm_open_handlers = {}
    client.execute()
    nb = normalize(nb, repo_path(path))
    nbformat.write(nb, path)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.notebooks", description=__doc__)
    parser.add_argument("command", choices=["normalize", "run", "lint"])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument(
        "--fast", action="store_true", help="run with COURSE_FAST=1 (not for commits)"
    )
    args = parser.parse_args(argv)
    failed = []
    for path in args.paths:
        if args.command == "normalize":
            nb = normalize(nbformat.read(path, as_version=4), repo_path(path))
            nbformat.write(nb, path)
        elif args.command == "run":
            try:
                seconds = execute(path, fast=args.fast)
                print(f"ran {repo_path(path)} in {seconds:.0f} s")
            except Exception as e:  # report and go on with the other notebooks
                print(f"FAILED {repo_path(path)}: {type(e).__name__}: {str(e)[-2000:]}")
                failed.append(path)
        problems = lint(path)
        print("\n".join(problems)) if problems else None
        failed += [path] if problems else []
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
