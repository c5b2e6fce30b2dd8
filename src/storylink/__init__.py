"""storylink: link news coverage across languages.

>>> import storylink
>>> a, = storylink.read("report-en.txt")          # doctest: +SKIP
>>> b, = storylink.read("report-ar.html")         # doctest: +SKIP
>>> score = storylink.compare(a, b)               # doctest: +SKIP
>>> score.overall, score.same_story, score.explanation.summary()  # doctest: +SKIP
"""

__version__ = "0.1.0"

from .article import Article
from .cluster import ClusterParams
from .compare import AlignedSentence, CompareError, Comparer, Explanation, PairScore, compare
from .encode import E5Encoder, EmbeddingCache, Encoder, EncoderSet, UseEncoder
from .language import detect_language
from .read import FieldNames, ReadError, ReadReport, read, read_many, read_one
from .store import SQLiteStore, Store
from .stories import IngestReport, SearchHit, Story, StoryArticle, StoryStore

__all__ = [
    "AlignedSentence",
    "Article",
    "ClusterParams",
    "CompareError",
    "Comparer",
    "E5Encoder",
    "EmbeddingCache",
    "Encoder",
    "EncoderSet",
    "Explanation",
    "FieldNames",
    "IngestReport",
    "PairScore",
    "ReadError",
    "ReadReport",
    "SQLiteStore",
    "SearchHit",
    "Store",
    "Story",
    "StoryArticle",
    "StoryStore",
    "UseEncoder",
    "__version__",
    "compare",
    "detect_language",
    "read",
    "read_many",
    "read_one",
]
