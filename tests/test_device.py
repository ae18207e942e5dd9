"""get_device / seed_everything / describe, with device availability faked."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from course_lib import device as dev


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch):
    def set_available(cuda: bool, mps: bool) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(dev, "_mps_available", lambda: mps)

    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    return set_available


@pytest.mark.parametrize(
    ("cuda", "mps", "want"),
    [(True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")],
)
def test_order_is_cuda_mps_cpu(fake, cuda: bool, mps: bool, want: str) -> None:
    fake(cuda, mps)
    assert dev.get_device() == torch.device(want)


def test_env_var_overrides(fake, monkeypatch: pytest.MonkeyPatch) -> None:
    fake(True, False)
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert dev.get_device() == torch.device("cpu")


def test_prefer_beats_env_var(fake, monkeypatch: pytest.MonkeyPatch) -> None:
    fake(True, False)
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert dev.get_device("cuda:0") == torch.device("cuda:0")


def test_absent_device_is_a_clear_error(fake, monkeypatch: pytest.MonkeyPatch) -> None:
    fake(False, False)
    monkeypatch.setenv("COURSE_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match=r"COURSE_DEVICE='cuda'.*available: cpu"):
        dev.get_device()
    with pytest.raises(RuntimeError, match=r"prefer='mps'"):
        dev.get_device("mps")


def test_unknown_device_names_the_choices(fake) -> None:
    with pytest.raises(ValueError, match="cuda, mps, cpu"):
        dev.get_device("tpu")
    with pytest.raises(TypeError):
        dev.get_device(3)  # type: ignore[arg-type]


def test_seed_everything_repeats_all_generators() -> None:
    def draw() -> tuple[float, float, float]:
        return random.random(), float(np.random.rand()), torch.rand(1).item()

    dev.seed_everything(123)
    first = draw()
    dev.seed_everything(123)
    assert draw() == first
    with pytest.raises(TypeError):
        dev.seed_everything(1.5)  # type: ignore[arg-type]


def test_describe_mentions_versions_device_and_fast(fake) -> None:
    fake(False, False)
    text = dev.describe()
    assert torch.__version__ in text and "device: cpu" in text and "FAST mode" in text


def test_config_pick_follows_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    from course_lib import config

    monkeypatch.setattr(config, "FAST", True)
    assert config.pick(100, 5) == 5
    monkeypatch.setattr(config, "FAST", False)
    assert config.pick(100, 5) == 100
