"""Generated instruction/response pairs for instruction-style fine-tuning (chapter 14).

Each pair is a prompt (an instruction and its argument, ending in a newline) and a response
(ending in a newline). Three instructions, all written with letters and punctuation only, so a
character model pretrained on tiny Shakespeare can read them::

    "Shout: my lord\\n"        -> "MY LORD\\n"
    "Reverse: crown\\n"        -> "nworc\\n"
    "First word: the sea\\n"   -> "the\\n"
"""

from __future__ import annotations

import random

__all__ = ["INSTRUCTIONS", "instruction_pairs"]

_WORDS = (
    "lord king queen crown night heart world lady friend sea house father mother sword honour "
    "truth light word name star fair gentle bitter heavy sweet good noble poor grace death love "
    "blood peace war rose moon sun day fool duke son"
).split()


def _shout(words: list[str]) -> str:
    return " ".join(words).upper()


def _reverse(words: list[str]) -> str:
    return words[0][::-1]


def _first(words: list[str]) -> str:
    return words[0]


#: instruction -> (how many words it takes, how to answer)
INSTRUCTIONS = {"Shout": (2, _shout), "Reverse": (1, _reverse), "First word": (3, _first)}


def instruction_pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` generated ``(prompt, response)`` pairs, deterministic in ``seed``."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        instruction = rng.choice(list(INSTRUCTIONS))
        n_words, answer = INSTRUCTIONS[instruction]
        words = [rng.choice(_WORDS) for _ in range(n_words)]
        out.append((f"{instruction}: {' '.join(words)}\n", answer(words) + "\n"))
    return out
