"""Course-wide settings: FAST mode and the repository address (each defined once, here)."""

from __future__ import annotations

import os
from typing import TypeVar

T = TypeVar("T")

_ON, _OFF = {"1", "true", "yes", "on"}, {"", "0", "false", "no", "off"}


def parse_fast(value: str | None) -> bool:
    """``COURSE_FAST`` as a bool: 1/true/yes/on or 0/false/no/off (any case; unset means off).

    Raises ``ValueError`` for anything else (``COURSE_FAST=2``), rather than guessing a mode that
    would run for an hour or skip the real run.
    """
    text = (value or "").strip().lower()
    if text in _ON | _OFF:
        return text in _ON
    raise ValueError(
        f"COURSE_FAST={value!r} is not understood: set COURSE_FAST=1 for FAST mode or "
        "COURSE_FAST=0 (or leave it unset) for the full run."
    )


#: True when the environment variable ``COURSE_FAST=1`` is set: notebooks and tests shrink
#: data sets, models and step counts so the whole course runs on a 2-core CPU in minutes.
FAST: bool = parse_fast(os.environ.get("COURSE_FAST"))

#: Where the course lives. The Colab badges and the Colab setup cell are generated from this.
REPO_SLUG: str = "from-loss-to-transformer/from-loss-to-transformer"
REPO_URL: str = f"https://github.com/{REPO_SLUG}"
BRANCH: str = "main"


def pick(full: T, fast: T) -> T:
    """Return ``fast`` in FAST mode and ``full`` otherwise: ``steps = pick(2000, 50)``."""
    return fast if FAST else full


def colab_url(path: str) -> str:
    """The "Open in Colab" address of a notebook given by its path in the repository."""
    return f"https://colab.research.google.com/github/{REPO_SLUG}/blob/{BRANCH}/{path}"
