"""Pretrained weights for the course's own GPT (chapter 14).

Two sources, one model class (``course_lib.transformer.GPT``):

- **GPT-2** from Hugging Face. ``gpt2_state_dict`` maps a ``GPT2LMHeadModel`` state dict onto the
  course's parameter names. GPT-2 stores its linear layers as ``Conv1D`` with weights ``(in, out)``
  (``y = x @ W + b``), the transpose of ``nn.Linear``'s ``(out, in)``; it has biases everywhere, the
  tanh approximation of GELU, and an output layer tied to the token embedding. ``load_gpt2`` reads
  the weights through ``transformers`` (which caches them) and fails fast, with one sentence saying
  what to do, when they cannot be had.
- **A GPT the course pretrains itself** on tiny Shakespeare (the chapter-10 recipe), trained on the
  spot or loaded from a checkpoint this module wrote earlier in the data folder, verified by the
  sha256 recorded when it was written. Nothing is downloaded and nothing ships with the repository.

``load_pretrained()`` gives a chapter a pretrained model in every setting.
``transformers`` is imported inside the functions that need it: ``course_lib`` imports without it.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import string
import tempfile
import urllib.parse
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .config import FAST, pick
from .data.chars import CharTokenizer, get_batch, train_val_split
from .data.download import ENV_OFFLINE, data_dirs, sha256_of
from .recipes import GPT_CHAR, GPTRecipe
from .transformer import GPT, GPTConfig

__all__ = [
    "GPT2Tokens",
    "Pretrained",
    "PretrainedUnavailable",
    "char_tokenizer",
    "gpt2_config",
    "gpt2_state_dict",
    "gpt_from_gpt2",
    "hidden_states",
    "load_gpt2",
    "load_pretrained",
    "pretrain_char_gpt",
]

#: GPT-2's linear layers, stored as ``Conv1D`` with weights ``(in, out)``: transposed when loaded.
CONV1D_SUFFIXES = (
    "attn.c_attn.weight",
    "attn.c_proj.weight",
    "mlp.c_fc.weight",
    "mlp.c_proj.weight",
)

# Hugging Face GPT-2 name (inside transformer.h.{i}.) -> course GPT name (inside blocks.{i}.)
_BLOCK_NAMES = {
    "ln_1.weight": "ln_1.weight",
    "ln_1.bias": "ln_1.bias",
    "attn.c_attn.weight": "attn.qkv.weight",
    "attn.c_attn.bias": "attn.qkv.bias",
    "attn.c_proj.weight": "attn.proj.weight",
    "attn.c_proj.bias": "attn.proj.bias",
    "ln_2.weight": "ln_2.weight",
    "ln_2.bias": "ln_2.bias",
    "mlp.c_fc.weight": "mlp.fc.weight",
    "mlp.c_fc.bias": "mlp.fc.bias",
    "mlp.c_proj.weight": "mlp.proj.weight",
    "mlp.c_proj.bias": "mlp.proj.bias",
}
_TOP_NAMES = {
    "transformer.wte.weight": "wte.weight",
    "transformer.wpe.weight": "wpe.weight",
    "transformer.ln_f.weight": "ln_f.weight",
    "transformer.ln_f.bias": "ln_f.bias",
}
_GELU_FORMS = {"gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu": "none"}


class PretrainedUnavailable(RuntimeError):
    """Pretrained weights cannot be had right now; the message says what to do."""


# --------------------------------------------------------------------------------------------
# GPT-2 -> course GPT


def gpt2_config(hf_config: Any) -> GPTConfig:
    """The ``GPTConfig`` of a Hugging Face ``GPT2Config``: biases on, tanh GELU, no dropout.

    Raises ``ValueError`` for a GPT-2 variant the course's GPT cannot reproduce (another
    activation, another LayerNorm epsilon, a non-standard MLP width or attention scaling).
    """
    act = getattr(hf_config, "activation_function", "gelu_new")
    if act not in _GELU_FORMS:
        raise ValueError(f"activation_function={act!r} is not a GELU the course GPT has")
    eps = float(getattr(hf_config, "layer_norm_epsilon", 1e-5))
    if eps != 1e-5:  # nn.LayerNorm's default, which the course GPT uses
        raise ValueError(f"layer_norm_epsilon={eps} differs from the course GPT's 1e-5")
    n_inner = getattr(hf_config, "n_inner", None)
    if n_inner not in (None, 4 * hf_config.n_embd):
        raise ValueError(f"n_inner={n_inner}: the course GPT's MLP is 4 * n_embd wide")
    if not getattr(hf_config, "scale_attn_weights", True) or getattr(
        hf_config, "scale_attn_by_inverse_layer_idx", False
    ):
        raise ValueError("the course GPT scales attention scores by 1/sqrt(head size) only")
    return GPTConfig(
        vocab_size=hf_config.vocab_size,
        block_size=hf_config.n_positions,
        n_layer=hf_config.n_layer,
        n_head=hf_config.n_head,
        n_embd=hf_config.n_embd,
        dropout=0.0,
        bias=True,
        gelu=_GELU_FORMS[act],
    )


def gpt2_state_dict(hf_state: Mapping[str, torch.Tensor], n_layer: int) -> dict[str, torch.Tensor]:
    """Rename and reshape a ``GPT2LMHeadModel`` state dict for the course GPT.

    ``Conv1D`` weights ``(in, out)`` become ``nn.Linear`` weights ``(out, in)`` (transposed);
    biases and LayerNorm parameters are copied; ``lm_head.weight`` is the token embedding (tied).
    The attention-mask buffers of older checkpoints (``attn.bias``, ``attn.masked_bias``) are
    dropped: the course GPT builds its causal mask itself. Raises ``ValueError`` naming missing or
    unexpected keys, and for an output layer that is not tied to the embedding.
    """
    state = {k.removeprefix("model."): v for k, v in hf_state.items()}
    out: dict[str, torch.Tensor] = {}
    used = set()
    for hf_name, name in _TOP_NAMES.items():
        if hf_name not in state:
            raise ValueError(f"the GPT-2 state dict has no {hf_name!r}")
        out[name] = state[hf_name]
        used.add(hf_name)
    for i in range(n_layer):
        for hf_suffix, suffix in _BLOCK_NAMES.items():
            hf_name = f"transformer.h.{i}.{hf_suffix}"
            if hf_name not in state:
                raise ValueError(f"the GPT-2 state dict has no {hf_name!r} (n_layer={n_layer}?)")
            w = state[hf_name]
            out[f"blocks.{i}.{suffix}"] = w.t().contiguous() if hf_suffix in CONV1D_SUFFIXES else w
            used.add(hf_name)
    head = state.get("lm_head.weight")
    if head is not None:
        if head.shape != out["wte.weight"].shape or not torch.equal(head, out["wte.weight"]):
            raise ValueError(
                "lm_head.weight differs from the token embedding; the course GPT ties them"
            )
        used.add("lm_head.weight")
    out["lm_head.weight"] = out["wte.weight"]
    extra = [
        k for k in state if k not in used and not k.endswith((".attn.bias", ".attn.masked_bias"))
    ]
    if extra:
        raise ValueError(f"unexpected keys in the GPT-2 state dict: {extra[:5]}")
    return out


def gpt_from_gpt2(hf_model: nn.Module) -> GPT:
    """A course ``GPT`` holding the weights of a Hugging Face ``GPT2LMHeadModel`` (same device).

    The returned model is in eval mode; its logits equal the Hugging Face model's (float32: within
    1e-5), with and without the KV cache.
    """
    cfg = gpt2_config(hf_model.config)
    sd = gpt2_state_dict(hf_model.state_dict(), cfg.n_layer)
    first = next(iter(sd.values()))
    model = GPT(cfg).to(device=first.device, dtype=first.dtype)
    model.load_state_dict(sd, strict=True)
    return model.eval()


class GPT2Tokens:
    """GPT-2's BPE tokenizer with the course's tokenizer interface: ``encode(str) -> (T,)`` ids."""

    def __init__(self, hf_tokenizer: Any) -> None:
        self.hf = hf_tokenizer

    @property
    def vocab_size(self) -> int:
        return len(self.hf)

    def encode(self, text: str) -> torch.Tensor:
        return torch.tensor(self.hf.encode(text), dtype=torch.long)  # (T,)

    def decode(self, ids: torch.Tensor | list[int]) -> str:
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        return self.hf.decode(ids)


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face Hub answers a TCP connection within ``timeout`` seconds."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True  # behind a proxy only a real request can tell
    host = urllib.parse.urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname
    try:
        socket.create_connection((host or "huggingface.co", 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def load_gpt2(
    name: str = "gpt2", device: torch.device | str | None = None
) -> tuple[GPT, GPT2Tokens]:
    """GPT-2 weights (``"gpt2"``: 124M parameters) in a course ``GPT``, with GPT-2's tokenizer.

    Uses the copy ``transformers`` cached earlier; otherwise downloads it (about 500 MB) when the
    Hub is reachable. Raises ``PretrainedUnavailable`` at once, with what to do, when
    ``transformers`` is missing, ``$COURSE_OFFLINE`` / ``$HF_HUB_OFFLINE`` is set and nothing is
    cached, or the Hub cannot be reached.
    """
    try:
        from transformers import AutoTokenizer, GPT2LMHeadModel
    except ImportError:
        raise PretrainedUnavailable(
            "GPT-2 needs the transformers package: pip install transformers (or use the offline model)."
        ) from None

    def _load(local_only: bool) -> tuple[Any, Any]:
        hf = GPT2LMHeadModel.from_pretrained(name, local_files_only=local_only)
        return hf, AutoTokenizer.from_pretrained(name, local_files_only=local_only)

    try:
        hf, hf_tok = _load(local_only=True)
    except OSError:
        offline = any(
            os.environ.get(v, "0") not in ("", "0") for v in (ENV_OFFLINE, "HF_HUB_OFFLINE")
        )
        todo = (
            f"connect to the internet and run this again to download {name!r} (about 500 MB, "
            "cached by transformers afterwards), or continue with the offline model"
        )
        if offline:
            raise PretrainedUnavailable(
                f"{name!r} is not in the transformers cache and offline mode is on: {todo}."
            ) from None
        if not _hub_reachable():
            raise PretrainedUnavailable(
                f"{name!r} is not cached and huggingface.co cannot be reached: {todo}."
            ) from None
        try:
            hf, hf_tok = _load(local_only=False)
        except OSError as e:
            raise PretrainedUnavailable(f"downloading {name!r} failed ({e}); {todo}.") from None
    model = gpt_from_gpt2(hf.float())
    if device is not None:
        model = model.to(device)
    return model, GPT2Tokens(hf_tok)


# --------------------------------------------------------------------------------------------
# The course's own pretrained GPT (tiny Shakespeare, chapter-10 recipe)


def char_tokenizer(text: str) -> CharTokenizer:
    """A character tokenizer for ``text`` that also knows every ASCII letter and common punctuation.

    For tiny Shakespeare this is exactly its 65 characters; a generated stand-in text gains the
    letters it lacks, so the chapter's generated tasks can always be encoded.
    """
    return CharTokenizer(text + string.ascii_letters + " \n.,:;!?'-")


def _recipe(fast: bool) -> GPTRecipe:
    """Chapter 10's CPU run, ``GPT_CHAR["cpu"]`` (FAST: the same recipe shrunk to a 2-layer model, 30 steps)."""
    recipe = GPT_CHAR["cpu"]
    if fast:
        recipe = replace(recipe, n_layer=2, n_head=2, n_embd=32, block_size=32, iters=30, warmup=5)
    return recipe


def _cache_path(text: str, recipe: GPTRecipe, chars: list[str]) -> Path | None:
    """Where the checkpoint of ``recipe`` trained on ``text`` lives: any change of either gives a new name."""
    key = json.dumps(
        {
            "text": hashlib.sha256(text.encode()).hexdigest(),
            "recipe": asdict(recipe),
            "chars": chars,
        },
        sort_keys=True,
    )
    name = f"pretrained/gpt_char_{hashlib.sha256(key.encode()).hexdigest()[:16]}.pt"
    for folder in data_dirs():
        path = folder / name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(path.parent, os.W_OK) or path.is_file():
            return path
    return None


def _read_cached(path: Path, verbose: bool) -> dict[str, Any] | None:
    sidecar = path.with_name(path.name + ".sha256")
    if not (path.is_file() and sidecar.is_file()):
        return None
    if sha256_of(path) != sidecar.read_text().strip():
        if verbose:
            print(
                f"{path.name} does not match the sha256 recorded when it was written; training anew."
            )
        return None
    return torch.load(path, map_location="cpu", weights_only=True)


def _write_cached(path: Path, payload: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; the cache is as readable as any file
        digest = sha256_of(Path(tmp))
        os.replace(tmp, path)  # atomic: the real name only ever holds a whole file
        path.with_name(path.name + ".sha256").write_text(digest + "\n")
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def pretrain_char_gpt(
    text: str,
    device: torch.device | str | None = None,
    cache: bool = True,
    verbose: bool = True,
    fast: bool | None = None,
) -> tuple[GPT, CharTokenizer]:
    """The course GPT pretrained on ``text`` (characters) with chapter 10's recipe.

    Recipe: ``course_lib.recipes.GPT_CHAR["cpu"]`` (4 layers, 4 heads, 128 wide, context 64,
    batch 12, AdamW with warm-up and cosine decay, 2000 steps; about 3 minutes on a laptop CPU) on
    the first 90% of ``text``, seeded, so every machine trains the same model. FAST mode (or
    ``fast=True``): the same recipe at 2 layers, 32 wide, for 30 steps (seconds). With ``cache`` the trained
    weights are saved under the data folder (``$COURSE_DATA_DIR`` or the user cache) and reused the
    next time, once their sha256 matches the one recorded when they were written. Returns the
    model (eval mode, on ``device``) and its tokenizer.
    """
    from .train import fit

    if not isinstance(text, str) or len(text) < 1000:
        raise ValueError(
            "pretrain_char_gpt needs the training text as a string of 1000+ characters"
        )
    recipe = _recipe(FAST if fast is None else fast)
    tok = char_tokenizer(text)
    cfg = recipe.model_config(tok.vocab_size)
    dev = torch.device(device) if device is not None else torch.device("cpu")
    path = _cache_path(text, recipe, tok.chars) if cache else None
    payload = _read_cached(path, verbose) if path is not None else None
    if payload is not None:
        model = GPT(cfg)
        model.load_state_dict(payload["state_dict"])
        if verbose:
            print(f"Loaded the pretrained character GPT from {path.name} (sha256 verified).")
        return model.to(dev).eval(), tok
    train_ids, _ = train_val_split(tok.encode(text), 0.9)
    torch.manual_seed(1337)
    model = GPT(cfg).to(dev)
    opt = recipe.optimizer(model)
    sched = recipe.scheduler(opt)
    g = torch.Generator().manual_seed(1337)

    def batches(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        return get_batch(train_ids, cfg.block_size, recipe.batch_size, dev, generator=g)

    if verbose:
        print(f"Pretraining the character GPT ({recipe.iters} steps, chapter 10's recipe)...")
    history = fit(
        model, opt, batches, steps=recipe.iters, scheduler=sched, grad_clip=recipe.grad_clip,
        device=dev, progress=verbose, log_every=pick(50, 5),
    )  # fmt: skip
    if path is not None:
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        _write_cached(path, {"config": asdict(cfg), "recipe": asdict(recipe), "state_dict": state})
        if verbose:
            print(
                f"Trained in {history.seconds:.0f} s; saved as pretrained/{path.name} in the data "
                "folder ($COURSE_DATA_DIR or ~/.cache/from-loss-to-transformer) for next time."
            )
    return model.eval(), tok


# --------------------------------------------------------------------------------------------
# One entry point for the chapter


@dataclass
class Pretrained:
    """A pretrained model with its tokenizer; ``source`` says which one it is."""

    model: GPT
    tokenizer: Any  # CharTokenizer or GPT2Tokens: encode(str) -> (T,) ids, decode(ids) -> str
    source: str  # "gpt2" or "char" (the course GPT pretrained on ``text``)


def load_pretrained(
    prefer: str = "auto",
    text: str | None = None,
    device: torch.device | str | None = None,
    verbose: bool = True,
) -> Pretrained:
    """A pretrained GPT in every setting: GPT-2 when it can be had, else the course's own.

    ``prefer``: ``"auto"`` (GPT-2, falling back to the character GPT with a one-line reason),
    ``"gpt2"`` (GPT-2 or ``PretrainedUnavailable``) or ``"char"`` (the character GPT pretrained on
    ``text``, default tiny Shakespeare, see ``pretrain_char_gpt``).
    """
    if prefer not in ("auto", "gpt2", "char"):
        raise ValueError(f'prefer must be "auto", "gpt2" or "char", got {prefer!r}')
    if prefer in ("auto", "gpt2"):
        try:
            model, tok = load_gpt2("gpt2", device)
            if verbose:
                print(f"GPT-2 loaded into the course GPT ({model.num_params(False):,} parameters).")
            return Pretrained(model, tok, "gpt2")
        except PretrainedUnavailable as e:
            if prefer == "gpt2":
                raise
            if verbose:
                print(f"GPT-2 is not available: {e}")
                print("Continuing with the course's own GPT, pretrained on tiny Shakespeare.")
    if text is None:
        from .data.shakespeare import load_tiny_shakespeare

        text = load_tiny_shakespeare(verbose=verbose)
    model, tok = pretrain_char_gpt(text, device=device, verbose=verbose)
    return Pretrained(model, tok, "char")


def hidden_states(model: GPT, idx: torch.Tensor) -> torch.Tensor:
    """The last layer's normalized hidden states of a course GPT: idx ``(B, T)`` -> ``(B, T, C)``.

    What the output layer reads (``logits = lm_head(hidden_states)``); a classifier reads it too.
    """
    model._check_idx(idx, "idx")
    pos = torch.arange(idx.shape[1], device=idx.device)  # (T,)
    x = model.drop(model.wte(idx) + model.wpe(pos))  # (B, T, C)
    for block in model.blocks:
        x = block(x)  # (B, T, C)
    return model.ln_f(x)  # (B, T, C)
