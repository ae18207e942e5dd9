"""The benchmark scripts still run (tiny sizes): they print figures, and nothing here times them."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _load(name: str):  # noqa: ANN202
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_optim_step_runs(capsys) -> None:
    assert _load("optim_step").main(["--params", "2e4", "--width", "64", "--repeats", "2"]) == 0
    out = capsys.readouterr().out
    assert "ratio ours / torch (median)" in out
    assert "largest parameter difference" in out


def test_gpt_char_runs_and_prints_a_summary(capsys) -> None:
    results = _load("gpt_char").main(["--iters", "3", "--runs", "2", "--device", "cpu"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(results) == 2 and len(lines) == 3
    for run in lines[:2]:
        assert run["iters"] == 3 and run["data"] and run["evals"][-1]["step"] == 3
        assert run["val_loss_full_split"] > 0
    assert lines[2]["summary"]["seeds"] == [1337, 1338]


def test_gpt_char_refuses_bad_runs() -> None:
    with pytest.raises(SystemExit):
        _load("gpt_char").main(["--runs", "0"])


def test_bpe_runs_and_compares_with_hugging_face(capsys) -> None:
    assert _load("bpe").main(["--vocab", "300", "--chars", "20000", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "course_lib  train" in out
    if "not installed" not in out:
        assert "ratio ours / HF" in out and "of 44 shared" in out
