"""DDP with torchrun: 2 gloo processes with batch B end where 1 process with batch 2B ends."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from course_lib import distributed

ARGS = ["--steps", "4", "--data", "synthetic", "--optimizer", "sgd", "--lr", "0.5", "--seed", "3"]
ARGS += ["--n-layer", "1", "--n-embd", "16", "--block-size", "16", "--device", "cpu"]


def _run(cmd: list[str], cwd) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout


@pytest.mark.skipif(not torch.distributed.is_available(), reason="no torch.distributed")
def test_two_processes_match_one_with_double_batch(tmp_path, capsys) -> None:
    launch = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    launch += ["--rdzv_backend", "c10d", "--rdzv_endpoint", "localhost:0"]
    out2 = _run(
        [*launch, "-m", "course_lib.distributed", *ARGS, "--batch-size", "4", "--out", "two.pt"],
        tmp_path,
    )
    # The one-process reference runs in this process (no second interpreter and torch import to
    # pay for), on one thread as each torchrun rank does.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        capsys.readouterr()
        distributed.main([*ARGS, "--batch-size", "8", "--out", str(tmp_path / "one.pt")])
        out1 = capsys.readouterr().out
    finally:
        torch.set_num_threads(threads)
    assert out2.count("[rank 0 of 2]") == 1  # rank 0 alone logs
    assert "rank 1" not in out2
    assert "[rank 0 of 1]" in out1
    two, one = torch.load(tmp_path / "two.pt"), torch.load(tmp_path / "one.pt")
    assert two.keys() == one.keys()
    start = distributed.make_model(distributed._parser().parse_args(ARGS), 32).state_dict()
    assert any(not torch.equal(start[k], one[k]) for k in one)  # training did move the weights
    for k in one:
        torch.testing.assert_close(two[k], one[k], atol=1e-5, rtol=1e-5, msg=k)


def test_shard_batch_fn_splits_distinct_rows() -> None:
    data = torch.arange(1000) % 50
    full = distributed.token_batch_fn(data, 8, 6, seed=1)
    shards = [distributed.shard_batch_fn(full, r, 3)(5) for r in range(3)]
    x, y = full(5)
    torch.testing.assert_close(torch.cat([s[0] for s in shards]), x)
    torch.testing.assert_close(torch.cat([s[1] for s in shards]), y)
    assert all(s[0].shape == (2, 8) for s in shards)
    with pytest.raises(ValueError, match="does not split evenly"):
        distributed.shard_batch_fn(full, 0, 4)(0)
    with pytest.raises(ValueError, match="rank"):
        distributed.shard_batch_fn(full, 3, 3)


def test_effective_batch_and_single_process_info() -> None:
    assert distributed.effective_batch_size(8, 4, 2) == 64
    with pytest.raises(ValueError, match="world_size"):
        distributed.effective_batch_size(8, 0)
    if "WORLD_SIZE" not in os.environ:
        info = distributed.init_distributed("cpu")
        assert (info.rank, info.world_size, info.backend) == (0, 1, None) and info.is_main
