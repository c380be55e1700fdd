"""Portable text search for Indonesian product texts.

SecantusDB (dev/test) has no `$text` index, and MongoDB's text index has no Indonesian
stemmer anyway, so products carry their own search terms: normalised words, their light stems
and, for the name, prefixes (type-ahead). A query matches when every one of its terms is among
a product's terms (`$all` on a multikey index).
"""

import re
import unicodedata

MIN_PREFIX = 3  # "kop" finds "kopi"; shorter prefixes match nearly everything
MIN_WORD = 2
MAX_QUERY_TERMS = 8

# Frequent function words: indexing them only bloats the index and requiring them in a query
# ("kain dari sumba") would hide products whose text says it differently.
STOPWORDS = frozenset(
    [
        "yang",
        "dan",
        "di",
        "ke",
        "dari",
        "untuk",
        "dengan",
        "ini",
        "itu",
        "atau",
        "pada",
        "dalam",
        "adalah",
        "juga",
        "kami",
        "kita",
        "akan",
        "bisa",
        "sudah",
        "oleh",
        "para",
        "serta",
        "tanpa",
        "agar",
        "karena",
        "secara",
        "sangat",
        "lebih",
        "per",
        "nya",
        "lah",
        "kah",
        "pun",
        "the",
        "and",
        "of",
    ]
)
# Particles and the possessive -nya attach to any word ("madunya", "asli-lah"); removing them
# is safe. Derivational affixes (-kan, -an, me-, ber-) are not stripped: "ikan" is no "i"+"kan".
_SUFFIXES = ("nya", "lah", "kah", "pun")
_MIN_STEM = 4
_NON_WORD = re.compile(r"[^a-z0-9]+")


def normalise(text: str) -> list[str]:
    """Lower-case words without accents or punctuation: "Kain Tenun—Sumba, Warna Alami!" →
    ["kain", "tenun", "sumba", "warna", "alami"]. Hyphenated doublings ("kue-kue") split."""
    folded = unicodedata.normalize("NFKD", text.lower())
    ascii_only = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return [word for word in _NON_WORD.split(ascii_only) if word]


def stem(word: str) -> str:
    """Strip one particle or -nya when a real word remains: "madunya" → "madu"."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_STEM:
            return word[: -len(suffix)]
    return word


def _words(text: str) -> list[str]:
    return [w for w in normalise(text) if len(w) >= MIN_WORD and w not in STOPWORDS]


def prefixes(word: str) -> list[str]:
    return [word[:end] for end in range(MIN_PREFIX, len(word))]


def name_terms(name: str) -> list[str]:
    """Terms of a product name: words, stems and prefixes (so that typing "tenu" finds it)."""
    terms: set[str] = set()
    for word in _words(name):
        stemmed = stem(word)
        terms.update((word, stemmed, *prefixes(stemmed)))
    return sorted(terms)


def text_terms(text: str) -> list[str]:
    """Terms of a longer text (description, labels): words and stems, no prefixes (a description
    has hundreds of words; their prefixes would multiply the index for little gain)."""
    terms: set[str] = set()
    for word in _words(text):
        terms.update((word, stem(word)))
    return sorted(terms)


def query_terms(query: str) -> list[str]:
    """The stems a product must all contain. Stopwords are dropped unless the query is nothing
    else; duplicates collapse; at most MAX_QUERY_TERMS (a longer query is a sentence, not a search)."""
    words = [w for w in normalise(query) if len(w) >= MIN_WORD]
    meaningful = [w for w in words if w not in STOPWORDS] or words
    terms: list[str] = []
    for word in meaningful:
        stemmed = stem(word)
        if stemmed not in terms:
            terms.append(stemmed)
    return terms[:MAX_QUERY_TERMS]


def product_terms(name: str, description: str, extra: list[str]) -> tuple[list[str], list[str]]:
    """(name terms, all search terms) of a product. `extra` are labels a shopper may type that
    the seller did not write: the category's label, the OVOP village, the regency."""
    in_name = name_terms(name)
    everything = set(in_name) | set(text_terms(description))
    for label in extra:
        everything.update(text_terms(label))
    return in_name, sorted(everything)


def relevance(query: list[str], in_name: set[str]) -> int:
    """Every query term matched somewhere (that is the filter); one in the name counts double."""
    return len(query) + sum(1 for term in query if term in in_name)
