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


def test_pair_counts_review_mistakes(checker_line) -> None:
    """Review 13 item 11: a loop over range(len(ids) - 2) drops the last pair (it got the overlap
    hint); a dict of 1s counts presence, not occurrences."""
    drops_last = lambda ids: Counter((ids[i], ids[i + 1]) for i in range(len(ids) - 2))  # noqa: E731
    out = checker_line.fails(checks.ex13_pair_counts, drops_last, needles=("last pair is missing",))
    assert "overlapping" not in out
    presence = lambda ids: {p: 1 for p in zip(ids, ids[1:])}  # noqa: E731
    checker_line.fails(checks.ex13_pair_counts, presence, needles=("how often",))


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
    out = checker_line.fails(checks.ex13_merge, merge_in_place, needles=("changed", "new list"))
    assert "ids / ..." not in out  # review 13 item 13: list advice, not tensor advice
    checker_line.fails(checks.ex13_merge, merge_from_the_right, needles=("from the left",))
    checker_line.fails(checks.ex13_merge, merge_overlapping, needles=("each id once",))
    checker_line.fails(checks.ex13_merge, lambda ids, p, n: None, needles=("list of ints",))
    checker_line.not_done(checks.ex13_merge)


def merge_slice_in_place(ids, pair, new_id):  # the review's answer: ids[i:i+2] = [new] in a loop
    i = 0
    while i < len(ids) - 1:
        if (ids[i], ids[i + 1]) == pair:
            ids[i : i + 2] = [new_id]
        i += 1
    return ids


def test_merge_in_place_gets_list_advice(checker_line) -> None:
    """Review 13 item 13: the checker's own 'build a new list' hint shows, not '`ids = ids / ...`'."""
    out = checker_line.fails(checks.ex13_merge, merge_slice_in_place, needles=("build a new list",))
    assert "ids = ids /" not in out and "tensor" not in out


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


def encode_dict_order(text, merges):  # wrong in general: a dict's order is not the merge order
    ids = list(text.encode("utf-8"))
    for pair, new in merges.items():
        ids = ref_merge(ids, pair, new)
    return ids


def test_encode(checker_line) -> None:
    checker_line.passes(checks.ex13_encode, encode)
    checker_line.passes(checks.ex13_encode, encode_in_order)
    checker_line.fails(checks.ex13_encode, encode_by_count, needles=("merge order",))
    checker_line.fails(checks.ex13_encode, encode_ords, needles=("UTF-8 bytes",))
    checker_line.fails(checks.ex13_encode, lambda t, m: list(t.encode()), needles=("no merge",))
    checker_line.not_done(checks.ex13_encode)
    # review 13 item 15: replaying merges.items() in insertion order passed while the table happened
    # to be in id order; the checker's table is now out of order.
    checker_line.fails(checks.ex13_encode, encode_dict_order, needles=("dict's order",))


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


def test_decode_review_mistakes(checker_line) -> None:
    """Review 13 item 9: errors='ignore' and a Latin-1 decode got the id-offset hint."""
    for errors_ignore in (
        lambda ids, m: b"".join(_vocab(m)[i] for i in ids).decode("utf-8", "ignore"),
    ):
        out = checker_line.fails(checks.ex13_decode, errors_ignore, needles=("errors='replace'",))
        assert "256 + k" not in out
    latin1 = lambda ids, m: b"".join(_vocab(m)[i] for i in ids).decode("latin-1")  # noqa: E731
    out = checker_line.fails(checks.ex13_decode, latin1, needles=("UTF-8",))
    assert "256 + k" not in out
    starts_at_257 = lambda ids, m: b"".join(  # noqa: E731
        _vocab(m, 257).get(i, b"") for i in ids
    ).decode("utf-8", "replace")
    checker_line.fails(checks.ex13_decode, starts_at_257, needles=("256 + k",))


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


def test_decode_stream_review_mistakes(checker_line) -> None:
    """Review 13 item 10: errors='ignore' was told to join the bytes, which it had done."""
    ignore = lambda ids, v: b"".join(v[i] for i in ids).decode("utf-8", "ignore")  # noqa: E731
    out = checker_line.fails(checks.ex13_decode_stream, ignore, needles=("errors='replace'",))
    assert "join the bytes" not in out
    chr_per_id = lambda ids, v: "".join(chr(i) for i in ids)  # noqa: E731
    checker_line.fails(checks.ex13_decode_stream, chr_per_id, needles=("own character",))


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
