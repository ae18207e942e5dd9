"""COURSE_FAST: the values it accepts, and one clear error for any other."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from course_lib.config import parse_fast


@pytest.mark.parametrize("value", ["1", "true", "Yes", " on "])
def test_fast_on(value: str) -> None:
    assert parse_fast(value) is True


@pytest.mark.parametrize("value", [None, "", "0", "false", "No", "OFF"])
def test_fast_off(value: str | None) -> None:
    assert parse_fast(value) is False


@pytest.mark.parametrize("value", ["2", "fast", "-1"])
def test_fast_other_values_are_an_error_naming_the_value(value: str) -> None:
    with pytest.raises(ValueError, match=f"COURSE_FAST='{value}' is not understood"):
        parse_fast(value)


def test_importing_course_lib_with_a_bad_value_says_so() -> None:
    env = {**os.environ, "COURSE_FAST": "2"}
    proc = subprocess.run(
        [sys.executable, "-c", "import course_lib.config"], env=env, capture_output=True, text=True
    )
    assert proc.returncode != 0
    assert "COURSE_FAST='2' is not understood: set COURSE_FAST=1" in proc.stderr
