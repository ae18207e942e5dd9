"""Checkers for workbook 08: vocabularies, padding, masked mean pooling, the bag-of-embeddings model."""

from __future__ import annotations

import numbers
from collections import Counter
from typing import Any

import torch
from torch import nn

from ..text import PAD, UNK, BagOfEmbeddings, masked_mean_pool, pad_batch
from ._core import CaseFailed, Check, checker

__all__ = [
    "ex08_bag_classifier",
    "ex08_build_vocab",
    "ex08_encode",
    "ex08_masked_mean",
    "ex08_pad_batch",
    "ex08_param_count",
    "ex08_word_order",
]


def _reference_vocab(token_lists: list[list[str]], min_freq: int) -> dict[str, int]:
    counts = Counter(t for tokens in token_lists for t in tokens)
    kept = sorted((t for t, n in counts.items() if n >= min_freq), key=lambda t: (-counts[t], t))
    return {t: i for i, t in enumerate([PAD, UNK, *kept])}


def _as_stoi(got: Any, case: str) -> dict[str, int]:
    stoi = getattr(got, "stoi", got)
    if not isinstance(stoi, dict):
        raise CaseFailed(
            case,
            f"expected a dict token -> id, got {type(got).__name__}",
            "return a dict such as {'<pad>': 0, '<unk>': 1, 'the': 2, ...}",
        )
    return stoi


@checker
def ex08_build_vocab(c: Check, build_vocab: Any) -> str:
    """``build_vocab(token_lists, min_freq) -> dict``: specials first, then frequent tokens."""
    sentences = [
        ["the", "storm", "hit", "the", "coast"],
        ["the", "band", "played"],
        ["a", "storm", "again"],
    ]
    cases = [
        ("three short sentences, min_freq=1", sentences, 1),
        ("the same sentences, min_freq=2", sentences, 2),
        ("a token seen exactly min_freq=3 times", [["x", "y"], ["x", "y"], ["x", "z"]], 3),
        ("one sentence with a single token", [["hello"]], 1),
    ]
    for case, lists, min_freq in cases:
        want = _reference_vocab(lists, min_freq)
        got = _as_stoi(c.call(build_vocab, [list(s) for s in lists], min_freq, case=case), case)
        c.expect(
            got.get(PAD) == 0 and got.get(UNK) == 1,
            case=case,
            problem=f"'<pad>' should have id 0 and '<unk>' id 1, got {got.get(PAD)!r} and {got.get(UNK)!r}",
            hint="start the table with the two special tokens, before any real token",
        )
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        if missing or extra:
            counts = Counter(t for s in lists for t in s)
            at_limit = [t for t in missing if counts[t] == min_freq]
            hint = (
                f"keep tokens seen AT LEAST min_freq times (>=, not >): {at_limit[:3]} are missing"
                if at_limit
                else "count every token of every sentence and keep those with count >= min_freq"
            )
            raise CaseFailed(case, f"missing tokens {missing[:5]}, unexpected {extra[:5]}", hint)
        c.equal(
            sorted(got.values()),
            list(range(len(want))),
            case=case,
            hint="ids must be 0, 1, 2, ... with no gaps or repeats",
        )
        c.equal(
            sorted(got, key=got.__getitem__),
            sorted(want, key=want.__getitem__),
            case=case,
            hint="after the specials, order by decreasing count and break ties alphabetically: "
            "sorted(tokens, key=lambda t: (-counts[t], t))",
        )
    c.raises(
        build_vocab,
        [],
        1,
        case="no sentences at all",
        hint="an empty data set should raise ValueError (a vocabulary of specials only is a bug)",
    )
    return f"{len(cases)} vocabularies and the empty data set"


def _as_id_list(got: Any, case: str) -> list[int]:
    """The learner's ids as a list of Python ints (a tensor or array is converted), or a failure."""
    if got is None:
        raise CaseFailed(
            case, "your function returned None", "return the list of ids (is `return` missing?)"
        )
    if hasattr(got, "tolist") and not isinstance(got, (list, tuple)):  # tensor, numpy array
        got = got.tolist()
    if not isinstance(got, (list, tuple)):
        raise CaseFailed(
            case, f"expected a list of ints, got {type(got).__name__}", "return a list of ints"
        )
    if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in got):
        kinds = sorted({type(v).__name__ for v in got})
        raise CaseFailed(
            case,
            f"expected a list of ints, got a list of {', '.join(kinds)}",
            "return a list of ints, one id per token: [stoi.get(t, unk_id) for t in tokens]",
        )
    return [int(v) for v in got]


@checker
def ex08_encode(c: Check, encode: Any) -> str:
    """``encode(tokens, stoi) -> list[int]``; unknown tokens map to ``stoi['<unk>']``."""
    stoi = {PAD: 0, UNK: 1, "the": 2, "storm": 3, "band": 4}
    other = {PAD: 0, "the": 1, "song": 2, UNK: 3}
    cases = [
        ("known tokens only", ["the", "storm"], stoi, [2, 3]),
        ("an unknown token 'piano'", ["the", "piano", "band"], stoi, [2, 1, 4]),
        ("an empty sentence", [], stoi, []),
        ("a vocabulary that keeps '<unk>' at id 3", ["the", "drum", "song"], other, [1, 3, 2]),
        ("a token whose id is 0 ('<pad>' at 0, '<unk>' at 3)", [PAD, "the"], other, [0, 1]),
    ]
    for case, tokens, table, want in cases:
        try:
            got = c.call(encode, list(tokens), dict(table), case=case)
        except CaseFailed as e:
            if "KeyError" in e.problem:
                raise CaseFailed(
                    case,
                    e.problem,
                    "a token outside the vocabulary must become '<unk>': stoi.get(token, unk_id)",
                ) from None
            raise
        got = _as_id_list(got, case)
        if case.startswith("a vocabulary") and got == [1, 1, 2]:
            raise CaseFailed(
                case,
                "the unknown token got id 1",
                "look the id up: stoi['<unk>'], don't hard-code 1",
            )
        if got == [3, 1] and want == [0, 1]:
            raise CaseFailed(
                case,
                "the token with id 0 became '<unk>'",
                "`stoi.get(t) or unk_id` treats the id 0 as missing (0 is falsy): use "
                "stoi.get(t, unk_id), or test `t in stoi`",
            )
        if len(got) < len(want) and any(t not in table for t in tokens):
            hint = "keep one id per token: an unknown token becomes stoi['<unk>'], don't drop it"
        elif len(got) != len(want):
            hint = "return exactly one id per token, in the order of the tokens"
        else:
            hint = "look each token up in order: stoi.get(token, stoi['<unk>'])"
        c.equal(got, want, case=case, hint=hint)
    return f"{len(cases)} sentences, unknown tokens and a token with id 0 included"


@checker
def ex08_pad_batch(c: Check, pad: Any) -> str:
    """``pad(seqs, pad_id) -> (ids (B, T) int64, mask (B, T) bool)``, right padding."""
    cases = [
        ("three sequences of lengths 3, 1, 2", [[5, 6, 7], [8], [9, 4]], 0),
        ("pad_id=7", [[1, 2], [3, 4, 5, 6]], 7),
        ("a single sequence", [[2, 3, 4]], 0),
        ("an empty sequence among others", [[1, 2], []], 0),
    ]
    for case, seqs, pad_id in cases:
        want_ids, want_mask = pad_batch(seqs, pad_id)
        got = c.call(pad, [list(s) for s in seqs], pad_id, case=case)
        if not (isinstance(got, (tuple, list)) and len(got) == 2):
            raise CaseFailed(case, "expected a pair (ids, mask)", "return ids, mask")
        ids, mask = got
        for name, t in (("ids", ids), ("mask", mask)):
            if not isinstance(t, torch.Tensor):
                raise CaseFailed(
                    case,
                    f"{name} is {type(t).__name__}, not a tensor",
                    "return two tensors: ids = torch.tensor(rows, dtype=torch.long) and a bool "
                    "mask of the same shape",
                )
            c.equal(
                tuple(t.shape), tuple(want_ids.shape), case=case, hint="T is the longest length"
            )
        c.expect(
            ids.dtype == torch.long,
            case=case,
            problem=f"ids have dtype {ids.dtype}",
            hint="token ids must be int64 (torch.long) for nn.Embedding",
        )
        c.expect(
            mask.dtype == torch.bool,
            case=case,
            problem=f"mask has dtype {mask.dtype}",
            hint="make the mask bool: True on real tokens",
        )
        if not torch.equal(ids, want_ids):
            left = pad_batch([s[::-1] for s in seqs], pad_id)[0].flip(1)
            if torch.equal(ids, left):
                hint = "pad on the RIGHT: real tokens first, then padding"
            elif pad_id != 0 and bool((ids[~want_mask] == 0).all()):
                hint = f"fill the empty places with pad_id={pad_id}, not with 0"
            else:
                hint = "row i is seqs[i] followed by pad_id up to length T"
            raise CaseFailed(case, f"ids {ids.tolist()}, expected {want_ids.tolist()}", hint)
        if torch.equal(mask, ~want_mask):
            raise CaseFailed(
                case, "the mask is True on padding", "True marks real tokens, False marks padding"
            )
        c.equal(mask.tolist(), want_mask.tolist(), case=case, hint="mask[i, j] = j < len(seqs[i])")
    c.raises(
        pad,
        [],
        0,
        case="an empty batch",
        mentions=[("empty", "Empty", "no sequences", "no sequence")],
        hint="max() of no lengths fails: raise a ValueError that says the batch is empty",
    )
    return f"{len(cases)} batches and the empty batch"


@checker
def ex08_masked_mean(c: Check, pool: Any) -> str:
    """``pool(x (B, T, D), mask (B, T)) -> (B, D)``: the mean over real tokens only."""
    g = torch.Generator().manual_seed(8)
    x = torch.randn(3, 5, 4, generator=g)
    lengths = torch.tensor([5, 2, 1])
    mask = torch.arange(5)[None, :] < lengths[:, None]  # (3, 5)
    cases = [
        ("no padding at all", x, torch.ones(3, 5, dtype=torch.bool)),
        ("rows with 5, 2 and 1 real tokens", x, mask),
        ("float64 input", x.double(), mask),
        ("a row made only of padding", x[:2], torch.tensor([[True] * 5, [False] * 5])),
    ]
    for case, xs, m in cases:
        want = masked_mean_pool(xs, m)
        got = c.call(pool, xs.clone(), m.clone(), case=case)
        if isinstance(got, torch.Tensor) and got.shape == want.shape and got.is_floating_point():
            g, x64, m64 = got.detach().double(), xs.double(), m[..., None].double()
            w = want.double()
            plain, over_t = x64.mean(1), (x64 * m64).sum(1) / xs.shape[1]
            if torch.allclose(g, plain, atol=1e-6) and not torch.allclose(w, plain, atol=1e-6):
                raise CaseFailed(
                    case,
                    "you averaged the padding embeddings too",
                    "zero them out with the mask before summing: (x * mask[..., None]).sum(1)",
                )
            if torch.allclose(g, over_t, atol=1e-6) and not torch.allclose(w, over_t, atol=1e-6):
                raise CaseFailed(
                    case,
                    "you divide by T, so padding tokens still count",
                    "divide by the number of real tokens per row: mask.sum(1, keepdim=True)",
                )
            if not torch.isfinite(g).all():
                raise CaseFailed(
                    case,
                    "nan or inf in the result",
                    "a row without real tokens divides by 0: clamp the count to at least 1",
                )
        c.close(got, want, case=case, hint="sum the real tokens, divide by how many there are")
        c.expect(
            got.dtype == xs.dtype,
            case=case,
            problem=f"dtype changed from {xs.dtype} to {got.dtype}",
            hint="cast the mask to x.dtype, not to float32",
        )
        c.gradients(pool, masked_mean_pool, xs, m, case=case)
    return f"{len(cases)} cases, float64 and an all-padding row included"


def _expect_bias(c: Check, model: nn.Module, num_classes: int, case: str) -> None:
    bias = getattr(getattr(model, "fc", None), "bias", None)
    c.expect(
        isinstance(bias, torch.Tensor) and tuple(bias.shape) == (num_classes,),
        case=case,
        problem="the dense layer .fc has no bias"
        if bias is None
        else f"the bias of .fc has shape {tuple(getattr(bias, 'shape', ()))}",
        hint="keep the bias: nn.Linear(embed_dim, num_classes) has one by default (bias=True)",
    )


@torch.no_grad()
def _expect_mask_not_zero_row(
    model: nn.Module,
    ids: torch.Tensor,
    got: torch.Tensor,
    want: torch.Tensor,
    pad_id: int,
    case: str,
) -> None:
    """Fail with a specific hint when the output is right only while the padding row is zero.

    That is a model that sums over every position and relies on ``padding_idx`` keeping the
    padding embedding at zero instead of masking it out.
    """
    if torch.allclose(got.detach().double(), want.detach().double(), atol=1e-5):
        return
    weight = model.embedding.weight
    saved = weight[pad_id].clone()
    try:
        weight[pad_id].zero_()
        zeroed = model(ids)
    except Exception:  # noqa: BLE001 - only a diagnosis; the comparison below reports the case
        return
    finally:
        weight[pad_id].copy_(saved)
    if isinstance(zeroed, torch.Tensor) and zeroed.shape == want.shape:
        if torch.allclose(zeroed.detach().double(), want.detach().double(), atol=1e-5):
            raise CaseFailed(
                case,
                "your logits are right only while the padding embedding is zero",
                "don't rely on padding_idx keeping that row at zero (training or loading weights "
                "can change it); multiply by the mask ids != pad_id before summing",
            )


@checker
def ex08_bag_classifier(c: Check, cls: Any) -> str:
    """``cls(vocab_size, embed_dim, num_classes, pad_id)`` with ``.embedding``, ``.fc``; ids -> logits."""
    torch.manual_seed(0)
    case = "building cls(50, 8, 4, pad_id=0)"
    model = c.call(cls, 50, 8, 4, 0, case=case)
    c.expect(
        isinstance(model, nn.Module),
        case=case,
        problem=f"got {type(model).__name__}, not an nn.Module",
        hint="subclass nn.Module and call super().__init__()",
    )
    c.expect(
        isinstance(getattr(model, "embedding", None), nn.Embedding)
        and isinstance(getattr(model, "fc", None), nn.Linear),
        case=case,
        problem="expected attributes .embedding (nn.Embedding) and .fc (nn.Linear)",
        hint="self.embedding = nn.Embedding(vocab_size, embed_dim); self.fc = nn.Linear(embed_dim, num_classes)",
    )
    c.equal(tuple(model.embedding.weight.shape), (50, 8), case=case, hint="one row per token id")
    c.equal(
        tuple(model.fc.weight.shape), (4, 8), case=case, hint="nn.Linear(embed_dim, num_classes)"
    )
    _expect_bias(c, model, 4, case)
    ref = BagOfEmbeddings(50, 8, 4, pad_id=0)
    with torch.no_grad():
        ref.embedding.weight.copy_(model.embedding.weight)
        ref.fc.weight.copy_(model.fc.weight)
        ref.fc.bias.copy_(model.fc.bias)
        model.embedding.weight[1:].normal_()  # a trained-looking table: padding row untouched
        ref.embedding.weight.copy_(model.embedding.weight)
        model.embedding.weight[0].fill_(3.0)  # padding must not matter, whatever its vector
        ref.embedding.weight[0].fill_(3.0)
    batches = {
        "no padding": pad_batch([[3, 4, 5], [6, 7, 8]])[0],
        "padding at the end of short rows": pad_batch([[3, 4, 5, 6], [7], [9, 10]])[0],
        "one sentence": pad_batch([[11, 12, 13, 49]])[0],
    }
    for case, ids in batches.items():
        got = c.call(model, ids, case=case)
        want = ref(ids)
        if isinstance(got, torch.Tensor) and got.shape == want.shape:
            plain = ref.fc(ref.embedding(ids).mean(1))
            if torch.allclose(got, plain, atol=1e-5) and not torch.allclose(want, plain, atol=1e-5):
                raise CaseFailed(
                    case,
                    "the padding tokens are averaged in",
                    "pool with the mask ids != pad_id: sum real embeddings / number of real tokens",
                )
            _expect_mask_not_zero_row(model, ids, got, want, 0, case)
        c.close(got, want, case=case, atol=1e-5, hint="logits = fc(masked mean of embedding(ids))")
    case = "a training step: backward through the model"
    c.gradients(model, None, batches["padding at the end of short rows"], case=case)
    grads = [p for p in model.parameters() if p.requires_grad and p.grad is None]
    c.expect(
        not grads,
        case=case,
        problem="a parameter received no gradient",
        hint="compute the logits from self.embedding and self.fc with torch operations (no "
        ".detach() or torch.no_grad() in forward)",
    )
    model.zero_grad()
    torch.manual_seed(0)
    case = "pad_id=5 (0 is a real token here)"
    other = c.call(cls, 20, 4, 3, 5, case=case)
    _expect_bias(c, other, 3, case)
    ref = BagOfEmbeddings(20, 4, 3, pad_id=5)
    try:
        with torch.no_grad():
            other.embedding.weight.normal_()
            ref.embedding.weight.copy_(other.embedding.weight)
            ref.fc.weight.copy_(other.fc.weight)
            ref.fc.bias.copy_(other.fc.bias)
    except (AttributeError, RuntimeError) as e:
        raise CaseFailed(
            case, f"could not read .embedding and .fc ({e})", "keep the same layout"
        ) from None
    ids = torch.tensor([[1, 2, 5, 5], [0, 3, 4, 5]])
    got, want = c.call(other, ids, case=case), ref(ids)
    if isinstance(got, torch.Tensor) and got.shape == want.shape:
        _expect_mask_not_zero_row(other, ids, got, want, 5, case)
    c.close(
        got,
        want,
        case=case,
        atol=1e-5,
        hint="build the mask from the pad_id you were given, not from 0",
    )
    return "3 batches and a model with pad_id=5"


@checker
def ex08_param_count(c: Check, answer: Any) -> str:
    """Your prediction: the number of parameters of ``BagOfEmbeddings(1000, 32, 5)``."""
    case = "parameters of BagOfEmbeddings(vocab_size=1000, embed_dim=32, num_classes=5)"
    c.answered(answer)
    value = c.number(answer, case=case, hint="answer = 12345 (a whole number)")
    c.expect(
        value.is_integer(),
        case=case,
        problem=f"got {value:g}",
        hint="a parameter count is a whole number: count every weight and bias",
    )
    want = 1000 * 32 + 32 * 5 + 5
    hints = {
        1000 * 32 + 32 * 5: "you forgot the 5 biases of the dense layer",
        32 * 5 + 5: "the embedding table is a parameter too: vocab_size x embed_dim",
        999 * 32
        + 32 * 5
        + 5: "the padding row is still stored (and counted), even though it never learns",
        998 * 32
        + 32 * 5
        + 5: "vocab_size=1000 already includes '<pad>' and '<unk>': each has its row in the table",
        1000 * 32: "the dense layer has parameters too: weight (5, 32) and bias (5,)",
    }
    c.number(
        value,
        want,
        case=case,
        hint="embedding V*D + dense D*C + C",
        known_wrong=hints,
        rel=0,
        abs_tol=0,
    )
    return "32,000 + 160 + 5"


@checker
def ex08_word_order(c: Check, answer: Any) -> str:
    """Your prediction: do "the storm hit the coast" and "the coast hit the storm" get equal logits?"""
    case = "the same words in another order"
    c.answered(answer)
    c.expect(
        isinstance(answer, bool),
        case=case,
        problem=f"expected True or False, got {answer!r}",
        hint="answer = True or answer = False",
    )
    c.equal(
        answer,
        True,
        case=case,
        hint="the mean of a set of vectors does not depend on their order: a bag of words",
    )
    return "a mean does not see word order"
