"""course_lib.data.digits: generated digits are deterministic and balanced; MNIST path; loaders."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from course_lib.data import digits
from course_lib.data.download import DataUnavailable


def test_render_is_deterministic_balanced_and_in_range():
    x1, y1 = digits.render_digits(53, seed=3)
    x2, y2 = digits.render_digits(53, seed=3)
    x3, _ = digits.render_digits(53, seed=4)
    assert x1.shape == (53, 1, 28, 28) and x1.dtype == torch.float32 and y1.dtype == torch.int64
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(x1, x3)
    assert 0 <= x1.min() and x1.max() <= 1
    counts = torch.bincount(y1, minlength=10)
    assert counts.min() >= 5 and counts.max() <= 6


def test_clean_render_is_centred_with_ink():
    x, y = digits.render_digits(20, seed=0, jitter=0.0, noise=0.0)
    ink = x.sum(dim=(1, 2, 3))
    assert (ink > 10).all()
    ys = torch.arange(28.0).view(1, 28, 1)
    centre_y = (x[:, 0] * ys).sum((1, 2)) / x[:, 0].sum((1, 2))
    assert ((centre_y - 13.5).abs() < 4).all()
    assert x[:, :, :2].max() < 0.05  # a border stays empty, like MNIST


def test_templates_keep_holes_open():
    t = digits.digit_templates(("DejaVuSans.ttf",))
    assert t.shape == (1, 10, 112, 112)
    zero = t[0, 0]
    assert zero[56, 56] == 0 and zero.sum() > 500  # the middle of a 0 is empty


def test_render_bad_input():
    with pytest.raises(ValueError, match="n must be a positive int"):
        digits.render_digits(0)
    with pytest.raises(ValueError, match="fonts is empty"):
        digits.render_digits(5, fonts=())
    with pytest.raises(ValueError, match="nope.ttf"):
        digits.render_digits(5, fonts=("nope.ttf",))


def test_random_affine_keeps_shape_dtype_and_is_seeded():
    x = torch.rand(4, 1, 28, 28, dtype=torch.float64)
    a = digits.random_affine(x, generator=torch.Generator().manual_seed(0))
    b = digits.random_affine(x, generator=torch.Generator().manual_seed(0))
    assert a.shape == x.shape and a.dtype == torch.float64 and torch.equal(a, b)
    ident = digits.random_affine(x, degrees=0, translate=0, scale=(1, 1), shear=0)
    torch.testing.assert_close(ident, x)
    with pytest.raises(ValueError, match="got shape \\(28, 28\\)"):
        digits.random_affine(x[0, 0])
    with pytest.raises(TypeError, match="torch.uint8"):
        digits.random_affine(torch.zeros(1, 1, 4, 4, dtype=torch.uint8))


def test_offline_uses_generated_digits(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    data = digits.load_digits(30, 20, 10, seed=1)
    assert data.source == "generated"
    out = capsys.readouterr().out
    assert "generated" in out and "COURSE_OFFLINE" in out
    assert [len(d) for d in (data.train, data.val, data.test)] == [30, 20, 10]
    assert not torch.equal(data.train.tensors[0][:10], data.test.tensors[0])
    with pytest.raises(DataUnavailable):
        digits.load_digits(30, 20, 10, source="mnist")


def _idx_gz(path, array: np.ndarray) -> None:
    header = (0x0800 + array.ndim).to_bytes(4, "big") + b"".join(
        d.to_bytes(4, "big") for d in array.shape
    )
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_mnist_path_with_fake_files(monkeypatch, tmp_path, capsys):
    rng = np.random.default_rng(0)
    files = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (50, 28, 28)),
        "train-labels-idx1-ubyte.gz": np.arange(50) % 10,
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (20, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": np.arange(20) % 10,
    }
    for name, arr in files.items():
        _idx_gz(tmp_path / name, arr)
    monkeypatch.setattr(digits, "fetch", lambda url, rel, sha, **kw: tmp_path / rel.split("/")[-1])
    xtr, ytr, xte, yte = digits.load_mnist()
    assert xtr.shape == (50, 1, 28, 28) and yte.shape == (20,)
    assert torch.allclose(
        xtr[3, 0] * 255, torch.from_numpy(files["train-images-idx3-ubyte.gz"][3]).float()
    )
    data = digits.load_digits(30, 10, 20)
    assert data.source == "mnist" and "MNIST" in capsys.readouterr().out
    with pytest.raises(ValueError, match="MNIST has 50 training"):
        digits.load_digits(45, 10, 5)


def test_loaders_have_no_workers():
    data = digits.load_digits(20, 10, 10, source="generated", verbose=False)
    train, val, test = data.loaders(batch_size=8)
    assert train.num_workers == 0 and val.num_workers == 0
    xb, yb = next(iter(train))
    assert xb.shape == (8, 1, 28, 28) and yb.shape == (8,)
    with pytest.raises(ValueError, match="empty"):
        digits.make_loader(torch.utils.data.TensorDataset(torch.zeros(0, 1, 28, 28)))
    with pytest.raises(ValueError, match="source must be"):
        digits.load_digits(source="cifar")
    with pytest.raises(ValueError, match="n_val must be a positive int"):
        digits.load_digits(10, 0, 10)
