"""course_lib.train: exact resume, atomic checkpoints, clear errors, progress and plot callbacks."""

from __future__ import annotations

import math
import random
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_lib import callbacks, train
from course_lib.train import (
    CheckpointError,
    EarlyStopping,
    History,
    LivePlot,
    accuracy,
    evaluate,
    fit,
    load_checkpoint,
    save_checkpoint,
)


def make_model(seed: int = 0, hidden: int = 16) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, 3))


def make_loader(seed: int = 0, n: int = 64) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = torch.randint(0, 3, (n,), generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True)


def val_loader() -> DataLoader:
    return make_loader(seed=1, n=32)


def setup(seed: int = 0):
    model = make_model(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=30)
    return model, opt, sched


COMMON = dict(
    loss_fn=F.cross_entropy,
    eval_every=6,
    eval_batches=None,
    metrics={"acc": accuracy},
    grad_clip=1.0,
    device="cpu",
    progress=False,
    log_every=3,
)


def same_params(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_interrupted_then_resumed_equals_uninterrupted(tmp_path):
    torch.manual_seed(123)
    model, opt, sched = setup()
    full = fit(
        model, opt, make_loader(), steps=30, val_data=val_loader(), scheduler=sched, **COMMON
    )

    def interrupt(event, history, step):
        if event == "log" and step == 15:
            raise KeyboardInterrupt

    ckpt = tmp_path / "run.pt"
    torch.manual_seed(123)
    m1, o1, s1 = setup()
    h1 = fit(
        m1,
        o1,
        make_loader(),
        steps=30,
        val_data=val_loader(),
        scheduler=s1,
        checkpoint=ckpt,
        callbacks=[interrupt],
        **COMMON,
    )
    assert h1.steps_done == 15 and ckpt.is_file()

    torch.manual_seed(999)  # a fresh session: different global state before resuming
    random.seed(5)
    np.random.seed(5)
    m2, o2, s2 = setup(seed=7)
    h2 = fit(
        m2,
        o2,
        make_loader(),
        steps=30,
        val_data=val_loader(),
        scheduler=s2,
        checkpoint=ckpt,
        **COMMON,
    )
    assert h2.steps_done == 30
    assert same_params(model, m2)
    assert h2.train == full.train
    assert h2.val == full.val
    assert h2.lr == full.lr
    assert h2.best_val_loss == full.best_val_loss


def test_resume_with_batch_function_and_accumulation(tmp_path):
    data_x = torch.randn(200, 4)
    data_y = torch.randint(0, 3, (200,))

    def batch_fn(i: int):
        idx = torch.randint(0, 200, (10,))  # draws from the global generator
        return data_x[idx], data_y[idx]

    kw = dict(COMMON, accumulate=2, eval_every=6, eval_batches=3)
    torch.manual_seed(0)
    model, opt, _ = setup()
    full = fit(model, opt, batch_fn, steps=20, val_data=batch_fn, **kw)

    ckpt = tmp_path / "fn.pt"
    torch.manual_seed(0)
    m1, o1, _ = setup()
    fit(m1, o1, batch_fn, steps=12, val_data=batch_fn, checkpoint=ckpt, checkpoint_every=5, **kw)
    torch.manual_seed(42)
    m2, o2, _ = setup(seed=3)
    h2 = fit(m2, o2, batch_fn, steps=20, val_data=batch_fn, checkpoint=ckpt, **kw)
    assert same_params(model, m2)
    assert h2.train == full.train
    assert h2.val == full.val


def test_finished_checkpoint_returns_without_training(tmp_path, capsys):
    ckpt = tmp_path / "done.pt"
    model, opt, _ = setup()
    fit(model, opt, make_loader(), steps=6, checkpoint=ckpt, **COMMON)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    h = fit(model, opt, make_loader(), steps=6, checkpoint=ckpt, **COMMON)
    assert h.steps_done == 6
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert "resumed" in capsys.readouterr().out


def test_save_is_atomic_when_a_save_fails(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    model, opt, _ = setup()
    save_checkpoint(path, model, opt, step=3)
    good = path.read_bytes()

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(train.torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, opt, step=4)
    monkeypatch.undo()
    assert path.read_bytes() == good
    assert load_checkpoint(path, make_model())["step"] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]  # no temporary files left


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_checkpoint_gives_clear_error(tmp_path, damage):
    path = tmp_path / "bad.pt"
    model, opt, _ = setup()
    save_checkpoint(path, model, opt, step=1)
    data = path.read_bytes()
    path.write_bytes(
        {"truncate": data[: len(data) // 2], "garbage": b"not a checkpoint" * 10, "empty": b""}[
            damage
        ]
    )
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(path, make_model())
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        fit(make_model(), opt, make_loader(), steps=2, checkpoint=path, **COMMON)


def test_not_a_course_checkpoint(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(CheckpointError, match="not a course_lib.train checkpoint"):
        load_checkpoint(path, make_model())


def test_missing_checkpoint_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_checkpoint(tmp_path / "nope.pt", make_model())


def test_checkpoint_from_a_different_model(tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, make_model(hidden=16))
    with pytest.raises(
        CheckpointError,
        match=r"different model.*shape mismatch: 0\.weight \(checkpoint \(16, 4\) vs model \(32, 4\)\)",
    ):
        load_checkpoint(path, make_model(hidden=32))
    other = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))  # no dropout: keys shift
    with pytest.raises(CheckpointError, match="missing from the checkpoint: 2.weight"):
        load_checkpoint(path, other)
    with pytest.raises(CheckpointError, match="different model"):
        opt = torch.optim.SGD(other.parameters(), lr=0.1)
        fit(other, opt, make_loader(), steps=2, checkpoint=path, **COMMON)


def test_checkpoint_loads_with_weights_only_and_restores_rng(tmp_path):
    path = tmp_path / "rng.pt"
    torch.manual_seed(3)
    random.seed(3)
    np.random.seed(3)
    save_checkpoint(path, make_model(), history=History(train=[(1, 0.5)]))
    want = (torch.rand(3), random.random(), np.random.rand())
    torch.manual_seed(0)
    ckpt = load_checkpoint(path, restore_rng=True)
    got = (torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(want[0], got[0]) and want[1:] == got[1:]
    assert History.from_dict(ckpt["history"]).train == [(1, 0.5)]


def test_no_per_step_host_sync(monkeypatch):
    calls = {"n": 0}
    orig_item, orig_float = torch.Tensor.item, torch.Tensor.__float__

    def item(self):
        calls["n"] += 1
        return orig_item(self)

    def to_float(self):
        calls["n"] += 1
        return orig_float(self)

    monkeypatch.setattr(torch.Tensor, "item", item)
    monkeypatch.setattr(torch.Tensor, "__float__", to_float)
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)  # (Adam reads its step count with .item())
    fit(model, opt, make_loader(), steps=50, **dict(COMMON, log_every=10))
    # one read per log line, plus the sampler's seed at the start of each of the 7 passes
    assert calls["n"] <= 50 // 10 + 2 * 7


def test_evaluate_leaves_global_rng_alone():
    model = make_model()
    torch.manual_seed(5)
    want = torch.rand(2)
    torch.manual_seed(5)
    r1 = evaluate(model, make_loader(), F.cross_entropy, batches=None, metrics={"acc": accuracy})
    got = torch.rand(2)
    assert torch.equal(want, got)
    r2 = evaluate(model, make_loader(), F.cross_entropy, batches=None, metrics={"acc": accuracy})
    assert r1 == r2 and set(r1) == {"loss", "acc"} and 0 <= r1["acc"] <= 1
    assert model.training  # mode restored


def test_model_returning_output_and_loss():
    class WithLoss(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = make_model()

        def forward(self, x, y=None):
            out = self.net(x)
            return out, (F.cross_entropy(out, y) if y is not None else None)

    model = WithLoss()
    h = fit(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        make_loader(),
        steps=8,
        device="cpu",
        progress=False,
        log_every=4,
    )
    assert len(h.train) == 2 and all(math.isfinite(v) for _, v in h.train)


def test_bad_inputs():
    model, opt, _ = setup()
    with pytest.raises(ValueError, match="steps must be a positive int"):
        fit(model, opt, make_loader(), steps=0, **COMMON)
    with pytest.raises(ValueError, match="amp must be"):
        fit(model, opt, make_loader(), steps=2, amp="fp8", **{k: v for k, v in COMMON.items()})
    empty = DataLoader(
        TensorDataset(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long)), batch_size=4
    )
    with pytest.raises(ValueError, match="no batches"):
        fit(model, opt, empty, steps=2, **COMMON)
    with pytest.raises(ValueError, match="no batches"):
        evaluate(model, empty, F.cross_entropy, batches=None)
    with pytest.raises(TypeError, match="pair"):
        fit(model, opt, [torch.zeros(8, 4)], steps=2, **COMMON)
    with pytest.raises(TypeError, match="must return \\(output, loss\\)"):
        fit(model, opt, make_loader(), steps=2, **dict(COMMON, loss_fn=None))
    with pytest.raises(TypeError, match="train_data must be"):
        fit(model, opt, 3, steps=2, **COMMON)
    with pytest.raises(ValueError, match="does not match"):
        accuracy(torch.zeros(4, 3), torch.zeros(5, dtype=torch.long))


def test_nan_loss_is_reported():
    model, _, _ = setup()
    opt = torch.optim.SGD(model.parameters(), lr=1e30)
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        fit(model, opt, make_loader(), steps=40, **dict(COMMON, grad_clip=None))


def test_early_stopping_restores_best():
    model, opt, _ = setup()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    stopper = EarlyStopping(model, patience=2)
    h = fit(
        model,
        opt,
        make_loader(),
        steps=400,
        val_data=val_loader(),
        callbacks=[stopper],
        **dict(COMMON, eval_every=4),
    )
    assert stopper.stopped_at is not None and h.steps_done < 400
    assert evaluate(model, val_loader(), F.cross_entropy, batches=None)["loss"] == pytest.approx(
        h.best_val_loss, abs=1e-6
    )


def test_progress_without_ipywidgets_in_a_kernel(monkeypatch):
    """tqdm.auto inside a (fake) notebook kernel with ipywidgets missing: falls back, no crash."""
    import IPython

    class FakeShell:
        config = {"IPKernelApp": {}}

    for mod in ("tqdm.auto", "tqdm.autonotebook", "tqdm.notebook"):
        monkeypatch.delitem(sys.modules, mod, raising=False)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    monkeypatch.setattr(IPython, "get_ipython", lambda: FakeShell())
    bar = callbacks.Progress(True, total=10, initial=0)
    bar.update(5, loss="0.1")
    bar.close()
    model, opt, _ = setup()
    fit(model, opt, make_loader(), steps=4, **dict(COMMON, progress=True))


def test_progress_without_tqdm_auto(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    bar = callbacks.Progress(True, total=3, initial=0)
    assert bar.bar is not None  # the plain tqdm bar
    bar.update(3)
    bar.close()


def test_liveplot_outside_a_kernel_does_nothing():
    plot = LivePlot(every=0)
    model, opt, _ = setup()
    fit(model, opt, make_loader(), steps=6, val_data=val_loader(), callbacks=[plot], **COMMON)
    assert plot.draws == 0
    fig = plot.figure(History(train=[(1, 1.0), (2, 0.5)], val=[(2, {"loss": 0.7})]))
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 2


def test_liveplot_uses_one_display_handle(monkeypatch):
    import IPython.display

    shown, updates = [], []

    class Handle:
        def update(self, obj):
            updates.append(obj)

    def fake_display(obj, display_id=False):
        shown.append(obj)
        assert display_id is True
        return Handle()

    monkeypatch.setattr(IPython.display, "display", fake_display)
    monkeypatch.setattr(callbacks, "_in_kernel", lambda: True)
    plot = LivePlot(every=0)
    model, opt, _ = setup()
    fit(model, opt, make_loader(), steps=9, val_data=val_loader(), callbacks=[plot], **COMMON)
    assert len(shown) == 1 and len(updates) == plot.draws - 1 >= 3
    assert shown[0].data[:4] == b"\x89PNG"


def test_liveplot_failure_switches_it_off(monkeypatch):
    monkeypatch.setattr(callbacks, "_in_kernel", lambda: True)
    plot = LivePlot(every=0)
    monkeypatch.setattr(plot, "figure", lambda history: 1 / 0)
    model, opt, _ = setup()
    with pytest.warns(RuntimeWarning, match="LivePlot switched off"):
        fit(model, opt, make_loader(), steps=6, callbacks=[plot], **COMMON)
    assert not plot.enabled


@pytest.mark.skipif(not torch.cuda.is_available(), reason="mixed precision path needs CUDA")
@pytest.mark.parametrize("amp", ["auto", "fp16", "bf16"])
def test_amp_on_cuda(amp, tmp_path):
    if amp == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("no bf16 on this GPU")
    model, opt, sched = setup()
    h = fit(
        model,
        opt,
        make_loader(),
        steps=12,
        val_data=val_loader(),
        scheduler=sched,
        checkpoint=tmp_path / "amp.pt",
        **dict(COMMON, device="cuda", amp=amp),
    )
    assert all(math.isfinite(v) for _, v in h.train)
    assert next(model.parameters()).device.type == "cuda"
    assert load_checkpoint(tmp_path / "amp.pt", make_model())["step"] == 12


def test_numpy_values_in_extra_round_trip(tmp_path):
    path = tmp_path / "np.pt"
    extra = {
        "acc": np.float64(0.75),
        "n": np.int64(3),
        "hist": np.arange(3.0),
        "l": [np.float32(1)],
    }
    save_checkpoint(path, make_model(), extra=extra)
    got = load_checkpoint(path, make_model())["extra"]
    assert got["acc"] == 0.75 and type(got["acc"]) is float
    assert got["n"] == 3 and type(got["n"]) is int
    assert torch.equal(got["hist"], torch.arange(3.0, dtype=torch.float64))
    assert got["l"] == [1.0]
    with pytest.raises(TypeError, match=r"extra\['where'\] of type"):
        save_checkpoint(path, make_model(), extra={"where": tmp_path})
    assert load_checkpoint(path, make_model())["extra"]["acc"] == 0.75  # the good file is kept


def test_intact_file_with_a_refused_type_is_not_called_corrupt(tmp_path):
    path = tmp_path / "old.pt"  # written by hand (or an older version) with a NumPy scalar inside
    save_checkpoint(path, make_model())
    ckpt = torch.load(path, weights_only=True)
    ckpt["extra"] = {"acc": np.float64(0.75)}
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, make_model())
    message = str(info.value)
    assert "intact" in message and "numpy" in message and "weights_only=False" in message
    assert "corrupt" not in message and "elete" not in message


def _noisy_batches(i):
    """A batch function drawing from NumPy and Python's random, as augmentation code does."""
    x = torch.tensor(np.random.rand(8, 4), dtype=torch.float32) + random.random()
    return x, torch.zeros(8, dtype=torch.long)


def test_evaluate_restores_every_generator_and_repeats_its_batches():
    model = make_model()
    np.random.seed(7)
    random.seed(7)
    torch.manual_seed(7)
    want = (np.random.rand(), random.random(), torch.rand(1))
    np.random.seed(7)
    random.seed(7)
    torch.manual_seed(7)
    a = evaluate(model, _noisy_batches, F.cross_entropy, batches=3)
    b = evaluate(model, _noisy_batches, F.cross_entropy, batches=3)
    assert a == b
    got = (np.random.rand(), random.random(), torch.rand(1))
    assert want[:2] == got[:2] and torch.equal(want[2], got[2])


def test_resume_restores_numpy_and_python_random(tmp_path):
    def run(checkpoint, stop_at=None, seed=1):
        np.random.seed(seed)
        random.seed(seed)
        torch.manual_seed(seed)
        model = make_model()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)

        def interrupt(event, history, step):
            if stop_at is not None and event == "log" and step == stop_at:
                raise KeyboardInterrupt

        kw = dict(COMMON, eval_batches=2, callbacks=[interrupt])
        fit(model, opt, _noisy_batches, steps=12, checkpoint=checkpoint, **kw)
        return model

    full = run(None)
    ckpt = tmp_path / "noisy.pt"
    run(ckpt, stop_at=6)
    resumed = run(ckpt, seed=99)  # other global states before resuming: the checkpoint's win
    assert same_params(full, resumed)


def test_early_stopping_saves_the_best_checkpoint(tmp_path):
    model, _, _ = setup()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    best = tmp_path / "best.pt"
    stopper = EarlyStopping(model, patience=2, save_best=best)
    kw = dict(COMMON, eval_every=4)
    h = fit(model, opt, make_loader(), steps=400, val_data=val_loader(), callbacks=[stopper], **kw)
    saved = load_checkpoint(best, make_model())
    assert saved["step"] == h.best_step and stopper.stopped_at > h.best_step
    fresh = make_model()
    fresh.load_state_dict(saved["model"])
    assert same_params(fresh, model)  # the best weights, restored in memory and on disk


def test_compile_runs_the_batches_through_the_compiled_model(monkeypatch):
    calls = []

    class Compiled(nn.Module):  # stands in for torch.compile's wrapper: same weights
        def __init__(self, inner):
            super().__init__()
            self._orig_mod = inner

        def forward(self, x):
            calls.append(self.training)
            return self._orig_mod(x)

    monkeypatch.setattr(torch, "compile", lambda model: Compiled(model))
    model, opt, _ = setup()
    before = [p.detach().clone() for p in model.parameters()]
    fit(model, opt, make_loader(), steps=6, val_data=val_loader(), compile=True, **COMMON)
    assert calls.count(True) == 6 and False in calls  # training steps, then evaluation
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
