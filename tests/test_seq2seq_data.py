"""Tests for the generated seq2seq tasks and their tokenizer (course_lib.data.seq2seq)."""

from __future__ import annotations

import datetime as dt

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.data import seq2seq as s2s
from course_lib.data.seq2seq import (
    DATE_STYLES,
    Seq2SeqTokenizer,
    date_pairs,
    exact_match,
    format_date,
    make_seq2seq_task,
    reverse_pairs,
    seq2seq_batches,
    sort_pairs,
)


def test_exported_from_data_package() -> None:
    from course_lib import data

    for name in s2s.__all__:
        assert hasattr(data, name), name


def test_tokenizer_specials_and_order() -> None:
    tok = Seq2SeqTokenizer("cba")
    assert (tok.pad_id, tok.bos_id, tok.eos_id) == (0, 1, 2)
    assert tok.itos == ["<pad>", "<bos>", "<eos>", "a", "b", "c"]
    assert tok.vocab_size == 6
    assert tok.encode("ab", bos=True, eos=True) == [1, 3, 4, 2]


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet="0123456789 ,-abc", max_size=20))
def test_tokenizer_round_trip(text: str) -> None:
    tok = Seq2SeqTokenizer("0123456789 ,-abc")
    assert tok.decode(tok.encode(text, bos=True, eos=True)) == text


def test_decode_stops_at_eos_and_drops_pad() -> None:
    tok = Seq2SeqTokenizer("ab")
    assert tok.decode([1, 3, 4, 2, 3, 0]) == "ab"
    assert tok.decode(torch.tensor([3, 0, 4])) == "ab"
    assert tok.decode([1, 3, 2, 0], keep_special=True) == "<bos>a<eos><pad>"
    assert tok.decode_batch(torch.tensor([[3, 2, 4], [4, 4, 0]])) == ["a", "bb"]


def test_tokenizer_errors() -> None:
    tok = Seq2SeqTokenizer("ab")
    with pytest.raises(ValueError, match="'z'"):
        tok.encode("az")
    with pytest.raises(TypeError, match="int"):
        tok.encode(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="7"):
        tok.decode([3, 7])
    with pytest.raises(ValueError, match="more than length=2"):
        tok.pad([[3, 3, 3]], length=2)
    with pytest.raises(ValueError, match="non-empty"):
        Seq2SeqTokenizer("")
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        tok.decode_batch(torch.tensor([3, 4]))


def test_encode_pairs_layout() -> None:
    tok = Seq2SeqTokenizer("0123456789")
    src, tgt = tok.encode_pairs([("12", "21"), ("3", "3")])
    assert src.dtype == tgt.dtype == torch.long
    assert src.tolist() == [[4, 5], [6, 0]]
    assert tgt.tolist() == [[1, 5, 4, 2], [1, 6, 2, 0]]


def test_pair_makers_are_correct_and_deterministic() -> None:
    for s, t in reverse_pairs(50, 2, 6, seed=3):
        assert t == s[::-1] and 2 <= len(s) <= 6 and s.isdigit()
    for s, t in sort_pairs(50, seed=3):
        assert t == "".join(sorted(s))
    assert reverse_pairs(20, seed=1) == reverse_pairs(20, seed=1)
    assert reverse_pairs(20, seed=1) != reverse_pairs(20, seed=2)
    assert date_pairs(30, seed=5) == date_pairs(30, seed=5)


def test_dates_match_their_iso_form() -> None:
    months = {m.lower(): i + 1 for i, m in enumerate(s2s.MONTHS)}
    for src, iso in date_pairs(300, seed=0):
        d = dt.date.fromisoformat(iso)
        words = src.replace(",", "").split()
        year = int(words[-1])
        month = next(months[k] for k in months for w in words if w.lower() in (k, k[:3]))
        day = int(next(w for w in words[:-1] if w.isdigit()))
        assert (year, month, day) == (d.year, d.month, d.day), src


def test_format_date_styles() -> None:
    d = dt.date(2021, 3, 5)
    assert format_date(d) == "March 5, 2021"
    assert format_date(d, "day_first_short") == "05 Mar 2021"
    assert format_date(d, "upper") == "5 MAR 2021"
    assert len({format_date(d, s) for s in DATE_STYLES}) == len(DATE_STYLES)
    with pytest.raises(ValueError, match="'iso'"):
        format_date(d, "iso")


def test_make_task_split_is_disjoint_and_fits_tokenizer() -> None:
    task = make_seq2seq_task("dates", n_train=500, n_val=100, seed=0)
    assert len(task.train) == 500 and len(task.val) == 100
    assert not {t for _, t in task.train} & {t for _, t in task.val}  # no held-out date in training
    src, tgt = task.tensors("val")
    assert src.shape == (100, task.max_src_len) and tgt.shape == (100, task.max_tgt_len)
    assert int(src.max()) < task.tokenizer.vocab_size and int(tgt.max()) < task.tokenizer.vocab_size
    assert task.tokenizer.decode_batch(tgt) == [t for _, t in task.val]
    again = make_seq2seq_task("dates", n_train=500, n_val=100, seed=0)
    assert again.train == task.train and again.val == task.val
    rev = make_seq2seq_task("reverse", n_train=200, n_val=50, seed=1, min_len=3, max_len=5)
    assert not {s for s, _ in rev.train} & {s for s, _ in rev.val}


def test_make_task_errors() -> None:
    with pytest.raises(ValueError, match="'copy'"):
        make_seq2seq_task("copy", 10, 10)
    with pytest.raises(ValueError, match="distinct"):  # only 10 one-digit strings exist
        make_seq2seq_task("reverse", 10, 5, min_len=1, max_len=1)
    with pytest.raises(ValueError, match="min_len"):
        reverse_pairs(3, min_len=4, max_len=2)
    with pytest.raises(ValueError, match="n must be"):
        sort_pairs(-1)
    task = make_seq2seq_task("sort", 20, 5)
    with pytest.raises(ValueError, match="'test'"):
        task.tensors("test")


def test_batches_deterministic_trimmed_and_checked() -> None:
    tok = Seq2SeqTokenizer("0123456789")
    pairs = [("1", "1")] * 10 + [("123456", "654321")]
    src, tgt = tok.encode_pairs(pairs)
    batch = seq2seq_batches(src, tgt, batch_size=4, seed=0)
    x1, y1 = batch(7)
    x2, y2 = batch(7)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    for step in range(20):
        x, y = batch(step)
        assert (x[:, -1] != 0).any() and (y[:, -1] != 0).any()  # no all-pad last column
    with pytest.raises(TypeError, match="float32"):
        seq2seq_batches(src.float(), tgt, 4)
    with pytest.raises(ValueError, match="batch_size"):
        seq2seq_batches(src, tgt, 0)
    with pytest.raises(ValueError, match="same non-zero number of rows"):
        seq2seq_batches(src, tgt[:3], 2)


def test_exact_match() -> None:
    assert exact_match(["a", "b", "c", "d"], ["a", "b", "x", "d"]) == 0.75
    with pytest.raises(ValueError, match="3 predictions for 2"):
        exact_match(["a", "b", "c"], ["a", "b"])
    with pytest.raises(ValueError, match="at least one"):
        exact_match([], [])
