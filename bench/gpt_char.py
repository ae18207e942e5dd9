"""Train the course GPT on tiny Shakespeare (characters) with course_lib.train.fit; print one JSON line.

It trains exactly chapter 10's recipe (``course_lib.recipes.GPT_CHAR``). The reference CPU run
(the default) is the usual small character-level GPT: 4 layers, 4 heads, 128-wide embeddings,
context 64, batch 12, no dropout, no biases; AdamW lr 1e-3, betas (0.9, 0.99), weight decay 0.1 on
matrices only; 100 warm-up steps then cosine decay to 1e-4 at 2000 steps; gradient clipping at
1.0; evaluation every 250 steps on 20 batches of train and val. The GPU run is 6 layers, 6 heads,
384 wide, context 256, batch 64, dropout 0.2, 5000 steps at most (the bench runs them all; the
chapter stops early). Data: the first 90% of the characters for training, the last 10% for
validation, kept on the device (batches are cut there, with no copy).

    python bench/gpt_char.py                        # reference CPU run, 2000 iterations
    python bench/gpt_char.py --iters 200            # a quick look
    python bench/gpt_char.py --config gpu           # 6 layers, 6 heads, 384 wide, block 256, batch 64
    python bench/gpt_char.py --config gpu --compile # the same, fit(compile=True) (try it on a GPU)
    python bench/gpt_char.py --runs 3               # seeds 1337, 1338, 1339, then a line of medians

The JSON line holds the wall time of the whole run (evaluations included), the median time of one
training iteration (from 10-step windows that contain no evaluation) and the best such window,
tokens per second of training (at the median), the train and val loss at every evaluation (20
batches, the same ones each time, drawn by ``course_lib.train.evaluate``), and the final loss on
the whole validation split (no sampling noise). With ``--runs N`` it trains N times (seeds
``--seed`` to ``--seed + N - 1``), prints each run's line, then one more line of medians: the
machines are noisy, and a single seed's val loss varies by about 0.01.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_lib.data import (  # noqa: E402
    CharTokenizer,
    load_tiny_shakespeare,
    shakespeare,
    token_batch_fn,
    train_val_split,
)
from course_lib.device import get_device, seed_everything  # noqa: E402
from course_lib.recipes import GPT_CHAR  # noqa: E402
from course_lib.train import History, evaluate, fit  # noqa: E402
from course_lib.transformer import GPT  # noqa: E402

LOG_EVERY = 10


class Timer:
    """fit callback: wall time of each ``LOG_EVERY``-step window, and the train loss at each eval."""

    def __init__(self, model: GPT, train_batch: object, eval_batches: int) -> None:
        self.model, self.train_batch, self.eval_batches = model, train_batch, eval_batches
        self.windows: list[float] = []
        self.train_evals: list[float] = []
        self.last = time.perf_counter()
        self.dirty = False  # an evaluation happened inside the current window

    def __call__(self, event: str, history: History, step: int) -> None:
        now = time.perf_counter()
        if event == "log":
            if not self.dirty and step > LOG_EVERY:  # skip the first window (warm-up)
                self.windows.append((now - self.last) / LOG_EVERY)
            self.dirty = False
        elif event == "eval":
            train = evaluate(self.model, self.train_batch, batches=self.eval_batches)
            self.train_evals.append(train["loss"])
            self.dirty = True
        self.last = time.perf_counter() if event == "eval" else now


@torch.no_grad()
def full_loss(model: GPT, ids: torch.Tensor, block: int, batch: int = 256) -> float:
    """Mean loss over the whole of ``ids``, cut into non-overlapping windows: no sampling noise."""
    model.eval()
    n = (len(ids) - 1) // block
    x, y = ids[: n * block].view(n, block), ids[1 : n * block + 1].view(n, block)
    device = next(model.parameters()).device
    total = 0.0
    for i in range(0, n, batch):
        _, loss = model(x[i : i + batch].to(device), y[i : i + batch].to(device))
        total += float(loss) * len(x[i : i + batch])
    return total / n


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=sorted(GPT_CHAR), default="cpu")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: the best one)")
    parser.add_argument("--iters", type=int, default=None, help="iterations (default: config's)")
    parser.add_argument("--compile", action="store_true", help="fit(compile=True)")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--checkpoint", default=None, help="save (and resume from) this file")
    parser.add_argument(
        "--runs", type=int, default=1, help="train this many times (seeds +0, +1, ...)"
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be >= 1, got {args.runs}")
    if args.runs > 1 and args.checkpoint:
        parser.error("--checkpoint resumes one run; use it with --runs 1")
    return args


def train_once(args: argparse.Namespace) -> dict:
    """One training run with ``args``; prints and returns its JSON figures."""
    recipe = GPT_CHAR[args.config]
    iters = args.iters or recipe.iters
    device = get_device(args.device)
    seed_everything(args.seed)

    text = load_tiny_shakespeare(verbose=False)
    real = hashlib.sha256(text.encode("utf-8")).hexdigest() == shakespeare.SHA256
    if not real:
        print(
            "warning: tiny Shakespeare not found (set COURSE_DATA_DIR or go online); training on "
            "the generated play instead, so the losses are not comparable",
            file=sys.stderr,
        )
    tok = CharTokenizer(text)
    train_ids, val_ids = (ids.to(device) for ids in train_val_split(tok.encode(text), 0.9))
    block, batch_size = recipe.block_size, recipe.batch_size
    train_batch = token_batch_fn(train_ids, block, batch_size, device)
    val_batch = token_batch_fn(val_ids, block, batch_size, device)

    model = GPT(recipe.model_config(tok.vocab_size)).to(device)
    optimizer = recipe.optimizer(model)
    scheduler = recipe.scheduler(optimizer, iters)
    timer = Timer(model, train_batch, recipe.eval_batches)

    start = time.perf_counter()
    history = fit(
        model,
        optimizer,
        train_batch,
        steps=iters,
        val_data=val_batch,
        eval_every=recipe.eval_every,
        eval_batches=recipe.eval_batches,
        scheduler=scheduler,
        grad_clip=recipe.grad_clip,
        device=device,
        compile=args.compile,
        callbacks=[timer],
        progress=False,
        log_every=LOG_EVERY,
        checkpoint=args.checkpoint,
    )
    wall = time.perf_counter() - start
    val_full = full_loss(model, val_ids, block)
    ms = 1000 * statistics.median(timer.windows) if timer.windows else float("nan")
    result = {
        "config": args.config,
        "data": "tiny Shakespeare" if real else "generated play (fallback)",
        "device": str(device),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "compile": args.compile,
        "iters": iters,
        "params": model.num_params(),
        "wall_s": round(wall, 2),
        "ms_per_iter_median": round(ms, 2) if timer.windows else None,
        "ms_per_iter_best": round(1000 * min(timer.windows), 2) if timer.windows else None,
        "tokens_per_s": round(batch_size * block / (ms / 1000)) if timer.windows else None,
        "val_loss_full_split": round(val_full, 4),
        "evals": [
            {"step": s, "train": round(t, 4), "val": round(v["loss"], 4)}
            for (s, v), t in zip(history.val, timer.train_evals)
        ],
    }
    print(json.dumps(result), flush=True)
    return result


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    results = []
    for i in range(args.runs):
        results.append(train_once(argparse.Namespace(**{**vars(args), "seed": args.seed + i})))
    if args.runs > 1:
        keys = ("wall_s", "ms_per_iter_median", "tokens_per_s", "val_loss_full_split")
        summary = {}
        for k in keys:  # short runs have no timing windows: their figures are None
            values = [r[k] for r in results if r[k] is not None]
            summary[f"median_{k}"] = round(statistics.median(values), 4) if values else None
        finals = [r["evals"][-1]["val"] for r in results if r["evals"]]
        if finals:
            summary["median_final_val_20_batches"] = round(statistics.median(finals), 4)
        summary["seeds"] = [args.seed + i for i in range(args.runs)]
        print(json.dumps({"summary": summary}), flush=True)
    return results


if __name__ == "__main__":
    main()
