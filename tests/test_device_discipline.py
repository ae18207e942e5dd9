"""Device mix-ups caught without a GPU: course_lib's helpers on a second device, on a CPU-only machine.

CI has no GPU, so a helper that builds a tensor on the CPU and combines it with the caller's (a
mask, a position index, a grid) would pass every CPU test and crash for a learner on CUDA. Two
stand-ins for "another device" catch that here:

- the ``meta`` device (shapes, no data): PyTorch refuses to combine a meta tensor with a CPU tensor
  of one or more dimensions, as it refuses CUDA with CPU, and allows 0-dim CPU tensors with both
  (one gap: ``nn.Conv2d`` with meta weights accepts a CPU input, so conv tests look at the input's
  device themselves). It suits helpers that only compute (models, masks, convolutions), not those that
  need values (``.item()``, plotting, decoding loops that stop on a condition).
- ``OnOtherDevice``, a CPU tensor subclass that plays a GPU tensor for plotting helpers: combining
  it with a plain tensor of one or more dimensions raises, as does turning it into NumPy (what
  matplotlib does) without ``.cpu()`` / ``.to("cpu")`` first; ``.item()``, ``float()`` and
  ``.tolist()`` work, as they do on CUDA.

Neither raises a false alarm here: each refuses only what a CUDA tensor refuses, and each test
keeps to what its stand-in can tell (meta: no values; ``OnOtherDevice``: its ``.device`` still says
cpu, so it is given only to helpers that copy their input to the CPU, never to ones that build
tensors on ``x.device``). The notebooks are not run this way: they need real values everywhere
(losses printed, figures drawn) and take device-specific paths (autocast, pinned memory,
``torch.cuda.synchronize``), and no CPU-only device holds values, refuses to mix with the CPU
and passes for CUDA. ``make gpu-check`` runs them on a real GPU instead.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from course_lib import activations, attention, conv, text  # noqa: E402
from course_lib import nn as cnn  # noqa: E402
from course_lib.data import get_batch, random_affine, seq2seq_batches  # noqa: E402
from course_lib.encoder_decoder import (  # noqa: E402
    Seq2SeqConfig,
    Seq2SeqTransformer,
    beam_search_step,
    padding_mask,
    shift_targets,
)
from course_lib.transformer import GPT, GPTConfig  # noqa: E402

META = torch.device("meta")
# matplotlib asks plain CPU tensors for __array__(copy=...), which torch does not take yet
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def _tensors(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors(o)


class OnOtherDevice(torch.Tensor):
    """A CPU tensor standing for one on a GPU: refuses what a CUDA tensor refuses (see above)."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name in ("numpy", "__array__"):
            raise RuntimeError(f"{name}() of a tensor on the GPU: call .cpu() first")
        if func is torch.Tensor.cpu or (func is torch.Tensor.to and _to_the_cpu(args, kwargs)):
            with torch._C.DisableTorchFunctionSubclass():
                out = func(*args, **kwargs)
            return out.as_subclass(torch.Tensor)
        inputs = list(_tensors(args)) + list(_tensors(kwargs))
        if any(isinstance(t, cls) for t in inputs) and any(
            type(t) is torch.Tensor and t.dim() > 0 for t in inputs
        ):
            raise RuntimeError(f"{name}: a tensor on the GPU met a CPU tensor")
        return super().__torch_function__(func, types, args, kwargs)


def _to_the_cpu(args, kwargs) -> bool:
    """Whether a ``Tensor.to(...)`` call moves its tensor to the CPU (a CPU device or tensor)."""
    device = kwargs.get("device")
    for a in args[1:]:
        if isinstance(a, (str, torch.device)):
            device = torch.device(a)
        elif isinstance(a, torch.Tensor):  # .to(other): other's device
            device = None if isinstance(a, OnOtherDevice) else a.device
    return device is not None and torch.device(device).type == "cpu"


def on_gpu(t: torch.Tensor) -> OnOtherDevice:
    return t.as_subclass(OnOtherDevice)


_ZERO = {"item": 0, "__int__": 0, "__index__": 0, "__float__": 0.0, "__bool__": False}


@pytest.fixture
def meta_reads_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading a value off a meta tensor gives 0 (False) instead of raising.

    Meta tensors hold no data, so the helpers' input checks (ids in range: ``aminmax(...).item()``)
    and loops that stop on a condition (``if finished.all(): break``) cannot read one. With zeros
    the checks pass and the loops run to their length limit: a mix-up still raises, as it would on
    CUDA, only the control flow is that of an all-zero input.
    """
    for name, zero in _ZERO.items():
        original = getattr(torch.Tensor, name)

        def read(self, *args, _original=original, _zero=zero, **kwargs):
            if self.device.type == "meta":
                return _zero
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, read)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ---- the stand-ins refuse what CUDA refuses, and only that -----------------------------------------
def test_stand_ins_refuse_a_mix_up_and_nothing_else():
    for other in (torch.ones(3, device=META), on_gpu(torch.ones(3))):
        with pytest.raises((RuntimeError, NotImplementedError)):
            other + torch.ones(3)
        assert (other * torch.tensor(2.0)).shape == (3,)  # a 0-dim CPU tensor is fine, as on CUDA
    x = on_gpu(torch.arange(4.0))
    with pytest.raises(RuntimeError, match="numpy"):
        x.numpy()
    assert x.cpu().numpy().tolist() == [0.0, 1.0, 2.0, 3.0]
    assert type(x.detach().to("cpu", torch.float64)) is torch.Tensor
    assert isinstance(x.to(torch.float64), OnOtherDevice)
    assert x.sum().item() == 6.0 and x.tolist() == [0.0, 1.0, 2.0, 3.0]


# ---- helpers that compute: everything on the meta device ------------------------------------------
def test_conv_helpers_keep_the_callers_device():
    x = torch.zeros(2, 3, 8, 8, device=META)
    w, b = torch.zeros(4, 3, 3, 3, device=META), torch.zeros(4, device=META)
    assert conv.im2col(x, 3, padding=1).device == META
    assert conv.conv2d(x, w, b, stride=2, padding=1).device == META
    assert conv.max_pool2d(x, 2).device == META and conv.avg_pool2d(x, 2).device == META
    assert conv.Conv2d(3, 4, 3).to(META)(x).device == META
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten()).to(META)
    seen = []  # nn.Conv2d with meta weights takes a CPU input without complaint: look at it
    model[0].register_forward_hook(lambda m, i, o: seen.append(i[0].device))
    assert conv.shape_trace(model, (1, 3, 8, 8))[-1] == ("2", (1, 256))
    assert seen == [META]


def test_text_helpers_keep_the_callers_device(meta_reads_zero):
    ids, mask = text.pad_batch([[3, 4, 5], [6]], pad_id=0, device=META)
    assert ids.device == META and mask.device == META
    model = text.BagOfEmbeddings(10, 4, 3, pad_id=0).to(META)
    assert model(ids).shape == (2, 3) and model(ids, mask).device == META
    x = torch.zeros(2, 3, 4, device=META)
    assert text.masked_mean_pool(x, mask).device == META
    assert text.token_contributions(model, ids[0]).shape == (3, 3)


def test_attention_helpers_keep_the_callers_device():
    assert attention.causal_mask(5, META).device == META
    q = torch.zeros(2, 4, 5, 8, device=META)
    out, w = attention.scaled_dot_product_attention(q, q, q, is_causal=True)
    assert out.device == META and w.device == META
    mha = attention.MultiHeadAttention(d_model=32, n_heads=4).to(META)
    x = torch.zeros(2, 5, 32, device=META)
    for need in (False, True):
        assert mha(x, is_causal=True, need_weights=need)[0].device == META
    for pe in (
        attention.SinusoidalPositionalEncoding(16, 32),
        attention.LearnedPositionalEncoding(16, 32),
    ):
        assert pe.to(META)(x).device == META


def test_encoder_decoder_keeps_the_callers_device(meta_reads_zero):
    cfg = Seq2SeqConfig(vocab_size=20, max_src_len=8, max_tgt_len=6, d_model=16, n_heads=2,
                        n_enc_layers=1, n_dec_layers=1, d_ff=32)  # fmt: skip
    model = Seq2SeqTransformer(cfg).to(META)
    src = torch.zeros(2, 7, dtype=torch.long, device=META)
    tgt = torch.zeros(2, 6, dtype=torch.long, device=META)
    logits, loss = model(src, tgt)
    assert logits.device == META and loss.device == META
    assert padding_mask(src).device == META and shift_targets(tgt)[0].device == META
    assert model.greedy_decode(src, max_len=4).device == META
    ids, weights = model.greedy_decode(src, max_len=4, return_attention=True)
    assert ids.device == META and all(w.device == META for w in weights)
    assert all(t.device == META for t in _tensors(model.beam_search(src, beam_size=2, max_len=4)))
    scores, log_probs = torch.zeros(2, 3, device=META), torch.zeros(2, 3, 20, device=META)
    assert all(t.device == META for t in beam_search_step(scores, log_probs, 3))


def test_gpt_keeps_the_callers_device(meta_reads_zero):
    cfg = GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16)
    model = GPT(cfg).to(META)
    idx = torch.zeros(2, 8, dtype=torch.long, device=META)
    logits, loss = model(idx, idx)
    assert logits.device == META and loss.device == META
    assert model.generate(idx[:, :2], max_new_tokens=3).device == META


def test_from_scratch_layers_and_activations_keep_the_callers_device(meta_reads_zero):
    mlp = cnn.MLP([4, 8, 3], device=META)
    x, y = torch.zeros(5, 4, device=META), torch.zeros(5, dtype=torch.long, device=META)
    logits, _ = mlp.forward(x)
    assert logits.device == META
    assert all(t.device == META for t in _tensors(cnn.SoftmaxCrossEntropy().forward(logits, y)))
    z = torch.zeros(3, 4, device=META)
    for name in ("sigmoid", "tanh", "relu", "leaky_relu", "gelu", "silu", "softmax",
                 "log_softmax", "grad_sigmoid", "grad_tanh", "grad_relu", "grad_leaky_relu",
                 "grad_gelu", "grad_silu", "grad_softmax", "grad_log_softmax"):  # fmt: skip
        assert getattr(activations, name)(z).device == META, name


def test_batches_land_on_the_asked_device():
    data = torch.arange(100)
    x, y = get_batch(data, block_size=8, batch_size=4, device=META)
    assert x.device == META and y.device == META
    src = torch.ones(10, 5, dtype=torch.long)
    xb, yb = seq2seq_batches(src, src, batch_size=4, device=META)(0)
    assert xb.device == META and yb.device == META
    images = torch.zeros(3, 1, 8, 8, device=META)
    assert random_affine(images, generator=torch.Generator().manual_seed(0)).device == META


# ---- plotting helpers: given tensors "on the GPU" --------------------------------------------------
def test_image_helpers_copy_device_tensors_to_the_cpu():
    from course_lib.viz import show_feature_maps, show_images, show_kernels

    images = on_gpu(torch.rand(4, 1, 6, 6))
    labels, preds = on_gpu(torch.tensor([1, 2, 3, 4])), on_gpu(torch.tensor([1, 0, 3, 4]))
    show_images(images, labels, preds, ncols=4)
    show_feature_maps(on_gpu(torch.rand(1, 3, 5, 5)))
    show_kernels(on_gpu(torch.randn(4, 1, 3, 3)))


def test_attention_and_embedding_plots_copy_device_tensors_to_the_cpu():
    from course_lib.viz import plot_attention, plot_embedding_space, plot_positional_encoding

    plot_attention(on_gpu(torch.softmax(torch.randn(4, 4), -1)), ["a", "b", "c", "d"])
    plot_positional_encoding(on_gpu(attention.sinusoidal_encoding(16, 8)))
    plot_embedding_space(on_gpu(torch.randn(5, 8)), list("abcde"), ["x", "x", "y", "y", "y"])
