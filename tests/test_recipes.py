"""The chapter-10 recipes: the CPU one is the run the notebook's committed outputs come from."""

from __future__ import annotations

import copy

import torch

from course_lib.recipes import GPT_CHAR, gpt_char_recipe
from course_lib.transformer import GPT, adamw_param_groups


def test_recipe_per_device() -> None:
    assert gpt_char_recipe("cpu") is GPT_CHAR["cpu"]
    assert gpt_char_recipe(torch.device("cuda", 0)) is GPT_CHAR["gpu"]
    cpu, gpu = GPT_CHAR["cpu"], GPT_CHAR["gpu"]
    assert (cpu.n_layer, cpu.n_embd, cpu.block_size, cpu.batch_size, cpu.iters) == (
        4,
        128,
        64,
        12,
        2000,
    )
    assert (gpu.n_layer, gpu.n_embd, gpu.block_size, gpu.batch_size, gpu.dropout) == (
        6,
        384,
        256,
        64,
        0.2,
    )
    assert cpu.patience is None and gpu.patience is not None


def test_recipe_builds_the_chapter_run() -> None:
    recipe = GPT_CHAR["cpu"]
    cfg = recipe.model_config(65)
    assert (cfg.vocab_size, cfg.n_head, cfg.bias, cfg.dropout) == (65, 4, False, 0.0)
    model = GPT(cfg)
    opt = recipe.optimizer(model)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.1, 0.0]
    assert opt.param_groups[0]["betas"] == (0.9, 0.99)
    sched = recipe.scheduler(opt, iters=1000)
    lrs = []
    for _ in range(1000):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] < 1e-4 and max(lrs) == recipe.lr and abs(lrs[-1] - recipe.min_lr) < 1e-6
    assert lrs.index(max(lrs)) in (99, 100)  # warm-up: a tenth of the run at most, 100 steps here


def test_the_fused_optimizer_equals_the_loop(device) -> None:
    # recipe.optimizer takes PyTorch's fused AdamW (one kernel a step); the reference is the same
    # AdamW as its single-tensor loop (foreach=False), which computes the same expression per
    # tensor. 10 steps of the chapter's GPT, clipped as fit clips: equal within float32 rounding.
    recipe = GPT_CHAR["cpu"]
    torch.manual_seed(0)
    model = GPT(recipe.model_config(65)).to(device)
    twin = copy.deepcopy(model)
    fused = recipe.optimizer(model)
    assert fused.defaults["fused"] is True
    groups = adamw_param_groups(twin, recipe.weight_decay)
    loop = torch.optim.AdamW(groups, lr=recipe.lr, betas=recipe.betas, foreach=False)
    idx = torch.randint(0, 65, (4, 16), device=device)
    for _ in range(10):
        for m, opt in ((model, fused), (twin, loop)):
            _, loss = m(idx, idx)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), recipe.grad_clip)
            opt.step()
            opt.zero_grad(set_to_none=True)
    for p, q in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=1e-5)
