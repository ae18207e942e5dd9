"""Generated sequence-to-sequence tasks (chapter 11): reverse or sort digit strings, normalize dates.

Every task is a list of ``(source, target)`` string pairs made from a seed, so the same call always
gives the same pairs, offline. ``make_seq2seq_task`` splits them into training and held-out pairs
whose *sources never overlap*, and ``Seq2SeqTokenizer`` turns strings into padded id tensors::

    task = make_seq2seq_task("dates", n_train=20_000, n_val=1_000, seed=0)
    src, tgt = task.tensors("train")       # (N, S) and (N, T): padded token ids
    batch = seq2seq_batches(src, tgt, batch_size=64, pad_id=task.tokenizer.pad_id)
    x, y = batch(0)                          # one random batch, the same for the same step

Targets are stored as ``<bos> y_1 ... y_n <eos> <pad> ...``: the model feeds ``tgt[:, :-1]`` to the
decoder and learns to predict ``tgt[:, 1:]`` (teacher forcing with targets shifted by one).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

__all__ = [
    "DATE_STYLES",
    "SEQ2SEQ_TASKS",
    "Seq2SeqTask",
    "Seq2SeqTokenizer",
    "date_pairs",
    "exact_match",
    "format_date",
    "make_seq2seq_task",
    "reverse_pairs",
    "seq2seq_batches",
    "sort_pairs",
]

SPECIALS = ("<pad>", "<bos>", "<eos>")
DIGITS = "0123456789"

# ----------------------------------------------------------------------------- tokenizer


class Seq2SeqTokenizer:
    """Character tokenizer with three special tokens: ``<pad>`` = 0, ``<bos>`` = 1, ``<eos>`` = 2.

    The other ids follow the sorted ``alphabet``, so a tokenizer built from the same alphabet always
    maps the same way. One vocabulary serves both the source and the target side.
    """

    def __init__(self, alphabet: str) -> None:
        if not isinstance(alphabet, str) or not alphabet:
            raise ValueError("Seq2SeqTokenizer needs a non-empty string of characters")
        self.chars = sorted(set(alphabet))
        self.itos = list(SPECIALS) + self.chars
        self.stoi = {ch: i + len(SPECIALS) for i, ch in enumerate(self.chars)}
        self.pad_id, self.bos_id, self.eos_id = 0, 1, 2

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def __repr__(self) -> str:
        return f"Seq2SeqTokenizer(vocab_size={self.vocab_size}, chars={''.join(self.chars)!r})"

    def encode(self, text: str, bos: bool = False, eos: bool = False) -> list[int]:
        """``str`` -> list of ids, optionally wrapped in ``<bos>`` ... ``<eos>``."""
        if not isinstance(text, str):
            raise TypeError(f"encode takes a str, got {type(text).__name__}")
        unknown = sorted({ch for ch in text if ch not in self.stoi})
        if unknown:
            raise ValueError(f"characters not in the vocabulary: {unknown[:10]!r}")
        ids = [self.stoi[ch] for ch in text]
        return ([self.bos_id] if bos else []) + ids + ([self.eos_id] if eos else [])

    def decode(self, ids: torch.Tensor | Sequence[int], keep_special: bool = False) -> str:
        """Ids ``(T,)`` -> ``str``. Stops at the first ``<eos>`` and drops ``<pad>``/``<bos>``
        unless ``keep_special`` (then every token is written, specials by name)."""
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        bad = [i for i in ids if not 0 <= int(i) < self.vocab_size]
        if bad:
            raise ValueError(f"ids {bad[:5]} are outside the vocabulary 0..{self.vocab_size - 1}")
        if keep_special:
            return "".join(self.itos[i] for i in ids)
        out = []
        for i in ids:
            if i == self.eos_id:
                break
            if i >= len(SPECIALS):
                out.append(self.itos[i])
        return "".join(out)

    def decode_batch(self, ids: torch.Tensor) -> list[str]:
        """Ids ``(B, T)`` -> ``B`` strings (each cut at its first ``<eos>``)."""
        if not isinstance(ids, torch.Tensor) or ids.dim() != 2:
            raise ValueError(f"decode_batch takes a (B, T) tensor, got {_shape_of(ids)}")
        return [self.decode(row) for row in ids.cpu()]

    def pad(self, seqs: Sequence[Sequence[int]], length: int | None = None) -> torch.Tensor:
        """Lists of ids -> int64 tensor ``(N, length)`` right-padded with ``<pad>``."""
        longest = max((len(s) for s in seqs), default=0)
        length = longest if length is None else length
        if longest > length:
            raise ValueError(f"a sequence has {longest} tokens, more than length={length}")
        out = torch.full((len(seqs), length), self.pad_id, dtype=torch.long)
        for i, s in enumerate(seqs):
            out[i, : len(s)] = torch.tensor(list(s), dtype=torch.long)
        return out

    def encode_pairs(
        self,
        pairs: Sequence[tuple[str, str]],
        src_len: int | None = None,
        tgt_len: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Pairs -> ``src (N, S)`` = ``x <pad>...`` and ``tgt (N, T)`` = ``<bos> y <eos> <pad>...``."""
        src = self.pad([self.encode(s) for s, _ in pairs], src_len)
        tgt = self.pad([self.encode(t, bos=True, eos=True) for _, t in pairs], tgt_len)
        return src, tgt


def _shape_of(x: object) -> str:
    return f"shape {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__


# ----------------------------------------------------------------------------- the tasks

MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip

#: Ways a date is written in the source of the "dates" task (the target is always ISO 8601).
DATE_STYLES: dict[str, Callable[[dt.date], str]] = {
    "long": lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",  # March 5, 2021
    "short": lambda d: f"{MONTHS[d.month - 1][:3]} {d.day}, {d.year}",  # Mar 5, 2021
    "day_first": lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",  # 5 March 2021
    "day_first_short": lambda d: f"{d.day:02d} {MONTHS[d.month - 1][:3]} {d.year}",  # 05 Mar 2021
    "lower": lambda d: f"{MONTHS[d.month - 1].lower()} {d.day} {d.year}",  # march 5 2021
    "upper": lambda d: f"{d.day} {MONTHS[d.month - 1][:3].upper()} {d.year}",  # 5 MAR 2021
}


def format_date(date: dt.date, style: str = "long") -> str:
    """Write ``date`` in one of ``DATE_STYLES`` (``"long"``: ``"March 5, 2021"``)."""
    if style not in DATE_STYLES:
        raise ValueError(f"unknown date style {style!r}; choose one of {sorted(DATE_STYLES)}")
    return DATE_STYLES[style](date)


def _check_n(n: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")


def _check_lengths(min_len: int, max_len: int) -> None:
    if not 1 <= min_len <= max_len:
        raise ValueError(f"need 1 <= min_len <= max_len, got min_len={min_len}, max_len={max_len}")


def _digit_strings(n: int, min_len: int, max_len: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [
        "".join(rng.choice(DIGITS) for _ in range(rng.randint(min_len, max_len))) for _ in range(n)
    ]


def reverse_pairs(
    n: int, min_len: int = 1, max_len: int = 10, seed: int = 0
) -> list[tuple[str, str]]:
    """``n`` random digit strings and their reversal: ``("3071", "1703")``."""
    _check_n(n)
    _check_lengths(min_len, max_len)
    return [(s, s[::-1]) for s in _digit_strings(n, min_len, max_len, seed)]


def sort_pairs(n: int, min_len: int = 1, max_len: int = 10, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` random digit strings and their digits in ascending order: ``("3071", "0137")``."""
    _check_n(n)
    _check_lengths(min_len, max_len)
    return [(s, "".join(sorted(s))) for s in _digit_strings(n, min_len, max_len, seed)]


def date_pairs(
    n: int, seed: int = 0, first_year: int = 1900, last_year: int = 2099
) -> list[tuple[str, str]]:
    """``n`` random dates, written in a random ``DATE_STYLES`` style, and their ISO form:
    ``("March 5, 2021", "2021-03-05")``."""
    _check_n(n)
    if not 1 <= first_year <= last_year <= 9999:
        raise ValueError(
            f"need 1 <= first_year <= last_year <= 9999, got {first_year}, {last_year}"
        )
    rng = random.Random(seed)
    start = dt.date(first_year, 1, 1).toordinal()
    end = dt.date(last_year, 12, 31).toordinal()
    styles = sorted(DATE_STYLES)
    pairs = []
    for _ in range(n):
        date = dt.date.fromordinal(rng.randint(start, end))
        pairs.append((format_date(date, rng.choice(styles)), date.isoformat()))
    return pairs


_ALPHABETS = {
    "reverse": DIGITS,
    "sort": DIGITS,
    "dates": DIGITS + " ,-" + "".join(MONTHS) + "".join(MONTHS).lower() + "".join(MONTHS).upper(),
}
_MAKERS: dict[str, Callable[..., list[tuple[str, str]]]] = {
    "reverse": reverse_pairs,
    "sort": sort_pairs,
    "dates": date_pairs,
}
#: The task names ``make_seq2seq_task`` knows.
SEQ2SEQ_TASKS = tuple(_MAKERS)


@dataclass
class Seq2SeqTask:
    """A generated task: training and held-out pairs (disjoint sources) and their tokenizer."""

    name: str
    train: list[tuple[str, str]]
    val: list[tuple[str, str]]
    tokenizer: Seq2SeqTokenizer
    max_src_len: int  # longest source, in tokens
    max_tgt_len: int  # longest target, in tokens, counting <bos> and <eos>

    def tensors(self, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
        """``src (N, max_src_len)`` and ``tgt (N, max_tgt_len)`` for ``"train"`` or ``"val"``."""
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        pairs = self.train if split == "train" else self.val
        return self.tokenizer.encode_pairs(pairs, self.max_src_len, self.max_tgt_len)


def make_seq2seq_task(
    name: str, n_train: int, n_val: int, seed: int = 0, **options: int
) -> Seq2SeqTask:
    """Generate ``n_train + n_val`` distinct pairs of task ``name`` (``SEQ2SEQ_TASKS``) and split
    them so that no held-out source (for dates: no held-out date) appears in training. ``options`` go to the pair maker
    (``min_len``/``max_len`` for digit tasks, ``first_year``/``last_year`` for dates)."""
    if name not in _MAKERS:
        raise ValueError(f"unknown task {name!r}; choose one of {SEQ2SEQ_TASKS}")
    _check_n(n_train)
    _check_n(n_val)
    want = n_train + n_val
    # Distinct sources; for dates, distinct dates too, so no held-out date was seen in training.
    unique: dict[str, tuple[str, str]] = {}
    batch_seed = seed
    for _ in range(50):  # draw until enough distinct pairs (few rounds unless the space is tiny)
        for s, t in _MAKERS[name](2 * want + 16, seed=batch_seed, **options):
            unique.setdefault(t if name == "dates" else s, (s, t))
        if len(unique) >= want:
            break
        batch_seed += 7919
    if len(unique) < want:
        raise ValueError(
            f"task {name!r} with {options} has only {len(unique)} distinct sources; "
            f"asked for n_train + n_val = {want}"
        )
    pairs = list(unique.values())
    random.Random(seed).shuffle(pairs)
    pairs = pairs[:want]
    train, val = pairs[:n_train], pairs[n_train:]
    tok = Seq2SeqTokenizer(_ALPHABETS[name])
    return Seq2SeqTask(
        name=name,
        train=train,
        val=val,
        tokenizer=tok,
        max_src_len=max(len(s) for s, _ in pairs) if pairs else 1,
        max_tgt_len=max(len(t) for _, t in pairs) + 2 if pairs else 2,
    )


# ----------------------------------------------------------------------------- batches and scores


def seq2seq_batches(
    src: torch.Tensor,
    tgt: torch.Tensor,
    batch_size: int,
    pad_id: int = 0,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> Callable[[int], tuple[torch.Tensor, torch.Tensor]]:
    """A ``batch_fn(step) -> (src (B, S'), tgt (B, T'))`` for ``course_lib.train.fit``.

    Each step draws ``batch_size`` random rows from its own generator seeded by ``(seed, step)``,
    so a run resumed from a checkpoint sees the same batches. Columns that are padding in every row
    of the batch are cut off (shorter batches are faster).
    """
    for name, t in (("src", src), ("tgt", tgt)):
        if not isinstance(t, torch.Tensor) or t.dim() != 2:
            raise ValueError(f"{name} must be a (N, L) tensor, got {_shape_of(t)}")
        if t.dtype != torch.long:
            raise TypeError(f"{name} must hold int64 token ids, got dtype {t.dtype}")
    if src.shape[0] != tgt.shape[0] or src.shape[0] == 0:
        raise ValueError(
            f"src and tgt need the same non-zero number of rows, got {src.shape[0]} and {tgt.shape[0]}"
        )
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")

    def trim(x: torch.Tensor) -> torch.Tensor:
        used = (x != pad_id).any(dim=0).nonzero()
        return x[:, : int(used.max()) + 1] if len(used) else x[:, :1]

    def batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(seed * 1_000_003 + int(step))
        ix = torch.randint(src.shape[0], (batch_size,), generator=g)
        x, y = trim(src[ix]), trim(tgt[ix])
        return (x, y) if device is None else (x.to(device), y.to(device))

    return batch


def exact_match(predicted: Sequence[str], expected: Sequence[str]) -> float:
    """Fraction of predictions equal to their expected string (whole sequence right or wrong)."""
    if len(predicted) != len(expected):
        raise ValueError(f"got {len(predicted)} predictions for {len(expected)} expected strings")
    if not expected:
        raise ValueError("exact_match needs at least one pair")
    return sum(p == e for p, e in zip(predicted, expected, strict=True)) / len(expected)
