"""A generated text-classification data set of labelled sentences (chapter 08).

Five topics (sports, food, weather, technology, music). Every sentence is one of a few shared
templates filled with words from the topic's word lists, so the template says nothing about the
topic: a model has to learn what the *words* mean. Four things make it less than trivial:

* words are drawn with Zipf-like frequencies, so some words are rare (seen a handful of times in
  training, or never: they become ``<unk>``);
* some words belong to two topics (``cloud``: weather and technology, ``pitch``: sports and music);
* a few templates hold a single topic noun ("have you seen the cloud"), which may be rare or
  ambiguous: some of those sentences cannot be classified with certainty by anyone;
* a fraction ``hard_frac`` of the sentences with two or more topic words gets a distractor clause
  about another topic ("..., unlike the fog"): the label is the topic of the main clause, which
  holds more topic words than the distractor.

Everything is drawn from ``random.Random(seed)`` alone: the same seed gives the same sentences on
every machine. Sentences are unique, and the train/val/test split is stratified (each split holds
the same number of sentences of every class).
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass

import torch

__all__ = [
    "AMBIGUOUS_WORDS",
    "MAX_PER_CLASS",
    "TOPICS",
    "TOPIC_WORDS",
    "TextSplit",
    "TopicSentences",
    "load_topic_sentences",
    "make_topic_sentences",
]

#: The most sentences per topic ``make_topic_sentences`` generates (all distinct).
MAX_PER_CLASS = 20_000

TOPICS: tuple[str, ...] = ("sports", "food", "weather", "technology", "music")

# Per topic: nouns (the subject of a sentence), verb phrases and adjectives. Within each list the
# first words are common and the last ones rare (Zipf-like sampling weights 1 / rank^1.5).
_NOUNS: dict[str, list[str]] = {
    "sports": [
        "team",
        "match",
        "coach",
        "goal",
        "season",
        "striker",
        "referee",
        "stadium",
        "league",
        "tournament",
        "keeper",
        "pitch",
        "record",
        "fan",
        "defender",
        "trophy",
        "marathon",
        "sprinter",
        "umpire",
        "racket",
        "jersey",
        "playoff",
        "dugout",
        "relay",
    ],
    "food": [
        "soup",
        "recipe",
        "pizza",
        "bread",
        "chef",
        "salad",
        "dessert",
        "sauce",
        "kitchen",
        "apple",
        "chip",
        "jam",
        "oven",
        "noodles",
        "cheese",
        "server",
        "pastry",
        "curry",
        "dumpling",
        "omelette",
        "sourdough",
        "risotto",
        "brisket",
        "marinade",
    ],
    "weather": [
        "rain",
        "storm",
        "forecast",
        "wind",
        "cloud",
        "snow",
        "sunshine",
        "temperature",
        "thunder",
        "fog",
        "heatwave",
        "drizzle",
        "frost",
        "humidity",
        "hail",
        "breeze",
        "blizzard",
        "monsoon",
        "drought",
        "tornado",
        "sleet",
        "rainbow",
        "gust",
        "downpour",
    ],
    "technology": [
        "laptop",
        "software",
        "phone",
        "server",
        "cloud",
        "chip",
        "battery",
        "app",
        "update",
        "keyboard",
        "network",
        "database",
        "apple",
        "stream",
        "fan",
        "processor",
        "browser",
        "router",
        "compiler",
        "firmware",
        "algorithm",
        "cursor",
        "bandwidth",
        "kernel",
    ],
    "music": [
        "song",
        "band",
        "album",
        "concert",
        "guitar",
        "singer",
        "melody",
        "drummer",
        "chorus",
        "pitch",
        "record",
        "jam",
        "stream",
        "orchestra",
        "lyrics",
        "violin",
        "rhythm",
        "piano",
        "choir",
        "tempo",
        "saxophone",
        "ballad",
        "symphony",
        "harmony",
    ],
}
_VERBS: dict[str, list[str]] = {
    "sports": [
        "won the final",
        "scored twice",
        "lost at home",
        "trained hard",
        "went to overtime",
        "missed a penalty",
        "took the lead",
        "defended well",
        "broke the record",
        "qualified for the cup",
    ],
    "food": [
        "tasted delicious",
        "was overcooked",
        "needed more salt",
        "smelled amazing",
        "was baked fresh",
        "came out spicy",
        "was served warm",
        "went stale",
        "was simmered slowly",
        "was grilled",
    ],
    "weather": [
        "hit the coast",
        "cooled the city",
        "flooded the streets",
        "cleared by noon",
        "was forecast for tonight",
        "froze the roads",
        "brought heavy showers",
        "lasted all week",
        "drifted inland",
        "warmed the valley",
    ],
    "technology": [
        "crashed again",
        "needs a reboot",
        "was patched",
        "runs much faster",
        "lost the connection",
        "was installed",
        "drains the power",
        "got a security fix",
        "was debugged",
        "synced overnight",
    ],
    "music": [
        "played all night",
        "topped the charts",
        "was out of tune",
        "sold out",
        "was remixed",
        "went on tour",
        "was recorded live",
        "sounded loud",
        "hit the high notes",
        "was rehearsed",
    ],
}
_ADJECTIVES: dict[str, list[str]] = {
    "sports": ["athletic", "competitive", "unbeaten", "offside", "injured", "undefeated"],
    "food": ["tasty", "crispy", "salty", "juicy", "savory", "creamy"],
    "weather": ["rainy", "windy", "sunny", "chilly", "humid", "stormy"],
    "technology": ["digital", "wireless", "buggy", "encrypted", "portable", "outdated"],
    "music": ["acoustic", "catchy", "melodic", "rhythmic", "orchestral", "upbeat"],
}
# Shared by every topic (no signal): these are what a bag-of-embeddings model must learn to ignore.
_NEUTRAL_ADJ = ["new", "great", "strange", "big", "famous", "terrible", "quiet", "local", "old"]
_TIMES = ["today", "yesterday", "this morning", "last night", "again", "on sunday", "at last"]
_SPEAKERS = ["everyone", "my friend", "the news", "a reporter", "my neighbour", "the teacher"]

# {n}: topic noun, {v}: topic verb phrase, {a}: topic adjective, {g}: neutral adjective,
# {t}: time, {s}: speaker. Most templates carry at least two topic words; the last three carry a
# single noun, so a rare or ambiguous noun there leaves the topic uncertain.
_TEMPLATES = [
    "the {g} {n} {v} {t}",
    "the {a} {n} {v}",
    "{s} said the {n} {v}",
    "{t} the {n} {v}",
    "i think the {a} {n} {v}",
    "the {n} and the {n2} {v}",
    "{s} loved the {a} {n}",
    "what a {a} {n} {t}",
    "the {n} {v} and the {n2} {v2}",
    "{s} says the {g} {n} {v} {t}",
    "a {a} {n} and a {g} {n2}",
    "the {n} {v} , {s} said",
    "{s} talked about the {g} {n} {t}",
    "have you seen the {n}",
    "the {n} was {g} {t}",
]
_SINGLE_NOUN_TEMPLATES = 3  # the last three: never given a distractor
_DISTRACTORS = [", unlike the {n}", "despite the {n}", ", not the {n}", "while the {n} was {g}"]


def _word_topics() -> dict[str, tuple[str, ...]]:
    topics: dict[str, list[str]] = {}
    for t in TOPICS:
        for w in _NOUNS[t] + _ADJECTIVES[t]:
            topics.setdefault(w, []).append(t)
    return {w: tuple(ts) for w, ts in topics.items()}


#: Topic noun or adjective -> the topics that use it (two topics for an ambiguous word).
TOPIC_WORDS: dict[str, tuple[str, ...]] = _word_topics()
#: Nouns that belong to two topics (e.g. ``cloud``): the usual source of the model's mistakes.
AMBIGUOUS_WORDS: tuple[str, ...] = tuple(sorted(w for w, ts in TOPIC_WORDS.items() if len(ts) > 1))


def _zipf(words: list[str]) -> list[float]:
    return [1.0 / (rank + 1) ** 1.5 for rank in range(len(words))]


class _Sampler:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.nw = {t: _zipf(_NOUNS[t]) for t in TOPICS}

    def noun(self, topic: str, avoid: str = "") -> str:
        while True:
            w = self.rng.choices(_NOUNS[topic], weights=self.nw[topic])[0]
            if w != avoid:
                return w

    def sentence(self, topic: str, hard: bool) -> str:
        r = self.rng
        n = self.noun(topic)
        slots = {
            "n": n,
            "n2": self.noun(topic, avoid=n),
            "v": r.choice(_VERBS[topic]),
            "v2": r.choice(_VERBS[topic]),
            "a": r.choice(_ADJECTIVES[topic]),
            "g": r.choice(_NEUTRAL_ADJ),
            "t": r.choice(_TIMES),
            "s": r.choice(_SPEAKERS),
        }
        k = r.randrange(len(_TEMPLATES))
        text = _TEMPLATES[k].format(**slots)
        if hard and k < len(_TEMPLATES) - _SINGLE_NOUN_TEMPLATES:
            other = r.choice([t for t in TOPICS if t != topic])
            text += " " + r.choice(_DISTRACTORS).format(n=self.noun(other), g=slots["g"])
        return re.sub(r"\ba (?=[aeiou])", "an ", text)


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return value


def _check_frac(name: str, value: object) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and 0 <= value < 1):
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def make_topic_sentences(
    n_per_class: int = 400, seed: int = 0, hard_frac: float = 0.2
) -> tuple[list[str], torch.Tensor]:
    """``n_per_class`` unique sentences per topic, shuffled. -> texts (N,) and labels (N,) int64.

    Label ``k`` is the topic ``TOPICS[k]``; ``N = n_per_class * len(TOPICS)``. A fraction
    ``hard_frac`` of the sentences with two or more topic words gets a distractor clause about
    another topic.
    """
    _check_int("n_per_class", n_per_class, 1)
    if n_per_class > MAX_PER_CLASS:
        raise ValueError(f"n_per_class={n_per_class} is above the limit of {MAX_PER_CLASS}")
    _check_int("seed", seed, 0)
    hard_frac = _check_frac("hard_frac", hard_frac)
    rng = random.Random(seed)
    sampler = _Sampler(rng)
    seen: set[str] = set()
    pairs: list[tuple[str, int]] = []
    for label, topic in enumerate(TOPICS):
        count, misses = 0, 0
        while count < n_per_class:
            text = sampler.sentence(topic, hard=rng.random() < hard_frac)
            if text in seen:
                misses += 1
                if misses > 10_000:  # pragma: no cover - needs far more than the cap allows
                    raise ValueError(
                        f"could not generate {n_per_class} distinct sentences for topic "
                        f"{topic!r} (got {count}); ask for fewer"
                    )
                continue
            seen.add(text)
            pairs.append((text, label))
            count, misses = count + 1, 0
    rng.shuffle(pairs)
    texts = [t for t, _ in pairs]
    labels = torch.tensor([y for _, y in pairs], dtype=torch.long)
    return texts, labels


@dataclass(frozen=True)
class TextSplit:
    """One split: ``texts`` (N sentences) and ``labels`` (N,) int64 topic indices."""

    texts: list[str]
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.texts)


@dataclass(frozen=True)
class TopicSentences:
    """The data set: three stratified splits and the class names (``classes[k]`` is label k)."""

    train: TextSplit
    val: TextSplit
    test: TextSplit
    classes: tuple[str, ...] = TOPICS


def load_topic_sentences(
    n_per_class: int = 400,
    seed: int = 0,
    val_frac: float = 0.2,
    test_frac: float = 0.2,
    hard_frac: float = 0.2,
) -> TopicSentences:
    """Generate the topic sentences and split them, stratified by class, into train/val/test.

    Each split holds ``round(n_per_class * frac)`` sentences of every class (train takes the rest,
    at least one per class). Nothing is downloaded.
    """
    val_frac = _check_frac("val_frac", val_frac)
    test_frac = _check_frac("test_frac", test_frac)
    _check_int("n_per_class", n_per_class, 1)
    n_val, n_test = round(n_per_class * val_frac), round(n_per_class * test_frac)
    if n_per_class - n_val - n_test < 1:
        raise ValueError(
            f"val_frac={val_frac} and test_frac={test_frac} leave no training sentences "
            f"out of n_per_class={n_per_class}"
        )
    texts, labels = make_topic_sentences(n_per_class, seed, hard_frac)
    parts: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    taken = [0] * len(TOPICS)
    for i, y in enumerate(labels.tolist()):  # sentences are already shuffled
        k = taken[y]
        taken[y] += 1
        parts["val" if k < n_val else "test" if k < n_val + n_test else "train"].append(i)

    def split(ix: list[int]) -> TextSplit:
        return TextSplit([texts[i] for i in ix], labels[ix])

    return TopicSentences(split(parts["train"]), split(parts["val"]), split(parts["test"]))
