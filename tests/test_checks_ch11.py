"""The workbook-11 checkers pass the reference answers and catch the usual mistakes with a hint."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib import checks
from course_lib.attention import sinusoidal_encoding
from course_lib.encoder_decoder import (
    Seq2SeqConfig,
    Seq2SeqTransformer,
    beam_search_step,
    causal_mask,
    padding_mask,
    shift_targets,
)

PAD, BOS, EOS = 0, 1, 2


@pytest.fixture(autouse=True)
def _one_thread():  # noqa: ANN202
    """These tiny models run fastest on one thread, and a busy machine cannot slow them down."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ----------------------------------------------------------------------------- shift_targets


def test_shift_targets(checker_line) -> None:
    checker_line.passes(checks.ex11_shift_targets, shift_targets)
    checker_line.not_done(checks.ex11_shift_targets)
    checker_line.fails(checks.ex11_shift_targets, lambda t: (t, t), needles=("copy",))
    checker_line.fails(
        checks.ex11_shift_targets, lambda t: (t[:, 1:], t[:, :-1]), needles=("swapped",)
    )
    checker_line.fails(checks.ex11_shift_targets, lambda t: t[:, :-1], needles=("pair",))
    checker_line.fails(
        checks.ex11_shift_targets, lambda t: (t[:, :-1], t[:, :-1]), needles=("labels",)
    )
    checker_line.fails(
        checks.ex11_shift_targets,
        lambda t: (t[:, :-1], t[:, 1:].float()),
        needles=("labels dtype", "int64"),
    )


# ----------------------------------------------------------------------------- padding mask


def test_padding_mask(checker_line) -> None:
    checker_line.passes(checks.ex11_padding_mask, padding_mask)
    checker_line.not_done(checks.ex11_padding_mask)
    wrong = {
        "inverted": lambda ids, pad: ids == pad,
        "torch.bool": lambda ids, pad: (ids != pad).float(),
        "(B, L)": lambda ids, pad: (ids != pad)[:, None, :],
        "pad_id argument": lambda ids, pad: ids != 0,
        "not >": lambda ids, pad: ids > pad,
    }
    for hint, fn in wrong.items():
        checker_line.fails(checks.ex11_padding_mask, fn, needles=(hint,))


def test_predict_decoder_mask(checker_line) -> None:
    right = [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 0]]
    checker_line.passes(checks.ex11_predict_decoder_mask, right)
    checker_line.passes(checks.ex11_predict_decoder_mask, torch.tensor(right).bool())
    checker_line.not_done(checks.ex11_predict_decoder_mask, None)
    checker_line.fails(
        checks.ex11_predict_decoder_mask, causal_mask(4).int().tolist(), needles=("<pad> column",)
    )
    rows = [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [0, 0, 0, 0]]
    checker_line.fails(checks.ex11_predict_decoder_mask, rows, needles=("rows",))
    checker_line.fails(checks.ex11_predict_decoder_mask, "abc")


# ----------------------------------------------------------------------------- greedy decoding


def greedy_reference(  # noqa: ANN201
    model,  # noqa: ANN001
    src: torch.Tensor,
    max_len: int,
    stop_any: bool = False,
    use_src_mask: bool = True,
):
    cfg = model.config
    memory, src_mask = model.encode(src)
    ys = torch.full((src.shape[0], 1), cfg.bos_id, dtype=torch.long)
    finished = torch.zeros(src.shape[0], dtype=torch.bool)
    for _ in range(max_len):
        logits, _ = model.decode(ys, memory, src_mask if use_src_mask else None)
        last = logits[:, -1].clone()
        last[:, [cfg.pad_id, cfg.bos_id]] = -math.inf
        token = torch.where(finished, cfg.pad_id, last.argmax(-1))
        ys = torch.cat([ys, token[:, None]], dim=1)
        finished |= token == cfg.eos_id
        if finished.any() if stop_any else finished.all():
            break
    return ys[:, 1:]


def greedy_no_pad_after_eos(model, src, max_len):  # noqa: ANN001, ANN201
    cfg = model.config
    memory, src_mask = model.encode(src)
    ys = torch.full((src.shape[0], 1), cfg.bos_id, dtype=torch.long)
    for _ in range(max_len):
        logits, _ = model.decode(ys, memory, src_mask)
        last = logits[:, -1].clone()
        last[:, [cfg.pad_id, cfg.bos_id]] = -math.inf
        ys = torch.cat([ys, last.argmax(-1, keepdim=True)], dim=1)
    return ys[:, 1:]


def greedy_no_special_mask(model, src, max_len):  # noqa: ANN001, ANN201
    cfg = model.config
    memory, src_mask = model.encode(src)
    ys = torch.full((src.shape[0], 1), cfg.bos_id, dtype=torch.long)
    finished = torch.zeros(src.shape[0], dtype=torch.bool)
    for _ in range(max_len):
        logits, _ = model.decode(ys, memory, src_mask)
        token = torch.where(finished, cfg.pad_id, logits[:, -1].argmax(-1))
        ys = torch.cat([ys, token[:, None]], dim=1)
        finished |= token == cfg.eos_id
    return ys[:, 1:]


def greedy_last_token_only(model, src, max_len):  # noqa: ANN001, ANN201
    cfg = model.config
    memory, src_mask = model.encode(src)
    ys = torch.full((src.shape[0], 1), cfg.bos_id, dtype=torch.long)
    finished = torch.zeros(src.shape[0], dtype=torch.bool)
    for _ in range(max_len):
        logits, _ = model.decode(ys[:, -1:], memory, src_mask)
        last = logits[:, -1].clone()
        last[:, [cfg.pad_id, cfg.bos_id]] = -math.inf
        token = torch.where(finished, cfg.pad_id, last.argmax(-1))
        ys = torch.cat([ys, token[:, None]], dim=1)
        finished |= token == cfg.eos_id
    return ys[:, 1:]


def test_greedy_decode(checker_line) -> None:
    checker_line.passes(checks.ex11_greedy_decode, greedy_reference)
    checker_line.not_done(checks.ex11_greedy_decode)
    cases = {
        "after <eos>": greedy_no_pad_after_eos,
        "-inf": greedy_no_special_mask,
        "whole prefix": greedy_last_token_only,
        "ys[:, 1:]": lambda m, s, n: torch.cat(
            [torch.full((s.shape[0], 1), BOS), greedy_reference(m, s, n)], 1
        ),
        "finished.all()": lambda m, s, n: greedy_reference(m, s, n, stop_any=True),
        "src_mask": lambda m, s, n: greedy_reference(m, s, n, use_src_mask=False),
    }
    for hint, fn in cases.items():
        checker_line.fails(checks.ex11_greedy_decode, fn, needles=(hint,))


def test_greedy_real_model_case_covers_eos() -> None:
    """The random model in the checker stops some rows early, so stopping is really tested."""
    cfg = Seq2SeqConfig(vocab_size=12, max_src_len=8, max_tgt_len=8, d_model=32, n_heads=2,
                        n_enc_layers=1, n_dec_layers=1, d_ff=64, dropout=0.0)  # fmt: skip
    torch.manual_seed(3)
    model = Seq2SeqTransformer(cfg).eval()
    with torch.no_grad():
        model.embed.weight.mul_(3.0)
    src = torch.randint(3, 12, (6, 8), generator=torch.Generator().manual_seed(3))
    out = model.greedy_decode(src, max_len=7)
    assert (out == EOS).any()


# ----------------------------------------------------------------------------- beam search step


def test_beam_search_step(checker_line) -> None:
    checker_line.passes(checks.ex11_beam_search_step, beam_search_step)
    checker_line.not_done(checks.ex11_beam_search_step)

    def ignore_scores(scores, logp, k):  # noqa: ANN001, ANN202
        return beam_search_step(torch.zeros_like(scores), logp, k)

    def swapped(scores, logp, k):  # noqa: ANN001, ANN202
        new, beam, tok = beam_search_step(scores, logp, k)
        return new, tok, beam

    def per_beam(scores, logp, k):  # noqa: ANN001, ANN202
        top = (scores[..., None] + logp).topk(min(k, logp.shape[-1]), dim=-1)
        return top.values, top.indices, top.indices

    def as_float32(scores, logp, k):  # noqa: ANN001, ANN202
        new, beam, tok = beam_search_step(scores.float(), logp.float(), k)
        return new, beam, tok

    def float_beam(scores, logp, k):  # noqa: ANN001, ANN202
        new, beam, tok = beam_search_step(scores, logp, k)
        return new, beam.float(), tok

    def float_token(scores, logp, k):  # noqa: ANN001, ANN202
        new, beam, tok = beam_search_step(scores, logp, k)
        return new, beam, tok.double()

    for hint, fn in {
        "scores so far": ignore_scores,
        "swapped": swapped,
        "flatten": per_beam,
        "dtype": as_float32,
        "(beam dtype)": float_beam,
        "(token dtype)": float_token,
    }.items():
        checker_line.fails(checks.ex11_beam_search_step, fn, needles=(hint,))


# ----------------------------------------------------------------------------- fix the nn.Transformer model


class Fixed(nn.Module):
    """The reference answer: batch_first, positions, causal mask, shifted targets, padding masks."""

    def __init__(self, vocab_size, d_model=32, n_heads=4, n_layers=1, max_len=32, pad_id=0,  # noqa: ANN001
                 batch_first=True, positions=True, causal=True, shift=True, pad_masks=True,
                 ignore_pad=True, course_masks=False) -> None:  # fmt: skip
        super().__init__()
        self.pad_id, self.causal, self.shift, self.pad_masks, self.positions = (
            pad_id,
            causal,
            shift,
            pad_masks,
            positions,
        )
        self.embed = nn.Embedding(vocab_size, d_model)
        self.register_buffer("pos", sinusoidal_encoding(max_len, d_model))
        self.batch_first, self.ignore_pad, self.course_masks = batch_first, ignore_pad, course_masks
        self.transformer = nn.Transformer(
            d_model, n_heads, n_layers, n_layers, 2 * d_model, 0.0, batch_first=batch_first
        )
        self.out = nn.Linear(d_model, vocab_size)

    def emb(self, ids):  # noqa: ANN001, ANN201
        x = self.embed(ids)
        return x + self.pos[: ids.shape[1]] if self.positions else x

    def forward(self, src, tgt):  # noqa: ANN001, ANN201
        dec_in, labels = (tgt[:, :-1], tgt[:, 1:]) if self.shift else (tgt, tgt)
        T = dec_in.shape[1]
        mask = nn.Transformer.generate_square_subsequent_mask(T) if self.causal else None
        kpm = (src == self.pad_id) if self.pad_masks else None
        if self.course_masks == "causal":  # this course's convention, True = may attend
            mask = causal_mask(T)
        elif self.course_masks == "padding":
            kpm = padding_mask(src, self.pad_id)
        h = self.transformer(self.emb(src), self.emb(dec_in), tgt_mask=mask, src_key_padding_mask=kpm,
                             memory_key_padding_mask=kpm)  # fmt: skip
        logits = self.out(h)
        loss = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),
            labels.reshape(-1),
            ignore_index=self.pad_id if self.ignore_pad else -100,
        )
        return logits, loss


def test_fix_nn_transformer(checker_line) -> None:
    checker_line.passes(checks.ex11_fix_nn_transformer, Fixed)
    checker_line.not_done(checks.ex11_fix_nn_transformer)
    wrong = {
        "batch_first": dict(batch_first=False),
        "positional": dict(positions=False),
        "causal": dict(causal=False),
        "shift": dict(shift=False),
        "padding_mask": dict(pad_masks=False),
        "ignore_index=pad_id": dict(ignore_pad=False),
        "~causal_mask(T)": dict(course_masks="causal"),
        "True = BLOCKED": dict(course_masks="padding"),
    }
    for hint, flags in wrong.items():

        def make(**kw):  # noqa: ANN003, ANN202
            return Fixed(**kw, **flags)  # noqa: B023

        checker_line.fails(checks.ex11_fix_nn_transformer, make, needles=(hint,))


# ---- issue 16: the planted answers of each kind


class SrcPositionsOnly(Fixed):
    """Positional encodings on the source only: the decoder reads its prefix as a bag."""

    def forward(self, src, tgt):  # noqa: ANN001, ANN201
        self._calls = 0
        return super().forward(src, tgt)

    def emb(self, ids):  # noqa: ANN001, ANN201
        self._calls += 1
        x = self.embed(ids)
        return x + self.pos[: ids.shape[1]] if self._calls == 1 else x


def test_fix_nn_transformer_positions_on_target_too(checker_line) -> None:
    """`<bos> 3 4 3` and `<bos> 4 3 3` give equal last logits without target positions (kind 3)."""
    checker_line.fails(
        checks.ex11_fix_nn_transformer,
        SrcPositionsOnly,
        needles=("word order in the target", "target embeddings too"),
    )


class DetachedLoss(Fixed):
    def forward(self, src, tgt):  # noqa: ANN001, ANN201
        logits, loss = super().forward(src, tgt)
        return logits, loss.detach()


def test_fix_nn_transformer_backward(checker_line) -> None:
    checker_line.fails(checks.ex11_fix_nn_transformer, DetachedLoss, needles=("loss.backward()",))


def test_fix_nn_transformer_is_built_on_nn_transformer(checker_line) -> None:
    from course_lib.encoder_decoder import Seq2SeqConfig, Seq2SeqTransformer

    class OwnModel(nn.Module):  # the course's own Transformer: right, but not the exercise
        def __init__(self, vocab_size, d_model=32, n_heads=4, n_layers=1, max_len=32, pad_id=0):  # noqa: ANN001
            super().__init__()
            cfg = Seq2SeqConfig(vocab_size=vocab_size, max_src_len=max_len, max_tgt_len=max_len,
                                d_model=d_model, n_heads=n_heads, n_enc_layers=n_layers,
                                n_dec_layers=n_layers, d_ff=2 * d_model, dropout=0.0)  # fmt: skip
            self.inner = Seq2SeqTransformer(cfg)

        def forward(self, src, tgt):  # noqa: ANN001, ANN201
            return self.inner(src, tgt)

    checker_line.fails(checks.ex11_fix_nn_transformer, OwnModel, needles=("no nn.Transformer",))


# ---- teacher-forcing loss -------------------------------------------------------------------
def _tf_loss(
    dec_in=lambda t: t[:, :-1], labels=lambda t: t[:, 1:], ignore=lambda m: m.config.pad_id
):
    def teacher_forcing_loss(model, src, tgt):
        memory, src_mask = model.encode(src)
        logits, _ = model.decode(dec_in(tgt), memory, src_mask)
        flat = logits.reshape(-1, logits.shape[-1])
        loss = F.cross_entropy(flat, labels(tgt).reshape(-1), ignore_index=ignore(model))
        return logits, loss

    return teacher_forcing_loss


def test_teacher_forcing_loss(checker_line) -> None:
    checker_line.passes(checks.ex11_teacher_forcing_loss, _tf_loss())
    checker_line.fails(
        checks.ex11_teacher_forcing_loss,
        lambda model, src, tgt: model(src, tgt),
        needles=("model.encode(src)",),
    )
    checker_line.not_done(checks.ex11_teacher_forcing_loss)
    no_shift = _tf_loss(dec_in=lambda t: t, labels=lambda t: t)
    checker_line.fails(checks.ex11_teacher_forcing_loss, no_shift, needles=("tgt[:, :-1]",))
    wrong_way = _tf_loss(dec_in=lambda t: t[:, 1:], labels=lambda t: t[:, :-1])
    checker_line.fails(checks.ex11_teacher_forcing_loss, wrong_way, needles=("fed tgt[:, 1:]",))
    pad_counts = _tf_loss(ignore=lambda m: -100)
    checker_line.fails(checks.ex11_teacher_forcing_loss, pad_counts, needles=("ignore_index",))
    pad_zero = _tf_loss(ignore=lambda m: 0)
    checker_line.fails(checks.ex11_teacher_forcing_loss, pad_zero, needles=("not 0",))
    copies = _tf_loss(labels=lambda t: t[:, :-1])
    checker_line.fails(checks.ex11_teacher_forcing_loss, copies, needles=("decoder input itself",))

    def item(model, src, tgt):
        logits, loss = _tf_loss()(model, src, tgt)
        return logits, loss.item()

    checker_line.fails(checks.ex11_teacher_forcing_loss, item, needles=("without .item()",))

    @torch.no_grad()
    def under_no_grad(model, src, tgt):
        return _tf_loss()(model, src, tgt)

    checker_line.fails(checks.ex11_teacher_forcing_loss, under_no_grad, needles=("no gradient",))


def test_teacher_forcing_loss_on_another_device(checker_line, monkeypatch) -> None:
    """'meta' plays the GPU: the right answer passes there too (the model is copied to it)."""
    from course_lib.checks import _core

    monkeypatch.setattr(_core, "learner_device", lambda: torch.device("meta"))
    checker_line.passes(checks.ex11_teacher_forcing_loss, _tf_loss())
