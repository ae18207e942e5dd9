"""Digit images (chapters 06-07): MNIST when it can be had, else digits rendered here.

``load_digits()`` returns train / validation / test ``TensorDataset``s of ``(N, 1, 28, 28)``
float32 images in [0, 1] and int64 labels, and prints which data set is in use:

* **MNIST**, fetched once through ``course_lib.data.fetch`` (sha256-checked, cached), and
  subsampled to the sizes asked for;
* otherwise (offline, ``COURSE_OFFLINE=1``, or ``source="generated"``) **generated digits**:
  the ten digits of 21 fonts shipped with matplotlib (sans, serif, mono, STIX, Computer Modern;
  regular, bold, italic), rendered from their outlines, made thinner or bolder, then randomly
  rotated, scaled, sheared and shifted, with random contrast, blur and noise. Same seed, same
  images. Rendering 10,000 takes about a second on a CPU.

``DataLoader``s use ``num_workers=0`` (no worker processes) so they work the same on Linux,
macOS and Windows.
"""

from __future__ import annotations

import gzip
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from .download import DataUnavailable, fetch

__all__ = [
    "DigitData",
    "FONTS",
    "MNIST_FILES",
    "digit_templates",
    "load_digits",
    "load_mnist",
    "make_loader",
    "random_affine",
    "render_digits",
]

#: sha256 of the four MNIST files (the gzip archives as distributed).
MNIST_FILES: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

#: Font files (in matplotlib's own font folder) the generated digits are drawn from.
FONTS: tuple[str, ...] = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf",
    "DejaVuSansMono-Oblique.ttf",
    "DejaVuSansMono-BoldOblique.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSerif-BoldItalic.ttf",
    "STIXGeneral.ttf",
    "STIXGeneralBol.ttf",
    "STIXGeneralItalic.ttf",
    "STIXGeneralBolIta.ttf",
    "cmr10.ttf",
    "cmb10.ttf",
    "cmss10.ttf",
    "cmtt10.ttf",
    "cmti10.ttf",
)

_HI = 112  # template resolution: 4x the 28-pixel images


# --------------------------------------------------------------------------------------------
# Generated digits


@lru_cache(maxsize=4)
def digit_templates(fonts: tuple[str, ...] = FONTS) -> torch.Tensor:
    """High-resolution glyphs, ``(len(fonts), 10, 112, 112)`` float32 in [0, 1], centred like MNIST.

    Each glyph's outline (matplotlib ``TextPath``) is scaled so its height is 20/28 of the
    image (width at most that), centred on its bounding box, and filled by an even-odd point-in-polygon test (so the holes of
    0, 6, 8 and 9 stay open).
    """
    import matplotlib
    from matplotlib.font_manager import FontProperties
    from matplotlib.path import Path as MplPath
    from matplotlib.textpath import TextPath

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    ys, xs = np.mgrid[0:_HI, 0:_HI]
    grid = np.stack([xs.ravel() + 0.5, _HI - (ys.ravel() + 0.5)], axis=1)  # y up, like the path
    out = np.zeros((len(fonts), 10, _HI, _HI), dtype=np.float32)
    for f, name in enumerate(fonts):
        if not (folder / name).is_file():
            raise ValueError(
                f"font file {name!r} is not among matplotlib's fonts in its data folder"
            )
        prop = FontProperties(fname=str(folder / name))
        for d in range(10):
            path = TextPath((0, 0), str(d), size=1, prop=prop)
            v = path.vertices.copy()
            lo, hi = v.min(0), v.max(0)
            w, h = hi - lo
            s = _HI * (20 / 28) / max(h, w)
            v = (v - (lo + hi) / 2) * s + _HI / 2
            inside = np.zeros(len(grid), dtype=bool)
            for poly in MplPath(v, path.codes).to_polygons(closed_only=True):
                inside ^= MplPath(poly).contains_points(grid)  # even-odd: holes stay open
            out[f, d] = inside.reshape(_HI, _HI)
    return torch.from_numpy(out)


@lru_cache(maxsize=4)
def _stroke_variants(fonts: tuple[str, ...]) -> torch.Tensor:
    """Templates with five stroke widths (thinner to bolder), at 56 pixels: ``(F, 10, 5, 56, 56)``."""
    hi = digit_templates(fonts).flatten(0, 1).unsqueeze(1)  # (F*10, 1, 112, 112)
    variants = []
    for w in (-2, -1, 0, 1, 2):
        k = 2 * abs(w) + 1
        if w > 0:
            v = F.max_pool2d(hi, k, 1, abs(w))  # dilate: bolder
        elif w < 0:
            v = -F.max_pool2d(-hi, k, 1, abs(w))  # erode: thinner
        else:
            v = hi
        variants.append(F.avg_pool2d(v, 2))  # anti-aliased 56 x 56
    out = torch.stack(variants, 1)  # (F*10, 5, 1, 56, 56)
    return out.view(len(fonts), 10, 5, _HI // 2, _HI // 2)


def random_affine(
    images: torch.Tensor,
    degrees: float = 10.0,
    translate: float = 0.08,
    scale: tuple[float, float] = (0.9, 1.1),
    shear: float = 0.15,
    generator: torch.Generator | None = None,
    out_size: int | None = None,
) -> torch.Tensor:
    """Rotate, scale, shear and shift each image at random (data augmentation), ``(N, C, H, W)``.

    ``translate`` is a fraction of the image size; pixels coming from outside are 0.
    Keeps dtype and device; draws from ``generator`` (or the global generator).
    """
    if images.ndim != 4:
        raise ValueError(
            f"random_affine expects (N, C, H, W) images, got shape {tuple(images.shape)}"
        )
    if not images.is_floating_point():
        raise TypeError(f"random_affine expects floating-point images, got {images.dtype}")
    n = images.shape[0]
    g = dict(generator=generator)

    def u(lo: float, hi: float) -> torch.Tensor:
        return torch.rand(n, **g) * (hi - lo) + lo

    angle = u(-degrees, degrees) * math.pi / 180
    sc = u(*scale)
    sh = u(-shear, shear)
    tx, ty = u(-translate, translate) * 2, u(-translate, translate) * 2
    cos, sin = torch.cos(angle), torch.sin(angle)
    # inverse map (output -> input coordinates), as affine_grid wants
    a = torch.stack(
        [
            torch.stack([cos, -sin + sh, tx], 1),
            torch.stack([sin, cos, ty], 1),
        ],
        1,
    ) / sc.view(n, 1, 1)
    a[:, :, 2] *= sc.view(n, 1)  # shift is not scaled
    size = out_size or images.shape[-1]
    theta = a.to(images.device, images.dtype)
    grid = F.affine_grid(theta, [n, images.shape[1], size, size], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def render_digits(
    n: int,
    seed: int = 0,
    fonts: tuple[str, ...] | list[str] = FONTS,
    jitter: float = 1.0,
    noise: float = 0.08,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` generated digit images ``(n, 1, 28, 28)`` float32 in [0, 1] and labels ``(n,)`` int64.

    Labels are balanced (each digit ``n // 10`` or ``n // 10 + 1`` times) in random order.
    ``jitter`` scales the random geometry (0: centred, upright glyphs); ``noise`` is the largest
    standard deviation of the added pixel noise. Deterministic given ``seed``.
    """
    if not isinstance(n, int) or n <= 0:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if jitter < 0 or noise < 0:
        raise ValueError(f"jitter and noise must be >= 0, got jitter={jitter}, noise={noise}")
    fonts = tuple(fonts)
    if not fonts:
        raise ValueError("fonts is empty: give at least one font file name from FONTS")
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 10
    labels = labels[torch.randperm(n, generator=g)]
    tmpl = _stroke_variants(fonts)  # (F, 10, 5, 56, 56)
    font_idx = torch.randint(0, len(fonts), (n,), generator=g)
    width_idx = torch.randint(0, tmpl.shape[2], (n,), generator=g)
    chunks = []
    for start in range(0, n, 2048):
        sl = slice(start, min(n, start + 2048))
        mid = tmpl[font_idx[sl], labels[sl], width_idx[sl]].unsqueeze(1)  # (b, 1, 56, 56)
        b = mid.shape[0]
        img = random_affine(
            mid,
            degrees=12 * jitter,
            translate=0.07 * jitter,
            scale=(1 - 0.15 * jitter, 1 + 0.05 * jitter),
            shear=0.25 * jitter,
            generator=g,
            out_size=56,
        )
        img = F.avg_pool2d(img, 2)  # (b, 1, 28, 28)
        blur = torch.rand(b, generator=g) < 0.3
        k = torch.tensor([0.25, 0.5, 0.25])
        kernel = (k[:, None] * k[None, :]).view(1, 1, 3, 3)
        img = torch.where(blur.view(b, 1, 1, 1), F.conv2d(img, kernel, padding=1), img)
        contrast = 0.6 + 0.4 * torch.rand(b, 1, 1, 1, generator=g)
        sigma = noise * torch.rand(b, 1, 1, 1, generator=g)
        img = img * contrast + sigma * torch.randn(img.shape, generator=g)
        chunks.append(img.clamp(0, 1))
    return torch.cat(chunks), labels.to(torch.int64)


# --------------------------------------------------------------------------------------------
# MNIST


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[:4], "big")
    ndim = magic & 0xFF
    if magic >> 8 != 0x08 or ndim not in (1, 3):
        raise DataUnavailable(
            f"{path.name} is not an IDX file of unsigned bytes (magic {magic:#x})"
        )
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_mnist() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """MNIST as ``(x_train (60000,1,28,28), y_train, x_test (10000,1,28,28), y_test)``, floats in [0, 1].

    Raises ``DataUnavailable`` when a file can be neither found in the cache nor downloaded
    (it gives up at the first file that cannot be had, so offline it fails fast).
    """
    paths = {}
    for name, sha in MNIST_FILES.items():
        last: Exception | None = None
        for mirror in MNIST_MIRRORS:
            try:
                paths[name] = fetch(mirror + name, f"mnist/{name}", sha, timeout=15, retries=0)
                break
            except DataUnavailable as e:
                last = e
                if "OFFLINE" in str(e):
                    break
        if name not in paths:
            raise DataUnavailable(str(last))
    xs = {k: _read_idx(p) for k, p in paths.items()}

    def images(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a.astype(np.float32) / 255.0).unsqueeze(1)

    return (
        images(xs["train-images-idx3-ubyte.gz"]),
        torch.from_numpy(xs["train-labels-idx1-ubyte.gz"].astype(np.int64)),
        images(xs["t10k-images-idx3-ubyte.gz"]),
        torch.from_numpy(xs["t10k-labels-idx1-ubyte.gz"].astype(np.int64)),
    )


# --------------------------------------------------------------------------------------------
# The data set the notebooks use


@dataclass
class DigitData:
    """Train / validation / test splits and which data set they come from."""

    train: TensorDataset
    val: TensorDataset
    test: TensorDataset
    source: str  # "mnist" or "generated"
    notice: str

    def loaders(
        self, batch_size: int = 128, eval_batch_size: int = 512
    ) -> tuple[DataLoader, DataLoader, DataLoader]:
        """(train, val, test) loaders; only the training one shuffles."""
        return (
            make_loader(self.train, batch_size, shuffle=True),
            make_loader(self.val, eval_batch_size, shuffle=False),
            make_loader(self.test, eval_batch_size, shuffle=False),
        )

    def __repr__(self) -> str:
        return (
            f"DigitData({self.source}: train {len(self.train)}, val {len(self.val)}, "
            f"test {len(self.test)} images of 1x28x28)"
        )


def make_loader(
    dataset: TensorDataset, batch_size: int = 128, shuffle: bool = False, **kwargs
) -> DataLoader:
    """A ``DataLoader`` with portable defaults: no worker processes (``num_workers=0``)."""
    if len(dataset) == 0:
        raise ValueError("the data set is empty: nothing to load")
    kwargs.setdefault("num_workers", 0)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, **kwargs)


def load_digits(
    n_train: int = 10000,
    n_val: int = 2000,
    n_test: int = 2000,
    source: str = "auto",
    seed: int = 0,
    verbose: bool = True,
) -> DigitData:
    """Digit images split three ways; prints which data set is in use when ``verbose``.

    ``source``: "auto" (MNIST if it can be had, else generated), "mnist" (raise
    ``DataUnavailable`` if it cannot be had) or "generated". MNIST's training images are
    shuffled with ``seed`` and split into train and validation; its test images give the test set.
    """
    if source not in ("auto", "mnist", "generated"):
        raise ValueError(f"source must be 'auto', 'mnist' or 'generated', got {source!r}")
    for name, v in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test)):
        if not isinstance(v, int) or v <= 0:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if source in ("auto", "mnist"):
        try:
            xtr, ytr, xte, yte = load_mnist()
        except DataUnavailable as e:
            if source == "mnist":
                raise
            offline = "OFFLINE" in str(e)
            reason = "COURSE_OFFLINE is set" if offline else "it could not be downloaded (offline?)"
        else:
            if n_train + n_val > len(xtr) or n_test > len(xte):
                raise ValueError(
                    f"MNIST has {len(xtr)} training and {len(xte)} test images; asked for "
                    f"{n_train}+{n_val} and {n_test}"
                )
            g = torch.Generator().manual_seed(seed)
            perm = torch.randperm(len(xtr), generator=g)
            tr, va = perm[:n_train], perm[n_train : n_train + n_val]
            te = torch.randperm(len(xte), generator=g)[:n_test]
            notice = f"Digits: MNIST ({n_train} train, {n_val} validation, {n_test} test images)."
            if verbose:
                print(notice)
            return DigitData(
                TensorDataset(xtr[tr], ytr[tr]),
                TensorDataset(xtr[va], ytr[va]),
                TensorDataset(xte[te], yte[te]),
                "mnist",
                notice,
            )
    else:
        reason = "source='generated' was asked for"
    parts = [render_digits(n, seed=seed * 3 + i) for i, n in enumerate((n_train, n_val, n_test))]
    notice = (
        f"Digits: generated here from {len(FONTS)} fonts ({n_train} train, {n_val} validation, "
        f"{n_test} test images); MNIST not used: {reason}."
    )
    if verbose:
        print(notice)
    return DigitData(*(TensorDataset(x, y) for x, y in parts), "generated", notice)
