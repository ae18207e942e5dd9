"""Chapter 11's explorer: decoded ids, attention and probabilities against the model's own forward pass."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from explorer_moves import move_every_control  # noqa: E402

from course_lib.data import make_seq2seq_task  # noqa: E402
from course_lib.encoder_decoder import Seq2SeqConfig, Seq2SeqTransformer  # noqa: E402
from course_lib.widgets.seq2seq import cross_attention_explorer, decode_with_attention  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _model(device, n_dec_layers: int = 2):
    task = make_seq2seq_task("dates", n_train=50, n_val=10, seed=0)
    tok = task.tokenizer
    torch.manual_seed(0)
    cfg = Seq2SeqConfig(
        vocab_size=tok.vocab_size, max_src_len=task.max_src_len, max_tgt_len=task.max_tgt_len,
        d_model=32, n_heads=2, n_enc_layers=1, n_dec_layers=n_dec_layers, d_ff=64, dropout=0.0,
    )  # fmt: skip
    return Seq2SeqTransformer(cfg).to(device).train(), tok


@pytest.mark.parametrize("beam_size", [1, 3])
def test_attention_and_probabilities_are_the_models(device: torch.device, beam_size: int) -> None:
    """Same numbers as a teacher-forced forward pass on [<bos>, output] (the reference path)."""
    model, tok = _model(device)
    text = "March 5, 2021"
    out, attn, chosen, score = decode_with_attention(model, tok, text, beam_size)
    assert model.training  # the explorer restores the mode it found
    model.eval()
    src = torch.tensor([tok.encode(text)], device=device)
    if beam_size == 1:
        ref_ids = model.greedy_decode(src)[0].tolist()
        assert score is None
    else:
        ids, scores = model.beam_search(src, beam_size=beam_size)
        ref_ids = ids[0].tolist()
        assert score == pytest.approx(scores[0].item())
    assert out == ref_ids[: len(out)] and (tok.eos_id not in out or out[-1] == tok.eos_id)
    tgt = torch.tensor([[tok.bos_id, *out]], device=device)
    with torch.no_grad():
        logits, _, weights = model(src, tgt, return_attention=True)
    ref = torch.stack([w[0] for w in weights]).cpu()
    torch.testing.assert_close(attn, ref)
    assert attn.shape == (2, 2, len(out), len(text))
    torch.testing.assert_close(attn.sum(-1), torch.ones(attn.shape[:-1]))
    probs = torch.softmax(logits[0], -1)[torch.arange(len(out)), torch.tensor(out)].cpu()
    torch.testing.assert_close(chosen, probs)


def test_bad_input_is_a_clear_error() -> None:
    model, tok = _model("cpu")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        decode_with_attention(model, tok, "März 5")
    with pytest.raises(ValueError, match="empty"):
        decode_with_attention(model, tok, "")
    with pytest.raises(ValueError, match="beam_size"):
        decode_with_attention(model, tok, "5", beam_size=0)


@pytest.mark.parametrize("n_dec_layers", [1, 2])
def test_explorer_default_figure_and_every_control_moved(n_dec_layers: int) -> None:
    model, tok = _model("cpu", n_dec_layers)
    ex = cross_attention_explorer(model, tok, "March 5, 2021")
    assert ex.draws == 1
    assert plt.gcf().axes[0].get_title().startswith("greedy: ")
    pytest.importorskip("ipywidgets")
    seconds = move_every_control(ex)
    assert set(seconds) == {"beam_size", "head"} | ({"layer"} if n_dec_layers > 1 else set())
    ex.controls["text"].value = "März"  # bad text: a message in the figure, no traceback
    assert "not in the vocabulary" in plt.gcf().axes[0].texts[0].get_text()
