"""Tiny Shakespeare (about 1.1 MB of plays), with a generated stand-in when it cannot be had."""

from __future__ import annotations

import random

from .download import DataUnavailable, fetch

URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
RELPATH = "tinyshakespeare/input.txt"
SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
DISTINCT_CHARS = 65  # in the real file; the fallback says how many it has instead

_SPEAKERS = [
    "ALDRIC",
    "BERENICE",
    "CASSIAN",
    "DOROTHEA",
    "EDMUND",
    "FENELLA",
    "GARRICK",
    "HONORIA",
    "ISIDORE",
    "JOCASTA",
    "LEONTES",
    "MARGERY",
    "First Watchman",
    "Second Watchman",
    "NURSE",
    "PRINCE",
    "Messenger",
    "All",
]
_SUBJECTS = [
    "my lord",
    "the king",
    "this night",
    "your grace",
    "the crown",
    "my heart",
    "the world",
    "sweet lady",
    "good friend",
    "the sea",
    "our house",
    "thy father",
]
_VERBS = [
    "doth love",
    "shall see",
    "hath sworn",
    "must bear",
    "would know",
    "cannot find",
    "will keep",
    "did speak",
    "may take",
    "doth fear",
    "shall call",
    "hath lost",
]
_OBJECTS = [
    "the truth",
    "a crown of gold",
    "no more",
    "his honour",
    "the morning light",
    "a gentle word",
    "thy name",
    "the bitter end",
    "what is mine",
    "the stars above",
    "a heavy sword",
    "all that is fair",
]
_OPENERS = ["O", "Nay", "Ay", "Alas", "Come", "Why", "Hark", "Peace", "Good", "Fie", "Well"]
_TAILS = [
    "and so farewell",
    "I pray you",
    "upon my life",
    "by heaven",
    "if it please you",
    "ere the day be done",
    "for all the world",
    "and there an end",
    "I warrant thee",
]


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_OBJECTS)]
    if rng.random() < 0.35:
        words.insert(0, rng.choice(_OPENERS) + ",")
    if rng.random() < 0.3:
        words.append(rng.choice(_TAILS))
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice([".", ".", ",", "!", "?", ";", ":"])


def generate_play(n_chars: int = 1_000_000, seed: int = 0) -> str:
    """A play-shaped text of about ``n_chars`` characters (speakers, colons, verse lines).

    It is made here, deterministically from ``seed``, so the course runs with no download at all.
    """
    if n_chars <= 0:
        raise ValueError(f"n_chars must be positive, got {n_chars}")
    rng = random.Random(seed)
    parts: list[str] = []
    size = 0
    while size < n_chars:
        lines = [_sentence(rng) for _ in range(rng.randint(1, 5))]
        speech = f"{rng.choice(_SPEAKERS)}:\n" + "\n".join(lines) + "\n\n"
        parts.append(speech)
        size += len(speech)
    return "".join(parts)[:n_chars]


def load_tiny_shakespeare(verbose: bool = True) -> str:
    """Return tiny Shakespeare as one string (1,115,394 characters, 65 distinct).

    Uses a verified cached copy, else downloads it (sha256-checked). When neither works (offline),
    falls back to ``generate_play()`` and says so, so every notebook still runs.
    """
    try:
        path = fetch(URL, RELPATH, SHA256)
    except DataUnavailable as e:
        text = generate_play()
        if verbose:
            print(f"Tiny Shakespeare is not available ({e})")
            print(
                "Using a generated play-like corpus instead: same format, simpler language, "
                f"{len(set(text))} distinct characters where tiny Shakespeare has {DISTINCT_CHARS}. "
                "Vocabulary sizes, losses and samples will differ from the stored outputs."
            )
        return text
    if verbose:
        print(f"Tiny Shakespeare: {path.stat().st_size:,} bytes, sha256 verified.")
    return path.read_text(encoding="utf-8")
