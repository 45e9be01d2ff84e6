"""Build the open vocabulary of the concepts check's sparse method from wordfreq's English list.

    .venv/bin/python scripts/build_vocabulary.py            # writes the shipped list
    .venv/bin/python scripts/build_vocabulary.py --size 20000 --out /tmp/words.txt

Filters, in order, over wordfreq's frequency-ranked English words (``top_n_list("en", ...)``):
lower-case ASCII letters only (no digits, apostrophes or hyphens); 3 to 20 letters; not an
English function word (scikit-learn's ENGLISH_STOP_WORDS); not on the short list of slurs and
profanity below; a plural is dropped when its singular is on the list (plurals name the same
concept). Two-word phrases come from a curated list (scripts/vocabulary_phrases.txt: visual
concepts one word does not name, e.g. "stop sign", "polka dot"), kept when every word passes the
same character and blocked-word filters (wordfreq counts single tokens, so it has no bigram
frequencies to rank phrases by). The phrases come first, then the first words that pass, most
frequent first, ``--size`` entries in all. wordfreq has no part-of-speech tags, so verbs and names
stay in. The word list is derived from wordfreq's data (CC BY-SA 4.0, Robyn Speer et al.).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "singaudit/checks/vocabularies/words.txt"
PHRASES = Path(__file__).resolve().parent / "vocabulary_phrases.txt"
TEMPLATE = "{concept}"  # SpLiCE embeds bare words; centring removes what all prompts share
# Kept out of a vocabulary shipped with a tool; a user may add any of them (extra_concepts).
BLOCKED = frozenset((
    "fuck", "fucking", "fucked", "fucker", "shit", "shitty", "bitch", "bitches", "cunt", "twat",
    "dick", "cock", "pussy", "asshole", "bastard", "slut", "whore", "nigga", "nigger", "faggot",
    "fag", "retard", "retarded", "porn", "porno", "xxx", "hentai", "milf", "dildo",
))


def phrases() -> list[str]:
    """The curated two-word phrases whose words pass the word filters (stop words allowed)."""
    lines = [" ".join(line.split()) for line in PHRASES.read_text(encoding="utf-8").splitlines()]
    return list(dict.fromkeys(
        line for line in lines if line and not line.startswith("#")
        and all(re.fullmatch(r"[a-z]{1,20}", w) and w not in BLOCKED for w in line.split())))


def build(size: int) -> list[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    from wordfreq import top_n_list

    ranked = top_n_list("en", 200_000)
    chosen = phrases()
    candidates = [w for w in ranked if re.fullmatch(r"[a-z]{3,20}", w)
                  and w not in ENGLISH_STOP_WORDS and w not in BLOCKED]
    known = set(candidates)
    words = list(chosen)
    for word in candidates:
        singular = (word[:-2] if word.endswith("es") and word[:-2] in known
                    else word[:-1] if word.endswith("s") and not word.endswith("ss") else None)
        if singular is not None and singular in known:
            continue
        words.append(word)
        if len(words) == size:
            break
    return words


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=15_000)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    from importlib.metadata import version

    words = build(args.size)
    header = [
        (f"# {len(words)} English concepts ({len(phrases())} curated two-word phrases, then "
         "words most frequent first): scripts/build_vocabulary.py over"),
        (f"# wordfreq {version('wordfreq')} (data CC BY-SA 4.0, Robyn Speer et al.); filters "
         "in the script's docstring."),
        f"# template: {TEMPLATE}",
    ]
    args.out.write_text("\n".join(header + words) + "\n", encoding="utf-8")
    print(f"{len(words)} words -> {args.out}")


if __name__ == "__main__":
    main()
