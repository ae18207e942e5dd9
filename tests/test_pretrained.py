"""GPT-2 weights in the course GPT: logits equal to Hugging Face's, with and without the KV cache.

The reference is a small random ``GPT2LMHeadModel`` built locally from a ``GPT2Config`` (no
download): it runs the same expression (GPT-2's forward) that the course GPT must reproduce once
the weights are mapped. Also: the offline path fails fast with a sentence, and the course's own
pretrained GPT is cached and verified by sha256.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import replace

import pytest
import torch

from course_lib import pretrained
from course_lib.pretrained import (
    PretrainedUnavailable,
    gpt2_config,
    gpt2_state_dict,
    gpt_from_gpt2,
    hidden_states,
    load_gpt2,
    load_pretrained,
    pretrain_char_gpt,
)
from course_lib.recipes import GPT_CHAR
from course_lib.transformer import GPT, GPTConfig

transformers = pytest.importorskip("transformers", reason="transformers is not installed")

SMALL = [
    dict(vocab_size=97, n_positions=32, n_embd=32, n_layer=2, n_head=4),
    dict(vocab_size=50, n_positions=24, n_embd=48, n_layer=3, n_head=3),
]


def _hf(device: torch.device, **kw) -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(bos_token_id=0, eos_token_id=0, attn_implementation="eager", **kw)
    model = transformers.GPT2LMHeadModel(cfg).eval()
    with torch.no_grad():  # random biases and LayerNorm gains, so every parameter matters
        for name, p in model.named_parameters():
            if name.endswith("bias") or "ln_" in name:
                p.normal_(0.0, 0.1 if name.endswith("bias") else 1.0)
    return model.to(device)


@pytest.mark.parametrize("kw", SMALL)
@pytest.mark.parametrize("shape", [(1, 1), (2, 7), (3, 24)])
def test_logits_equal_huggingface(device: torch.device, kw: dict, shape: tuple[int, int]) -> None:
    hf = _hf(device, **kw)
    ours = gpt_from_gpt2(hf)
    assert ours.config.gelu == "tanh" and ours.config.bias
    idx = torch.randint(0, kw["vocab_size"], shape, device=device)
    with torch.no_grad():
        want = hf(idx).logits
        got = ours(idx)[0]
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_kv_cache_matches_huggingface_past_key_values(device: torch.device) -> None:
    hf = _hf(device, **SMALL[0])
    ours = gpt_from_gpt2(hf)
    idx = torch.randint(0, 97, (2, 12), device=device)
    # transformers 5 renamed past_key_values to cache; use whichever this version takes
    params = inspect.signature(hf.forward).parameters
    cache_arg = "cache" if "cache" in params else "past_key_values"
    with torch.no_grad():
        full = ours(idx)[0]  # the course GPT, no cache, whole sequence
        out = hf(idx[:, :5], use_cache=True)  # Hugging Face: prefill 5, then one token at a time
        steps, past = [out.logits], out.past_key_values
        for t in range(5, 12):
            out = hf(idx[:, t : t + 1], **{cache_arg: past}, use_cache=True)
            steps.append(out.logits)
            past = out.past_key_values
    torch.testing.assert_close(full, torch.cat(steps, dim=1), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("use_cache", [False, True])
def test_greedy_generation_equals_huggingface(device: torch.device, use_cache: bool) -> None:
    hf = _hf(device, **SMALL[0])
    ours = gpt_from_gpt2(hf)
    idx = torch.randint(0, 97, (2, 4), device=device)
    want = hf.generate(
        idx, attention_mask=torch.ones_like(idx), max_new_tokens=16, do_sample=False,
        pad_token_id=0, use_cache=True,
    )  # fmt: skip
    got = ours.generate(idx, 16, top_k=1, use_cache=use_cache)
    assert torch.equal(got, want)


def test_weight_map_transposes_conv1d() -> None:
    hf = _hf(torch.device("cpu"), **SMALL[1])
    hf_sd = hf.state_dict()
    sd = gpt2_state_dict(hf_sd, 3)
    w = hf_sd["transformer.h.1.mlp.c_fc.weight"]  # Conv1D: (in, out) = (48, 192)
    assert tuple(w.shape) == (48, 192)
    assert torch.equal(sd["blocks.1.mlp.fc.weight"], w.t())  # nn.Linear: (out, in)
    assert sd["lm_head.weight"] is sd["wte.weight"]
    ours = GPT(gpt2_config(hf.config))
    assert set(sd) == set(ours.state_dict())


def test_weight_map_errors() -> None:
    hf = _hf(torch.device("cpu"), **SMALL[0])
    sd = dict(hf.state_dict())
    with pytest.raises(ValueError, match="n_layer"):
        gpt2_state_dict(sd, 3)
    sd["lm_head.weight"] = sd["lm_head.weight"] + 1.0
    with pytest.raises(ValueError, match="ties"):
        gpt2_state_dict(sd, 2)
    cfg = transformers.GPT2Config(activation_function="relu", n_layer=1)
    with pytest.raises(ValueError, match="relu"):
        gpt2_config(cfg)
    with pytest.raises(ValueError, match="gelu"):
        GPTConfig(gelu="erf")


def test_hidden_states_feed_the_head() -> None:
    model = GPT(GPTConfig(vocab_size=20, block_size=16, n_layer=2, n_head=2, n_embd=16)).eval()
    idx = torch.randint(0, 20, (2, 9))
    h = hidden_states(model, idx)
    assert h.shape == (2, 9, 16)
    torch.testing.assert_close(model.lm_head(h), model(idx)[0])


def test_offline_gpt2_fails_fast_with_a_sentence(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(PretrainedUnavailable, match="run this again") as e:
        load_gpt2("gpt2")
    assert time.perf_counter() - start < 30  # no retries against an unreachable hub
    assert "\n" not in str(e.value)


# chapter 10's recipe shrunk to a model that trains in a blink
_TINY = replace(GPT_CHAR["cpu"], n_layer=1, n_head=2, n_embd=16, block_size=16, batch_size=4,
                iters=3, warmup=1)  # fmt: skip


def _text() -> str:
    from course_lib.data import generate_play

    return generate_play(20_000, seed=3)


def test_char_gpt_is_cached_and_verified(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(pretrained, "_recipe", lambda fast: _TINY)
    text = _text()
    m1, tok = pretrain_char_gpt(text, fast=True)
    files = sorted((tmp_path / "pretrained").glob("*.pt"))
    assert len(files) == 1 and files[0].with_name(files[0].name + ".sha256").is_file()
    capsys.readouterr()
    m2, _ = pretrain_char_gpt(text, fast=True)  # loaded, not trained
    assert "sha256 verified" in capsys.readouterr().out
    for a, b in zip(m1.state_dict().values(), m2.state_dict().values()):
        assert torch.equal(a, b)
    files[0].write_bytes(files[0].read_bytes()[:-8] + b"tampered")
    pretrain_char_gpt(text, fast=True)
    out = capsys.readouterr().out
    assert "does not match the sha256" in out and "Pretraining" in out
    assert set(tok.chars) >= set("ABCXYZxyz")  # every letter, whatever the text
    # a changed recipe is another model: it must not load the first one's checkpoint
    monkeypatch.setattr(pretrained, "_recipe", lambda fast: replace(_TINY, lr=2e-3))
    pretrain_char_gpt(text, fast=True)
    assert "Pretraining" in capsys.readouterr().out
    assert len(list((tmp_path / "pretrained").glob("*.pt"))) == 2


def test_char_gpt_uses_chapter_10_recipe() -> None:
    """One definition of the recipe: the full run is GPT_CHAR["cpu"], FAST only shrinks it."""
    assert pretrained._recipe(False) == GPT_CHAR["cpu"]
    fast = pretrained._recipe(True)
    assert (fast.lr, fast.betas, fast.weight_decay) == (
        GPT_CHAR["cpu"].lr,
        GPT_CHAR["cpu"].betas,
        GPT_CHAR["cpu"].weight_decay,
    )
    assert fast.iters < 100


def test_load_pretrained_offline_falls_back(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setattr(pretrained, "_recipe", lambda fast: replace(_TINY, iters=2))
    p = load_pretrained("auto", text=_text())
    assert p.source == "char" and isinstance(p.model, GPT)
    assert "GPT-2 is not available" in capsys.readouterr().out
    with pytest.raises(PretrainedUnavailable):
        load_pretrained("gpt2")
    with pytest.raises(ValueError, match="prefer"):
        load_pretrained("bert")
