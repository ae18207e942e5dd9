"""Character-level tokenization and random batches of (input, next-character target) windows."""

from __future__ import annotations

from collections.abc import Callable

import torch


class CharTokenizer:
    """Maps each distinct character of a text to an integer id (sorted, so ids are stable)."""

    def __init__(self, text: str) -> None:
        if not isinstance(text, str) or not text:
            raise ValueError("CharTokenizer needs a non-empty string to build its vocabulary")
        self.chars = sorted(set(text))
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> torch.Tensor:
        """``str`` of length T -> int64 tensor ``(T,)``; unknown characters raise ``ValueError``."""
        unknown = sorted({ch for ch in text if ch not in self.stoi})
        if unknown:
            raise ValueError(f"characters not in the vocabulary: {unknown[:10]!r}")
        return torch.tensor([self.stoi[ch] for ch in text], dtype=torch.long)

    def decode(self, ids: torch.Tensor | list[int]) -> str:
        """int tensor ``(T,)`` or list of ids -> ``str``."""
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        bad = [i for i in ids if not 0 <= i < self.vocab_size]
        if bad:
            raise ValueError(f"ids {bad[:5]} are outside the vocabulary 0..{self.vocab_size - 1}")
        return "".join(self.chars[i] for i in ids)


def train_val_split(
    data: torch.Tensor, train_frac: float = 0.9
) -> tuple[torch.Tensor, torch.Tensor]:
    """First ``train_frac`` of a 1-D token tensor for training, the rest for validation."""
    if not 0 < train_frac < 1:
        raise ValueError(f"train_frac must be in (0, 1), got {train_frac}")
    n = int(train_frac * len(data))
    return data[:n], data[n:]


def get_batch(
    data: torch.Tensor,
    block_size: int,
    batch_size: int,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows of a 1-D token tensor: inputs ``(B, T)`` and targets shifted by one ``(B, T)``.

    Windows start at uniformly drawn offsets (from ``generator``, else PyTorch's global one, on
    the device ``data`` lives on). When ``data`` already lives on ``device`` the windows are cut
    there, so a GPU run needs no copy and no wait for the CPU; else they go to ``device``
    (through pinned memory for CUDA, which lets the copy overlap with computing).
    """
    if data.dim() != 1:
        raise ValueError(f"data must be 1-D token ids, got shape {tuple(data.shape)}")
    if len(data) <= block_size:
        raise ValueError(f"data has {len(data)} tokens, need more than block_size={block_size}")
    device = torch.device(device)
    on = data.device if generator is None else generator.device
    ix = torch.randint(len(data) - block_size, (batch_size,), generator=generator, device=on)
    offsets = torch.arange(block_size + 1, device=on)
    windows = data[(ix[:, None] + offsets).to(data.device)]  # (B, T+1)
    x, y = windows[:, :-1], windows[:, 1:]
    if windows.device.type == "cpu" and device.type == "cuda":
        x, y = x.pin_memory(), y.pin_memory()
    return x.to(device, non_blocking=True), y.to(device, non_blocking=True)


def token_batch_fn(
    data: torch.Tensor,
    block_size: int,
    batch_size: int,
    device: torch.device | str = "cpu",
    seed: int | None = None,
) -> Callable[[int], tuple[torch.Tensor, torch.Tensor]]:
    """The batch function ``i -> (x, y)`` that ``fit`` and ``evaluate`` take: ``get_batch`` windows.

    ``seed=None`` draws from PyTorch's global generator (seed it for a reproducible run). With an
    int ``seed``, batch ``i`` depends only on ``seed`` and ``i``: every process of a distributed
    run (and a single-process run) draws the very same global batch.
    """
    if data.dim() != 1 or data.dtype != torch.long:
        raise ValueError(f"data must be 1-D int64 token ids, got {tuple(data.shape)} {data.dtype}")
    if len(data) <= block_size:
        raise ValueError(f"data has {len(data)} tokens, need more than block_size={block_size}")

    def batch(i: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = None if seed is None else torch.Generator().manual_seed(seed * 1_000_003 + i)
        return get_batch(data, block_size, batch_size, device, generator=g)

    return batch
