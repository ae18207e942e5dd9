"""CharTokenizer and batching."""

from __future__ import annotations

import pytest
import torch

from course_lib.data import CharTokenizer, get_batch, train_val_split


def test_round_trip_and_sorted_vocab() -> None:
    tok = CharTokenizer("hello world")
    assert tok.chars == sorted(set("hello world")) and tok.vocab_size == 8
    ids = tok.encode("low")
    assert ids.dtype == torch.long and tok.decode(ids) == "low"


def test_bad_input_is_named() -> None:
    tok = CharTokenizer("abc")
    with pytest.raises(ValueError, match="'z'"):
        tok.encode("az")
    with pytest.raises(ValueError, match=r"\[7\]"):
        tok.decode([0, 7])
    with pytest.raises(ValueError):
        CharTokenizer("")


def test_batches_are_shifted_windows(device: torch.device) -> None:
    data = torch.arange(100)
    x, y = get_batch(data, block_size=8, batch_size=4, device=device)
    assert x.shape == y.shape == (4, 8) and x.device.type == device.type
    assert torch.equal(y[:, :-1], x[:, 1:]) and torch.equal(y[:, -1], x[:, -1] + 1)


def test_batches_follow_the_generator() -> None:
    data = torch.arange(1000)
    a = get_batch(data, 16, 3, generator=torch.Generator().manual_seed(1))
    b = get_batch(data, 16, 3, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a[0], b[0])


def test_split_and_errors() -> None:
    train, val = train_val_split(torch.arange(10), 0.9)
    assert len(train) == 9 and len(val) == 1
    with pytest.raises(ValueError):
        train_val_split(torch.arange(10), 1.0)
    with pytest.raises(ValueError, match="block_size=10"):
        get_batch(torch.arange(10), 10, 2)
    with pytest.raises(ValueError, match="1-D"):
        get_batch(torch.zeros(3, 3, dtype=torch.long), 2, 2)
