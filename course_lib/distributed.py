"""Data-parallel training with ``torchrun`` and PyTorch DDP, using the course's ``fit`` (chapter 12).

Every process (a *rank*) holds a full copy of the model, takes its own shard of each batch, and
computes gradients on it; DDP averages the gradients across ranks during ``backward`` (an
all-reduce), so every copy takes the same optimizer step. ``N`` ranks with ``B`` rows each do what
one process with ``N * B`` rows does.

Launch (2 processes on this machine; gloo on the CPU, NCCL on GPUs)::

    python -m torch.distributed.run --nproc_per_node 2 -m course_lib.distributed --steps 20

Without ``torchrun`` the same command runs as a single process (world size 1).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from .data import CharTokenizer, load_tiny_shakespeare, token_batch_fn
from .device import get_device, is_main_process

__all__ = [
    "DistInfo",
    "cleanup",
    "effective_batch_size",
    "init_distributed",
    "main",
    "make_model",
    "shard_batch_fn",
    "token_batch_fn",
    "wrap_ddp",
]

Batch = tuple[torch.Tensor, torch.Tensor]


class DistInfo:
    """Where this process stands: ``rank``, ``world_size``, ``local_rank``, ``device``, ``backend``."""

    def __init__(
        self, rank: int, world_size: int, local_rank: int, device: torch.device, backend: str | None
    ) -> None:
        self.rank, self.world_size, self.local_rank = rank, world_size, local_rank
        self.device, self.backend = device, backend

    @property
    def is_main(self) -> bool:
        """True on rank 0, the one process that logs and saves (``device.is_main_process``)."""
        return is_main_process()

    def __repr__(self) -> str:
        return (
            f"DistInfo(rank={self.rank}, world_size={self.world_size}, "
            f"device={self.device}, backend={self.backend})"
        )


def init_distributed(device: str | None = None) -> DistInfo:
    """Join the process group that ``torchrun`` describes (env ``RANK``, ``WORLD_SIZE``, ...).

    Backend: NCCL when this rank uses a CUDA GPU, gloo otherwise. Each rank takes GPU
    ``LOCAL_RANK``. Without ``torchrun`` (no ``WORLD_SIZE``) this is a single process and no
    group is created. ``device``: "cpu" forces the CPU even when a GPU is present.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device not in (None, "cpu", "cuda"):
        raise ValueError(f"device must be None, 'cpu' or 'cuda', got {device!r}")
    dev = get_device(device)  # None: the best device present; "cuda" raises if there is none
    use_cuda = dev.type == "cuda"
    if use_cuda:
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(
                f"LOCAL_RANK={local_rank} but only {torch.cuda.device_count()} GPUs are visible; "
                "use --nproc_per_node <= the number of GPUs"
            )
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    else:  # gloo runs on the CPU: an Apple GPU (mps) is not used by data-parallel training
        dev = torch.device("cpu")
    if world_size == 1:
        return DistInfo(0, 1, 0, dev, None)
    dist = torch.distributed
    if not dist.is_available():
        raise RuntimeError("this PyTorch build has no torch.distributed")
    backend = "nccl" if use_cuda else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)  # reads MASTER_ADDR/PORT, RANK, WORLD_SIZE
    return DistInfo(dist.get_rank(), dist.get_world_size(), local_rank, dev, backend)


def cleanup(synchronize: bool = True) -> None:
    """Leave the process group (if any); ``synchronize`` waits for every rank first.

    Pass ``synchronize=False`` after an error: the other ranks may never reach the barrier.
    """
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        if synchronize:
            dist.barrier()  # no rank tears down gloo while another still talks to it
        dist.destroy_process_group()


def shard_batch_fn(
    batch_fn: Callable[[int], Batch], rank: int, world_size: int
) -> Callable[[int], Batch]:
    """Give rank ``rank`` its own rows of every global batch: rows ``rank*B .. (rank+1)*B - 1``.

    ``batch_fn(i)`` makes the same global batch ``(N*B, ...)`` on every rank (same seed); each rank
    keeps a distinct contiguous slice ``(B, ...)``, so together the ranks cover the global batch
    exactly once.
    """
    if not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size must be a positive int, got {world_size!r}")
    if not isinstance(rank, int) or not 0 <= rank < world_size:
        raise ValueError(f"rank must be an int in 0..{world_size - 1}, got {rank!r}")

    def shard(i: int) -> Batch:
        x, y = batch_fn(i)
        n = x.shape[0]
        if n % world_size != 0:
            raise ValueError(
                f"global batch of {n} rows does not split evenly over world_size={world_size}"
            )
        b = n // world_size
        return x[rank * b : (rank + 1) * b], y[rank * b : (rank + 1) * b]

    return shard


def effective_batch_size(per_rank: int, world_size: int = 1, accumulate: int = 1) -> int:
    """Rows that contribute to one optimizer step: ``per_rank * world_size * accumulate``."""
    for name, v in (("per_rank", per_rank), ("world_size", world_size), ("accumulate", accumulate)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    return per_rank * world_size * accumulate


def wrap_ddp(model: nn.Module, info: DistInfo) -> nn.Module:
    """Move ``model`` to this rank's device and wrap it in DDP (unchanged when world size is 1)."""
    model.to(info.device)
    if info.world_size == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    if info.device.type == "cuda":
        return DDP(model, device_ids=[info.device.index])
    return DDP(model)


def make_model(args: argparse.Namespace, vocab_size: int) -> nn.Module:
    """The tiny GPT (or a 2-layer MLP over one-hot tokens) that ``main`` trains."""
    from .transformer import GPT, GPTConfig

    torch.manual_seed(args.seed)  # the same initial weights on every rank
    if args.model == "gpt":
        cfg = GPTConfig(
            vocab_size=vocab_size,
            block_size=args.block_size,
            n_layer=args.n_layer,
            n_head=args.n_head,
            n_embd=args.n_embd,
        )
        return GPT(cfg)
    return _TokenMLP(vocab_size, args.n_embd)


class _TokenMLP(nn.Module):
    """Next-token MLP on one token at a time: ``(B, T)`` -> ``((B, T, V), loss)`` like GPT."""

    def __init__(self, vocab_size: int, hidden: int) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab_size, hidden)
        self.net = nn.Sequential(nn.ReLU(), nn.Linear(hidden, vocab_size))

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        logits = self.net(self.emb(idx))  # (B, T, V)
        if targets is None:
            return logits, None
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())
        return logits, loss


def _load_tokens(kind: str) -> tuple[torch.Tensor, int]:
    if kind == "shakespeare":
        text = load_tiny_shakespeare(verbose=False)
        tok = CharTokenizer(text)
        return tok.encode(text[:200_000]), tok.vocab_size
    g = torch.Generator().manual_seed(1234)  # "synthetic": a fixed random token stream
    return torch.randint(0, 32, (20_000,), generator=g), 32


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m torch.distributed.run --nproc_per_node N -m course_lib.distributed",
        description="Train a tiny GPT (or MLP) data-parallel with course_lib.train.fit.",
    )
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=8, help="rows per rank per step (B)")
    p.add_argument("--block-size", type=int, default=32)
    p.add_argument("--n-layer", type=int, default=2)
    p.add_argument("--n-head", type=int, default=2)
    p.add_argument("--n-embd", type=int, default=32)
    p.add_argument("--model", choices=["gpt", "mlp"], default="gpt")
    p.add_argument("--data", choices=["shakespeare", "synthetic"], default="shakespeare")
    p.add_argument("--optimizer", choices=["adamw", "sgd"], default="adamw")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=["cpu", "cuda"], default=None)
    p.add_argument("--amp", choices=["bf16", "fp16"], default=None)
    p.add_argument("--checkpoint", default=None, help="checkpoint path (rank 0 writes it)")
    p.add_argument("--out", default=None, help="write the final parameters here (rank 0)")
    return p


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command line entry point; returns a small summary (final loss, world size, batch sizes)."""
    from .train import fit

    args = _parser().parse_args(argv)
    info = init_distributed(args.device)
    finished = False
    try:
        if info.device.type == "cpu" and info.world_size > 1:
            torch.set_num_threads(1)  # N processes share the cores: one thread each
        data, vocab = _load_tokens(args.data)
        model = wrap_ddp(make_model(args, vocab), info)
        params = model.parameters()
        if args.optimizer == "sgd":
            opt: torch.optim.Optimizer = torch.optim.SGD(params, lr=args.lr)
        else:
            opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
        global_batch = args.batch_size * info.world_size
        batches = token_batch_fn(data, args.block_size, global_batch, seed=args.seed)
        history = fit(
            model,
            opt,
            shard_batch_fn(batches, info.rank, info.world_size),
            steps=args.steps,
            amp=args.amp,
            device=info.device,
            checkpoint=args.checkpoint,
            progress=False,
            log_every=max(1, min(10, args.steps)),
        )
        summary = {
            "world_size": info.world_size,
            "backend": info.backend,
            "per_rank_batch": args.batch_size,
            "global_batch": global_batch,
            "final_loss": history.train[-1][1] if history.train else float("nan"),
            "seconds": history.seconds,
        }
        if info.is_main:
            inner = getattr(model, "module", model)
            if args.out:
                state = {k: v.detach().cpu() for k, v in inner.state_dict().items()}
                torch.save(state, args.out)
            print(
                f"[rank 0 of {info.world_size}] backend={info.backend or 'none'} "
                f"batch {args.batch_size}/rank -> {global_batch} per step | "
                f"{args.steps} steps | last loss {summary['final_loss']:.4f} | "
                f"{history.seconds:.1f} s",
                flush=True,
            )
        finished = True
        return summary
    finally:
        cleanup(synchronize=finished)


if __name__ == "__main__":
    main()
    # Leave without the interpreter's teardown. On a busy machine a rank that had finished its work
    # and left the process group was sometimes aborted while C++ objects were destroyed at exit
    # ("terminate called without an active exception", about 1 torchrun in 12 on 2 loaded cores),
    # which torchrun reports as a failed run. Everything is written by now; an error above still
    # exits with its traceback and a non-zero status.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
