"""The course's Jupyter kernel: one per clone, registered inside the clone's own environment.

``python course_lib/kernel.py`` (run on every ``make lab``; a plain script, so torch is not loaded)
writes the kernel spec ``python3`` into ``<sys.prefix>/share/jupyter/kernels/``, pointing at this
environment's Python, and rewrites it only when it points elsewhere (a moved clone, a rebuilt
``.venv``). A JupyterLab started from the same environment (``make lab``) prefers that folder over
the user-wide one, so no other clone's registration can shadow it, and nothing is written outside
the environment.

Why the name ``python3`` and not a course-specific one: the notebooks' metadata names their kernel,
and Google Colab answers any name it does not know with an "Unrecognized runtime" warning before
falling back to ``python3``. Inside the environment, ``python3`` *is* the clone's kernel; the
display name ``DISPLAY_NAME`` shows which one is running.

It also writes JupyterLab's ``overrides.json`` in the same environment (``LAB_OVERRIDES``): widget
messages go to the kernel's main thread, as on Colab and in the classic notebook. JupyterLab 4.4+
otherwise sends them to a kernel subshell (ipykernel 7), a second thread, so a slider's redraw
(pyplot, the random generators an explorer saves and puts back, a short training run) would run
at the same time as a cell; pyplot is not thread-safe, and the explorers assume one thread.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

KERNEL_NAME = "python3"
DISPLAY_NAME = "Python 3 (From Loss to Transformer)"


#: JupyterLab settings for this environment (``<prefix>/share/jupyter/lab/settings/overrides.json``).
LAB_OVERRIDES = {
    "@jupyterlab/apputils-extension:kernels-settings": {"commsOverSubshells": "disabled"}
}


def kernelspec() -> dict[str, str]:
    """The ``kernelspec`` entry of every course notebook's metadata."""
    return {"display_name": DISPLAY_NAME, "language": "python", "name": KERNEL_NAME}


def spec_dir(prefix: str | os.PathLike[str] | None = None) -> Path:
    """Folder of the course's kernel spec inside the environment at ``prefix`` (default: this one)."""
    return Path(prefix or sys.prefix) / "share" / "jupyter" / "kernels" / KERNEL_NAME


def is_current(prefix: str | os.PathLike[str] | None = None) -> bool:
    """True when the spec under ``prefix`` runs this Python and carries the course's display name."""
    try:
        spec = json.loads((spec_dir(prefix) / "kernel.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        spec.get("argv", [None])[0] == sys.executable and spec.get("display_name") == DISPLAY_NAME
    )


def ensure(prefix: str | os.PathLike[str] | None = None) -> bool:
    """Register (or repair) the clone's kernel under ``prefix``; return True when it was written.

    Cheap when nothing changed (one small JSON file read). ``sys.executable`` is kept as the
    environment's own path (not resolved), since a virtual environment is found through it.
    """
    if is_current(prefix):
        return False
    from ipykernel.kernelspec import install

    install(prefix=str(prefix or sys.prefix), kernel_name=KERNEL_NAME, display_name=DISPLAY_NAME)
    return True


def overrides_file(prefix: str | os.PathLike[str] | None = None) -> Path:
    """JupyterLab's ``overrides.json`` inside the environment at ``prefix`` (default: this one)."""
    return Path(prefix or sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"


def ensure_lab_settings(prefix: str | os.PathLike[str] | None = None) -> bool:
    """Merge ``LAB_OVERRIDES`` into the environment's ``overrides.json``; True when it was written.

    Settings already there for other plugins (or other keys of the same plugin) are kept; a file
    that is not a readable JSON object, or a folder that cannot be written, is left alone, with one
    sentence on what to do (never an exception).
    """
    path = overrides_file(prefix)
    by_hand = f"add {json.dumps(LAB_OVERRIDES)} to it by hand"
    try:
        current = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        current = None
    if not isinstance(current, dict):
        print(f"{path} is not a JSON object this script can read; left as it is: {by_hand}.")
        return False
    merged = dict(current)
    for plugin, values in LAB_OVERRIDES.items():
        mine = current.get(plugin)
        merged[plugin] = {**(mine if isinstance(mine, dict) else {}), **values}
    if merged == current:
        return False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(merged, indent=2) + "\n", encoding="utf-8")
    except OSError as e:
        print(f"Could not write {path} ({e.strerror}): {by_hand}.")
        return False
    return True


def main() -> int:
    if sys.prefix == sys.base_prefix and not os.environ.get("CONDA_PREFIX"):
        print(
            f"{sys.executable} is not a virtual or conda environment; run this with the course "
            "environment's Python (`make lab` does), so the kernel lands inside that environment."
        )
        return 1
    if ensure():
        print(f"Registered the Jupyter kernel '{DISPLAY_NAME}' -> {sys.executable}")
    if ensure_lab_settings():
        print(f"JupyterLab settings for this environment: {overrides_file()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
