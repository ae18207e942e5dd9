"""Checkers for workbook 13: pair counts, one merge, encoding with a merge table, decoding bytes,
a token count, the per-token decoding bug, and bits per character."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import Any

from ..tokenizers import BPETokenizer
from ..tokenizers import merge as _merge
from ..tokenizers import pair_counts as _pair_counts
from ._core import CaseFailed, Check, checker

__all__ = [
    "ex13_bits_per_char",
    "ex13_decode",
    "ex13_decode_stream",
    "ex13_encode",
    "ex13_merge",
    "ex13_pair_counts",
    "ex13_token_count",
]


def _as_list(got: Any, case: str, what: str = "a list of ints") -> list[int]:
    if hasattr(got, "tolist"):
        got = got.tolist()
    if not isinstance(got, (list, tuple)) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in got
    ):
        raise CaseFailed(case, f"expected {what}, got {type(got).__name__} {got!r}"[:160],
                         "return a list of integer ids")  # fmt: skip
    return list(got)


@checker
def ex13_pair_counts(c: Check, pair_counts: Callable[..., Any]) -> str:
    """``pair_counts(ids) -> dict`` of how often each adjacent pair ``(a, b)`` occurs."""
    cases = [
        ("the bytes of 'the'", list(b"the")),  # first: tells a dropped last pair from counting
        ("[1, 2, 1, 2]", [1, 2, 1, 2]),  # presence (1 each), which 'the' cannot
        ("the bytes of 'hello'", list(b"hello")),
        ("[7, 7, 7]: overlapping pairs", [7, 7, 7]),
        ("[7, 7, 7, 7]", [7, 7, 7, 7]),
        ("a single id: no pair", [5]),
        ("no ids at all", []),
    ]
    for case, ids in cases:
        want = dict(_pair_counts(ids))
        got = c.call(pair_counts, list(ids), case=case)
        c.expect(
            isinstance(got, dict),
            case=case,
            problem=f"expected a dict (pair -> count), got {type(got).__name__}",
            hint="return a dict or a collections.Counter keyed by tuples (a, b)",
        )
        got = {k: v for k, v in got.items() if v}  # a Counter may keep zero counts
        if got == want:
            c.cases += 1
            continue
        hint = "count zip(ids, ids[1:]): each position and the next one"
        if any(isinstance(k, list) or not isinstance(k, tuple) for k in got):
            hint = "use tuples (a, b) as keys: lists cannot be dict keys, and ids are not pairs"
        elif ids and got == dict(Counter(zip(ids, ids[1:] + ids[:1]))):
            hint = "the last id has no right neighbour: do not wrap around to the first"
        elif set(got) == set(want) and set(got.values()) == {1}:
            hint = (
                "every pair got the count 1: count how often each pair occurs (counts[pair] += 1), "
                "not just whether it occurs"
            )
        elif len(set(ids)) == len(ids) >= 2 and got == dict(Counter(zip(ids[:-2], ids[1:-1]))):
            hint = (
                "the last pair is missing: a list of n ids has n - 1 pairs, so the loop runs "
                "over range(len(ids) - 1) (or use zip(ids, ids[1:]))"
            )
        elif set(got) <= set(want) and sum(got.values()) < sum(want.values()):
            hint = (
                "count every position, overlapping ones too: [7, 7, 7] holds the pair (7, 7) at "
                "positions 0 and 1"
            )
        elif got == dict(Counter(zip(ids[1:], ids))):
            hint = "the pairs are reversed: (ids[i], ids[i + 1]), left id first"
        raise CaseFailed(case, f"expected {want}, got {dict(list(got.items())[:6])}", hint)
    return f"{len(cases)} cases including overlapping pairs and empty input"


@checker
def ex13_merge(c: Check, merge: Callable[..., Any]) -> str:
    """``merge(ids, pair, new_id) -> list``: every occurrence of ``pair`` replaced, left to right."""
    cases = [
        ("[1, 2, 3, 1, 2], pair (1, 2)", [1, 2, 3, 1, 2], (1, 2), 4),
        ("the pair at the very end", [5, 6, 1, 2], (1, 2), 9),
        ("[7, 7, 7], pair (7, 7): 'aaa'", [7, 7, 7], (7, 7), 256),
        ("[7, 7, 7, 7], pair (7, 7)", [7, 7, 7, 7], (7, 7), 256),
        ("a pair that never occurs", [1, 3, 2], (1, 2), 4),
        ("(2, 1) is not (1, 2)", [2, 1, 2], (1, 2), 4),
        ("empty input", [], (1, 2), 4),
    ]
    for case, ids, pair, new_id in cases:
        want = _merge(ids, pair, new_id)
        got = c.call(merge, list(ids), pair, new_id, case=case,
                     inplace_hint="build a new list (out = [], then out.append(...)) and return "
                     "it: the caller may still need the old one")  # fmt: skip
        got = _as_list(got, case)
        if got == want:
            c.cases += 1
            continue
        hint = (
            "scan left to right; after a match, skip BOTH ids (i += 2), else keep ids[i] (i += 1)"
        )
        if ids == [7, 7, 7] and got == [256, 256]:
            hint = "a merge uses each id once: the middle 7 cannot belong to two merged pairs"
        elif ids == [7, 7, 7] and got == [7, 256]:
            hint = "merge from the left: the first two 7s pair up, the third stays"
        elif len(got) == len(want) - 1 and got == want[:-1]:
            hint = "the last id went missing: when no pair starts there, keep it"
        raise CaseFailed(case, f"expected {want}, got {got}", hint)
    return f"{len(cases)} cases including 'aaa' and a pair at the end"


# Written out of rank order on purpose: a dict's insertion order is not the merge order, so an
# answer that replays merges.items() as they come must fail (' there' needs 'he' first).
_MERGES = {
    (195, 169): 261,  # "é" (2 bytes)
    (256, 114): 260,  # "her"
    (101, 114): 259,  # "er"
    (257, 256): 258,  # " the"
    (32, 116): 257,  # " t"
    (104, 101): 256,  # "he"
}


def _ref_encode(text: str, merges: dict[tuple[int, int], int]) -> list[int]:
    ordered = sorted(merges, key=merges.__getitem__)  # merge k made id 256 + k
    assert [merges[p] for p in ordered] == list(range(256, 256 + len(ordered)))
    return BPETokenizer(ordered).encode_ordinary(text)


def _by_count_encode(text: str, merges: dict[tuple[int, int], int]) -> list[int]:
    """The usual mistake: merge the most frequent pair of the text instead of the earliest merge."""
    ids = list(text.encode("utf-8"))
    while True:
        counts = Counter(p for p in zip(ids, ids[1:]) if p in merges)
        if not counts:
            return ids
        pair = max(counts, key=lambda p: (counts[p], -merges[p]))
        ids = _merge(ids, pair, merges[pair])


def _dict_order_encode(text: str, merges: dict[tuple[int, int], int]) -> list[int]:
    """The usual mistake: replay the merges in the dict's order instead of by new id."""
    ids = list(text.encode("utf-8"))
    for pair, new in merges.items():
        ids = _merge(ids, pair, new)
    return ids


def _ref_encode_ords(text: str, merges: dict[tuple[int, int], int]) -> list[int]:
    """The usual mistake: code points (ord) instead of UTF-8 bytes."""
    ids = [ord(ch) for ch in text]
    for pair, new in sorted(merges.items(), key=lambda kv: kv[1]):
        ids = _merge(ids, pair, new)
    return ids


@checker
def ex13_encode(c: Check, encode: Callable[..., Any]) -> str:
    """``encode(text, merges) -> list``: UTF-8 bytes, then merges applied in the order learned."""
    cases = [
        ("'the'", "the"),
        ("' there' (needs 'he' before ' the' and 'her')", " there"),
        ("' the other'", " the other"),
        ("'hererer' (its most frequent pair is not the earliest merge)", "hererer"),
        ("'café': 5 bytes, not 4 characters", "café"),
        ("the empty string", ""),
    ]
    for case, text in cases:
        want = _ref_encode(text, _MERGES)
        got = _as_list(c.call(encode, text, dict(_MERGES), case=case), case)
        if got == want:
            c.cases += 1
            continue
        hint = (
            "start from list(text.encode('utf-8')); repeatedly merge the pair with the SMALLEST "
            "new id (the earliest learned) until no pair of the text is in merges"
        )
        if text and got == _ref_encode(text, {}):
            hint = "no merge was applied: loop until no adjacent pair is in `merges`"
        elif got == _by_count_encode(text, _MERGES):
            hint = (
                "you chose the most frequent pair of this text; at encode time the order is the "
                "merge order (smallest new id first), as in training"
            )
        elif got == _dict_order_encode(text, _MERGES):
            hint = (
                "you replayed merges in the dict's order, which need not be the order they were "
                "learned: apply them by new id, smallest first (sorted(merges, key=merges.get))"
            )
        elif not text.isascii() and got == _ref_encode_ords(text, _MERGES):
            hint = "work on UTF-8 bytes (text.encode('utf-8')), not on ord() of each character"
        raise CaseFailed(case, f"expected {want}, got {got}", hint)
    return f"{len(cases)} cases including merge order and a 2-byte character"


_DECODE_MERGES = [(104, 101), (32, 116), (257, 256), (195, 169), (101, 114)]


def _ref_vocab(merges: list[tuple[int, int]], first: int = 256) -> dict[int, bytes]:
    """Bytes of every id; ``first`` other than 256 builds the off-by-one vocabulary of a mistake."""
    vocab = {i: bytes([i]) for i in range(256)}
    for k, (a, b) in enumerate(merges):
        vocab[first + k] = vocab.get(a, b"") + vocab.get(b, b"")
    return vocab


@checker
def ex13_decode(c: Check, decode: Callable[..., Any]) -> str:
    """``decode(ids, merges) -> str``: bytes of every id joined, then decoded as UTF-8 (replace)."""
    vocab = _ref_vocab(_DECODE_MERGES)
    cases = [
        ("bytes only: 'hi'", [104, 105]),
        ("' the' = [258]", [258]),
        ("' there' = [258, 114, 101]", [258, 114, 101]),
        ("'café' with the merged 'é' (id 259)", [99, 97, 102, 259]),
        ("'é' split into its two bytes", [195, 169]),
        ("half of 'é' at the end", [104, 195]),
        ("no ids", []),
    ]
    for case, ids in cases:
        want = b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")
        try:
            got = c.call(decode, list(ids), list(_DECODE_MERGES), case=case,
                         error_hint="join the bytes, then .decode('utf-8', errors='replace'): a "
                         "cut character must become '\ufffd', not an exception")  # fmt: skip
        except CaseFailed as e:
            if "KeyError" in e.problem or "IndexError" in e.problem:
                e.hint = (
                    "merge k has id 256 + k (ids 0..255 are the bytes themselves), and a merge "
                    "may use the id of an earlier merge"
                )
            raise
        c.expect(
            isinstance(got, str),
            case=case,
            problem=f"expected a str, got {type(got).__name__}",
            hint="decode the joined bytes: b''.join(...).decode('utf-8', errors='replace')",
        )
        if got == want:
            c.cases += 1
            continue
        hint = "vocab[i] = bytes([i]) for i < 256, then vocab[256 + k] = vocab[a] + vocab[b]"
        joined = b"".join(vocab[i] for i in ids)
        shifted = _ref_vocab(_DECODE_MERGES, first=257)
        if got == joined.decode("utf-8", errors="ignore"):
            hint = (
                "errors='ignore' drops a cut character without a trace: use errors='replace', "
                "which shows it as '\ufffd'"
            )
        elif got == joined.decode("latin-1"):
            hint = "decode the bytes as UTF-8 (.decode('utf-8', errors='replace')), not Latin-1"
        elif got == b"".join(shifted.get(i, b"") for i in ids).decode("utf-8", errors="replace"):
            hint = "merge k gets id 256 + k: the first 256 ids are the bytes themselves"
        elif ids == [195, 169] and got == "\ufffd\ufffd":
            hint = "join the bytes of ALL ids first, then decode once: 'é' is two bytes"
        raise CaseFailed(case, f"expected {want!r}, got {got!r}", hint)
    return f"{len(cases)} cases including a character split across ids"


@checker
def ex13_decode_stream(c: Check, decode_tokens: Callable[..., Any]) -> str:
    """The fixed ``decode_tokens(ids, vocab) -> str``: never breaks a multi-byte character."""
    vocab = list(_ref_vocab(_DECODE_MERGES).values())
    cases = [
        ("'hello'", list(b"hello")),
        ("'é' as two byte tokens", [195, 169]),
        ("'naïve café' as bytes", list("naïve café".encode())),
        ("'👋' as four byte tokens", list("👋".encode())),
        ("a lone continuation byte", [169]),
    ]
    for case, ids in cases:
        want = b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")
        got = c.call(decode_tokens, list(ids), vocab, case=case,
                     error_hint="decode with errors='replace' so bad bytes never raise")  # fmt: skip
        if got == want:
            c.cases += 1
            continue
        hint = "join the bytes of all tokens first, then decode once"
        joined = b"".join(vocab[i] for i in ids)
        per_token = "".join(vocab[i].decode("utf-8", errors="replace") for i in ids)
        if got == per_token:
            hint = (
                "still decoding token by token: a token may hold only part of a character; "
                "b''.join(...) the bytes first, then decode once"
            )
        elif got == joined.decode("utf-8", errors="ignore"):
            hint = (
                "errors='ignore' drops a broken character without a trace: use errors='replace', "
                "which shows it as '\ufffd'"
            )
        elif got == joined.decode("latin-1"):
            hint = (
                "each byte became its own character (chr or Latin-1): join the bytes, then "
                ".decode('utf-8', errors='replace')"
            )
        raise CaseFailed(case, f"expected {want!r}, got {got!r}", hint)
    return f"{len(cases)} cases including 2- and 4-byte characters"


@checker
def ex13_token_count(c: Check, answer: Any) -> str:
    """Predict: the number of tokens of 'naïve café' with the bytes-only tokenizer (no merges)."""
    text = "naïve café"
    want = len(text.encode("utf-8"))
    case = "your prediction for 'naïve café'"
    c.number(answer, case=case, hint="write your prediction, a whole number, in `answer`")
    c.number(
        answer,
        want,
        case=case,
        hint="count UTF-8 bytes: ASCII letters and the space take 1, accented letters more",
        known_wrong={
            float(len(text)): "that counts characters; with no merges every BYTE is a token, and "
            "some characters take more than one byte in UTF-8",
        },
        rel=0.0,
        abs_tol=1e-9,
    )
    return f"{want} bytes: 8 ASCII characters + 2 accented ones of 2 bytes each"


@checker
def ex13_bits_per_char(c: Check, bits_per_char: Callable[..., Any]) -> str:
    """``bits_per_char(loss_per_token, n_tokens, n_chars) -> float`` (loss in nats, mean per token)."""
    cases = [
        ("loss 1.0 per token, 100 tokens over 100 characters", 1.0, 100, 100),
        ("loss 3.2 per token, 460 tokens over 1115 characters", 3.2, 460, 1115),
        ("loss ln 2 per token, 1 token of 1 character", math.log(2), 1, 1),
        ("a loss of zero", 0.0, 50, 120),
    ]
    for case, loss, n_tok, n_chr in cases:
        want = loss * n_tok / n_chr / math.log(2)
        got = c.call(bits_per_char, loss, n_tok, n_chr, case=case)
        hint = "total nats = loss * n_tokens; divide by n_chars, then by ln 2 to get bits"
        try:
            g = float(got)
        except (TypeError, ValueError):
            raise CaseFailed(case, f"expected a number, got {type(got).__name__}", hint) from None
        if n_tok != n_chr and want and math.isclose(g, loss / math.log(2), rel_tol=1e-6):
            hint = "that is bits per TOKEN: multiply by n_tokens / n_chars"
        elif want and math.isclose(g, want * math.log(2), rel_tol=1e-6):
            hint = "that is nats per character: divide by ln 2 (math.log(2)) for bits"
        elif want and math.isclose(g, loss * n_chr / n_tok / math.log(2), rel_tol=1e-6):
            hint = "upside down: tokens over characters (n_tokens / n_chars), not the reverse"
        elif want and math.isclose(g, loss * n_tok / n_chr / math.log(10), rel_tol=1e-6):
            hint = "bits use log base 2: divide by ln 2, not ln 10"
        c.close(g, want, case=case, hint=hint, rtol=1e-6)
    return f"{len(cases)} cases including a loss of zero"
