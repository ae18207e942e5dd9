"""Named training recipes: every number of a chapter's run in one place (chapter 10's GPT).

``GPT_CHAR["cpu"]`` is the run chapter 10 trains on a laptop CPU (and the committed outputs show);
``GPT_CHAR["gpu"]`` is the usual GPU-sized character model (6 layers, 6 heads, 384 wide, context
256, batch 64, dropout 0.2), which over-fits tiny Shakespeare after about 1750 iterations and so
stops early once validation stops improving. Notebook 10 and ``bench/gpt_char.py`` both read them,
so the benchmark measures exactly the chapter's run.

>>> recipe = gpt_char_recipe(device)       # "gpu" on CUDA, else "cpu"
>>> model = GPT(recipe.model_config(tok.vocab_size))
>>> opt = recipe.optimizer(model); sched = recipe.scheduler(opt)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .optim import as_lambda, lr_schedule
from .transformer import GPTConfig, adamw_param_groups

__all__ = ["GPT_CHAR", "GPTRecipe", "gpt_char_recipe"]


@dataclass(frozen=True)
class GPTRecipe:
    """Model sizes and training numbers of one GPT run (AdamW, warm-up then cosine decay)."""

    n_layer: int
    n_head: int
    n_embd: int
    block_size: int  # context length T
    dropout: float
    batch_size: int  # windows per step B
    iters: int  # optimizer steps (the most; early stopping may end sooner)
    lr: float = 1e-3  # peak learning rate, after warm-up
    min_lr: float = 1e-4  # learning rate at the end of the cosine decay
    warmup: int = 100  # warm-up steps (at most a tenth of the run)
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = 0.1  # on matrices only (adamw_param_groups)
    grad_clip: float = 1.0  # largest gradient norm
    eval_every: int = 250  # steps between evaluations
    eval_batches: int = 20  # batches per evaluation (always the same ones)
    patience: int | None = None  # evaluations without improvement before stopping (None: never)

    def model_config(self, vocab_size: int) -> GPTConfig:
        """The ``GPTConfig`` of this recipe for a vocabulary of ``vocab_size`` tokens (no biases)."""
        sizes = dict(n_layer=self.n_layer, n_head=self.n_head, n_embd=self.n_embd)
        return GPTConfig(vocab_size, self.block_size, dropout=self.dropout, bias=False, **sizes)

    def optimizer(self, model: nn.Module) -> torch.optim.AdamW:
        """AdamW with weight decay on matrices only, as PyTorch's fused kernel where it has one.

        ``fused=True`` updates every parameter in one kernel per step instead of a Python loop of
        small operations, one per tensor: the same arithmetic (equal to the loop's result within
        float32 rounding, ``tests/test_recipes.py``), but on a CPU the loop costs as much as the
        model's own forward and backward for chapter 10's small GPT. PyTorch has the fused kernel
        on CPU, CUDA and MPS (and says so with a ``RuntimeError`` on other devices, where the loop
        is used).
        """
        groups = adamw_param_groups(model, self.weight_decay)
        kw = dict(lr=self.lr, betas=self.betas)
        try:
            return torch.optim.AdamW(groups, **kw, fused=True)
        except RuntimeError:  # a device without PyTorch's fused AdamW
            return torch.optim.AdamW(groups, **kw)

    def scheduler(
        self, optimizer: torch.optim.Optimizer, iters: int | None = None
    ) -> torch.optim.lr_scheduler.LambdaLR:
        """Warm-up then cosine decay to ``min_lr`` over ``iters`` steps (default: the recipe's)."""
        iters = iters or self.iters
        warmup = min(self.warmup, iters // 10)
        lr_at = lr_schedule(
            "warmup_cosine", self.lr, total_steps=iters, warmup_steps=warmup, min_lr=self.min_lr
        )
        return torch.optim.lr_scheduler.LambdaLR(optimizer, as_lambda(lr_at, self.lr))


GPT_CHAR: dict[str, GPTRecipe] = {
    # a 2-core laptop CPU: about 3 minutes for 2000 steps
    "cpu": GPTRecipe(n_layer=4, n_head=4, n_embd=128, block_size=64, dropout=0.0, batch_size=12,
                     iters=2000),
    # a CUDA GPU: 10.7 M parameters; validation is best near 1750 steps, then rises
    "gpu": GPTRecipe(n_layer=6, n_head=6, n_embd=384, block_size=256, dropout=0.2, batch_size=64,
                     iters=5000, patience=2),
}  # fmt: skip


def gpt_char_recipe(device: torch.device | str) -> GPTRecipe:
    """``GPT_CHAR["gpu"]`` on a CUDA device, else ``GPT_CHAR["cpu"]``."""
    return GPT_CHAR["gpu" if torch.device(device).type == "cuda" else "cpu"]
