"""The generated topic-sentence data set: deterministic, balanced, split cleanly, clear errors."""

from __future__ import annotations

import pytest
import torch

from course_lib.data import (
    AMBIGUOUS_WORDS,
    MAX_PER_CLASS,
    TOPIC_WORDS,
    TOPICS,
    load_topic_sentences,
    make_topic_sentences,
)


def test_same_seed_same_sentences() -> None:
    a_texts, a_labels = make_topic_sentences(50, seed=3)
    b_texts, b_labels = make_topic_sentences(50, seed=3)
    assert a_texts == b_texts
    assert torch.equal(a_labels, b_labels)
    c_texts, _ = make_topic_sentences(50, seed=4)
    assert c_texts != a_texts


def test_shapes_dtypes_and_balance() -> None:
    texts, labels = make_topic_sentences(40, seed=0)
    assert len(texts) == 40 * len(TOPICS)
    assert labels.shape == (40 * len(TOPICS),) and labels.dtype == torch.long
    assert torch.bincount(labels, minlength=len(TOPICS)).tolist() == [40] * len(TOPICS)
    assert all(isinstance(t, str) and t.strip() == t and t for t in texts)
    assert len(set(texts)) == len(texts)  # unique sentences


def test_labels_are_shuffled() -> None:
    _, labels = make_topic_sentences(30, seed=0)
    assert not torch.equal(labels, labels.sort().values)


def test_every_sentence_has_a_word_of_its_topic() -> None:
    texts, labels = make_topic_sentences(60, seed=1, hard_frac=0.5)
    for text, y in zip(texts, labels.tolist(), strict=True):
        topics = {t for w in text.split() for t in TOPIC_WORDS.get(w, ())}
        assert TOPICS[y] in topics, text


def test_hard_fraction_adds_distractors() -> None:
    easy, _ = make_topic_sentences(100, seed=0, hard_frac=0.0)
    hard, _ = make_topic_sentences(100, seed=0, hard_frac=0.9)
    markers = ("unlike", "despite", "not the", "while the")
    assert sum(any(m in t for m in markers) for t in easy) == 0
    assert sum(any(m in t for m in markers) for t in hard) > 200


def test_ambiguous_words_belong_to_two_topics() -> None:
    assert "cloud" in AMBIGUOUS_WORDS and "pitch" in AMBIGUOUS_WORDS
    for w in AMBIGUOUS_WORDS:
        assert len(TOPIC_WORDS[w]) == 2


def test_splits_are_stratified_and_disjoint() -> None:
    d = load_topic_sentences(100, seed=0, val_frac=0.2, test_frac=0.1)
    assert d.classes == TOPICS
    for split, n in ((d.train, 70), (d.val, 20), (d.test, 10)):
        assert len(split) == n * len(TOPICS) == split.labels.shape[0]
        assert torch.bincount(split.labels, minlength=len(TOPICS)).tolist() == [n] * len(TOPICS)
    tr, va, te = set(d.train.texts), set(d.val.texts), set(d.test.texts)
    assert not (tr & va or tr & te or va & te)


def test_load_is_deterministic() -> None:
    a, b = load_topic_sentences(30, seed=7), load_topic_sentences(30, seed=7)
    assert a.test.texts == b.test.texts and torch.equal(a.train.labels, b.train.labels)


def test_articles_agree_with_vowels() -> None:
    texts, _ = make_topic_sentences(200, seed=0)
    for t in texts:
        words = t.split()
        for a, b in zip(words, words[1:], strict=False):
            if a == "a":
                assert b[0] not in "aeiou", t


@pytest.mark.parametrize("n", [0, -1, 2.5, True, "10"])
def test_bad_sizes_raise(n: object) -> None:
    with pytest.raises(ValueError, match="n_per_class"):
        make_topic_sentences(n)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"val_frac": 1.0}, "val_frac"),
        ({"test_frac": -0.1}, "test_frac"),
        ({"hard_frac": float("nan")}, "hard_frac"),
        ({"val_frac": 0.5, "test_frac": 0.5}, "no training"),
        ({"n_per_class": 2, "val_frac": 0.3, "test_frac": 0.3}, "no training"),
    ],
)
def test_bad_fractions_raise(kwargs: dict[str, float], word: str) -> None:
    with pytest.raises(ValueError, match=word):
        load_topic_sentences(**kwargs)  # type: ignore[arg-type]


def test_too_many_sentences_raise() -> None:
    with pytest.raises(ValueError, match="limit"):
        make_topic_sentences(MAX_PER_CLASS + 1)
