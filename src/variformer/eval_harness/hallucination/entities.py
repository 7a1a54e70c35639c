"""Output probe: named entities and numbers in a generated summary / translation that its source does not contain.

No NER model is used; the extraction is a documented heuristic, deliberately simple and deterministic:

Tokens
    Words are runs of letters with inner hyphens, apostrophes or dots ("Jean-Marc", "O'Neill", "U.S");
    numbers are runs of digits with inner "," or "." and an optional suffix of letters or "%" ("1,000", "3.6",
    "17th", "5m", "10%"), optionally after a currency sign. A token is *sentence-initial* when it is the first word
    of the text or follows ".", "!", "?", ":" or a line break (quotes and brackets in between do not matter).
Entities (output languages that capitalize only names: `CAPITALIZING_LANGUAGES`, e.g. English)
    A maximal run of capitalized words (first letter upper case, so acronyms count), leaving out function words
    ("The", "He", "In", ... see `FUNCTION_WORDS`) and a sentence-initial first word ("Police said" yields nothing;
    "Barack Obama said" yields "Obama"). For languages that capitalize every noun (German) no entities are
    extracted, only numbers.
Numbers
    Digit tokens, canonicalized: thousands separators dropped ("1,000" -> "1000"), a decimal comma read as a point
    ("3,6" -> "3.6"), currency signs and unit / ordinal suffixes dropped ("£5m" -> "5", "17th" -> "17"),
    "3.0" -> "3". Cardinal number words of `NUMBER_WORDS` (English and German, "twenty-five" -> "25") count too;
    scale words ("million") and articles ("a") do not.
Support
    Words are compared case-folded, accents stripped, possessive "'s" removed. An entity is supported when every
    one of its words (hyphenated parts split) occurs among the source's words; a number is supported when its
    canonical value occurs among the source's numbers, digit or word ("five" in the output, "5" in the source,
    "zwei" in a German source for "two").
Counting
    Items are counted once per sample (distinct normalized values). Per sample: items, unsupported items and their
    rate (None when the output has no items); overall: the pooled rate (all unsupported / all items), the mean of the
    per-sample rates, and the share of samples with at least one unsupported item, for entities and numbers
    together and apart.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

CAPITALIZING_LANGUAGES = frozenset({"en", "fr", "es", "it", "pt", "nl", "cs"})

FUNCTION_WORDS = frozenset(
    """
a an the this that these those there here it its he she they we i you me him her us them his hers their our your
my mine in on at of and but or nor for to with by from as into onto over under after before during since until
about above below between through if when where while what who whom whose which why how yes no not all some any
each every many much more most few other such both either neither one mr mrs ms dr st monday tuesday wednesday
thursday friday saturday sunday
""".split()
)
# Weekdays are kept out: in news text they are dates relative to the article, not facts a summary can invent.

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_GERMAN = {
    "null": 0,
    "eins": 1,
    "zwei": 2,
    "drei": 3,
    "vier": 4,
    "fünf": 5,
    "sechs": 6,
    "sieben": 7,
    "acht": 8,
    "neun": 9,
    "zehn": 10,
    "elf": 11,
    "zwölf": 12,
    "dreizehn": 13,
    "vierzehn": 14,
    "fünfzehn": 15,
    "sechzehn": 16,
    "siebzehn": 17,
    "achtzehn": 18,
    "neunzehn": 19,
    "zwanzig": 20,
    "dreißig": 30,
    "vierzig": 40,
    "fünfzig": 50,
    "sechzig": 60,
    "siebzig": 70,
    "achtzig": 80,
    "neunzig": 90,
}
NUMBER_WORDS: dict[str, int] = {
    **{word: value for value, word in enumerate(_ONES)},
    **{word: 20 + 10 * index for index, word in enumerate(_TENS)},
    **_GERMAN,
}
# Source-side only: German articles also mean "one" ("ein Mann" -> "one man"); never counted as output numbers.
_SOURCE_ONLY_NUMBER_WORDS = {"ein": 1, "eine": 1, "einen": 1, "einem": 1, "einer": 1, "eines": 1}

_TOKEN = re.compile(
    r"(?P<number>[£$€¥]?\d+(?:[.,]\d+)*(?:[^\W\d_]+|%)?)"
    r"|(?P<word>[^\W\d_]+(?:['’\-.][^\W\d_]+)*)"
    r"|(?P<stop>[.!?:]+|\n)"
)


@dataclass(frozen=True)
class Item:
    kind: str  # "entity" or "number"
    text: str  # as written in the output
    normalized: str
    supported: bool


@dataclass(frozen=True)
class SampleReport:
    """The items of one output and which of them its source supports."""

    items: tuple[Item, ...] = field(default_factory=tuple)

    def counts(self, kind: str | None = None) -> tuple[int, int]:
        chosen = [item for item in self.items if kind is None or item.kind == kind]
        return len(chosen), sum(not item.supported for item in chosen)

    def rate(self, kind: str | None = None) -> float | None:
        total, unsupported = self.counts(kind)
        return unsupported / total if total else None

    @property
    def unsupported(self) -> list[str]:
        return [item.text for item in self.items if not item.supported]

    def as_dict(self) -> dict:
        total, unsupported = self.counts()
        return {
            "n_items": total,
            "n_unsupported": unsupported,
            "unsupported_rate": self.rate(),
            "unsupported_entity_rate": self.rate("entity"),
            "unsupported_number_rate": self.rate("number"),
            "unsupported": self.unsupported,
        }


def _tokens(text: str) -> list[tuple[str, str, bool]]:
    """(kind, surface, sentence_initial) for the number and word tokens of `text`."""
    out, at_start = [], True
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind == "stop":
            at_start = True
            continue
        out.append((kind, match.group(), at_start))
        at_start = False
    return out


def normalize_word(word: str) -> str:
    """Case-folded, accents stripped, possessive removed: "Sydney's" -> "sydney", "Kōbō" -> "kobo"."""
    word = re.sub(r"['’]s$", "", word.casefold())
    decomposed = unicodedata.normalize("NFKD", word.replace("ß", "ss"))
    return "".join(char for char in decomposed if not unicodedata.combining(char)).rstrip(".")


def canonical_number(token: str) -> str:
    """ "1,000" -> "1000", "3,6" -> "3.6", "£5m" -> "5", "17th" -> "17", "3.0" -> "3"."""
    digits = re.sub(r"^[£$€¥]", "", token)
    digits = re.sub(r"[^\d.,]+$", "", digits)
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", digits):
        digits = digits.replace(",", "")
    elif "," in digits and "." not in digits:
        digits = digits.replace(",", ".")
    digits = digits.replace(",", "")
    try:
        value = float(digits)
    except ValueError:
        return digits
    return str(int(value)) if value.is_integer() else repr(value)


def _number_word(word: str, *, source_side: bool = False) -> str | None:
    word = word.casefold()
    if word in NUMBER_WORDS:
        return str(NUMBER_WORDS[word])
    if source_side and word in _SOURCE_ONLY_NUMBER_WORDS:
        return str(_SOURCE_ONLY_NUMBER_WORDS[word])
    parts = word.split("-")
    if len(parts) == 2 and parts[0] in _TENS and parts[1] in _ONES[1:10]:
        return str(NUMBER_WORDS[parts[0]] + NUMBER_WORDS[parts[1]])
    return None


def extract_numbers(text: str, *, source_side: bool = False) -> list[tuple[str, str]]:
    """(surface, canonical value) of every digit number and cardinal number word in `text`, in order."""
    found = []
    for kind, surface, _ in _tokens(text):
        value = canonical_number(surface) if kind == "number" else _number_word(surface, source_side=source_side)
        if value is not None:
            found.append((surface, value))
    return found


def _is_name_word(surface: str) -> bool:
    return surface[0].isupper() and normalize_word(surface) not in FUNCTION_WORDS and _number_word(surface) is None


def extract_entities(text: str, language: str = "en") -> list[str]:
    """Capitalized spans that are not sentence-initial (see the module docstring); [] for German and the like."""
    if language not in CAPITALIZING_LANGUAGES:
        return []
    spans, current = [], []
    for kind, surface, initial in _tokens(text):
        if kind == "word" and _is_name_word(surface) and not (initial and not current):
            current.append(surface)
            continue
        if current:
            spans.append(" ".join(current))
        current = []
    if current:
        spans.append(" ".join(current))
    return spans


def _entity_words(span: str) -> list[str]:
    return [normalize_word(part) for word in span.split() for part in word.split("-") if part]


@dataclass(frozen=True)
class SourceIndex:
    """The words and numbers of a source text, for support look-ups."""

    words: frozenset[str]
    numbers: frozenset[str]

    @classmethod
    def of(cls, source: str) -> SourceIndex:
        words = set()
        for kind, surface, _ in _tokens(source):
            if kind == "word":
                words.update(_entity_words(surface))
                words.add(normalize_word(surface))
        return cls(frozenset(words), frozenset(value for _, value in extract_numbers(source, source_side=True)))


def check_output(output: str, source: str, language: str = "en") -> SampleReport:
    """The distinct entities and numbers of `output` and whether `source` supports each."""
    index = SourceIndex.of(source)
    items: dict[tuple[str, str], Item] = {}
    for span in extract_entities(output, language):
        normalized = " ".join(_entity_words(span))
        supported = all(word in index.words for word in normalized.split())
        items.setdefault(("entity", normalized), Item("entity", span, normalized, supported))
    for surface, value in extract_numbers(output):
        items.setdefault(("number", value), Item("number", surface, value, value in index.numbers))
    return SampleReport(tuple(items.values()))


def aggregate(reports: Sequence[SampleReport]) -> dict[str, float | None]:
    """Overall rates: pooled, mean per sample, share of samples with an unsupported item; by kind too."""
    out: dict[str, float | None] = {}
    for kind, suffix in ((None, ""), ("entity", "_entity"), ("number", "_number")):
        counts = [report.counts(kind) for report in reports]
        total = sum(count for count, _ in counts)
        unsupported = sum(bad for _, bad in counts)
        rates = [bad / count for count, bad in counts if count]
        out[f"unsupported{suffix}_rate"] = unsupported / total if total else None
        out[f"unsupported{suffix}_rate_per_sample"] = sum(rates) / len(rates) if rates else None
        out[f"samples_with_unsupported{suffix}"] = (
            sum(1 for _, bad in counts if bad) / len(reports) if reports else None
        )
        out[f"n{suffix}_items"] = float(total)
    return out


def check_outputs(outputs: Iterable[str], sources: Iterable[str], language: str = "en") -> list[SampleReport]:
    """`check_output` over aligned outputs and sources."""
    outputs, sources = list(outputs), list(sources)
    if len(outputs) != len(sources):
        raise ValueError(f"got {len(outputs)} outputs for {len(sources)} sources")
    return [check_output(output, source, language) for output, source in zip(outputs, sources)]
