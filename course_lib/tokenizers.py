"""Tokenizers (chapter 13): byte-level byte-pair encoding (BPE) from scratch, plus the chapter-08 ones.

A tokenizer turns text into a list of integer ids and back. Three kinds live in the course:

- characters: ``CharTokenizer`` (chapter 10; defined in ``course_lib.data.chars``, re-exported here);
- words: ``word_tokenize`` and ``Vocabulary`` (chapter 08; defined in ``course_lib.text``);
- subwords: ``BPETokenizer``, byte-level BPE as in GPT-2 (Radford et al. 2019, section 2.2;
  BPE itself: Sennrich et al. 2016, "Neural Machine Translation of Rare Words with Subword Units").

Byte-level BPE starts from the 256 possible bytes of UTF-8 text, so every string can be encoded
(no unknown token), and learns *merges*: the most frequent adjacent pair of ids in the training text
gets a new id, and the text is rewritten with it; repeat until the vocabulary has the size asked for.

>>> tok = BPETokenizer.train(text, vocab_size=512)
>>> ids = tok.encode("To be, or not to be")
>>> tok.decode(ids)
'To be, or not to be'
"""

from __future__ import annotations

import heapq
import json
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

from .data.chars import CharTokenizer
from .text import Vocabulary, word_tokenize

__all__ = [
    "GPT2_SPLIT_PATTERN",
    "BPETokenizer",
    "CharTokenizer",
    "Vocabulary",
    "bits_per_char",
    "merge",
    "pair_counts",
    "pre_split",
    "word_tokenize",
]

# The pre-split, in words: before any merge, cut the text into chunks, and never merge across two
# chunks. A chunk is one of
#   - an English contraction ending: 's 't 're 've 'm 'll 'd (so "don't" -> "don", "'t");
#   - an optional single space followed by a run of letters (" hello"): the space that precedes a
#     word belongs to that word, so " the" in mid-sentence is one token, different from "the";
#   - an optional space and a run of digits (" 2024");
#   - an optional space and a run of other symbols: punctuation, emoji, "_" (" ...");
#   - a run of white space that is not followed by a non-space (trailing spaces, or all but the last
#     space before a word, which the word takes), then any remaining white space (newlines).
# Without it, BPE would learn tokens such as "e." or "d the" that mix a word with its punctuation or
# its neighbour, and spend the vocabulary on many near-copies ("dog", "dog.", "dog!", "dog?").
# GPT-2 writes letters as \p{L} and digits as \p{N} (the third-party `regex` module); with the
# standard `re`, a letter is "a word character that is neither a digit nor an underscore",
# [^\W\d_], and a digit is \d (Unicode decimal digits). The two agree on almost all text; they
# differ on rare characters such as "²" or "½" (numbers to GPT-2, letters here).
GPT2_SPLIT_PATTERN = r"'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"
_SPLIT = re.compile(GPT2_SPLIT_PATTERN)


def pre_split(text: str, pattern: str | re.Pattern[str] = _SPLIT) -> list[str]:
    """Cut ``text`` into the chunks BPE merges within (see ``GPT2_SPLIT_PATTERN``).

    ``"".join(pre_split(text)) == text`` for every string: each character lands in one chunk.
    """
    if not isinstance(text, str):
        raise TypeError(f"pre_split takes a str, got {type(text).__name__}")
    rx = re.compile(pattern) if isinstance(pattern, str) else pattern
    return rx.findall(text)


def pair_counts(ids: Sequence[int], counts: Counter[tuple[int, int]] | None = None) -> Counter:
    """How often each adjacent pair occurs in ``ids``: ``[1, 2, 1, 2]`` -> ``{(1, 2): 2, (2, 1): 1}``.

    Overlapping pairs all count: ``[7, 7, 7]`` has the pair ``(7, 7)`` twice. Pass ``counts`` to add
    to an existing Counter.

    Raises:
        TypeError: ``ids`` is a str (pairs of characters are not pairs of ids: encode it first).
    """
    if isinstance(ids, (str, bytes)):
        raise TypeError(
            f"pair_counts takes a list of integer ids, got {type(ids).__name__} {ids[:20]!r}; "
            "turn text into ids first, e.g. list(text.encode('utf-8'))"
        )
    counts = Counter() if counts is None else counts
    counts.update(zip(ids, ids[1:]))
    return counts


def merge(ids: Sequence[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace each occurrence of ``pair`` in ``ids`` by ``new_id``, scanning left to right.

    Occurrences cannot overlap: once two ids are merged, the second one is used up, so
    ``merge([7, 7, 7], (7, 7), 9) == [9, 7]``.

    Raises:
        ValueError: ``pair`` does not hold exactly two ids.
    """
    if len(pair) != 2:
        raise ValueError(f"pair must be two ids (a, b), got {tuple(pair)!r}")
    a, b = pair
    out: list[int] = []
    i, n = 0, len(ids)
    while i < n:
        if i < n - 1 and ids[i] == a and ids[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _special_list(special_tokens: Sequence[str]) -> list[str]:
    """The special tokens as a list; a single str is an error, not a list of its characters."""
    if isinstance(special_tokens, str):
        raise TypeError(
            f"special_tokens takes a list of strings, got the str {special_tokens!r}; "
            f"write special_tokens=[{special_tokens!r}]"
        )
    return list(special_tokens)


class BPETokenizer:
    """Byte-level BPE: ids 0..255 are the bytes, then one id per merge, then the special tokens.

    ``merges[k] = (a, b)`` means id ``256 + k`` stands for the bytes of ``a`` followed by those of
    ``b``. Build one with ``BPETokenizer.train(text, vocab_size)`` or ``BPETokenizer.load(path)``.
    Special tokens (such as ``"<|endoftext|>"``) are strings that always get their own single id
    and never take part in merges.
    """

    def __init__(
        self,
        merges: Sequence[tuple[int, int]] = (),
        special_tokens: Sequence[str] = (),
        pattern: str = GPT2_SPLIT_PATTERN,
    ) -> None:
        self.merges: list[tuple[int, int]] = []
        self.vocab: list[bytes] = [bytes([b]) for b in range(256)]  # id -> its bytes
        for k, pair in enumerate(merges):
            a, b = (int(v) for v in pair)
            new = 256 + k
            if not (0 <= a < new and 0 <= b < new):
                raise ValueError(
                    f"merge {k} = {tuple(pair)} uses an id that does not exist yet (ids so far: "
                    f"0..{new - 1}); a merge may only combine earlier ids"
                )
            self.merges.append((a, b))
            self.vocab.append(self.vocab[a] + self.vocab[b])
        self.ranks: dict[tuple[int, int], int] = {p: 256 + k for k, p in enumerate(self.merges)}
        specials = _special_list(special_tokens)
        if len(set(specials)) != len(specials) or any(not s for s in specials):
            raise ValueError(f"special tokens must be distinct non-empty strings, got {specials!r}")
        self.special_tokens: dict[str, int] = {
            s: len(self.vocab) + i for i, s in enumerate(specials)
        }
        self.pattern = pattern
        self._split = re.compile(pattern)
        self._special_split = (
            re.compile("(" + "|".join(re.escape(s) for s in sorted(specials, key=len)[::-1]) + ")")
            if specials
            else None
        )
        self._cache: dict[str, list[int]] = {}

    # ---- training -------------------------------------------------------------------------------
    @classmethod
    def train(
        cls,
        text: str,
        vocab_size: int,
        special_tokens: Sequence[str] = (),
        pattern: str = GPT2_SPLIT_PATTERN,
        record: bool = False,
    ) -> BPETokenizer:
        """Learn ``vocab_size - 256 - len(special_tokens)`` merges from ``text``.

        Fast version of the merge loop: the text is pre-split into chunks, and only the *distinct*
        chunks are kept, each with its frequency (tiny Shakespeare: 1.1 M characters, about 15 k
        distinct chunks). Pair counts are computed once, then updated after each merge for the
        chunks that contain the merged pair only, and a heap finds the most frequent pair. Ties go
        to the smallest pair ``(a, b)``. Training stops early if no pair is left. ``record=True``
        keeps ``self.merge_counts``, the count of each merged pair when it was chosen.
        Occurrences of the special tokens are cut out of the training text.
        """
        if not isinstance(text, str):
            raise TypeError(f"train takes the training text as a str, got {type(text).__name__}")
        special_tokens = _special_list(special_tokens)
        n_special = len(special_tokens)
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
            raise TypeError(f"vocab_size must be an int, got {vocab_size!r}")
        if vocab_size < 256 + n_special:
            raise ValueError(
                f"vocab_size={vocab_size} is too small: byte-level BPE needs 256 ids for the bytes "
                f"plus {n_special} for the special tokens; use at least {256 + n_special}"
            )
        rx = re.compile(pattern)
        if special_tokens:
            parts = re.split("|".join(re.escape(s) for s in special_tokens), text)
        else:
            parts = [text]
        chunks: Counter[str] = Counter()
        for part in parts:
            chunks.update(rx.findall(part))
        words = [list(c.encode("utf-8")) for c in chunks]
        freqs = list(chunks.values())
        counts: dict[tuple[int, int], int] = defaultdict(int)
        where: dict[tuple[int, int], set[int]] = defaultdict(set)  # pair -> chunks that hold it
        for wi, w in enumerate(words):
            for p in zip(w, w[1:]):
                counts[p] += freqs[wi]
                where[p].add(wi)
        heap = [(-c, p) for p, c in counts.items()]
        heapq.heapify(heap)
        merges: list[tuple[int, int]] = []
        merge_counts: list[int] = []
        for k in range(vocab_size - 256 - n_special):
            while heap:  # entries go stale when a count changes: skip those
                neg, best = heapq.heappop(heap)
                if counts.get(best, 0) == -neg:
                    break
            else:
                break  # nothing left to merge (every chunk is a single token)
            new = 256 + k
            merges.append(best)
            merge_counts.append(-neg)
            changed: set[tuple[int, int]] = set()
            for wi in where.pop(best):
                w = words[wi]
                nw = merge(w, best, new)
                if len(nw) == len(w):  # a stale entry: this chunk lost the pair earlier
                    continue
                f = freqs[wi]
                for p in zip(w, w[1:]):
                    counts[p] -= f
                    changed.add(p)
                for p in zip(nw, nw[1:]):
                    counts[p] += f
                    where[p].add(wi)
                    changed.add(p)
                words[wi] = nw
            for p in changed:
                c = counts[p]
                if c > 0:
                    heapq.heappush(heap, (-c, p))
                else:
                    del counts[p]
        tok = cls(merges, special_tokens, pattern)
        if record:
            tok.merge_counts = merge_counts
        return tok

    # ---- sizes and views ------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        """Number of ids: 256 bytes + merges + special tokens (what ``GPTConfig.vocab_size`` needs)."""
        return len(self.vocab) + len(self.special_tokens)

    def __len__(self) -> int:
        return self.vocab_size

    def __repr__(self) -> str:
        return (
            f"BPETokenizer(vocab_size={self.vocab_size}: 256 bytes + {len(self.merges)} merges + "
            f"{len(self.special_tokens)} special)"
        )

    def truncated(self, vocab_size: int) -> BPETokenizer:
        """The tokenizer that training with a smaller ``vocab_size`` would give: the first merges.

        BPE's merges are learned one after the other, so a smaller vocabulary is a prefix of a
        larger one (same text, same pre-split). Special tokens are kept.
        """
        n = vocab_size - 256 - len(self.special_tokens)
        if not 0 <= n <= len(self.merges):
            raise ValueError(
                f"vocab_size must be in {256 + len(self.special_tokens)}..{self.vocab_size}, "
                f"got {vocab_size}"
            )
        return BPETokenizer(self.merges[:n], list(self.special_tokens), self.pattern)

    def token_bytes(self, i: int) -> bytes:
        """The bytes id ``i`` stands for (a special token: its UTF-8 text)."""
        if 0 <= i < len(self.vocab):
            return self.vocab[i]
        for s, j in self.special_tokens.items():
            if j == i:
                return s.encode("utf-8")
        raise ValueError(f"id {i} is outside the vocabulary 0..{self.vocab_size - 1}")

    def tokens(self, text: str, allow_special: bool = True) -> list[str]:
        """``text`` cut into its tokens, each shown as text (a split character shows as U+FFFD)."""
        ids = self.encode(text, allow_special)
        return [self.token_bytes(i).decode("utf-8", errors="replace") for i in ids]

    # ---- encode / decode ------------------------------------------------------------------------
    def _encode_chunk(self, chunk: str) -> list[int]:
        ids = list(chunk.encode("utf-8"))
        ranks = self.ranks
        while len(ids) >= 2:
            # the earliest-learned merge that applies, whatever its count was in training
            pair = min(zip(ids, ids[1:]), key=lambda p: ranks.get(p, 1 << 62))
            new = ranks.get(pair)
            if new is None:
                break
            ids = merge(ids, pair, new)
        return ids

    def encode_ordinary(self, text: str) -> list[int]:
        """Ids of ``text``, with special-token strings treated as ordinary text."""
        if not isinstance(text, str):
            raise TypeError(f"encode takes a str, got {type(text).__name__}")
        out: list[int] = []
        cache = self._cache
        for chunk in self._split.findall(text):
            ids = cache.get(chunk)
            if ids is None:
                ids = self._encode_chunk(chunk)
                if len(cache) < 200_000:
                    cache[chunk] = ids
            out.extend(ids)
        return out

    def encode(self, text: str, allow_special: bool = True) -> list[int]:
        """``str`` -> list of ids. Chunk by chunk, apply the merges in the order they were learned.

        With ``allow_special`` (default), each occurrence of a special token's string becomes its
        id; pass ``allow_special=False`` for text from users, who could otherwise type
        ``"<|endoftext|>"`` and end a document early.
        """
        if not isinstance(text, str):
            raise TypeError(f"encode takes a str, got {type(text).__name__}")
        if not allow_special or self._special_split is None:
            return self.encode_ordinary(text)
        out: list[int] = []
        for i, part in enumerate(self._special_split.split(text)):
            if i % 2:  # the split keeps the separators at odd positions
                out.append(self.special_tokens[part])
            elif part:
                out.extend(self.encode_ordinary(part))
        return out

    def decode_bytes(self, ids: Iterable[int] | torch.Tensor) -> bytes:
        """Ids -> the bytes they stand for, concatenated."""
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        vocab, n = self.vocab, len(self.vocab)
        try:
            return b"".join(vocab[i] if 0 <= i < n else self.token_bytes(i) for i in ids)
        except TypeError:
            raise TypeError(
                f"decode takes integer ids, got {[type(i).__name__ for i in ids][:3]}"
            ) from None

    def decode(self, ids: Iterable[int] | torch.Tensor) -> str:
        """Ids -> ``str``. Never raises on a character split across tokens or cut off at the end.

        A token is a sequence of *bytes*, not of characters: "é" is two bytes in UTF-8, and a
        token may hold only the first of them (a model can also generate any id sequence). The
        bytes of all ids are joined first, then decoded once, so a character split across two
        tokens comes out whole; bytes that still do not form valid UTF-8 (a sequence cut at the
        end, or ids in an impossible order) become the replacement character U+FFFD ("�")
        instead of raising ``UnicodeDecodeError`` (``errors="replace"``), so sampling from a
        model can always be shown. Ids outside the vocabulary raise ``ValueError``.
        """
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    # ---- save / load ----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """A JSON-ready description: the pattern, the merges, the special tokens."""
        return {
            "format": "course_lib byte-level BPE",
            "version": 1,
            "pattern": self.pattern,
            "merges": [list(p) for p in self.merges],
            "special_tokens": list(self.special_tokens),
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the tokenizer as a small JSON file (vocabulary 1024: about 8 kB); return the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict()), encoding="utf-8")
        os.replace(tmp, path)  # atomic: never a half-written file under the real name
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> BPETokenizer:
        """Read a tokenizer written by ``save``.

        Raises:
            FileNotFoundError: no file at ``path`` (train one and save it first).
            ValueError: the file is not a tokenizer written by ``save``.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"no tokenizer file at {path}: train one with BPETokenizer.train(text, vocab_size) "
                "and save it with .save(path) first"
            )
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ValueError(
                f"{path} is not a JSON file written by BPETokenizer.save: {e}"
            ) from None
        if not isinstance(d, dict) or d.get("format") != "course_lib byte-level BPE":
            raise ValueError(
                f"{path} does not hold a course_lib BPE tokenizer; write one with "
                "BPETokenizer.save(path)"
            )
        return cls([tuple(p) for p in d["merges"]], d["special_tokens"], d["pattern"])


def bits_per_char(total_nats: float, n_chars: int) -> float:
    """Total cross-entropy in nats over a text -> bits per character of that text.

    Loss per *token* cannot compare two tokenizers: a longer token is harder to predict but covers
    more text. Summing the loss over all tokens of a text gives the nats needed to encode the
    whole text; dividing by its number of characters (and by ln 2) gives a tokenizer-free figure.

    Raises:
        ValueError: ``n_chars`` is not positive or ``total_nats`` is negative.
    """
    if n_chars <= 0:
        raise ValueError(f"n_chars must be positive, got {n_chars}")
    if total_nats < 0:
        raise ValueError(
            f"total_nats must be >= 0 (a cross-entropy cannot be negative), got {total_nats}"
        )
    return total_nats / n_chars / 0.6931471805599453
