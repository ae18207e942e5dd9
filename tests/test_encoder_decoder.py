"""Tests for the encoder-decoder Transformer (course_lib.encoder_decoder)."""

from __future__ import annotations

import functools
import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.encoder_decoder import (
    CrossAttention,
    Seq2SeqConfig,
    Seq2SeqTransformer,
    beam_search_step,
    causal_mask,
    padding_mask,
    shift_targets,
)

PAD, BOS, EOS = 0, 1, 2


@pytest.fixture(autouse=True)
def _one_thread():  # noqa: ANN202
    """These tiny models run fastest on one thread, and a busy machine cannot slow them down."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def small_model(vocab: int = 13, dropout: float = 0.0, **kw: int) -> Seq2SeqTransformer:
    cfg = Seq2SeqConfig(
        vocab_size=vocab, max_src_len=10, max_tgt_len=10, d_model=32, n_heads=4,
        n_enc_layers=2, n_dec_layers=2, d_ff=64, dropout=dropout, **kw,
    )  # fmt: skip
    return Seq2SeqTransformer(cfg)


def batch(b: int = 3, s: int = 6, t: int = 5, vocab: int = 13) -> tuple[torch.Tensor, torch.Tensor]:
    src = torch.randint(3, vocab, (b, s))
    tgt = torch.randint(3, vocab, (b, t))
    tgt[:, 0] = BOS
    tgt[:, -1] = EOS
    return src, tgt


# ----------------------------------------------------------------------------- helpers


def test_causal_mask() -> None:
    m = causal_mask(4)
    assert m.dtype == torch.bool and m.shape == (4, 4)
    assert torch.equal(
        m, torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]).bool()
    )
    with pytest.raises(ValueError, match="0"):
        causal_mask(0)


def test_causal_mask_device(device: torch.device) -> None:
    assert causal_mask(3, device).device.type == device.type


def test_padding_mask_and_shift() -> None:
    tgt = torch.tensor([[BOS, 5, 6, EOS], [BOS, 7, EOS, PAD]])
    assert padding_mask(tgt).tolist() == [[True] * 4, [True, True, True, False]]
    dec_in, labels = shift_targets(tgt)
    assert dec_in.tolist() == [[BOS, 5, 6], [BOS, 7, EOS]]
    assert labels.tolist() == [[5, 6, EOS], [7, EOS, PAD]]
    with pytest.raises(ValueError, match=r"\(2, 1\)"):
        shift_targets(tgt[:, :1])
    with pytest.raises(TypeError, match="float32"):
        shift_targets(tgt.float())


def test_beam_search_step_matches_brute_force() -> None:
    scores = torch.tensor([[-0.5, -1.0], [0.0, -math.inf]])
    logp = torch.randn(2, 2, 5).log_softmax(-1)
    new, beam, tok = beam_search_step(scores, logp, 3)
    for b in range(2):
        cands = sorted(
            ((scores[b, k] + logp[b, k, v]).item(), k, v) for k in range(2) for v in range(5)
        )[::-1][:3]
        assert [(k, v) for _, k, v in cands] == list(
            zip(beam[b].tolist(), tok[b].tolist(), strict=True)
        )
        torch.testing.assert_close(new[b], torch.tensor([c for c, _, _ in cands]))
    assert (beam[1] == 0).all()  # the dead beam (-inf) is never extended
    with pytest.raises(ValueError, match="beam_size"):
        beam_search_step(scores, logp, 11)
    with pytest.raises(ValueError, match=r"\(2, 2\) and \(2, 3, 5\)"):
        beam_search_step(scores, torch.zeros(2, 3, 5), 2)


def test_cross_attention_equals_torch_multihead(device: torch.device) -> None:
    d, h = 16, 4
    ours = CrossAttention(d, h).to(device)
    ref = nn.MultiheadAttention(d, h, batch_first=True).to(device)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.q_proj.weight, ours.kv_proj.weight]))
        ref.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.kv_proj.bias]))
        ref.out_proj.weight.copy_(ours.out_proj.weight)
        ref.out_proj.bias.copy_(ours.out_proj.bias)
    x, mem = torch.randn(2, 3, d, device=device), torch.randn(2, 5, d, device=device)
    keep = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], dtype=torch.bool, device=device)
    got, w = ours(x, mem, mask=keep[:, None, None, :], need_weights=True)
    want, want_w = ref(x, mem, mem, key_padding_mask=~keep, average_attn_weights=False)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(w, want_w, atol=1e-6, rtol=1e-5)
    assert ours(x, mem)[1] is None


def test_cross_attention_gradcheck_float64() -> None:
    attn = CrossAttention(8, 2).double()
    x = torch.randn(2, 3, 8, dtype=torch.float64, requires_grad=True)
    mem = torch.randn(2, 4, 8, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)[:, None, None, :]
    for need_weights in (False, True):
        fn = functools.partial(attn, mask=mask, need_weights=need_weights)
        assert torch.autograd.gradcheck(lambda a, m, f=fn: f(a, m)[0], (x, mem))


# ----------------------------------------------------------------------------- the model


def test_forward_shapes_loss_and_init(device: torch.device) -> None:
    model = small_model().to(device)
    src, tgt = (t.to(device) for t in batch())
    logits, loss = model(src, tgt)
    assert logits.shape == (3, 4, 13) and logits.device.type == device.type
    want = F.cross_entropy(logits.reshape(-1, 13), tgt[:, 1:].reshape(-1))
    torch.testing.assert_close(loss, want)
    assert 0.5 * math.log(13) < loss.item() < 2 * math.log(13)  # no confident guesses at init
    assert model.lm_head.weight is model.embed.weight


def test_loss_ignores_padding_labels() -> None:
    model = small_model()
    src, tgt = batch()
    tgt[0, 3:] = PAD
    logits, loss = model(src, tgt)
    labels = tgt[:, 1:]
    keep = labels != PAD
    torch.testing.assert_close(loss, F.cross_entropy(logits[keep], labels[keep]))


def test_padding_changes_nothing() -> None:
    model = small_model().eval()
    src, tgt = batch(s=4, t=5)
    logits, _ = model(src, tgt)
    src_padded = F.pad(src, (0, 3), value=PAD)
    tgt_padded = F.pad(tgt, (0, 2), value=PAD)
    logits2, _ = model(src_padded, tgt_padded)
    torch.testing.assert_close(logits2[:, :4], logits, atol=1e-5, rtol=1e-5)


def test_decoder_is_causal_and_examples_independent() -> None:
    model = small_model().eval()
    src, tgt = batch(b=2, t=7)
    logits, _ = model(src, tgt)
    changed = tgt.clone()
    changed[:, 4] = 3 + (changed[:, 4] - 2) % 10  # a different real token at position 4
    logits2, _ = model(src, changed)
    torch.testing.assert_close(logits2[:, :4], logits[:, :4])  # positions 0..3 cannot see token 4
    assert not torch.allclose(logits2[:, 4:], logits[:, 4:])
    other = src.clone()
    other[1] = torch.randint(3, 13, (src.shape[1],))
    logits3, _ = model(other, tgt)
    torch.testing.assert_close(logits3[0], logits[0])  # example 0 does not see example 1


def test_source_order_matters() -> None:
    model = small_model().eval()
    src = torch.tensor([[3, 4, 5, 6, 7, 8]])
    tgt = torch.tensor([[BOS, 3, 4, EOS]])
    a, _ = model(src, tgt)
    b, _ = model(src.flip(1), tgt)
    assert not torch.allclose(a, b, atol=1e-4)  # positional encodings tell the orders apart


def test_float64_and_gradients() -> None:
    model = small_model().double()
    src, tgt = batch()
    logits, loss = model(src, tgt)
    assert logits.dtype == torch.float64
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_attention_weights_rows_and_padding() -> None:
    model = small_model().eval()
    src, tgt = batch(s=6)
    src[1, 4:] = PAD
    logits, _, weights = model(src, tgt, return_attention=True)
    assert len(weights) == 2
    for w in weights:
        assert w.shape == (3, 4, 4, 6)  # (B, H, T-1, S)
        torch.testing.assert_close(w.sum(-1), torch.ones(3, 4, 4))
        assert (w[1, :, :, 4:] == 0).all()


def test_post_layer_norm_variant_runs() -> None:
    model = small_model(norm_first=False)
    _, loss = model(*batch())
    assert torch.isfinite(loss)


def test_bad_input_errors() -> None:
    model = small_model()
    src, tgt = batch()
    with pytest.raises(ValueError, match="length 11, longer than the model's maximum 10"):
        model(torch.randint(3, 13, (2, 11)), tgt[:2])
    with pytest.raises(ValueError, match="length 12"):
        model(src, torch.randint(3, 13, (3, 12)))
    with pytest.raises(ValueError, match="token id 13, outside the vocabulary 0..12"):
        model(torch.full((3, 4), 13), tgt)
    with pytest.raises(ValueError, match="token id -1"):
        model(src, torch.full((3, 4), -1))
    with pytest.raises(TypeError, match="float32"):
        model(src.float(), tgt)
    with pytest.raises(ValueError, match=r"shape \(6,\)"):
        model(src[0], tgt)
    with pytest.raises(ValueError, match="batch size 3 but tgt has 2"):
        model(src, tgt[:2])
    with pytest.raises(ValueError, match="max_len"):
        model.greedy_decode(src, max_len=10)
    with pytest.raises(ValueError, match="beam_size"):
        model.beam_search(src, beam_size=0)
    with pytest.raises(ValueError, match="distinct"):
        small_model(pad_id=0, bos_id=0)
    with pytest.raises(ValueError, match="not divisible"):
        CrossAttention(30, 4)
    with pytest.raises(TypeError, match="Seq2SeqConfig"):
        Seq2SeqTransformer({"vocab_size": 5})  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- decoding


def test_greedy_equals_beam_of_one_and_respects_eos() -> None:
    model = small_model().eval()
    src, _ = batch(b=4)
    greedy = model.greedy_decode(src)
    beam, scores = model.beam_search(src, beam_size=1, length_penalty=0.0)
    assert torch.equal(greedy, beam[:, : greedy.shape[1]])
    assert scores.shape == (4,)
    for row in greedy.tolist():
        if EOS in row:
            assert all(t == PAD for t in row[row.index(EOS) + 1 :])
        assert BOS not in row


def sequence_log_prob(model: Seq2SeqTransformer, src: torch.Tensor, seq: list[int]) -> float:
    """Log-probability of generating ``seq`` (tokens after <bos>) under the decoding rules."""
    memory, mask = model.encode(src)
    dec_in = torch.tensor([[BOS] + seq[:-1]])
    logits, _ = model.decode(dec_in, memory, mask)
    logp = logits[0].log_softmax(-1)
    logp[:, [PAD, BOS]] = -math.inf
    return sum(logp[i, t].item() for i, t in enumerate(seq))


def test_wide_beam_search_finds_the_most_likely_sequence() -> None:
    torch.manual_seed(1)
    cfg = Seq2SeqConfig(vocab_size=5, max_src_len=4, max_tgt_len=4, d_model=16, n_heads=2,
                        n_enc_layers=1, n_dec_layers=1, d_ff=32, dropout=0.0)  # fmt: skip
    model = Seq2SeqTransformer(cfg).eval()
    with torch.no_grad():
        model.embed.weight.mul_(4.0)  # sharper predictions, so the sequences' scores differ
    src = torch.tensor([[3, 4, 4]])
    candidates = []  # every sequence of at most 3 tokens: words over {3, 4} ending in <eos>, or cut
    for n in range(3):
        candidates += [list(w) + [EOS] for w in itertools.product([3, 4], repeat=n)]
    candidates += [list(w) for w in itertools.product([3, 4], repeat=3)]
    with torch.no_grad():
        best = max(candidates, key=lambda s: sequence_log_prob(model, src, s))
        want = sequence_log_prob(model, src, best)
    ids, score = model.beam_search(src, beam_size=15, length_penalty=0.0)
    got = [t for t in ids[0].tolist() if t != PAD]
    assert got == best
    assert score.item() == pytest.approx(want, abs=1e-4)


def test_memorizes_a_toy_set_and_decodes_it_exactly() -> None:
    torch.manual_seed(0)
    vocab = 8  # specials + digits 3..7
    pairs = [[3, 4, 5], [6, 7], [5, 5, 3, 7], [7, 6, 5, 4], [4], [3, 3, 6], [6, 4, 3, 5], [7, 3]]
    src = torch.zeros(len(pairs), 4, dtype=torch.long)
    tgt = torch.zeros(len(pairs), 6, dtype=torch.long)
    for i, p in enumerate(pairs):  # task: reverse
        src[i, : len(p)] = torch.tensor(p)
        tgt[i, : len(p) + 2] = torch.tensor([BOS, *p[::-1], EOS])
    cfg = Seq2SeqConfig(vocab_size=vocab, max_src_len=4, max_tgt_len=6, d_model=32, n_heads=2,
                        n_enc_layers=1, n_dec_layers=1, d_ff=64, dropout=0.0)  # fmt: skip
    model = Seq2SeqTransformer(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(250):
        _, loss = model(src, tgt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    want = tgt[:, 1:]
    greedy = model.greedy_decode(src)
    assert torch.equal(F.pad(greedy, (0, want.shape[1] - greedy.shape[1])), want)
    beam, _ = model.beam_search(src, beam_size=3)
    assert torch.equal(F.pad(beam, (0, want.shape[1] - beam.shape[1])), want)
    out, weights = model.greedy_decode(src, return_attention=True)
    assert torch.equal(out, greedy)
    assert weights[0].shape == (len(pairs), 2, greedy.shape[1], 4)


def test_decoding_on_device(device: torch.device) -> None:
    model = small_model().to(device).eval()
    src, _ = batch()
    src = src.to(device)
    assert model.greedy_decode(src).device.type == device.type
    ids, scores = model.beam_search(src, beam_size=2)
    assert ids.device.type == scores.device.type == device.type
