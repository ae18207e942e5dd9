"""Who speaks this line? A labelled text task cut from tiny Shakespeare (chapter 14).

Each speech in the plays starts with its speaker's name on a line of its own (``"ROMEO:"``). The
task keeps the speeches of the speakers who say the most in the *last* part of the text, the part a
model pretrained on the first 90% never saw, cuts them into pieces the size of the model's context,
and asks which of them speaks each piece. When the text
is not tiny Shakespeare (offline, the generated play), speakers have no style of their own there,
so a generated play whose speakers each have a distinct way of talking stands in.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import dataclass

from .shakespeare import SHA256

__all__ = ["SpeakerTask", "generated_speeches", "speaker_task", "speeches", "windows"]


@dataclass
class SpeakerTask:
    """Pieces of speeches labelled by speaker: ``train``/``test`` hold ``(text, label)``, labels index ``names``."""

    names: list[str]
    train: list[tuple[str, int]]
    test: list[tuple[str, int]]
    source: str  # "tiny-shakespeare" or "generated"


def speeches(text: str, start: int = 0) -> list[tuple[str, str]]:
    """``(speaker, speech)`` pairs of a play-formatted text, from character offset ``start`` on.

    A speech is a block of lines after a ``"NAME:"`` line, up to the next blank line.
    """
    out = []
    for block in text[start:].split("\n\n"):
        lines = block.strip("\n").split("\n")
        if len(lines) >= 2 and lines[0].endswith(":") and len(lines[0]) < 40:
            out.append((lines[0][:-1], "\n".join(lines[1:])))
    return out


_STYLES = [  # each generated speaker's own words: opener, subjects, verbs
    ("O", ["my love", "sweet night", "fair moon"], ["doth sigh for", "would kiss", "dreams of"]),
    (
        "Fie",
        ["thou knave", "this villain", "the rogue"],
        ["shall hang", "must pay for", "did steal"],
    ),
    (
        "My liege",
        ["the crown", "our army", "the realm"],
        ["must defend", "shall rule", "will march on"],
    ),
    ("Alas", ["poor soul", "my child", "the dead"], ["cannot mend", "did lose", "weeps for"]),
    (
        "Come",
        ["good wine", "the feast", "merry men"],
        ["will drink", "shall sing of", "bring forth"],
    ),
    ("Peace", ["the gods", "holy heaven", "the church"], ["do pray for", "shall bless", "forgive"]),
    ("Hark", ["the storm", "the sea", "a ship"], ["doth break", "will drown", "tosses"]),
    ("Nay", ["the law", "this bond", "the judge"], ["must weigh", "shall read", "doth forbid"]),
]
_COMMON = ["the day", "a friend", "the world", "this house", "my lord", "the king"]
_VERBS = ["doth see", "shall keep", "hath", "will find", "may take"]


def generated_speeches(
    n_speakers: int = 6, n_speeches: int = 600, seed: int = 0
) -> list[tuple[str, str]]:
    """``(speaker, speech)`` pairs in which each speaker favours their own words (60% of clauses)."""
    if not 2 <= n_speakers <= len(_STYLES):
        raise ValueError(f"n_speakers must be in 2..{len(_STYLES)}, got {n_speakers}")
    rng = random.Random(seed)
    names = ["ALDRIC", "BERENICE", "CASSIAN", "DOROTHEA", "EDMUND", "FENELLA", "GARRICK", "HONORIA"]
    out = []
    for _ in range(n_speeches):
        k = rng.randrange(n_speakers)
        opener, subjects, verbs = _STYLES[k]
        lines = []
        for _ in range(rng.randint(1, 3)):
            own = rng.random() < 0.6
            subj = rng.choice(subjects if own else _COMMON)
            verb = rng.choice(verbs if rng.random() < 0.6 else _VERBS)
            obj = rng.choice(_COMMON + subjects)
            line = f"{subj} {verb} {obj}."
            if rng.random() < 0.4:
                line = f"{opener}, {line}"
            lines.append(line[0].upper() + line[1:])
        out.append((names[k], "\n".join(lines)))
    return out


def windows(speech: str, window: int) -> list[str]:
    """``speech`` cut into consecutive pieces of ``window`` characters; a last piece under half a
    window is dropped (a speech shorter than that gives one piece, the whole speech)."""
    if not isinstance(window, int) or window < 2:
        raise ValueError(f"window must be an int >= 2 (characters), got {window!r}")
    pieces = [speech[i : i + window] for i in range(0, len(speech), window)]
    return [p for p in pieces if len(p) >= window // 2] or [speech]


def speaker_task(
    text: str,
    n_speakers: int = 2,
    window: int = 64,
    start_frac: float = 0.9,
    test_frac: float = 0.3,
    seed: int = 0,
    verbose: bool = True,
) -> SpeakerTask:
    """Which of the ``n_speakers`` speakers who say the most after ``start_frac`` speaks each piece.

    Speakers are ranked by how many characters they speak. Each speech is cut into pieces of
    ``window`` characters (the classifier's context), so a long speech gives several examples.
    The *speeches* are split at random (``seed``) into train and test, ``test_frac`` of them for
    test, so no speech has pieces on both sides. For a text other than tiny Shakespeare, uses
    ``generated_speeches`` and says so.
    """
    if not 0 < start_frac < 1 or not 0 < test_frac < 1:
        raise ValueError(
            f"start_frac and test_frac must be in (0, 1), got {start_frac}, {test_frac}"
        )
    if not isinstance(n_speakers, int) or n_speakers < 2:
        raise ValueError(f"n_speakers must be an int >= 2, got {n_speakers!r}")
    if hashlib.sha256(text.encode()).hexdigest() == SHA256:
        pairs, source = speeches(text, int(start_frac * len(text))), "tiny-shakespeare"
    else:
        if verbose:
            print(
                "Not tiny Shakespeare: using generated speeches whose speakers each have a style."
            )
        pairs, source = generated_speeches(n_speakers, seed=seed), "generated"
    spoken: Counter[str] = Counter()
    for name, speech in pairs:
        spoken[name] += len(speech)
    names = [name for name, _ in spoken.most_common(n_speakers)]
    label = {name: i for i, name in enumerate(names)}
    data = [(speech, label[s]) for s, speech in pairs if s in label]
    random.Random(seed).shuffle(data)
    n_test = int(round(test_frac * len(data)))

    def cut(part: list[tuple[str, int]]) -> list[tuple[str, int]]:
        return [(piece, y) for speech, y in part for piece in windows(speech, window)]

    return SpeakerTask(names, cut(data[n_test:]), cut(data[:n_test]), source)
