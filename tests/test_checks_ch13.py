"""Workbook 13 checkers: the reference passes, each usual mistake fails with its hint, stubs say 'not done'."""

from __future__ import annotations

import math
from collections import Counter

from course_lib import checks
from course_lib.tokenizers import merge as ref_merge


# ---- pair counts ----------------------------------------------------------------------------
def pair_counts(ids):
    return Counter(zip(ids, ids[1:]))


def pair_counts_no_overlap(ids):
    counts, i = Counter(), 0
    while i < len(ids) - 1:
        counts[(ids[i], ids[i + 1])] += 1
        i += 2 if ids[i] == ids[i + 1] else 1
    return counts


def test_pair_counts(checker_line) -> None:
    checker_line.passes(checks.ex13_pair_counts, pair_counts)
    checker_line.passes(checks.ex13_pair_counts, lambda ids: dict(pair_counts(ids)))
    checker_line.fails(checks.ex13_pair_counts, pair_counts_no_overlap, needles=("overlapping",))
    checker_line.fails(
        checks.ex13_pair_counts,
        lambda ids: Counter(zip(ids, ids[1:] + ids[:1])),
        needles=("wrap around",),
    )
    checker_line.fails(
        checks.ex13_pair_counts, lambda ids: Counter(zip(ids[1:], ids)), needles=("reversed",)
    )
    checker_line.fails(
        checks.ex13_pair_counts, lambda ids: list(zip(ids, ids[1:])), needles=("expected a dict",)
    )
    checker_line.not_done(checks.ex13_pair_counts)


# ---- merge ----------------------------------------------------------------------------------
def merge_overlapping(ids, pair, new_id):
    out = []
    for i, x in enumerate(ids):
        if i + 1 < len(ids) and (x, ids[i + 1]) == pair:
            out.append(new_id)
        elif not (i > 0 and (ids[i - 1], x) == pair):
            out.append(x)
    return out


def merge_drops_last(ids, pair, new_id):
    out, i = [], 0
    while i < len(ids) - 1:
        if (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def merge_in_place(ids, pair, new_id):
    ids[:] = ref_merge(ids, pair, new_id)
    return ids


def merge_from_the_right(ids, pair, new_id):
    return ref_merge(ids[::-1], pair[::-1], new_id)[::-1]


def test_merge(checker_line) -> None:
    checker_line.passes(checks.ex13_merge, ref_merge)
    checker_line.fails(checks.ex13_merge, merge_drops_last, needles=("last id",))
    checker_line.fails(checks.ex13_merge, merge_in_place, needles=("changed",))
    checker_line.fails(checks.ex13_merge, merge_from_the_right, needles=("from the left",))
    checker_line.fails(checks.ex13_merge, merge_overlapping, needles=("each id once",))
    checker_line.fails(checks.ex13_merge, lambda ids, p, n: None, needles=("list of ints",))
    checker_line.not_done(checks.ex13_merge)


# ---- encode ---------------------------------------------------------------------------------
def encode(text, merges):
    ids = list(text.encode("utf-8"))
    while len(ids) >= 2:
        pair = min(zip(ids, ids[1:]), key=lambda p: merges.get(p, math.inf))
        if pair not in merges:
            break
        ids = ref_merge(ids, pair, merges[pair])
    return ids


def encode_in_order(text, merges):  # the same result: apply every merge once, in learned order
    ids = list(text.encode("utf-8"))
    for pair, new in sorted(merges.items(), key=lambda kv: kv[1]):
        ids = ref_merge(ids, pair, new)
    return ids


def encode_by_count(text, merges):
    ids = list(text.encode("utf-8"))
    while True:
        counts = Counter(p for p in zip(ids, ids[1:]) if p in merges)
        if not counts:
            return ids
        pair = max(counts, key=counts.get)
        ids = ref_merge(ids, pair, merges[pair])


def encode_ords(text, merges):
    ids = [ord(ch) for ch in text]
    for pair, new in sorted(merges.items(), key=lambda kv: kv[1]):
        ids = ref_merge(ids, pair, new)
    return ids


def test_encode(checker_line) -> None:
    checker_line.passes(checks.ex13_encode, encode)
    checker_line.passes(checks.ex13_encode, encode_in_order)
    checker_line.fails(checks.ex13_encode, encode_by_count, needles=("merge order",))
    checker_line.fails(checks.ex13_encode, encode_ords, needles=("UTF-8 bytes",))
    checker_line.fails(checks.ex13_encode, lambda t, m: list(t.encode()), needles=("no merge",))
    checker_line.not_done(checks.ex13_encode)


# ---- decode ---------------------------------------------------------------------------------
def _vocab(merges, offset=256):
    vocab = {i: bytes([i]) for i in range(256)}
    for k, (a, b) in enumerate(merges):
        vocab[offset + k] = vocab[a] + vocab[b]
    return vocab


def decode(ids, merges):
    return b"".join(_vocab(merges)[i] for i in ids).decode("utf-8", errors="replace")


def decode_no_offset(ids, merges):
    return b"".join(_vocab(merges, 0)[i] for i in ids).decode("utf-8", errors="replace")


def decode_strict(ids, merges):
    return b"".join(_vocab(merges)[i] for i in ids).decode("utf-8")


def test_decode(checker_line) -> None:
    checker_line.passes(checks.ex13_decode, decode)
    checker_line.fails(checks.ex13_decode, decode_no_offset, needles=("256 + k",))
    checker_line.fails(checks.ex13_decode, decode_strict, needles=("errors='replace'",))
    checker_line.fails(
        checks.ex13_decode,
        lambda ids, m: b"".join(bytes([i]) for i in ids if i < 256),
        needles=("expected a str",),
    )
    checker_line.not_done(checks.ex13_decode)


# ---- the per-token decoding bug -------------------------------------------------------------
def decode_tokens(ids, vocab):
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")


def decode_tokens_buggy(ids, vocab):
    return "".join(vocab[i].decode("utf-8", errors="replace") for i in ids)


def decode_tokens_strict(ids, vocab):
    return b"".join(vocab[i] for i in ids).decode("utf-8")


def test_decode_stream(checker_line) -> None:
    checker_line.passes(checks.ex13_decode_stream, decode_tokens)
    checker_line.fails(checks.ex13_decode_stream, decode_tokens_buggy, needles=("token by token",))
    checker_line.fails(
        checks.ex13_decode_stream, decode_tokens_strict, needles=("errors='replace'",)
    )
    checker_line.not_done(checks.ex13_decode_stream)


# ---- predict: token count -------------------------------------------------------------------
def test_token_count(checker_line) -> None:
    checker_line.passes(checks.ex13_token_count, 12)
    assert not checks.ex13_token_count(None)
    line = checker_line.line()  # "no answer yet" / "not done yet", depending on the checker core
    assert "12" not in line and "byte" not in line  # no answer, no method, before a prediction
    checker_line.fails(checks.ex13_token_count, 10, needles=("counts characters",))
    assert "12" not in checker_line.fails(checks.ex13_token_count, 11)
    checker_line.fails(checks.ex13_token_count, "12", needles=("string",))


# ---- bits per character ---------------------------------------------------------------------
def bits_per_char(loss, n_tokens, n_chars):
    return loss * n_tokens / n_chars / math.log(2)


def test_bits_per_char(checker_line) -> None:
    ln2, ln10 = math.log(2), math.log(10)
    checker_line.passes(checks.ex13_bits_per_char, bits_per_char)
    for wrong, needle in [
        (lambda loss, t, c: loss / ln2, "bits per TOKEN"),
        (lambda loss, t, c: loss * t / c, "nats per character"),
        (lambda loss, t, c: loss * c / t / ln2, "upside down"),
        (lambda loss, t, c: loss * t / c / ln10, "base 2"),
        (lambda loss, t, c: "x", "number"),
    ]:
        checker_line.fails(checks.ex13_bits_per_char, wrong, needles=(needle,))
    checker_line.not_done(checks.ex13_bits_per_char)
