"""Workbook 08 checkers: the reference passes, each usual mistake fails with a hint, stubs say 'not done'."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from torch import nn

from course_lib import checks
from course_lib.checks._core import FAIL, PASS, TODO
from course_lib.text import BagOfEmbeddings, Vocabulary, masked_mean_pool, pad_batch


def _line(capsys) -> str:
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, out
    return out[0]


def _passes(capsys, check, answer) -> None:
    assert check(answer)
    assert _line(capsys).startswith(PASS)


def _fails(capsys, check, answer, *needles: str) -> str:
    assert not check(answer)
    line = _line(capsys)
    assert line.startswith(FAIL), line
    assert "Hint:" in line
    for needle in needles:
        assert needle in line, line
    return line


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


def _stub(*args):
    raise NotImplementedError


# ---- passing ------------------------------------------------------------------------------
def test_references_pass(capsys) -> None:
    _passes(capsys, checks.ex08_build_vocab, build_vocab)
    _passes(capsys, checks.ex08_build_vocab, lambda lists, k: Vocabulary.build(lists, k))
    _passes(capsys, checks.ex08_encode, encode)
    _passes(capsys, checks.ex08_pad_batch, pad)
    _passes(capsys, checks.ex08_pad_batch, pad_batch)
    _passes(capsys, checks.ex08_masked_mean, masked_mean)
    _passes(capsys, checks.ex08_masked_mean, masked_mean_pool)
    _passes(capsys, checks.ex08_bag_classifier, Bag)
    _passes(capsys, checks.ex08_bag_classifier, BagOfEmbeddings)
    _passes(capsys, checks.ex08_param_count, 32165)
    _passes(capsys, checks.ex08_word_order, True)


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
def test_stub_is_not_done(capsys, check) -> None:
    assert not check(_stub)
    line = _line(capsys)
    assert line.startswith(TODO) and "not done yet" in line


def test_value_answers_not_given(capsys) -> None:
    for check in (checks.ex08_param_count, checks.ex08_word_order):
        _fails(capsys, check, None, "no answer yet")


# ---- usual mistakes -----------------------------------------------------------------------
def test_vocab_mistakes(capsys) -> None:
    _fails(capsys, checks.ex08_build_vocab, lambda ls, k: build_vocab(ls, k, strict=True), ">=")
    _fails(
        capsys, checks.ex08_build_vocab, lambda ls, k: build_vocab(ls, k, specials=False), "<pad>"
    )
    _fails(
        capsys,
        checks.ex08_build_vocab,
        lambda ls, k: build_vocab(ls, k, order=False),
        "decreasing count",
    )
    _fails(
        capsys,
        checks.ex08_build_vocab,
        lambda ls, k: build_vocab(ls, k) if ls else {"<pad>": 0, "<unk>": 1},
        "empty data set",
    )
    _fails(capsys, checks.ex08_build_vocab, lambda ls, k: list(build_vocab(ls, k)), "dict")


def test_encode_mistakes(capsys) -> None:
    _fails(capsys, checks.ex08_encode, lambda toks, stoi: [stoi[t] for t in toks], "stoi.get")
    _fails(
        capsys, checks.ex08_encode, lambda toks, stoi: [stoi.get(t, 1) for t in toks], "hard-code"
    )


def test_pad_mistakes(capsys) -> None:
    def left(seqs, pad_id):
        ids, mask = pad(seqs, pad_id)
        return pad([s[::-1] for s in seqs], pad_id)[0].flip(1), mask.flip(1)

    _fails(capsys, checks.ex08_pad_batch, left, "RIGHT")
    _fails(capsys, checks.ex08_pad_batch, lambda s, p: pad(s, 0), "pad_id=7")
    _fails(
        capsys, checks.ex08_pad_batch, lambda s, p: (pad(s, p)[0], ~pad(s, p)[1]), "True on padding"
    )
    _fails(capsys, checks.ex08_pad_batch, lambda s, p: (pad(s, p)[0], pad(s, p)[1].float()), "bool")
    _fails(
        capsys, checks.ex08_pad_batch, lambda s, p: (pad(s, p)[0].float(), pad(s, p)[1]), "int64"
    )
    _fails(
        capsys,
        checks.ex08_pad_batch,
        lambda s, p: pad(s, p) if s else (torch.zeros(0, 0), torch.zeros(0, 0)),
        "empty",
    )


def test_masked_mean_mistakes(capsys) -> None:
    _fails(capsys, checks.ex08_masked_mean, lambda x, m: x.mean(1), "averaged the padding")
    _fails(
        capsys,
        checks.ex08_masked_mean,
        lambda x, m: (x * m[..., None]).sum(1) / x.shape[1],
        "divide by T",
    )
    _fails(
        capsys,
        checks.ex08_masked_mean,
        lambda x, m: (x * m[..., None]).sum(1) / m.sum(1, keepdim=True),
        "clamp",
    )
    _fails(
        capsys,
        checks.ex08_masked_mean,
        lambda x, m: ((x * m[..., None]).sum(1) / m.sum(1, keepdim=True).clamp(min=1)).float(),
        "dtype",
    )


def test_bag_mistakes(capsys) -> None:
    _fails(capsys, checks.ex08_bag_classifier, BagNoMask, "padding tokens are averaged")
    _fails(capsys, checks.ex08_bag_classifier, BagZeroPad, "pad_id you were given")
    _fails(capsys, checks.ex08_bag_classifier, lambda *a: "model", "nn.Module")


def test_value_mistakes(capsys) -> None:
    _fails(capsys, checks.ex08_param_count, 32160, "biases")
    _fails(capsys, checks.ex08_param_count, 165, "embedding table")
    _fails(capsys, checks.ex08_param_count, "many", "number")
    _fails(capsys, checks.ex08_word_order, False, "order")
    _fails(capsys, checks.ex08_word_order, "yes", "True or False")
