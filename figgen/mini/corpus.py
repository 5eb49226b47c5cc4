"""A deterministic training corpus for `mini`: the site's tasks, copying, and ordinary sentences.

`generate(seed)` returns a list of short documents; the same seed gives the same list, byte for
byte. Mixture (by document count): successor facts about days, months and numbers in many frames;
repeated phrases with an arbitrary word to copy (what induction heads learn from); the seeds'
showcase sentences ("The baseball player hit a home run", "Transformer tokens"); and sentences
from a small template grammar, which also put the held-out copy words into the vocabulary.
"""

from __future__ import annotations

import random

from .prompts import COPY_TEMPLATES, COPY_WORDS, DAYS, MONTHS

NOUNS = ["cat", "dog", "teacher", "child", "farmer", "river", "city", "book", "letter", "garden",
         "window", "doctor", "train", "student", "bird", "mountain", "story", "song", "house", "road",
         "player", "team", "ball", "game", "model", "token", "word", "sentence", "computer", "friend"]
VERBS = ["saw", "found", "liked", "painted", "carried", "opened", "followed", "visited", "built",
         "read", "wrote", "heard", "watched", "cleaned", "moved", "counted", "named", "helped"]
ADJECTIVES = ["small", "old", "bright", "quiet", "green", "heavy", "quick", "strange", "happy",
              "cold", "warm", "tall", "empty", "famous", "careful", "early", "late", "simple"]
PLACES = ["in the park", "at school", "near the lake", "by the station", "on the hill",
          "in the kitchen", "at the market", "under the bridge", "in the morning", "after lunch"]
# Words for the copy task in training. COPY_WORDS are kept out of this role (held out for testing).
TRAIN_COPY_WORDS = ["apple", "river", "copper", "silver", "thunder", "pencil", "rocket", "garden",
                    "mirror", "candle", "feather", "island", "jacket", "kettle", "ladder", "magnet",
                    "needle", "ocean", "pillow", "rabbit", "spider", "tomato", "wallet", "zebra",
                    "basket", "bottle", "button", "carpet", "dragon", "engine", "forest", "guitar",
                    "hammer", "helmet", "jungle", "kitten", "lemon", "monkey", "napkin", "orange",
                    "parrot", "pocket", "rocket", "salmon", "ticket", "turtle", "valley", "window"]

DAY_FRAMES = [
    "If today is {a}, tomorrow is {b}.",
    "If today is {a}, then tomorrow is {b}.",
    "Today is {a}, so tomorrow is {b}.",
    "The day after {a} is {b}.",
    "After {a} comes {b}.",
    "If it is {a} today, it will be {b} tomorrow.",
    "Yesterday was {a}, and today is {b}.",
]
MONTH_FRAMES = [
    "If this month is {a}, next month is {b}.",
    "If this month is {a}, then next month is {b}.",
    "The month after {a} is {b}.",
    "After {a} comes {b}.",
    "This month is {a}, so next month is {b}.",
    "Last month was {a}, and this month is {b}.",
]
NUMBER_FRAMES = [
    "If the number is {a}, the next is {b}.",
    "If the number is {a}, then the next is {b}.",
    "The number after {a} is {b}.",
    "After {a} comes {b}.",
    "Count: {a}, {b}.",
    "{a} plus one is {b}.",
]
COPY_FRAMES = [
    *COPY_TEMPLATES,
    "Sometimes, when people say {w}, they mean {m}. Other times, when people say",
    "When people say {w}, they often mean {m}. But when people say",
    "I heard someone say {w} at the station. Later, I heard someone say",
    "The answer was {w}, and when they asked again, the answer was",
    "She chose the {w} card. He also chose the",
    "We named the boat {w}. Everyone agreed to call the boat",
]


def successor_doc(rng: random.Random, items: list[str], frames: list[str]) -> str:
    """One or a few successor facts, e.g. 'If today is Monday, tomorrow is Tuesday.'"""
    sentences = []
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(items))
        sentences.append(rng.choice(frames).format(a=items[i], b=items[(i + 1) % len(items)]))
    return " ".join(sentences)


def sequence_doc(rng: random.Random, items: list[str]) -> str:
    """A run of consecutive items: 'Wednesday, Thursday, Friday, Saturday'."""
    start, length = rng.randrange(len(items)), rng.randint(3, 8)
    return ", ".join(items[(start + k) % len(items)] for k in range(length)) + "."


def number_doc(rng: random.Random) -> str:
    n = rng.randint(1, 99)
    if rng.random() < 0.3:
        length = rng.randint(3, 8)
        return ", ".join(str(n + k) for k in range(length)) + "."
    return rng.choice(NUMBER_FRAMES).format(a=n, b=n + 1)


FRAME_WORDS = TRAIN_COPY_WORDS + NOUNS + ADJECTIVES + VERBS  # never COPY_WORDS: those are held out
SEQUENCE_WORDS = FRAME_WORDS + COPY_WORDS


def filler(rng: random.Random) -> str:
    """A few arbitrary words ('a state of cold water'): varies the distance the copy must reach."""
    head = rng.choice(["a", "the", "a kind of", "a state of", "some", "one"])
    words = [rng.choice(ADJECTIVES + NOUNS) for _ in range(rng.randint(1, 4))]
    return " ".join([head, *words])


def copy_doc(rng: random.Random) -> str:
    """A phrase with an arbitrary word, repeated so the word must be copied from earlier.

    With ~150 possible words no answer can be memorised, so the model has to learn a general copy
    (induction) mechanism. Held-out words appear in repeated random sequences and ordinary
    sentences, never in the copy frames that the evaluation uses.
    """
    if rng.random() < 0.5:
        w = rng.choice(FRAME_WORDS)
        return rng.choice(COPY_FRAMES).format(w=w, m=filler(rng)) + " " + w + "."
    # Random word sequences repeated verbatim: the purest induction signal.
    words = [rng.choice(SEQUENCE_WORDS) for _ in range(rng.randint(3, 8))]
    return " ".join(words) + ". " + " ".join(words) + "."


def showcase_doc(rng: random.Random) -> str:
    return rng.choice([
        "The baseball player hit a home run.",
        "The baseball player hit a home run, and the team won the game.",
        f"The {rng.choice(ADJECTIVES)} baseball player hit a home run.",
        "Transformer tokens are vectors in the residual stream.",
        "Transformer tokens move through every layer of the model.",
        "A transformer reads tokens and predicts the next token.",
        "Transformer tokens",
    ])


def plain_doc(rng: random.Random) -> str:
    """An ordinary sentence or two; also how the held-out copy words enter the vocabulary."""
    def np_() -> str:
        noun = rng.choice(NOUNS + COPY_WORDS) if rng.random() < 0.3 else rng.choice(NOUNS)
        return f"the {rng.choice(ADJECTIVES)} {noun}" if rng.random() < 0.5 else f"the {noun}"

    sentences = []
    for _ in range(rng.randint(1, 2)):
        s = f"{np_()} {rng.choice(VERBS)} {np_()} {rng.choice(PLACES)}."
        if rng.random() < 0.3:
            s = f"On {rng.choice(DAYS)}, {s}"
        elif rng.random() < 0.2:
            s = f"In {rng.choice(MONTHS)}, {s}"
        sentences.append(s[0].upper() + s[1:])
    return " ".join(sentences)


MIXTURE = [  # (weight, generator)
    (3, lambda rng: successor_doc(rng, DAYS, DAY_FRAMES)),
    (3, lambda rng: successor_doc(rng, MONTHS, MONTH_FRAMES)),
    (1, lambda rng: sequence_doc(rng, DAYS)),
    (1, lambda rng: sequence_doc(rng, MONTHS)),
    (4, number_doc),
    (10, copy_doc),
    (1, showcase_doc),
    (4, plain_doc),
]


def generate(seed: int = 0, n_docs: int = 60_000) -> list[str]:
    """`n_docs` documents, deterministic in `seed`."""
    rng = random.Random(seed)
    weights = [w for w, _ in MIXTURE]
    makers = [m for _, m in MIXTURE]
    return [rng.choices(makers, weights)[0](rng) for _ in range(n_docs)]
