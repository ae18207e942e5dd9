"""tests/gpu_check.py (``make gpu-check``) on a CPU-only machine: its refusal, counts and summary."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

_SPEC = importlib.util.spec_from_file_location(
    "gpu_check", Path(__file__).resolve().parent / "gpu_check.py"
)
gpu_check = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(gpu_check)


def test_without_cuda_it_says_so_in_one_sentence_and_fails(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main([]) == 2
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "needs a CUDA GPU" in out


def test_counts_come_from_the_junit_report(tmp_path):
    report = tmp_path / "report.xml"
    report.write_text(
        '<?xml version="1.0" encoding="utf-8"?><testsuites>'
        '<testsuite name="pytest" errors="1" failures="2" skipped="3" tests="10" time="1.0">'
        "</testsuite></testsuites>"
    )
    assert gpu_check._counts(report) == {"passed": 4, "failed": 2, "skipped": 3, "errors": 1}
    assert gpu_check._counts(tmp_path / "missing.xml")["passed"] == 0


@pytest.mark.parametrize("bench_rc", [0, 1])
def test_one_summary_line_and_status(monkeypatch, capsys, bench_rc):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Fake GPU")
    monkeypatch.setattr(gpu_check, "_missing", lambda names: [])
    calls = []

    def fake_pytest(args, env):
        calls.append((args, env))
        return 0, {"passed": 3, "failed": 0, "skipped": 1, "errors": 0}

    monkeypatch.setattr(gpu_check, "_pytest", fake_pytest)
    monkeypatch.setattr(gpu_check, "_bench", lambda iters, env: (bench_rc, f"bench {iters}"))
    assert gpu_check.main(["--bench-iters", "7"]) == bench_rc
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("gpu-check PASSED" if bench_rc == 0 else "gpu-check FAILED")
    assert "Fake GPU" in last and "bench 7" in last
    unit, notebooks = calls
    assert "-k" in unit[0] and "cuda" in unit[0]
    assert notebooks[1]["COURSE_DEVICE"] == "cuda" and notebooks[1]["COURSE_FAST"] == "1"
    assert any(a.startswith("solutions/") for a in notebooks[0])
    assert any(a.startswith("notebooks/") for a in notebooks[0])
