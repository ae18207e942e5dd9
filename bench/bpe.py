"""Byte-level BPE speed: course_lib.tokenizers (pure Python) against Hugging Face tokenizers (Rust).

Trains a tokenizer with vocabulary 1024 on tiny Shakespeare, then encodes the whole text (1.1 MB)
with it; the same work with ``tokenizers.models.BPE`` + ``BpeTrainer`` over the ``ByteLevel``
pre-tokenizer. Each timing is the best of ``--repeats`` (the machine is shared and noisy). Encoding
starts from a fresh tokenizer each time (no warm cache); HF is timed on the whole text as one
string and, its fast path, with ``encode_batch`` over the lines (threads). Prints the figures, the ratio ours / HF,
and whether both learned the same set of merges and the same number of tokens.

    python bench/bpe.py                   # vocabulary 1024, the whole text
    python bench/bpe.py --vocab 4096      # a larger vocabulary
    python bench/bpe.py --chars 100000    # a quick look on the first 100 k characters

Targets for the 2-core CPU: training <= 10 s, encoding <= 3 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_lib.data import load_tiny_shakespeare  # noqa: E402
from course_lib.tokenizers import BPETokenizer  # noqa: E402


def _best(fn, repeats: int) -> tuple[float, object]:  # noqa: ANN001
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _hf(text: str, vocab: int, repeats: int) -> dict | None:
    try:
        from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    except ImportError:
        return None

    def train() -> Tokenizer:
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        alphabet = pre_tokenizers.ByteLevel.alphabet()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab, initial_alphabet=alphabet, show_progress=False
        )
        tok.train_from_iterator([text], trainer)
        return tok

    t_train, tok = _best(train, repeats)
    saved = tok.to_str()
    t_enc, enc = _best(lambda: Tokenizer.from_str(saved).encode(text), repeats)
    lines = text.splitlines(keepends=True)  # HF's fast path: many short strings, in parallel
    t_batch, _ = _best(lambda: Tokenizer.from_str(saved).encode_batch(lines), repeats)
    merges = json.loads(saved)["model"]["merges"]
    return {
        "train_s": t_train,
        "encode_s": t_enc,
        "encode_batch_s": t_batch,
        "tokens": len(enc.ids),
        "merges": merges,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--vocab", type=int, default=1024, help="vocabulary size (default 1024)")
    p.add_argument("--chars", type=int, default=0, help="use only the first N characters")
    p.add_argument("--repeats", type=int, default=3, help="best of N timings (default 3)")
    args = p.parse_args(argv)
    if args.repeats < 1 or args.vocab < 257:
        p.error("--repeats must be >= 1 and --vocab >= 257")
    text = load_tiny_shakespeare()
    if args.chars:
        text = text[: args.chars]
    mb = len(text.encode("utf-8")) / 1e6
    print(f"text: {len(text):,} characters ({mb:.2f} MB), vocabulary {args.vocab}")

    t_train, ours = _best(lambda: BPETokenizer.train(text, args.vocab), args.repeats)
    t_enc, ids = _best(lambda: BPETokenizer(ours.merges).encode(text), args.repeats)
    assert ours.decode(ids) == text
    print(f"course_lib  train {t_train:6.2f} s   encode {t_enc:6.2f} s   {len(ids):,} tokens "
          f"({len(text) / len(ids):.2f} characters per token)")  # fmt: skip
    hf = _hf(text, args.vocab, args.repeats)
    if hf is None:
        print("Hugging Face tokenizers is not installed: no comparison (pip install tokenizers)")
        return 0
    print(f"HF (Rust)   train {hf['train_s']:6.2f} s   encode {hf['encode_s']:6.2f} s   "
          f"{hf['tokens']:,} tokens")  # fmt: skip
    print(f"HF encode_batch over the {text.count(chr(10)):,} lines: {hf['encode_batch_s']:.2f} s")
    print(f"ratio ours / HF: train {t_train / hf['train_s']:.1f}x, "
          f"encode {t_enc / hf['encode_s']:.1f}x (one string), "
          f"{t_enc / hf['encode_batch_s']:.1f}x (encode_batch over lines)")  # fmt: skip
    from tokenizers import pre_tokenizers  # the byte -> printable-character table HF uses

    printable = {b: chr(b) for b in [*range(33, 127), *range(161, 173), *range(174, 256)]}
    rest = [b for b in range(256) if b not in printable]
    printable.update({b: chr(256 + n) for n, b in enumerate(rest)})
    assert set(printable.values()) == set(pre_tokenizers.ByteLevel.alphabet())
    shown = [
        tuple("".join(printable[b] for b in ours.vocab[i]) for i in pair) for pair in ours.merges
    ]
    hf_merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in hf["merges"]]
    same_place = sum(a == b for a, b in zip(shown, hf_merges))
    print(f"merges: {len(set(shown) & set(hf_merges))} of {len(shown)} shared, "
          f"{same_place} at the same position; tokens equal: {hf['tokens'] == len(ids)}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
