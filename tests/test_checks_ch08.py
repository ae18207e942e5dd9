"""Workbook 08 checkers: the reference passes, each usual mistake fails with a hint, stubs say 'not done'."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from torch import nn

from course_lib import checks
from course_lib.text import BagOfEmbeddings, Vocabulary, masked_mean_pool, pad_batch


# ---- reference answers and usual mistakes -------------------------------------------------
def build_vocab(token_lists, min_freq, strict=False, specials=True, order=True):
    if not token_lists:
        raise ValueError("no sentences")
    counts = Counter(t for s in token_lists for t in s)
    keep = [t for t, n in counts.items() if (n > min_freq if strict else n >= min_freq)]
    keep = sorted(keep, key=lambda t: (-counts[t], t)) if order else sorted(keep)
    itos = (["<pad>", "<unk>"] if specials else []) + keep
    return {t: i for i, t in enumerate(itos)}


def encode(tokens, stoi):
    return [stoi.get(t, stoi["<unk>"]) for t in tokens]


def pad(seqs, pad_id):
    if not seqs:
        raise ValueError("empty batch")
    T = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), T), pad_id, dtype=torch.long)
    mask = torch.zeros(len(seqs), T, dtype=torch.bool)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, : len(s)] = True
    return ids, mask


def masked_mean(x, mask):
    m = mask[..., None].to(x.dtype)
    return (x * m).sum(1) / m.sum(1).clamp(min=1)


class Bag(nn.Module):
    def __init__(self, vocab_size, embed_dim, num_classes, pad_id=0):
        super().__init__()
        self.pad_id = pad_id
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.fc = nn.Linear(embed_dim, num_classes)

    def forward(self, ids):
        return self.fc(masked_mean(self.embedding(ids), ids != self.pad_id))


class BagNoMask(Bag):
    def forward(self, ids):
        return self.fc(self.embedding(ids).mean(1))


class BagZeroPad(Bag):
    def forward(self, ids):
        return self.fc(masked_mean(self.embedding(ids), ids != 0))


class BagNoBias(Bag):
    def __init__(self, vocab_size, embed_dim, num_classes, pad_id=0):
        super().__init__(vocab_size, embed_dim, num_classes, pad_id)
        self.fc = nn.Linear(embed_dim, num_classes, bias=False)


class BagPaddingIdx(Bag):
    """Sums every position, trusting padding_idx to keep the padding row at zero."""

    def __init__(self, vocab_size, embed_dim, num_classes, pad_id=0):
        super().__init__(vocab_size, embed_dim, num_classes, pad_id)
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)

    def forward(self, ids):
        n = (ids != self.pad_id).sum(1, keepdim=True).clamp(min=1)
        return self.fc(self.embedding(ids).sum(1) / n)


# ---- passing ------------------------------------------------------------------------------
def test_references_pass(checker_line) -> None:
    references = [
        (checks.ex08_build_vocab, build_vocab),
        (checks.ex08_build_vocab, lambda lists, k: Vocabulary.build(lists, k)),
        (checks.ex08_encode, encode),
        (checks.ex08_encode, lambda toks, stoi: np.array(encode(toks, stoi), dtype=np.int64)),
        (checks.ex08_encode, lambda toks, stoi: torch.tensor(encode(toks, stoi), dtype=torch.long)),
        (checks.ex08_pad_batch, pad),
        (checks.ex08_pad_batch, pad_batch),
        (checks.ex08_masked_mean, masked_mean),
        (checks.ex08_masked_mean, masked_mean_pool),
        (checks.ex08_bag_classifier, Bag),
        (checks.ex08_bag_classifier, BagOfEmbeddings),
        (checks.ex08_param_count, 32165),
        (checks.ex08_word_order, True),
    ]
    for check, answer in references:
        checker_line.passes(check, answer)


@pytest.mark.parametrize(
    "check",
    [
        checks.ex08_build_vocab,
        checks.ex08_encode,
        checks.ex08_pad_batch,
        checks.ex08_masked_mean,
        checks.ex08_bag_classifier,
    ],
)
def test_stub_is_not_done(checker_line, check) -> None:
    checker_line.not_done(check)


def test_value_answers_not_given(checker_line) -> None:
    for check in (checks.ex08_param_count, checks.ex08_word_order):
        checker_line.not_done(check, None)


# ---- usual mistakes -----------------------------------------------------------------------
def test_vocab_mistakes(checker_line) -> None:
    checker_line.fails(
        checks.ex08_build_vocab, lambda ls, k: build_vocab(ls, k, strict=True), needles=(">=",)
    )
    checker_line.fails(
        checks.ex08_build_vocab,
        lambda ls, k: build_vocab(ls, k, specials=False),
        needles=("<pad>",),
    )
    checker_line.fails(
        checks.ex08_build_vocab,
        lambda ls, k: build_vocab(ls, k, order=False),
        needles=("decreasing count",),
    )
    checker_line.fails(
        checks.ex08_build_vocab,
        lambda ls, k: build_vocab(ls, k) if ls else {"<pad>": 0, "<unk>": 1},
        needles=("empty data set",),
    )
    checker_line.fails(
        checks.ex08_build_vocab, lambda ls, k: list(build_vocab(ls, k)), needles=("dict",)
    )


def test_encode_mistakes(checker_line) -> None:
    checker_line.fails(
        checks.ex08_encode, lambda toks, stoi: [stoi[t] for t in toks], needles=("stoi.get",)
    )
    checker_line.fails(
        checks.ex08_encode,
        lambda toks, stoi: [stoi.get(t, 1) for t in toks],
        needles=("hard-code",),
    )
    checker_line.fails(checks.ex08_encode, lambda toks, stoi: None, needles=("return",))
    checker_line.fails(
        checks.ex08_encode,
        lambda toks, stoi: [stoi[t] for t in toks if t in stoi],
        needles=("don't drop it",),
    )
    checker_line.fails(
        checks.ex08_encode,
        lambda toks, stoi: [float(i) for i in encode(toks, stoi)],
        needles=("list of ints",),
    )
    checker_line.fails(
        checks.ex08_encode, lambda toks, stoi: encode(toks, stoi)[::-1], needles=("in order",)
    )


def test_pad_mistakes(checker_line) -> None:
    def left(seqs, pad_id):
        ids, mask = pad(seqs, pad_id)
        return pad([s[::-1] for s in seqs], pad_id)[0].flip(1), mask.flip(1)

    checker_line.fails(checks.ex08_pad_batch, left, needles=("RIGHT",))
    checker_line.fails(checks.ex08_pad_batch, lambda s, p: pad(s, 0), needles=("pad_id=7",))
    checker_line.fails(
        checks.ex08_pad_batch,
        lambda s, p: (pad(s, p)[0], ~pad(s, p)[1]),
        needles=("True on padding",),
    )
    checker_line.fails(
        checks.ex08_pad_batch, lambda s, p: (pad(s, p)[0], pad(s, p)[1].float()), needles=("bool",)
    )
    checker_line.fails(
        checks.ex08_pad_batch, lambda s, p: (pad(s, p)[0].float(), pad(s, p)[1]), needles=("int64",)
    )
    checker_line.fails(
        checks.ex08_pad_batch,
        lambda s, p: (pad(s, p)[0].tolist(), pad(s, p)[1]),
        needles=("return two tensors",),
    )
    checker_line.fails(
        checks.ex08_pad_batch,
        lambda s, p: pad(s, p) if s else (torch.zeros(0, 0), torch.zeros(0, 0)),
        needles=("empty",),
    )


def test_masked_mean_mistakes(checker_line) -> None:
    checker_line.fails(
        checks.ex08_masked_mean, lambda x, m: x.mean(1), needles=("averaged the padding",)
    )
    checker_line.fails(
        checks.ex08_masked_mean,
        lambda x, m: (x * m[..., None]).sum(1) / x.shape[1],
        needles=("divide by T",),
    )
    checker_line.fails(
        checks.ex08_masked_mean,
        lambda x, m: (x * m[..., None]).sum(1) / m.sum(1, keepdim=True),
        needles=("clamp",),
    )
    checker_line.fails(
        checks.ex08_masked_mean,
        lambda x, m: ((x * m[..., None]).sum(1) / m.sum(1, keepdim=True).clamp(min=1)).float(),
        needles=("dtype",),
    )


def test_bag_mistakes(checker_line) -> None:
    checker_line.fails(
        checks.ex08_bag_classifier, BagNoMask, needles=("padding tokens are averaged",)
    )
    checker_line.fails(checks.ex08_bag_classifier, BagZeroPad, needles=("pad_id you were given",))
    checker_line.fails(checks.ex08_bag_classifier, lambda *a: "model", needles=("nn.Module",))
    checker_line.fails(checks.ex08_bag_classifier, BagNoBias, needles=("keep the bias",))
    checker_line.fails(
        checks.ex08_bag_classifier, BagPaddingIdx, needles=("don't rely on padding_idx",)
    )


def test_value_mistakes(checker_line) -> None:
    checker_line.fails(checks.ex08_param_count, 32160, needles=("biases",))
    checker_line.fails(checks.ex08_param_count, 165, needles=("embedding table",))
    checker_line.fails(checks.ex08_param_count, "many", needles=("number",))
    checker_line.fails(checks.ex08_param_count, 999 * 32 + 165, needles=("padding row",))
    checker_line.fails(checks.ex08_param_count, 998 * 32 + 165, needles=("'<unk>'",))
    checker_line.fails(checks.ex08_param_count, 32165.9, needles=("whole number",))
    checker_line.passes(checks.ex08_param_count, 32165.0)
    checker_line.fails(checks.ex08_word_order, False, needles=("order",))
    checker_line.fails(checks.ex08_word_order, "yes", needles=("True or False",))


# ---- issue 16: the planted answers of each kind


def test_encode_token_with_id_zero(checker_line) -> None:
    """`stoi.get(t) or unk` turns id 0 into <unk>: ["<pad>", "the"] -> [3, 1], right [0, 1] (kind 3)."""
    checker_line.fails(
        checks.ex08_encode,
        lambda tokens, stoi: [stoi.get(t) or stoi["<unk>"] for t in tokens],
        needles=("id 0", "stoi.get(t, unk_id)"),
    )
    checker_line.passes(
        checks.ex08_encode, lambda tokens, stoi: [stoi.get(t, stoi["<unk>"]) for t in tokens]
    )


def test_encode_leaves_its_inputs_alone(checker_line) -> None:
    def adds_to_vocab(tokens, stoi):
        return [stoi.setdefault(t, stoi["<unk>"]) for t in tokens]

    checker_line.fails(checks.ex08_encode, adds_to_vocab, needles=("changed its input `stoi`",))


def test_pad_batch_error_says_empty(checker_line) -> None:
    from course_lib.text import pad_batch

    def vague(seqs, pad_id):
        if not seqs:
            raise ValueError("bad input")
        return pad_batch(seqs, pad_id)

    checker_line.fails(checks.ex08_pad_batch, vague, needles=("does not mention 'empty'",))
