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
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

KERNEL_NAME = "python3"
DISPLAY_NAME = "Python 3 (From Loss to Transformer)"


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


def main() -> int:
    if sys.prefix == sys.base_prefix and not os.environ.get("CONDA_PREFIX"):
        print(
            f"{sys.executable} is not a virtual or conda environment; run this with the course "
            "environment's Python (`make lab` does), so the kernel lands inside that environment."
        )
        return 1
    if ensure():
        print(f"Registered the Jupyter kernel '{DISPLAY_NAME}' -> {sys.executable}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
