"""Captions of calibration scenes and the word-level tokenizer of the calibration text tower.

A caption names a random subset of a scene's attributes through one of several templates:
"a red star", "an image of a small blue circle on a striped yellow background",
"a picture of a shape on the left", ...
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from singaudit.calibration import scenes as S

PATTERN_WORDS = ("plain", "striped", "dotted", "checkered", "noisy")
HORIZONTAL_PHRASES = ("on the left", "in the centre", "on the right")
VERTICAL_PHRASES = ("at the top", "", "at the bottom")
PREFIXES = ("", "an image of ", "a picture of ", "a photo of ", "a drawing of ")
GENERIC_NOUNS = ("shape", "object")

# Probability that a caption names each attribute (the shape most often).
MENTION_PROBABILITY = {
    "shape": 0.8,
    "colour": 0.6,
    "size": 0.3,
    "pattern": 0.5,
    "background": 0.5,
    "position": 0.3,
}

ZERO_SHOT_TEMPLATES = {
    "shape": "an image of a {}",
    "colour": "an image of a {} shape",
    "pattern": "an image of a shape on a {} background",
}

MAX_TOKENS = 20
PAD, UNK = "<pad>", "<unk>"


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def describe(
    *,
    shape: str | None = None,
    colour: str | None = None,
    size: str | None = None,
    pattern: str | None = None,
    background: str | None = None,
    position: str | None = None,
    prefix: str = "",
    noun: str = "shape",
) -> str:
    """One caption from the attributes given (None = not named)."""
    words = [w for w in (size, colour, shape or noun) if w]
    text = f"{prefix}{_article(words[0])} {' '.join(words)}"
    if position:
        text += f" {position}"
    if pattern or background:
        back = [w for w in (pattern, background) if w] + ["background"]
        text += f" on {_article(back[0])} {' '.join(back)}"
    return text


def captions_for(params: S.SceneParams, rng: np.random.Generator) -> list[str]:
    """One random caption per scene, naming a random subset of its attributes."""
    n = len(params)
    mention = {k: rng.random(n) < p for k, p in MENTION_PROBABILITY.items()}
    prefix = rng.integers(0, len(PREFIXES), n)
    noun = rng.integers(0, len(GENERIC_NOUNS), n)
    size_index = S.size_word(params.size)
    horizontal, vertical = S.position_words(params.centre)
    which_position = rng.integers(0, 3, n)  # horizontal, vertical, or both
    out = []
    for i in range(n):
        position = None
        if mention["position"][i]:
            parts = []
            if which_position[i] != 1:
                parts.append(HORIZONTAL_PHRASES[horizontal[i]])
            if which_position[i] != 0 and VERTICAL_PHRASES[vertical[i]]:
                parts.append(VERTICAL_PHRASES[vertical[i]])
            position = " and ".join(parts) or None
        out.append(
            describe(
                shape=S.SHAPES[params.shape[i]] if mention["shape"][i] else None,
                colour=S.COLOURS[params.colour[i]] if mention["colour"][i] else None,
                size=S.SIZES[size_index[i]] if mention["size"][i] else None,
                pattern=PATTERN_WORDS[params.pattern[i]] if mention["pattern"][i] else None,
                background=S.COLOURS[params.background[i]] if mention["background"][i] else None,
                position=position,
                prefix=PREFIXES[prefix[i]],
                noun=GENERIC_NOUNS[noun[i]],
            )
        )
    return out


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def _build_vocabulary() -> tuple[str, ...]:
    phrases = [
        *S.SHAPES,
        *S.COLOURS,
        *S.SIZES,
        *PATTERN_WORDS,
        *HORIZONTAL_PHRASES,
        *VERTICAL_PHRASES,
        *PREFIXES,
        *GENERIC_NOUNS,
        "a an on and background",
    ]
    words = sorted({w for phrase in phrases for w in _words(phrase)})
    return (PAD, UNK, *words)


VOCABULARY = _build_vocabulary()
_INDEX = {w: i for i, w in enumerate(VOCABULARY)}


def tokenize(texts: Sequence[str], max_tokens: int = MAX_TOKENS) -> np.ndarray:
    """(n, max_tokens) int64 word ids, 0-padded; unknown words map to <unk>, extra words are cut."""
    ids = np.zeros((len(texts), max_tokens), dtype=np.int64)
    for row, text in enumerate(texts):
        tokens = [_INDEX.get(w, 1) for w in _words(text)][:max_tokens]
        ids[row, : len(tokens)] = tokens
    return ids
