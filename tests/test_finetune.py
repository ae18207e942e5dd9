"""Chapter 14's fine-tuning pieces: padded classifier batches, prompt masking, the tasks' data."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from course_lib.data import CharTokenizer
from course_lib.data.instructions import instruction_pairs
from course_lib.data.speakers import generated_speeches, speaker_task, speeches, windows
from course_lib.finetune import (
    GPTClassifier,
    classification_batches,
    greedy_answer,
    instruction_batch,
    pad_batch,
    prompt_masked_example,
)
from course_lib.pretrained import char_tokenizer, hidden_states
from course_lib.transformer import GPT, GPTConfig


def _gpt(device: torch.device) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=12, block_size=10, n_layer=1, n_head=2, n_embd=8)).to(device)


def test_classifier_ignores_padding(device: torch.device) -> None:
    """The padded row's logits equal the same sequence alone (mean over its real tokens only)."""
    clf = GPTClassifier(_gpt(device), 3).eval()
    short = torch.tensor([3, 5, 7], device=device)
    batch = pad_batch([short.cpu(), torch.arange(10)], 10).to(device)
    assert batch[0, 3:].eq(-1).all()
    logits, loss = clf(batch, torch.tensor([0, 2], device=device))
    alone = clf.head(hidden_states(clf.gpt, short[None]).mean(1))
    torch.testing.assert_close(logits[:1], alone)
    assert loss.shape == () and logits.shape == (2, 3)
    with pytest.raises(ValueError, match="start with a real token"):
        clf(torch.tensor([[-1, 3]], device=device))


def test_classification_batches_are_reproducible() -> None:
    tok = CharTokenizer("abc ")
    examples = [("ab", 0), ("abc a", 1), ("c", 1)]
    a = classification_batches(examples, tok, 4, 5, seed=3)
    b = classification_batches(examples, tok, 4, 5, seed=3)
    for step in range(3):
        xa, ya = a(step)
        xb, yb = b(step)
        assert torch.equal(xa, xb) and torch.equal(ya, yb) and xa.shape == (5, 4)


def test_prompt_mask_matches_ignore_index_loss() -> None:
    """Masked targets give exactly the cross-entropy over the response's tokens alone."""
    prompt, response = torch.tensor([1, 2, 3, 4]), torch.tensor([5, 6, 7])
    x, y = prompt_masked_example(prompt, response)
    assert x.tolist() == [1, 2, 3, 4, 5, 6] and y.tolist() == [-1, -1, -1, 5, 6, 7]
    x2, y2 = prompt_masked_example(prompt, response, mask_prompt=False)
    assert y2.tolist() == [2, 3, 4, 5, 6, 7] and torch.equal(x, x2)
    logits = torch.randn(6, 9)
    want = F.cross_entropy(logits[3:], torch.tensor([5, 6, 7]))
    torch.testing.assert_close(F.cross_entropy(logits, y, ignore_index=-1), want)
    with pytest.raises(ValueError, match="non-empty"):
        prompt_masked_example(torch.tensor([], dtype=torch.long), response)


def test_instruction_pairs_and_batch() -> None:
    pairs = instruction_pairs(50, seed=1)
    assert pairs == instruction_pairs(50, seed=1)
    for p, r in pairs:
        assert p.endswith("\n") and r.endswith("\n")
        if p.startswith("Shout: "):
            assert r == p[len("Shout: ") :].upper()
        if p.startswith("Reverse: "):
            assert r[:-1] == p[len("Reverse: ") : -1][::-1]
    tok = char_tokenizer("x" * 10)  # letters and punctuation are always there
    X, Y = instruction_batch(pairs, tok, 40)
    assert X.shape == Y.shape == (50, 40)
    p, r = pairs[0]
    assert int((Y[0] != -1).sum()) == len(r)  # only the response is scored


def test_speaker_task_on_shakespeare_like_and_generated_text() -> None:
    text = "ROMEO:\nO she doth teach.\n\nJULIET:\nAy me!\nO Romeo.\n\nROMEO:\nShe speaks.\n\n"
    assert speeches(text) == [
        ("ROMEO", "O she doth teach."),
        ("JULIET", "Ay me!\nO Romeo."),
        ("ROMEO", "She speaks."),
    ]
    task = speaker_task(text * 5, n_speakers=2, window=16, verbose=False)  # not tiny Shakespeare
    assert task.source == "generated" and len(task.names) == 2
    pieces = [p for _, s in generated_speeches(2) for p in windows(s, 16)]
    assert len(task.train) + len(task.test) == len(pieces)
    assert all(
        8 <= len(p) <= 16 or p in {s for _, s in generated_speeches(2)} for p, _ in task.train
    )
    assert {y for _, y in task.train + task.test} == {0, 1}
    with pytest.raises(ValueError, match="n_speakers"):
        speaker_task(text, n_speakers=1, verbose=False)


def test_windows_cut_speeches_into_context_sized_pieces() -> None:
    assert windows("abcdefghij", 4) == ["abcd", "efgh", "ij"]
    assert windows("abcdefghi", 4) == [
        "abcd",
        "efgh",
    ]  # a last piece under half a window is dropped
    assert windows("ab", 8) == ["ab"]  # a short speech is one piece
    with pytest.raises(ValueError, match="window"):
        windows("abc", 0)
    with pytest.raises(ValueError, match="n_speakers"):
        generated_speeches(1)


def test_greedy_answer_stops_at_newline() -> None:
    tok = CharTokenizer("ab\n")
    model = GPT(GPTConfig(vocab_size=3, block_size=16, n_layer=1, n_head=1, n_embd=4))
    out = greedy_answer(model, tok, "ab", max_new_tokens=5)
    assert "\n" not in out and len(out) <= 5


def test_chapter_modules_import_without_transformers_or_peft() -> None:
    """course_lib needs neither package to import (Colab without peft, a minimal install)."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['transformers'] = None; sys.modules['peft'] = None\n"
        "import course_lib.pretrained, course_lib.lora, course_lib.finetune, course_lib.checks\n"
        "from course_lib.pretrained import load_gpt2, PretrainedUnavailable\n"
        "try:\n    load_gpt2()\nexcept PretrainedUnavailable as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install transformers" in out.stdout


def test_prompt_mask_rejects_lists_with_a_sentence() -> None:
    with pytest.raises(TypeError, match="prompt must be a 1-D tensor of token ids, got list"):
        prompt_masked_example([1, 2], torch.tensor([3]))
