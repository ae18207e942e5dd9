"""The repository's promises: one pinned list, loose package bounds, README and CI wiring."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_environment_yml_parses_and_points_at_the_one_pinned_list() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-r requirements.txt" in pip_section
    assert not [d for d in env["dependencies"] if isinstance(d, str) and "torch" in d]


def test_requirements_are_pinned_and_torch_is_the_cpu_release() -> None:
    lines = [
        ln.strip()
        for ln in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert all("==" in ln for ln in lines), [ln for ln in lines if "==" not in ln]
    names = {ln.split("==")[0].lower() for ln in lines}
    assert "torch==2.13.0" in lines
    assert {"jupyterlab", "ipywidgets", "nbval", "pytest", "hypothesis", "ruff"} <= names
    assert any(ln.startswith("jupyterlab==4.") for ln in lines)
    assert any(ln.startswith("ipywidgets==8.") for ln in lines)


def test_package_has_loose_lower_bounds_only() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    block = re.search(r"^dependencies = \[(.*?)^\]", text, flags=re.M | re.S).group(1)
    deps = re.findall(r'"([^"]+)"', block)
    assert deps and all("==" not in d and "<" not in d for d in deps), deps


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci/run").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make lab" in readme and "make test" in readme


def test_readme_links_every_notebook_and_lists_thirteen_chapters() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d\d) \|", readme, flags=re.M)
    assert rows[:13] == [f"{i:02d}" for i in range(13)] and rows == sorted(set(rows))
    for nb in sorted(ROOT.glob("notebooks/[0-9][0-9]_*.ipynb")):
        assert f"notebooks/{nb.name}" in readme, nb.name
        assert f"exercises/{nb.name}" in readme, nb.name
