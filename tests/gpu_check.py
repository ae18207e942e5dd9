"""``make gpu-check``: the course on a CUDA GPU, as a Colab learner with a GPU would run it.

Three steps, each in its own process, then one summary line:

1. the unit tests that run on CUDA (every test parametrized over devices, its ``cuda`` case);
2. every notebook in ``notebooks/`` and ``solutions/`` under ``pytest --nbval-lax`` in FAST mode
   with ``COURSE_DEVICE=cuda``, so every model and tensor that follows ``get_device()`` is on the GPU;
3. the GPU benchmark, ``bench/gpt_char.py --config gpu`` (its JSON line is summarized).

On a machine without CUDA it says so in one sentence and exits with status 2; it exits with 1 when
a step fails and 0 when all pass. Needs pytest and hypothesis for step 1, and nbval, ipykernel and
nbformat for step 2 (``make install`` has them; on a bare machine with PyTorch, carry them as
wheels, see the README's GPU section).

    python tests/gpu_check.py                      # all three steps
    python tests/gpu_check.py --bench-iters 500    # a shorter benchmark
    python tests/gpu_check.py --skip-bench         # tests and notebooks only
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_PACKAGES = ("nbval", "ipykernel", "nbformat", "nbclient", "matplotlib")
TEST_PACKAGES = ("pytest", "hypothesis")


def _missing(names: tuple[str, ...]) -> list[str]:
    return [n for n in names if importlib.util.find_spec(n) is None]


def _counts(report: Path) -> dict[str, int]:
    """Passed / failed / skipped / errors from a pytest JUnit XML report (zeros if it is missing)."""
    counts = {"passed": 0, "failed": 0, "skipped": 0, "errors": 0}
    if not report.is_file():
        return counts
    for suite in ET.parse(report).getroot().iter("testsuite"):
        total = int(suite.get("tests", 0))
        failed, errors = int(suite.get("failures", 0)), int(suite.get("errors", 0))
        skipped = int(suite.get("skipped", 0))
        counts["failed"] += failed
        counts["errors"] += errors
        counts["skipped"] += skipped
        counts["passed"] += total - failed - errors - skipped
    return counts


def _pytest(args: list[str], env: dict[str, str]) -> tuple[int, dict[str, int]]:
    """Run pytest in a child process; return its exit status and pass/fail/skip/error counts."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.xml"
        cmd = [sys.executable, "-m", "pytest", "-q", f"--junitxml={report}", *args]
        rc = subprocess.call(cmd, cwd=ROOT, env=env)
        return rc, _counts(report)


def _describe(counts: dict[str, int]) -> str:
    text = f"{counts['passed']} passed, {counts['failed']} failed"
    if counts["errors"]:
        text += f", {counts['errors']} errors"
    return text


def _bench(iters: int | None, env: dict[str, str]) -> tuple[int, str]:
    cmd = [sys.executable, str(ROOT / "bench" / "gpt_char.py"), "--config", "gpu"]
    if iters is not None:
        cmd += ["--iters", str(iters)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    print(proc.stdout, end="", flush=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return proc.returncode or 1, f"bench failed (exit {proc.returncode})"
    try:
        result = json.loads(lines[-1])
    except json.JSONDecodeError:
        return 0, "bench ran (its last line is not JSON)"
    ms, val = result.get("ms_per_iter_median"), result.get("val_loss_full_split")
    return 0, f"bench gpu {result.get('iters')} iters: {ms} ms/iter, val loss {val}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench-iters", type=int, default=None, help="default: the config's")
    parser.add_argument("--skip-bench", action="store_true", help="tests and notebooks only")
    args = parser.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        print(
            "gpu-check needs a CUDA GPU, and PyTorch sees none on this machine "
            f"(torch {torch.__version__}, torch.cuda.is_available() is False): run it where one is."
        )
        return 2
    missing = _missing(TEST_PACKAGES + NOTEBOOK_PACKAGES)
    if missing:
        print(
            f"gpu-check needs {', '.join(missing)}, which this Python ({sys.executable}) lacks: "
            "run it from the course's .venv (make install), or carry the wheels (README, GPU)."
        )
        return 2

    start = time.perf_counter()
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    parts, ok = [torch.cuda.get_device_name(0)], True

    print("== 1/3 unit tests on CUDA", flush=True)
    rc, counts = _pytest(["-k", "cuda", "tests"], env)
    ok &= rc == 0 and counts["passed"] > 0
    parts.append(f"CUDA unit tests {_describe(counts)}")

    print("== 2/3 notebooks and solutions, FAST mode, COURSE_DEVICE=cuda", flush=True)
    notebooks = sorted(str(p.relative_to(ROOT)) for d in ("notebooks", "solutions")
                       for p in (ROOT / d).glob("[0-9][0-9]_*.ipynb"))  # fmt: skip
    nb_env = {**env, "COURSE_FAST": "1", "COURSE_DEVICE": "cuda"}
    nb_args = ["--nbval-lax", "--nbval-current-env", "--nbval-cell-timeout=900"]
    rc, counts = _pytest([*nb_args, *notebooks], nb_env)
    ok &= rc == 0
    parts.append(f"{len(notebooks)} notebooks: cells {_describe(counts)}")

    if not args.skip_bench:
        print("== 3/3 bench/gpt_char.py --config gpu", flush=True)
        rc, text = _bench(args.bench_iters, env)
        ok &= rc == 0
        parts.append(text)

    parts.append(f"{time.perf_counter() - start:.0f} s")
    print(f"gpu-check {'PASSED' if ok else 'FAILED'}: " + " | ".join(parts))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
