"""Robustness: seeded, meaning-preserving perturbations of a task's input (HELM's robustness perturbations, in the
spirit of its MildMix), and the worst case per sample over the clean input and every perturbation.

A perturbation rewrites the string values of the task's input fields (`Task.perturbed_fields`: the fields its prompt
reads, never the target or the choices) and nothing else; few-shot examples stay clean. It is deterministic per
(seed, task, row, perturbation): the same run gives the same perturbed text, and a row's text does not depend on
which other rows are evaluated (`--limit`, sharding).

- lowercase: the whole input in lower case.
- contractions: contracted forms expanded and expandable phrases contracted ("do not" <-> "don't").
- misspellings: character-level typos in about one word in ten of three letters or more (a keyboard neighbour
  replaces a letter, two inner letters swap, or a letter is doubled or dropped).
- whitespace: each space becomes one to three spaces.

The worst case of a per-sample metric (accuracy, MC2, ...) is, per sample, the lowest score over {clean,
perturbations} (the highest for lower-is-better metrics), averaged with a bootstrap stderr. Corpus metrics (BLEU,
chrF) are reported per perturbation only: a corpus score has no per-sample worst case.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Iterable

from .errors import SettingError

MILD = ("lowercase", "contractions", "misspellings", "whitespace")

_CONTRACTIONS = {
    "are not": "aren't",
    "cannot": "can't",
    "could not": "couldn't",
    "did not": "didn't",
    "does not": "doesn't",
    "do not": "don't",
    "had not": "hadn't",
    "has not": "hasn't",
    "have not": "haven't",
    "he is": "he's",
    "he will": "he'll",
    "i am": "i'm",
    "i have": "i've",
    "i will": "i'll",
    "i would": "i'd",
    "is not": "isn't",
    "it is": "it's",
    "let us": "let's",
    "she is": "she's",
    "she will": "she'll",
    "should not": "shouldn't",
    "that is": "that's",
    "there is": "there's",
    "they are": "they're",
    "they have": "they've",
    "they will": "they'll",
    "was not": "wasn't",
    "we are": "we're",
    "we have": "we've",
    "we will": "we'll",
    "were not": "weren't",
    "what is": "what's",
    "who is": "who's",
    "will not": "won't",
    "would not": "wouldn't",
    "you are": "you're",
    "you have": "you've",
    "you will": "you'll",
}
_EXPANSIONS = {short: long for long, short in _CONTRACTIONS.items()}
_KEYBOARD = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]


def _neighbours() -> dict[str, str]:
    """Letters next to each letter on a QWERTY keyboard (same row and the rows above and below)."""
    position = {ch: (r, c) for r, row in enumerate(_KEYBOARD) for c, ch in enumerate(row)}
    return {
        ch: "".join(
            other for other, (r2, c2) in position.items() if other != ch and abs(r2 - r) <= 1 and abs(c2 - c) <= 1
        )
        for ch, (r, c) in position.items()
    }


_NEIGHBOURS = _neighbours()


def _phrase_pattern(phrases: Iterable[str]) -> re.Pattern:
    alternatives = sorted((re.escape(p).replace(r"\ ", r"\s+") for p in phrases), key=len, reverse=True)
    return re.compile(r"(?<![\w'])(" + "|".join(alternatives) + r")(?![\w'])", re.IGNORECASE)


_CONTRACTIBLE, _EXPANDABLE = _phrase_pattern(_CONTRACTIONS), _phrase_pattern(_EXPANSIONS)


def _same_case(replacement: str, original: str) -> str:
    if original.isupper() and len(original) > 1:
        return replacement.upper()
    if original[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


def lowercase(text: str, rng: random.Random) -> str:
    return text.lower()


def contractions(text: str, rng: random.Random) -> str:
    def expand(match: re.Match) -> str:
        return _same_case(_EXPANSIONS[match.group(0).lower()], match.group(0))

    def contract(match: re.Match) -> str:
        return _same_case(_CONTRACTIONS[re.sub(r"\s+", " ", match.group(0).lower())], match.group(0))

    # one pass each way, marking expanded text so it is not contracted back
    expanded = _EXPANDABLE.sub(lambda m: "\0" + expand(m) + "\0", text)
    parts = expanded.split("\0")
    return "".join(part if i % 2 else _CONTRACTIBLE.sub(contract, part) for i, part in enumerate(parts))


def misspellings(text: str, rng: random.Random, rate: float = 0.1) -> str:
    def typo(match: re.Match) -> str:
        word = match.group(0)
        if rng.random() >= rate:
            return word
        i = rng.randrange(len(word))
        kind = rng.choice(("neighbour", "swap", "double", "drop"))
        if kind == "neighbour" and word[i].lower() in _NEIGHBOURS:
            letter = rng.choice(_NEIGHBOURS[word[i].lower()])
            return word[:i] + (letter.upper() if word[i].isupper() else letter) + word[i + 1 :]
        if kind == "swap" and len(word) > 3:
            j = rng.randrange(1, len(word) - 2)
            return word[:j] + word[j + 1] + word[j] + word[j + 2 :]
        if kind == "double":
            return word[: i + 1] + word[i] + word[i + 1 :]
        return word[:i] + word[i + 1 :]  # drop

    return re.sub(r"[^\W\d_]{3,}", typo, text)


def whitespace(text: str, rng: random.Random, most: int = 3) -> str:
    return re.sub(" ", lambda _: " " * rng.randint(1, most), text)


PERTURBATIONS: dict[str, Callable[[str, random.Random], str]] = {
    "lowercase": lowercase,
    "contractions": contractions,
    "misspellings": misspellings,
    "whitespace": whitespace,
}


def parse_robustness(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """'none' -> (), 'mild' -> MILD, 'lowercase,whitespace' -> those; a sequence of names is checked as is."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.strip()
        if value in ("", "none"):
            return ()
        if value == "mild":
            return MILD
        value = [name.strip() for name in value.split(",") if name.strip()]
    names = tuple(value)
    unknown = [name for name in names if name not in PERTURBATIONS]
    if unknown:
        raise SettingError(
            f"robustness: unknown perturbation(s) {unknown}; use 'none', 'mild' ({', '.join(MILD)}) or a "
            f"comma-separated list of {', '.join(PERTURBATIONS)}"
        )
    if len(set(names)) != len(names):
        raise SettingError(f"robustness: perturbation listed twice in {list(names)}")
    return names


def perturb_row(data: dict, fields: Iterable[str], perturbation: str, *, seed: int, task: str, row: int) -> dict:
    """A copy of `data` with the string values of `fields` perturbed; the random stream depends on (seed, task,
    row, perturbation, field) only."""
    perturbed = dict(data)
    for field in fields:
        value = data.get(field)
        if isinstance(value, str):
            perturbed[field] = PERTURBATIONS[perturbation](value, _rng(seed, task, row, perturbation, field))
    return perturbed


def _rng(*parts) -> random.Random:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


__all__ = ["MILD", "PERTURBATIONS", "parse_robustness", "perturb_row"]
