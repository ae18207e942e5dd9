"""The setup cell that starts every notebook: installs course_lib in Colab, and only there.

The cell is generated from ``SETUP_CELL`` (``python -m course_lib.notebooks normalize``), so the
repository address lives in ``config`` alone. It never reinstalls torch, numpy or ipywidgets
(``--no-deps``: Colab already has every dependency), and turns on Colab's custom widget manager only
for ipywidgets 8 or newer (Colab's own 7.7.1 does not need it). When pip fails (the address is a placeholder until the
course is published, or the runtime is offline) the cell stops with one sentence, not a traceback.
"""

from __future__ import annotations

from . import config

PACKAGE = "from-loss-to-transformer"

SETUP_CELL = f'''# Setup: in Google Colab this installs course_lib; on your own machine `make lab` already did.
import sys

if "google.colab" in sys.modules:
    import subprocess

    import ipywidgets

    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps",
         "{PACKAGE} @ git+{config.REPO_URL}@{config.BRANCH}"],
    )
    if pip.returncode != 0:
        raise SystemExit(
            "Could not install course_lib from {config.REPO_URL} (pip's reason is above): the "
            "course may not be published at that address yet, or this runtime is offline."
        )
    if int(ipywidgets.__version__.split(".")[0]) >= 8:
        from google.colab import output

        output.enable_custom_widget_manager()

import course_lib

print(course_lib.describe())'''


def badge_markdown(path: str) -> str:
    """The "Open in Colab" badge line for the notebook at repository path ``path``."""
    return (
        "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"({config.colab_url(path)})"
    )
