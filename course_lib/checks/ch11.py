"""Checkers for workbook 11: the encoder-decoder Transformer.

Each compares the learner's function (or answer, or model class) with the reference in
``course_lib.encoder_decoder`` on ordinary and edge cases, and names the usual mistakes.
"""

from __future__ import annotations

import math
import warnings
from types import SimpleNamespace
from typing import Any

import torch
import torch.nn.functional as F

from ..encoder_decoder import Seq2SeqConfig, Seq2SeqTransformer, beam_search_step, causal_mask
from ._core import CaseFailed, Check, _NotDone, checker

__all__ = [
    "ex11_beam_search_step",
    "ex11_fix_nn_transformer",
    "ex11_greedy_decode",
    "ex11_padding_mask",
    "ex11_predict_decoder_mask",
    "ex11_shift_targets",
    "ex11_teacher_forcing_loss",
]

PAD, BOS, EOS = 0, 1, 2


def _tensor(c: Check, got: Any, case: str, hint: str = "") -> torch.Tensor:
    c.expect(
        isinstance(got, torch.Tensor),
        case=case,
        problem=f"expected a torch.Tensor, got {type(got).__name__}",
        hint=hint or "return a tensor",
    )
    return got


# ----------------------------------------------------------------------------- shift_targets


@checker
def ex11_shift_targets(c: Check, shift_targets: Any) -> str:
    """``shift_targets(tgt (B, T)) -> (decoder_input (B, T-1), labels (B, T-1))``."""
    cases = {
        "two targets with padding": torch.tensor([[BOS, 5, 6, 7, EOS], [BOS, 8, EOS, PAD, PAD]]),
        "one target of two tokens": torch.tensor([[BOS, EOS]]),
        "a longer random batch": torch.cat(
            [
                torch.full((4, 1), BOS),
                torch.randint(3, 20, (4, 9), generator=torch.Generator().manual_seed(0)),
            ],
            dim=1,
        ),
    }
    for case, tgt in cases.items():
        out = c.call(shift_targets, tgt.clone(), case=case)
        c.expect(
            isinstance(out, tuple | list) and len(out) == 2,
            case=case,
            problem=f"expected a pair (decoder_input, labels), got {type(out).__name__}",
            hint="return two tensors: return decoder_input, labels",
        )
        dec_in, labels = (_tensor(c, t, case) for t in out)
        want_in, want_lab = tgt[:, :-1], tgt[:, 1:]
        if (
            dec_in.shape == want_in.shape
            and torch.equal(dec_in, want_lab)
            and torch.equal(labels, want_in)
        ):
            raise CaseFailed(
                case,
                "decoder input and labels are swapped",
                "the decoder input starts with <bos>; the labels end with <eos>",
            )
        if dec_in.shape == tgt.shape or labels.shape == tgt.shape:
            raise CaseFailed(
                case,
                f"got shapes {tuple(dec_in.shape)} and {tuple(labels.shape)}, expected {tuple(want_in.shape)} for both",
                "without a shift, position t is fed the very token it must predict and the model only learns to copy; "
                "drop the last token for the input and the first (<bos>) for the labels",
            )
        c.equal(
            dec_in.dtype, torch.long, case=case, hint="keep the integer dtype: slice, don't convert"
        )
        c.equal(
            labels.dtype,
            torch.long,
            case=case + " (labels dtype)",
            hint="labels are class indices: keep them int64 (cross_entropy needs integer targets); "
            "slice, don't convert",
        )
        c.close(
            dec_in,
            want_in,
            case=case + " (decoder input)",
            hint="decoder input = tgt[:, :-1]: <bos> y_1 ... (everything but the last token)",
        )
        c.close(
            labels,
            want_lab,
            case=case + " (labels)",
            hint="labels = tgt[:, 1:]: the next token at every position",
        )
    return f"{len(cases)} cases, padding included"


# ----------------------------------------------------------------------------- padding mask


@checker
def ex11_padding_mask(c: Check, padding_mask_fn: Any) -> str:
    """``padding_mask(ids (B, L), pad_id) -> (B, L)`` bool, True for real tokens, False for <pad>."""
    cases = {
        "two sources, the second padded": (
            torch.tensor([[5, 6, 7, 8], [9, 4, PAD, PAD]]),
            PAD,
        ),
        "no padding at all": (torch.tensor([[3, 4, 5]]), PAD),
        "pad_id = 3, with token ids below it": (torch.tensor([[1, 0, 2, 3, 3]]), 3),
    }
    for case, (ids, pad_id) in cases.items():
        got = _tensor(c, c.call(padding_mask_fn, ids.clone(), pad_id, case=case), case)
        want = ids != pad_id
        c.equal(
            tuple(got.shape),
            tuple(ids.shape),
            case=case,
            hint="one entry per token: (B, L), the shape of ids (add the broadcast dims where "
            "you use it, not here)",
        )
        c.expect(
            got.dtype == torch.bool,
            case=case,
            problem=f"expected dtype torch.bool, got {got.dtype}",
            hint="a comparison such as ids != pad_id already gives a bool tensor",
        )
        if torch.equal(got, ~want) and not torch.equal(want, ~want):
            raise CaseFailed(
                case,
                "the mask is inverted (True marks the padding)",
                "in this course True means 'may attend': real tokens are True, <pad> is False",
            )
        hint = "True where ids != pad_id"
        if torch.equal(got, ids != 0):
            hint = "use the pad_id argument, not the number 0"
        elif torch.equal(got, ids > pad_id):
            hint = "token ids below pad_id are real tokens too: compare with !=, not >"
        c.expect(torch.equal(got, want), case=case, problem="wrong entries", hint=hint)
    return f"{len(cases)} cases, including a pad_id that is not 0"


# ----------------------------------------------------------------------------- predict the decoder mask


@checker
def ex11_predict_decoder_mask(c: Check, answer: Any) -> str:
    """The decoder self-attention mask for the input ``<bos> 7 8 <pad>`` (True/1 = may attend)."""
    case = "decoder input <bos> 7 8 <pad>"
    c.answered(answer)
    try:
        got = torch.as_tensor(answer).to(torch.int64)
    except Exception:  # noqa: BLE001 - any unreadable answer is reported, not raised
        raise CaseFailed(
            case,
            f"could not read {answer!r} as a 4 x 4 table of 0/1",
            "a list of 4 lists of 4 numbers",
        ) from None
    c.equal(tuple(got.shape), (4, 4), case=case, hint="4 query rows by 4 key columns")
    keep = torch.tensor([True, True, True, False])
    want = (causal_mask(4) & keep[None, :]).long()
    if torch.equal(got, causal_mask(4).long()):
        raise CaseFailed(
            case,
            "the <pad> column is still open in the last row",
            "combine the causal mask with the padding mask: no query may attend to the <pad> key",
        )
    if torch.equal(got, (causal_mask(4) & keep[:, None]).long()):
        raise CaseFailed(
            case,
            "the padding mask went on the rows (queries) instead of the columns (keys)",
            "an all-False row would make softmax produce nan; pad hides a key, and the pad query's own output is simply ignored by the loss",
        )
    if torch.equal(got, 1 - want):
        raise CaseFailed(case, "the mask is inverted", "1 means 'may attend'")
    c.close(got.float(), want.float(), case=case, hint="row t: keys 0..t, except the <pad> key")
    return "causal and padding together"


# ----------------------------------------------------------------------------- greedy decoding


class _ScriptedModel:
    """A stand-in with ``encode``/``decode``/``config`` whose next-token logits follow a script.

    Row b writes ``script[b]`` and then ``<eos>``. The logits favour ``<pad>`` or ``<bos>`` over the
    script token at some steps (the decoder must never choose those), and after ``<eos>`` they
    favour a junk token (the decoder must pad instead). A wrong prefix gives junk logits.
    """

    def __init__(self, script: list[list[int]], vocab: int = 9) -> None:
        self.script, self.vocab = script, vocab
        self.config = SimpleNamespace(
            pad_id=PAD, bos_id=BOS, eos_id=EOS, vocab_size=vocab, max_tgt_len=9
        )
        self.calls = 0

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.src_mask = (src != PAD)[:, None, None, :]
        return src.float()[..., None], self.src_mask.clone()

    def _mask_ok(self, src_mask: Any) -> bool:
        want = getattr(self, "src_mask", None)
        if want is None or not isinstance(src_mask, torch.Tensor):
            return False
        try:
            a, b = torch.broadcast_tensors(src_mask, want)
        except RuntimeError:
            return False
        return a.dtype == torch.bool and torch.equal(a, b)

    def decode(
        self,
        dec_in: torch.Tensor,
        memory: torch.Tensor,
        src_mask: torch.Tensor | None = None,
        *a: Any,
        **k: Any,
    ) -> tuple[torch.Tensor, None]:
        self.calls += 1
        B, T = dec_in.shape
        logits = torch.zeros(B, T, self.vocab)
        if not self._mask_ok(src_mask):  # a decoder that reads the source's <pad> goes astray
            self.bad_mask = True
            logits[..., 3] = 5.0
            return logits, None
        for b in range(B):
            full = [BOS] + self.script[b] + [EOS]
            for t in range(T):
                prefix_ok = dec_in[b, : t + 1].tolist() == full[: t + 1]
                if not prefix_ok or t + 1 >= len(full):
                    logits[b, t, 3] = 5.0  # junk
                    continue
                logits[b, t, full[t + 1]] = 5.0
                logits[b, t, PAD if t % 2 else BOS] = 6.0  # never allowed
        return logits, None


def _reference_greedy(script: list[list[int]], max_len: int) -> torch.Tensor:
    out = torch.full((len(script), max_len), PAD)
    for b, s in enumerate(script):
        seq = (s + [EOS])[:max_len]
        out[b, : len(seq)] = torch.tensor(seq)
    return out


def _pad_to(x: torch.Tensor, n: int) -> torch.Tensor:
    return F.pad(x, (0, n - x.shape[1]), value=PAD) if x.shape[1] < n else x


@checker
def ex11_greedy_decode(c: Check, greedy_decode: Any) -> str:
    """``greedy_decode(model, src (B, S), max_len) -> ids (B, L <= max_len)`` (tokens after <bos>)."""
    script = [[4, 5, 6], [7], [8, 8, 4, 5, 6, 7]]
    src = torch.tensor([[3, 4], [5, 0], [6, 7]])
    for max_len, case in (
        (8, "scripted model, every row ends with <eos>"),
        (4, "scripted model, max_len cuts row 3"),
    ):
        model = _ScriptedModel(script)  # a CPU stand-in: not run on the learner's device
        got = _tensor(
            c, c.call(greedy_decode, model, src, max_len, case=case, on_device=False), case
        )
        want = _reference_greedy(script, max_len)
        c.expect(got.dim() == 2 and got.shape[0] == 3 and got.shape[1] <= max_len, case=case,
                 problem=f"expected shape (3, L) with L <= {max_len}, got {tuple(got.shape)}",
                 hint="one row per source, at most max_len generated tokens")  # fmt: skip
        c.expect(
            not getattr(model, "bad_mask", False),
            case=case,
            problem="model.decode did not get the src_mask that model.encode returned (the "
            "second source ends with <pad>)",
            hint="memory, src_mask = model.encode(src), then model.decode(ys, memory, src_mask) "
            "each step: without src_mask the decoder attends to the source's <pad> tokens",
        )
        L = got.shape[1]
        want_len = min(max_len, max(len(s) + 1 for s in script))
        if (
            L < want_len
            and torch.equal(got.long(), want[:, :L])
            and not (got == EOS).any(dim=1).all()
        ):
            raise CaseFailed(
                case,
                f"the output stops after {L} tokens while some rows have not produced <eos> yet",
                "stop only when EVERY row has produced <eos> (finished.all(), not finished.any()), "
                "or after max_len steps",
            )
        got = _pad_to(got, max_len).long()
        if (
            got.shape == want.shape
            and torch.equal(got[:, 1:], want[:, :-1])
            and (got[:, 0] == BOS).all()
        ):
            raise CaseFailed(
                case, "the output starts with <bos>", "return only the generated tokens: ys[:, 1:]"
            )
        if (got == BOS).any() or (got[:, :-1] == PAD).logical_and(want[:, :-1] != PAD).any():
            raise CaseFailed(
                case,
                "the output contains <pad> or <bos> before <eos>",
                "set the logits of <pad> and <bos> to -inf before the arg-max",
            )
        if got.shape == want.shape and not torch.equal(got, want):
            after_eos = want == PAD
            if torch.equal(got[~after_eos], want[~after_eos]):
                raise CaseFailed(
                    case,
                    "tokens after <eos> are not <pad>",
                    "once a row has produced <eos>, write <pad> for it (keep a `finished` flag per row)",
                )
            if (got[:, :1] == want[:, :1]).all() and not (got[:, 1:2] == want[:, 1:2]).all():
                raise CaseFailed(
                    case,
                    "only the first token is right",
                    "feed the whole prefix (<bos> and every token so far) to model.decode each step and take the last position",
                )
        c.close(
            got.float(),
            want.float(),
            case=case,
            hint="start from <bos>, append the arg-max of the last position's logits each step",
        )
    # a real (untrained) model: compare with Seq2SeqTransformer.greedy_decode
    case = "a small random Seq2SeqTransformer"
    g = torch.Generator().manual_seed(3)
    cfg = Seq2SeqConfig(vocab_size=12, max_src_len=8, max_tgt_len=8, d_model=32, n_heads=2,
                        n_enc_layers=1, n_dec_layers=1, d_ff=64, dropout=0.0)  # fmt: skip
    with torch.random.fork_rng():
        torch.manual_seed(3)
        model = Seq2SeqTransformer(cfg).eval()
        with torch.no_grad():
            model.embed.weight.mul_(3.0)
    src = torch.randint(3, 12, (6, 8), generator=g)
    src[2, 5:] = PAD
    want = model.greedy_decode(src, max_len=7)
    got = _tensor(c, c.call(greedy_decode, model, src, 7, case=case), case)
    c.close(_pad_to(got.long(), 7).float(), _pad_to(want, 7).float(), case=case,
            hint="call memory, src_mask = model.encode(src) once, then model.decode(ys, memory, src_mask) each step")  # fmt: skip
    return "scripted and real models, stopping at <eos>"


# ----------------------------------------------------------------------------- beam search step


@checker
def ex11_beam_search_step(c: Check, step_fn: Any) -> str:
    """``beam_search_step(scores (B, K), log_probs (B, K, V), beam_size) -> (scores, beam, token)``."""
    g = torch.Generator().manual_seed(3)
    cases = {
        "B=2, K=3, V=5, keep 3": (
            torch.randn(2, 3, generator=g) - 2,
            torch.randn(2, 3, 5, generator=g).log_softmax(-1),
            3,
        ),
        "first step (one live beam, the others -inf)": (
            torch.tensor([[0.0, -math.inf, -math.inf]]),
            torch.randn(1, 3, 6, generator=g).log_softmax(-1),
            3,
        ),
        "keep more beams than there are (K=2 -> 4)": (
            torch.randn(3, 2, generator=g),
            torch.randn(3, 2, 4, generator=g).log_softmax(-1),
            4,
        ),
        "float64": (
            torch.randn(2, 2, generator=g, dtype=torch.float64),
            torch.randn(2, 2, 7, generator=g, dtype=torch.float64).log_softmax(-1),
            2,
        ),
    }
    for case, (scores, logp, k) in cases.items():
        out = c.call(step_fn, scores.clone(), logp.clone(), k, case=case)
        c.expect(isinstance(out, tuple | list) and len(out) == 3, case=case,
                 problem=f"expected (new_scores, beam, token), got {type(out).__name__}", hint="return three tensors")  # fmt: skip
        new, beam, tok = (_tensor(c, t, case) for t in out)
        want_new, want_beam, want_tok = beam_search_step(scores, logp, k)
        B = scores.shape[0]
        c.expect(tuple(new.shape) == (B, k), case=case,
                 problem=f"expected new scores of shape {(B, k)}, got {tuple(new.shape)}",
                 hint="flatten the K beams x V tokens into one axis of K*V candidates per example, then take the top beam_size")  # fmt: skip
        c.equal(new.dtype, scores.dtype, case=case, hint="keep the dtype of the scores")
        per_token_only = logp.reshape(B, -1).topk(k, dim=-1).values
        if torch.allclose(new.double(), per_token_only.double()) and not torch.allclose(
            want_new, per_token_only
        ):
            raise CaseFailed(
                case,
                "the new scores ignore the beams' scores so far",
                "a candidate's score is scores[b, k] + log_probs[b, k, v]",
            )
        V = logp.shape[-1]
        if (
            torch.equal(beam.long(), want_tok)
            and torch.equal(tok.long(), want_beam)
            and not torch.equal(want_beam, want_tok)
        ):
            raise CaseFailed(
                case,
                "beam and token indices are swapped",
                f"with flat index i over K*V: beam = i // V, token = i % V (V={V})",
            )
        c.close(
            new,
            want_new,
            case=case,
            hint="top beam_size of (scores[..., None] + log_probs).reshape(B, K*V), best first",
        )
        for what, idx in (("beam", beam), ("token", tok)):
            c.equal(
                idx.dtype,
                torch.long,
                case=f"{case} ({what} dtype)",
                hint="beam and token are indices: keep them int64, as topk gives them "
                "(beam = flat // V with integer division, not flat / V; no .float())",
            )
        c.close(
            beam.float(),
            want_beam.float(),
            case=case + " (beam)",
            hint=f"beam = flat_index // V (V={V})",
        )
        c.close(
            tok.float(),
            want_tok.float(),
            case=case + " (token)",
            hint=f"token = flat_index % V (V={V})",
        )
    return f"{len(cases)} cases, dead beams and float64 included"


# ----------------------------------------------------------------------------- fix the nn.Transformer model


_MASK_CONVENTION = (
    "nn.Transformer's masks use the opposite convention to this course: True = BLOCKED. Pass "
    "tgt_mask=~causal_mask(T) or nn.Transformer.generate_square_subsequent_mask(T), and "
    "src_key_padding_mask=memory_key_padding_mask=(src == pad_id), True at the <pad> tokens"
)


def _error_hint(e: Exception) -> str:
    msg = str(e).lower()
    if any(w in msg for w in ("to_padded_tensor", "nested", "numel")):
        return "your masks block every key: " + _MASK_CONVENTION
    return (
        "a message about mismatched batch sizes usually means nn.Transformer read (B, T, D) as "
        "(T, B, D): pass batch_first=True; otherwise run your model on this case and read the error"
    )


def _finite(c: Check, logits: torch.Tensor, loss: torch.Tensor, case: str) -> None:
    c.expect(
        bool(torch.isfinite(logits).all()) and bool(torch.isfinite(loss).all()),
        case=case,
        problem="the logits or the loss contain nan or inf (a query with every key blocked)",
        hint=_MASK_CONVENTION,
    )


def _model_logits(
    c: Check, model: Any, src: torch.Tensor, tgt: torch.Tensor, case: str
) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        out = model(src, tgt)
    except NotImplementedError:
        raise _NotDone() from None
    except Exception as e:  # noqa: BLE001 - the learner's error, reported as a sentence
        raise CaseFailed(
            case,
            f"your code raised {type(e).__name__}: {str(e)[:200]}",
            _error_hint(e),
        ) from None
    c.expect(
        isinstance(out, tuple | list) and len(out) == 2,
        case=case,
        problem=f"forward should return (logits, loss), got {type(out).__name__}",
        hint="return logits, loss",
    )
    logits, loss = _tensor(c, out[0], case), _tensor(c, out[1], case)
    _finite(c, logits, loss, case)
    return logits, loss


@checker
def ex11_fix_nn_transformer(c: Check, model_class: Any) -> str:
    """``model_class(vocab_size, d_model, n_heads, n_layers, max_len, pad_id)`` built on
    ``nn.Transformer``: ``forward(src (B, S), tgt (B, T)) -> (logits (B, T-1, V), loss)``."""
    V = 11
    case = "building the model"
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = c.call(
            model_class,
            vocab_size=V,
            d_model=32,
            n_heads=4,
            n_layers=1,
            max_len=16,
            pad_id=PAD,
            case=case,
        )
    c.expect(isinstance(model, torch.nn.Module), case=case, problem=f"got {type(model).__name__}, not an nn.Module",
             hint="pass the class itself")  # fmt: skip
    c.expect(
        any(isinstance(m, torch.nn.Transformer) for m in model.modules()),
        case=case,
        problem="the model has no nn.Transformer inside",
        hint="the exercise fixes the articles' model, still built on nn.Transformer: keep "
        "self.transformer = nn.Transformer(..., batch_first=True)",
    )
    model.eval()
    g = torch.Generator().manual_seed(1)
    src = torch.randint(3, V, (3, 6), generator=g)
    tgt = torch.randint(3, V, (3, 7), generator=g)
    tgt[:, 0], tgt[:, -1] = BOS, EOS
    tgt[1, -2:] = torch.tensor([EOS, PAD])  # one shorter target: a loss must skip its <pad>
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*nested tensor.*")  # nn.Transformer's eval path
        case = "shapes (B=3, S=6, T=7)"
        logits, loss = _model_logits(c, model, src, tgt, case)
        c.expect(tuple(logits.shape) == (3, 6, V), case=case,
                 problem=f"expected logits of shape (3, 6, {V}) (one per position of tgt[:, :-1]), got {tuple(logits.shape)}",
                 hint="shift the targets: the decoder reads tgt[:, :-1] and predicts tgt[:, 1:]; "
                      "a (3, 7, V) result means it reads the token it must predict, a (6, ..) or (7, ..) first dim means batch_first is missing")  # fmt: skip
        case = "loss"
        flat, labels = logits.reshape(-1, V).float(), tgt[:, 1:].reshape(-1)
        want = F.cross_entropy(flat, labels, ignore_index=PAD)
        hint = "the loss compares the logits with the labels tgt[:, 1:] (ignore_index=pad_id)"
        if torch.isclose(loss.detach().float(), F.cross_entropy(flat, labels), atol=1e-5).all():
            hint = (
                "target 1 ends with <pad>, and your loss counts it: pass ignore_index=pad_id to "
                "F.cross_entropy"
            )
        c.close(loss, want, case=case, atol=1e-5, hint=hint)

        case = "examples in a batch stay separate"
        other = src.clone()
        other[2] = torch.randint(3, V, (6,), generator=g)
        logits2, _ = _model_logits(c, model, other, tgt, case)
        c.expect(torch.allclose(logits2[:2], logits[:2], atol=1e-5), case=case,
                 problem="changing example 2's source changed the predictions for examples 0 and 1",
                 hint="nn.Transformer expects (T, B, D) unless you pass batch_first=True; fed (B, T, D), it attends across the batch")  # fmt: skip

        case = "the decoder cannot see the future"
        later = tgt.clone()
        later[:, 4] = 3 + (later[:, 4] - 2) % (V - 3)
        logits3, _ = _model_logits(c, model, src, later, case)
        c.expect(torch.allclose(logits3[:, :4], logits[:, :4], atol=1e-5), case=case,
                 problem="changing target token 4 changed the predictions at positions 0..3",
                 hint="pass tgt_mask=nn.Transformer.generate_square_subsequent_mask(T) (a causal mask); without it "
                      "the decoder reads the answer it should predict")  # fmt: skip

        case = "word order in the source matters"
        rev, _ = _model_logits(c, model, src.flip(1), tgt, case)
        c.expect(not torch.allclose(rev, logits, atol=1e-4), case=case,
                 problem="reversing the source did not change any prediction",
                 hint="attention alone ignores order: add positional encodings to the embeddings of src and tgt")  # fmt: skip

        case = "word order in the target matters"
        swapped = torch.tensor([[BOS, 3, 4, 3, EOS], [BOS, 4, 3, 3, EOS]])
        two_src = src[:1].expand(2, -1)
        logits5, _ = _model_logits(c, model, two_src, swapped, case)
        c.expect(not torch.allclose(logits5[0, 3], logits5[1, 3], atol=1e-4), case=case,
                 problem="the decoder inputs <bos> 3 4 3 and <bos> 4 3 3 give equal logits at the last position",
                 hint="the decoder sees its prefix as a bag of tokens: add the positional encodings to the "
                      "target embeddings too, not only to the source's")  # fmt: skip

        case = "padding the source changes nothing"
        padded = F.pad(src, (0, 3), value=PAD)
        logits4, _ = _model_logits(c, model, padded, tgt, case)
        c.expect(torch.allclose(logits4, logits, atol=1e-4), case=case,
                 problem="adding <pad> tokens at the end of the source changed the predictions",
                 hint="pass src_key_padding_mask=(src == pad_id) and memory_key_padding_mask=(src == pad_id)")  # fmt: skip

    case = "a training step: loss.backward()"
    model.train()
    model.zero_grad()
    _, loss = _model_logits(c, model, src, tgt, case)
    try:
        loss.backward()
    except RuntimeError as e:
        raise CaseFailed(
            case,
            f"loss.backward() failed: {str(e)[:160]}",
            "an in-place operation (x += ..., x[...] = ...) overwrote a tensor autograd needs: "
            "write x = x + ... instead",
        ) from None
    silent = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    c.expect(not silent, case=case, problem=f"no gradient reached {', '.join(silent[:3])}",
             hint="compute the loss from the model's own layers, without .detach() or torch.no_grad()")  # fmt: skip
    model.eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*nested tensor.*")
        c.on_device(model, src, tgt, case="shapes (B=3, S=6, T=7)")
    return "shift, batch_first, causal mask, positions in src and tgt, padding, backward"


def _tf_model(pad_id: int, seed: int) -> Seq2SeqTransformer:
    """A small untrained encoder-decoder without dropout, ids 0..11 with ``pad_id`` for <pad>."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        cfg = Seq2SeqConfig(
            vocab_size=12, max_src_len=10, max_tgt_len=10, d_model=16, n_heads=2,
            n_enc_layers=1, n_dec_layers=1, d_ff=32, dropout=0.0, pad_id=pad_id, bos_id=1, eos_id=2,
        )  # fmt: skip
        return Seq2SeqTransformer(cfg).eval()


def _tf_batch(pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sources and ``<bos> y <eos> <pad>..`` targets of different lengths, padded with ``pad``."""
    src = torch.tensor([[4, 6, 7, 8, 9], [10, 4, 6, pad, pad], [7, pad, pad, pad, pad]])
    tgt = torch.tensor([[1, 9, 8, 7, 2, pad], [1, 4, 2, pad, pad, pad], [1, 6, 6, 10, 11, 2]])
    return src, tgt


@checker
def ex11_teacher_forcing_loss(c: Check, teacher_forcing_loss: Any) -> str:
    """``teacher_forcing_loss(model, src, tgt) -> (logits (B, T-1, V), loss)`` with encode/decode.

    Compared with ``Seq2SeqTransformer.forward`` (the same model), whose loss is the mean
    cross-entropy of the shifted labels over non-<pad> positions.
    """
    for pad, case in ((PAD, "<pad> = 0"), (5, "a vocabulary whose <pad> is 5")):
        model = _tf_model(pad, seed=11)
        src, tgt = _tf_batch(pad)
        case = f"3 sources and targets of different lengths, {case}"
        with torch.no_grad():
            want_logits, want_loss = model(src, tgt)
        whole: list[bool] = []  # calls of model(src, tgt), the reference itself
        handle = model.register_forward_pre_hook(lambda *_, whole=whole: whole.append(True))
        try:
            got = c.call(teacher_forcing_loss, model, src, tgt, case=case)
        finally:
            handle.remove()
        c.expect(
            not whole,
            case=case,
            problem="your code called model(src, tgt), the reference this exercise rebuilds",
            hint="build the loss from model.encode(src) and model.decode(dec_in, memory, src_mask)",
        )
        c.expect(
            isinstance(got, (tuple, list)) and len(got) == 2,
            case=case,
            problem=f"expected (logits, loss), got {type(got).__name__}",
            hint="return the decoder's logits and the loss: return logits, loss",
        )
        logits, loss = got
        logits = _tensor(c, logits, case, "the logits are what model.decode returns first")
        B, T = tgt.shape
        if tuple(logits.shape) == (B, T, want_logits.shape[-1]):
            raise CaseFailed(
                case,
                f"the logits have shape {tuple(logits.shape)}, one position too many",
                "the decoder reads everything but the last token, tgt[:, :-1] (it starts with "
                "<bos>), and predicts tgt[:, 1:]",
            )
        with torch.no_grad():
            memory, src_mask = model.encode(src)
            backwards = model.decode(tgt[:, 1:], memory, src_mask)[0]
        shifted_wrong_way = tuple(logits.shape) == tuple(backwards.shape) and torch.allclose(
            logits.detach(), backwards, atol=1e-5
        )
        c.expect(
            not shifted_wrong_way,
            case=case,
            problem="the decoder was fed tgt[:, 1:]",
            hint="feed the decoder tgt[:, :-1] (<bos> first) and use tgt[:, 1:] as the labels",
        )
        c.close(
            logits,
            want_logits,
            case=f"{case}: the logits",
            hint="memory, src_mask = model.encode(src); logits, _ = model.decode(tgt[:, :-1], "
            "memory, src_mask)",
            atol=1e-5,
        )
        flat = want_logits.reshape(-1, want_logits.shape[-1])
        known = {
            "the <pad> labels count in your loss: pass ignore_index=model.config.pad_id to "
            "F.cross_entropy (the model's pad id, not 0)": F.cross_entropy(
                flat, tgt[:, 1:].reshape(-1)
            ),
            "the labels are the decoder input itself: use tgt[:, 1:], the targets shifted by one, "
            "so position t predicts token t + 1": F.cross_entropy(
                flat, tgt[:, :-1].reshape(-1), ignore_index=pad
            ),
        }
        hint = (
            "F.cross_entropy(logits.reshape(-1, V), tgt[:, 1:].reshape(-1), "
            "ignore_index=model.config.pad_id)"
        )
        if isinstance(loss, torch.Tensor) and loss.numel() == 1:
            for text, wrong in known.items():
                if math.isclose(float(loss), float(wrong), rel_tol=1e-5, abs_tol=1e-6):
                    hint = text
                    break
        c.close(loss, want_loss, case=f"{case}: the loss", hint=hint, atol=1e-5)
        c.expect(
            isinstance(loss, torch.Tensor) and loss.requires_grad,
            case=f"{case}: the loss",
            problem="no gradient can flow through your loss",
            hint="return the loss tensor itself (not loss.item()), computed without torch.no_grad()",
        )
    return f"{c.cases} checks against Seq2SeqTransformer.forward"
