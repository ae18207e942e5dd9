"""Tokenizers, Vocabulary, padding, masked mean pooling and the bag-of-embeddings classifier."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.data import CharTokenizer
from course_lib.text import (
    PAD,
    UNK,
    BagOfEmbeddings,
    Vocabulary,
    encode_texts,
    masked_mean_pool,
    pad_batch,
    text_loader,
    token_contributions,
    word_tokenize,
)

TEXTS = ["the storm hit the coast", "the band played all night", "The storm, again!"]


# ---------------------------------------------------------------- tokenizers and vocabulary


def test_word_tokenize() -> None:
    assert word_tokenize("The cloud's DOWN, again!") == [
        "the",
        "cloud's",
        "down",
        ",",
        "again",
        "!",
    ]
    assert word_tokenize("") == []
    assert word_tokenize("  a\tb\n") == ["a", "b"]
    with pytest.raises(TypeError, match="int"):
        word_tokenize(3)  # type: ignore[arg-type]


def test_char_tokenizer_is_reused_for_characters() -> None:
    tok = CharTokenizer("".join(TEXTS))
    assert tok.decode(tok.encode(TEXTS[0])) == TEXTS[0]


def test_vocabulary_build_order_and_specials() -> None:
    v = Vocabulary.build([word_tokenize(t) for t in TEXTS])
    assert v.itos[:2] == [PAD, UNK] and v.pad_id == 0 and v.unk_id == 1
    assert v.itos[2:4] == ["the", "storm"]  # most frequent first
    rest = v.itos[4:]
    assert rest == sorted(rest)  # all seen once: ties are alphabetical
    assert len(v) == len(set(w for t in TEXTS for w in word_tokenize(t))) + 2
    assert "storm" in v and "piano" not in v


def test_vocabulary_min_freq_and_max_size() -> None:
    lists = [word_tokenize(t) for t in TEXTS]
    v2 = Vocabulary.build(lists, min_freq=2)
    assert v2.itos == [PAD, UNK, "the", "storm"]
    v3 = Vocabulary.build(lists, max_size=3)
    assert v3.itos == [PAD, UNK, "the"]


def test_vocabulary_encode_decode_with_unknown() -> None:
    v = Vocabulary.build([word_tokenize(t) for t in TEXTS], min_freq=2)
    ids = v.encode(["the", "piano", "storm"])
    assert ids == [2, v.unk_id, 3]
    assert v.decode(torch.tensor(ids)) == ["the", UNK, "storm"]
    assert encode_texts(["The storm"], v) == [[2, 3]]


def test_vocabulary_bad_input() -> None:
    with pytest.raises(ValueError, match="empty"):
        Vocabulary.build([])
    with pytest.raises(TypeError, match="tokenize first"):
        Vocabulary.build(["a sentence"])
    with pytest.raises(ValueError, match="min_freq"):
        Vocabulary.build([["a"]], min_freq=0)
    with pytest.raises(ValueError, match="max_size"):
        Vocabulary.build([["a"]], max_size=1)
    with pytest.raises(ValueError, match="duplicate"):
        Vocabulary(["a", "a"])
    with pytest.raises(ValueError, match="<pad>"):
        Vocabulary([PAD])
    v = Vocabulary(["a"])
    with pytest.raises(ValueError, match="outside"):
        v.decode([5])
    with pytest.raises(TypeError, match="tokenize"):
        v.encode("a")
    with pytest.raises(TypeError, match="single str"):
        encode_texts("a", v)


# ---------------------------------------------------------------- padding


def test_pad_batch_values(device: torch.device) -> None:
    ids, mask = pad_batch([[5, 6, 7], [8], []], pad_id=0, device=device)
    assert ids.device.type == device.type and ids.dtype == torch.long and mask.dtype == torch.bool
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0], [0, 0, 0]]
    assert mask.tolist() == [[True] * 3, [True, False, False], [False] * 3]


def test_pad_batch_keeps_tensor_device_and_truncates(device: torch.device) -> None:
    seqs = [torch.tensor([1, 2, 3, 4], device=device), torch.tensor([5], device=device)]
    ids, mask = pad_batch(seqs, pad_id=9, max_len=2)
    assert ids.device.type == device.type
    assert ids.tolist() == [[1, 2], [5, 9]] and mask.sum().item() == 3


def test_pad_batch_bad_input() -> None:
    with pytest.raises(ValueError, match="empty batch"):
        pad_batch([])
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        pad_batch([torch.zeros(2, 2, dtype=torch.long)])
    with pytest.raises(TypeError, match="float32"):
        pad_batch([torch.zeros(3)])
    with pytest.raises(TypeError, match="Tensor"):
        pad_batch(torch.zeros(2, 3, dtype=torch.long))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_len"):
        pad_batch([[1]], max_len=0)


# ---------------------------------------------------------------- pooling


def _reference_pool(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    rows = []
    for b in range(x.shape[0]):
        real = x[b][mask[b]]
        rows.append(real.mean(0) if len(real) else torch.zeros_like(x[b, 0]))
    return torch.stack(rows)


def test_masked_mean_matches_mean_of_real_tokens(device: torch.device) -> None:
    x = torch.randn(4, 6, 3, device=device, requires_grad=True)
    mask = torch.tensor(
        [[1, 1, 1, 1, 1, 1], [1, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0], [0] * 6], device=device
    ).bool()
    got = masked_mean_pool(x, mask)
    want = _reference_pool(x, mask)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-6)
    assert torch.equal(got[3], torch.zeros(3, device=device))  # no real token: zeros, not nan
    (g1,) = torch.autograd.grad(got.square().sum(), x)
    (g2,) = torch.autograd.grad(want.square().sum(), x)
    torch.testing.assert_close(g1, g2, atol=1e-6, rtol=1e-6)
    assert g1[1, 2:].abs().sum().item() == 0  # padding gets no gradient


def test_masked_mean_gradcheck_float64() -> None:
    x = torch.randn(3, 5, 2, dtype=torch.float64, requires_grad=True)
    mask = torch.rand(3, 5) > 0.4
    assert torch.autograd.gradcheck(lambda t: masked_mean_pool(t, mask), (x,))


def test_masked_mean_keeps_dtype_and_handles_extremes() -> None:
    x = torch.full((2, 3, 4), 1e30, dtype=torch.float64)
    mask = torch.tensor([[True, True, False], [True, False, False]])
    out = masked_mean_pool(x, mask)
    assert out.dtype == torch.float64 and torch.allclose(
        out, torch.full((2, 4), 1e30, dtype=torch.float64)
    )
    half = masked_mean_pool(x.to(torch.bfloat16), mask)
    assert half.dtype == torch.bfloat16


def test_masked_mean_bad_input(device: torch.device) -> None:
    x = torch.randn(2, 3, 4, device=device)
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        masked_mean_pool(x, torch.ones(2, 4, dtype=torch.bool, device=device))
    with pytest.raises(ValueError, match=r"\(B, T, D\)"):
        masked_mean_pool(x[0], torch.ones(3, dtype=torch.bool, device=device))
    with pytest.raises(TypeError, match="float32"):
        masked_mean_pool(x, torch.ones(2, 3, device=device))
    if device.type != "cpu":
        with pytest.raises(ValueError, match="cpu"):
            masked_mean_pool(x, torch.ones(2, 3, dtype=torch.bool))


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 6), min_size=1, max_size=5),
    extra=st.integers(0, 4),
)
def test_masked_mean_ignores_extra_padding(lengths: list[int], extra: int) -> None:
    g = torch.Generator().manual_seed(sum(lengths) + extra)
    T = max(lengths) + 1
    x = torch.randn(len(lengths), T + extra, 3, generator=g)
    mask = torch.arange(T + extra)[None, :] < torch.tensor(lengths)[:, None]
    short = masked_mean_pool(x[:, :T].contiguous(), mask[:, :T])
    x2 = x.clone()
    x2[~mask] = 1e6  # whatever sits in padding must not matter
    torch.testing.assert_close(masked_mean_pool(x2, mask), short, atol=1e-6, rtol=1e-6)


# ---------------------------------------------------------------- the classifier


def test_bag_of_embeddings_matches_torch(device: torch.device) -> None:
    model = BagOfEmbeddings(20, 8, 5, pad_id=0).to(device)
    ids, mask = pad_batch([[3, 4, 5], [7], [19, 19, 2, 1]], device=device)
    logits = model(ids)
    assert logits.shape == (3, 5) and logits.device.type == device.type
    emb = F.embedding(ids, model.embedding.weight)  # (B, T, D)
    pooled = (emb * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    want = pooled @ model.fc.weight.T + model.fc.bias
    torch.testing.assert_close(logits, want, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(model(ids, mask), logits)
    logits.sum().backward()
    assert model.embedding.weight.grad is not None
    assert model.embedding.weight.grad[0].abs().sum().item() == 0  # padding row never learns
    assert model.embedding.weight.grad[6].abs().sum().item() == 0  # unused token


def test_bag_is_order_and_padding_invariant() -> None:
    model = BagOfEmbeddings(30, 6, 3)
    a, _ = pad_batch([[5, 9, 2, 11]])
    b, _ = pad_batch([[11, 2, 9, 5]], max_len=9)
    torch.testing.assert_close(model(a), model(b), atol=1e-6, rtol=1e-6)


def test_bag_float64() -> None:
    model = BagOfEmbeddings(10, 4, 2).double()
    ids = torch.tensor([[1, 2, 0]])
    assert model(ids).dtype == torch.float64


def test_bag_bad_input() -> None:
    with pytest.raises(ValueError, match="embed_dim"):
        BagOfEmbeddings(10, 0, 2)
    with pytest.raises(ValueError, match="pad_id"):
        BagOfEmbeddings(10, 4, 2, pad_id=10)
    model = BagOfEmbeddings(10, 4, 2)
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        model(torch.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match="float32"):
        model(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="0..9"):
        model(torch.tensor([[1, 10]]))
    with pytest.raises(ValueError, match="mask"):
        model(torch.tensor([[1, 2]]), torch.ones(1, 3, dtype=torch.bool))


def test_token_contributions_sum_to_logits() -> None:
    model = BagOfEmbeddings(12, 5, 4)
    ids = torch.tensor([3, 7, 7, 2, 0, 0])
    contrib = token_contributions(model, ids)
    assert contrib.shape == (6, 4)
    assert contrib[4:].abs().sum().item() == 0
    torch.testing.assert_close(contrib.sum(0) + model.fc.bias, model(ids[None])[0].detach())
    with pytest.raises(ValueError, match=r"\(T,\)"):
        token_contributions(model, ids[None])


# ---------------------------------------------------------------- loader


def test_text_loader_batches() -> None:
    v = Vocabulary.build([word_tokenize(t) for t in TEXTS])
    loader = text_loader(TEXTS, torch.tensor([0, 1, 0]), v, batch_size=2, shuffle=False)
    batches = list(loader)
    assert len(batches) == 2
    ids, y = batches[0]
    assert ids.shape == (2, 5) and ids.dtype == torch.long and y.tolist() == [0, 1]
    assert batches[1][0].shape == (1, 5)  # "the storm , again !"
    s1 = [b[1].tolist() for b in text_loader(TEXTS, [0, 1, 2], v, 1, seed=3)]
    s2 = [b[1].tolist() for b in text_loader(TEXTS, [0, 1, 2], v, 1, seed=3)]
    assert s1 == s2


def test_text_loader_bad_input() -> None:
    v = Vocabulary(["a"])
    with pytest.raises(ValueError, match="empty"):
        text_loader([], [], v)
    with pytest.raises(ValueError, match="2 texts but 1 labels"):
        text_loader(["a", "a"], [0], v)
    with pytest.raises(ValueError, match="batch_size"):
        text_loader(["a"], [0], v, batch_size=0)


# ---------------------------------------------------------------- embedding-space plot


def test_pca_2d_matches_svd_and_is_sign_stable(device: torch.device) -> None:
    from course_lib.viz import pca_2d

    x = torch.randn(30, 6, dtype=torch.float64, device=device)
    xy = pca_2d(x)
    assert xy.shape == (30, 2) and xy.dtype == torch.float64 and xy.device.type == device.type
    xc = x - x.mean(0)
    _, s, _ = torch.linalg.svd(xc)
    torch.testing.assert_close(xy.norm(dim=0), s[:2])  # the two largest singular values
    torch.testing.assert_close(pca_2d(x * 1.0), xy)
    flipped = pca_2d(torch.cat([x[:, 3:], x[:, :3]], dim=1))  # same cloud, axes permuted
    torch.testing.assert_close(flipped, xy, atol=1e-8, rtol=1e-6)
    with pytest.raises(ValueError, match=r"\(5,\)"):
        pca_2d(torch.randn(5))
    with pytest.raises(TypeError, match="int64"):
        pca_2d(torch.ones(3, 3, dtype=torch.long))


def test_plot_embedding_space_draws() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_lib.viz import plot_embedding_space

    ax = plot_embedding_space(torch.randn(4, 3), ["a", "b", "c", "d"], ["x", "x", "y", "y"])
    assert len(ax.collections) == 2 and len(ax.texts) == 4
    plt.close("all")
    with pytest.raises(ValueError, match="4 vectors but 3 words"):
        plot_embedding_space(torch.randn(4, 3), ["a", "b", "c"])
