"""The clone's own kernel: written inside the environment, repaired when it points elsewhere, and
named in every notebook's metadata (by ``notebooks.normalize``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest

from course_lib import kernel
from course_lib.notebooks import normalize

ROOT = Path(__file__).resolve().parent.parent
ALL_NOTEBOOKS = sorted(
    p.relative_to(ROOT).as_posix()
    for folder in ("notebooks", "solutions", "exercises")
    for p in (ROOT / folder).glob("*.ipynb")
)


def test_ensure_writes_once_and_repairs_a_stale_spec(tmp_path: Path) -> None:
    assert kernel.ensure(tmp_path) is True
    spec_file = kernel.spec_dir(tmp_path) / "kernel.json"
    assert spec_file == tmp_path / "share/jupyter/kernels/python3/kernel.json"
    spec = json.loads(spec_file.read_text(encoding="utf-8"))
    assert spec["argv"][0] == sys.executable  # this environment's Python, not resolved
    assert spec["display_name"] == kernel.DISPLAY_NAME
    assert kernel.ensure(tmp_path) is False  # cheap and idempotent: nothing rewritten
    spec["argv"][0] = "/another/clone/.venv/bin/python"  # a moved or deleted clone
    spec_file.write_text(json.dumps(spec), encoding="utf-8")
    assert kernel.is_current(tmp_path) is False
    assert kernel.ensure(tmp_path) is True and kernel.is_current(tmp_path)


def test_normalize_names_the_course_kernel() -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "other", "display_name": "Other", "language": "python"}
    nb = normalize(nb, "notebooks/00_demo.ipynb")
    assert nb.metadata["kernelspec"] == kernel.kernelspec()
    # Colab knows only its own kernel names: any other would get an "Unrecognized runtime" warning.
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("rel", ALL_NOTEBOOKS)
def test_every_notebook_opens_on_the_course_kernel(rel: str) -> None:
    nb = nbformat.read(ROOT / rel, as_version=4)
    assert nb.metadata.get("kernelspec") == kernel.kernelspec(), (
        f"{rel}: run `python -m course_lib.notebooks normalize {rel}`"
    )


def test_make_lab_repairs_the_kernel_and_never_registers_it_user_wide() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--user" not in makefile
    lab = makefile[makefile.index("\nlab:") :].split("\n\n")[0]
    assert lab.startswith("\nlab: kernel") and "JUPYTER_PREFER_ENV_PATH=1" in lab
    assert "course_lib/kernel.py" in makefile  # a script: it never imports torch


def test_lab_settings_send_widget_messages_to_the_main_thread(tmp_path, capsys) -> None:
    # JupyterLab 4.4+ would otherwise run widget callbacks in a kernel subshell (a second thread),
    # concurrently with cells; pyplot and the explorers' saved random state assume one thread.
    path = kernel.overrides_file(tmp_path)
    path.parent.mkdir(parents=True)
    other = {"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"}}
    path.write_text(json.dumps(other))
    assert kernel.ensure_lab_settings(tmp_path) is True
    settings = json.loads(path.read_text())
    assert settings == {**other, **kernel.LAB_OVERRIDES}  # a learner's own settings are kept
    assert settings["@jupyterlab/apputils-extension:kernels-settings"] == {
        "commsOverSubshells": "disabled"
    }
    assert kernel.ensure_lab_settings(tmp_path) is False  # nothing to change the second time
    path.write_text("[1, 2]")
    assert kernel.ensure_lab_settings(tmp_path) is False  # not an object: left alone, one sentence
    assert path.read_text() == "[1, 2]" and "not a JSON object" in capsys.readouterr().out
