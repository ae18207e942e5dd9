"""Byte-level BPE from scratch, compared with Hugging Face ``tokenizers`` (the library it imitates).

The reference: ``tokenizers.models.BPE`` trained by ``BpeTrainer`` over the ``ByteLevel``
pre-tokenizer (GPT-2's split pattern and byte alphabet) on the same text with the same vocabulary
size. Both count adjacent pairs inside pre-split chunks weighted by frequency and merge the most
frequent, so the *set* of merges must agree; the *order* may differ where two pairs tie on count
(HF breaks ties by its own internal ids, we by the smaller pair of byte ids), and the pre-splits
differ on rare characters (\\p{N} vs \\d, see ``GPT2_SPLIT_PATTERN``), which tiny Shakespeare does
not contain.
"""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.data import load_tiny_shakespeare
from course_lib.tokenizers import (
    BPETokenizer,
    CharTokenizer,
    bits_per_char,
    merge,
    pair_counts,
    pre_split,
    word_tokenize,
)

SAMPLE = (
    "Hello world! Don't panic: it's 2024, and naïve café-goers say \"héllo\" 👋🏽.\n\n"
    "  trailing spaces   \n\tTabs\tand 1234567 numbers; ünïcödé, 日本語のテキスト, Ελληνικά.  "
)


@pytest.fixture(scope="module")
def shakespeare() -> str:
    return load_tiny_shakespeare()[:300_000]


@pytest.fixture(scope="module")
def tok(shakespeare: str) -> BPETokenizer:
    return BPETokenizer.train(shakespeare, 512, special_tokens=["<|endoftext|>"], record=True)


def _byte_to_unicode() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte, as HF's ByteLevel uses (checked against it below)."""
    keep = [*range(33, 127), *range(161, 173), *range(174, 256)]
    table = {b: chr(b) for b in keep}
    extra = (b for b in range(256) if b not in table)
    table.update({b: chr(256 + n) for n, b in enumerate(extra)})
    return table


def test_pair_counts_and_merge_on_overlaps() -> None:
    assert pair_counts([1, 2, 1, 2]) == {(1, 2): 2, (2, 1): 1}
    assert pair_counts([7, 7, 7]) == {(7, 7): 2}  # overlapping pairs all count...
    assert merge([7, 7, 7], (7, 7), 9) == [9, 7]  # ...but a merge uses each id once
    assert merge([7, 7, 7, 7], (7, 7), 9) == [9, 9]
    assert merge([1, 2, 3, 1, 2], (1, 2), 4) == [4, 3, 4]
    assert merge([], (1, 2), 4) == [] and pair_counts([5]) == {}


def test_pre_split_keeps_words_numbers_and_punctuation_apart() -> None:
    assert pre_split("Hello world, it's 2024!!") == [
        "Hello",
        " world",
        ",",
        " it",
        "'s",
        " 2024",
        "!!",
    ]
    assert pre_split("a   b\n\nc  ") == ["a", "  ", " b", "\n", "\n", "c", "  "]
    assert "".join(pre_split(SAMPLE)) == SAMPLE


def test_pre_split_matches_gpt2_regex_on_ordinary_text() -> None:
    regex = pytest.importorskip("regex")
    gpt2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
    for text in (SAMPLE, load_tiny_shakespeare()[:20_000]):
        assert pre_split(text) == regex.findall(gpt2, text)


def test_train_encode_decode_round_trip(tok: BPETokenizer, shakespeare: str) -> None:
    assert tok.vocab_size == 512 and len(tok.merges) == 511 - 256
    counts = tok.merge_counts
    assert all(a >= b for a, b in zip(counts, counts[1:]))  # most frequent pair first
    ids = tok.encode(shakespeare[:5000])
    assert tok.decode(ids) == shakespeare[:5000]
    assert len(ids) < 0.5 * 5000  # it compresses
    assert tok.decode(tok.encode(SAMPLE)) == SAMPLE


def test_train_equals_the_naive_merge_loop() -> None:
    """The incremental counts give the same merges as recounting everything after each merge."""
    text = "the theme of the thesis: these three then thaw. " * 3 + "aaaa aaa"
    fast = BPETokenizer.train(text, 256 + 20).merges
    chunks = [list(c.encode()) for c in pre_split(text)]
    naive = []
    for k in range(20):
        counts = pair_counts([], None)
        for c in chunks:
            pair_counts(c, counts)
        best = min(counts, key=lambda p: (-counts[p], p))
        naive.append(best)
        chunks = [merge(c, best, 256 + k) for c in chunks]
    assert fast == naive


def test_encode_applies_merges_in_learned_order_not_by_count() -> None:
    # merges: (a,b)->256 then (b,c)->257; "abc" must become [256, 99], not [97, 257]
    tok = BPETokenizer([(97, 98), (98, 99)])
    assert tok.encode("abc") == [256, 99]
    assert BPETokenizer([(98, 99), (97, 98)]).encode("abc") == [97, 256]


def test_special_tokens(tok: BPETokenizer) -> None:
    eot = tok.special_tokens["<|endoftext|>"]
    assert eot == 511
    ids = tok.encode("the end<|endoftext|>The")
    assert ids.count(eot) == 1 and tok.decode(ids) == "the end<|endoftext|>The"
    assert eot not in tok.encode("<|endoftext|>", allow_special=False)
    assert tok.decode(tok.encode("<|endoftext|>", allow_special=False)) == "<|endoftext|>"


def test_decode_of_a_split_multibyte_character_never_raises(tok: BPETokenizer) -> None:
    ids = tok.encode("é👋")  # 2 + 4 bytes, no merge covers them in Shakespeare
    assert len(ids) == 6
    assert tok.decode(ids[:1]) == "\ufffd"  # half of "é"
    assert tok.decode(ids[:4]) == "é\ufffd"  # "é" and a cut-off emoji
    assert tok.decode(ids) == "é👋"  # joined before decoding: whole again
    per_token = "".join(tok.decode([i]) for i in ids)  # the classic bug
    assert "\ufffd" in per_token
    assert tok.decode(torch.tensor(ids)) == "é👋"
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tok.decode([70_000])


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_round_trip_over_arbitrary_unicode(text: str) -> None:
    tok = _ROUND_TRIP_TOK
    assert tok.decode(tok.encode(text)) == text
    assert "".join(pre_split(text)) == text


_ROUND_TRIP_TOK = BPETokenizer.train(SAMPLE * 3 + "aaaaaaa bbbb", 300, special_tokens=["<s>"])


def test_save_load_round_trip(tok: BPETokenizer, tmp_path) -> None:
    path = tok.save(tmp_path / "bpe.json")
    back = BPETokenizer.load(path)
    assert back.merges == tok.merges and back.special_tokens == tok.special_tokens
    assert back.encode(SAMPLE) == tok.encode(SAMPLE)
    assert path.stat().st_size < 10_000
    (tmp_path / "bad.json").write_text(json.dumps({"merges": []}))
    with pytest.raises(ValueError, match="does not hold"):
        BPETokenizer.load(tmp_path / "bad.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ValueError, match="not a JSON"):
        BPETokenizer.load(tmp_path / "broken.json")


def test_truncated_is_training_with_a_smaller_vocabulary(tok: BPETokenizer, shakespeare) -> None:
    small = tok.truncated(300)
    assert small.merges == BPETokenizer.train(shakespeare, 300, ["<|endoftext|>"]).merges
    assert small.vocab_size == 300
    with pytest.raises(ValueError, match="vocab_size"):
        tok.truncated(10_000)


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="at least 256"):
        BPETokenizer.train("abc", 100)
    with pytest.raises(TypeError, match="str"):
        BPETokenizer.train(b"abc", 300)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="does not exist yet"):
        BPETokenizer([(97, 300)])
    with pytest.raises(TypeError, match="str"):
        BPETokenizer().encode(b"bytes")  # type: ignore[arg-type]


def test_review_bad_inputs_get_one_clear_sentence(tmp_path) -> None:
    """Review 13 item 16: each of these gave a bare or misleading error (or none)."""
    with pytest.raises(FileNotFoundError, match="train one .* save it"):
        BPETokenizer.load(tmp_path / "missing.json")
    for make in (
        lambda: BPETokenizer(special_tokens="<|eot|>"),  # was split into 7 one-character tokens
        lambda: BPETokenizer.train("abc", 300, special_tokens="<|eot|>"),
    ):
        with pytest.raises(TypeError, match=r"\['<\|eot\|>'\]"):
            make()
    with pytest.raises(ValueError, match="two ids"):
        merge([1, 2, 3], (1, 2, 3), 4)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="list of integer ids"):
        pair_counts("abc")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cannot be negative"):
        bits_per_char(-0.1, 1)


def test_char_and_word_tokenizers_are_the_chapter_08_ones() -> None:
    from course_lib import text
    from course_lib.data import chars

    assert CharTokenizer is chars.CharTokenizer and word_tokenize is text.word_tokenize


def test_bits_per_char() -> None:
    assert bits_per_char(100 * 0.6931471805599453, 100) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        bits_per_char(1.0, 0)


def test_merges_agree_with_hugging_face(shakespeare: str) -> None:
    """Same text, same vocabulary size: same merges; order differs only between tied counts."""
    hf_tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import models, pre_tokenizers, trainers

    b2u = _byte_to_unicode()
    assert set(b2u.values()) == set(pre_tokenizers.ByteLevel.alphabet())
    u2b = {u: b for b, u in b2u.items()}
    hf = hf_tokenizers.Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=1024, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    hf.train_from_iterator([shakespeare], trainer)
    hf_merges = [
        tuple(bytes(u2b[ch] for ch in part) for part in m)
        for m in json.loads(hf.to_str())["model"]["merges"]
    ]
    ours = BPETokenizer.train(shakespeare, 1024, record=True)
    our_merges = [(ours.vocab[a], ours.vocab[b]) for a, b in ours.merges]
    assert set(our_merges) == set(hf_merges)
    count_of = dict(zip(our_merges, ours.merge_counts))
    for k, (a, b) in enumerate(zip(our_merges, hf_merges)):
        if a != b:  # a tie: both pairs had the same count when the merge was made
            assert count_of[a] == count_of[b], (k, a, b)
    # equal merge sets, and the same tokens on the text
    hf_tokens = [bytes(u2b[ch] for ch in t) for t in hf.encode(shakespeare[:20_000]).tokens]
    assert hf_tokens == [ours.token_bytes(i) for i in ours.encode(shakespeare[:20_000])]


def test_tokenizer_explorer_draws_and_redraws(tok: BPETokenizer) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from course_lib.viz import show_tokens
    from course_lib.widgets import tokenizer_explorer

    ex = tokenizer_explorer(tok, "the end<|endoftext|> café\n")
    assert ex.draws == 1
    ex.controls["vocab_size"].value = 256  # observed: redraws
    assert ex.draws == 2
    with pytest.raises(TypeError, match="one str"):
        show_tokens("abc")
    with pytest.raises(TypeError, match="BPETokenizer"):
        tokenizer_explorer(CharTokenizer("abc"))
