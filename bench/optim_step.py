"""Time one optimizer step: course_lib.optim.Adam vs torch.optim.Adam(foreach=True), side by side.

Both optimizers update their own copy of the same parameters (about 10 million numbers in a few
tensors of transformer-like shapes) on the CPU. Steps alternate between the two so that a busy
machine slows both alike; we report the median of several repeats and the ratio ours / torch.

    python bench/optim_step.py                  # ~10M parameters, CPU
    python bench/optim_step.py --params 2e6 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from course_lib import optim


def make_params(total: int, width: int, device: torch.device) -> list[torch.Tensor]:
    """Square ``(width, width)`` matrices and ``(width,)`` vectors adding up to about ``total``."""
    params: list[torch.Tensor] = []
    n = 0
    while n < total:
        params += [torch.randn(width, width, device=device), torch.randn(width, device=device)]
        n += width * width + width
    return [p.requires_grad_() for p in params]


def time_step(opt: object, repeats: int) -> list[float]:
    """Seconds for each of ``repeats`` calls of ``opt.step()``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        opt.step()
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=float, default=10e6, help="number of parameters")
    parser.add_argument("--width", type=int, default=1024, help="side of each weight matrix")
    parser.add_argument("--repeats", type=int, default=9, help="timed steps per optimizer")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per optimizer")
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cpu")

    torch.manual_seed(0)
    ours_params = make_params(int(args.params), args.width, device)
    torch_params = [p.detach().clone().requires_grad_() for p in ours_params]
    for a, b in zip(ours_params, torch_params):
        a.grad = torch.randn_like(a)
        b.grad = a.grad.clone()
    n = sum(p.numel() for p in ours_params)
    kw = dict(lr=1e-3, weight_decay=args.weight_decay)
    ours = optim.Adam(ours_params, **kw)
    theirs = torch.optim.Adam(torch_params, foreach=True, **kw)
    print(
        f"Adam step on {n / 1e6:.1f} M parameters in {len(ours_params)} tensors, CPU, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}, "
        f"foreach available: {optim.HAS_FOREACH}"
    )

    time_step(ours, args.warmup)
    time_step(theirs, args.warmup)
    ours_t, torch_t = [], []
    for _ in range(args.repeats):  # interleave so both see the same machine load
        ours_t += time_step(ours, 1)
        torch_t += time_step(theirs, 1)
    diff = max((a - b).abs().max().item() for a, b in zip(ours_params, torch_params))
    mo, mt = statistics.median(ours_t), statistics.median(torch_t)
    print(f"{'optimizer':<34}{'median ms':>10}{'min ms':>10}")
    print(f"{'course_lib.optim.Adam':<34}{mo * 1e3:>10.1f}{min(ours_t) * 1e3:>10.1f}")
    print(f"{'torch.optim.Adam(foreach=True)':<34}{mt * 1e3:>10.1f}{min(torch_t) * 1e3:>10.1f}")
    print(f"ratio ours / torch (median): {mo / mt:.2f}x  (target <= 1.5x)")
    print(f"ratio ours / torch (fastest): {min(ours_t) / min(torch_t):.2f}x")
    print(f"largest parameter difference after {args.warmup + args.repeats} steps: {diff:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
