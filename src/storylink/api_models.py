"""What the HTTP API takes and returns, as pydantic models, so that openapi.json and /docs say
exactly which JSON each endpoint returns and which input it refuses.

Inputs carry their real bounds (SQLite's integer range, no control characters, dates as dates),
so bad input is refused with a 4xx that names the field, before it reaches the store.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag

from .search import STRENGTH_NOTE

SQLITE_MAX_INT = 2**63 - 1  # larger numbers overflow SQLite's INTEGER
MAX_OFFSET = 1_000_000  # pages of stories; a text search looks at 5 × (offset + limit) hits
MAX_ARTICLES_PER_POST = 1000
# one line: no control characters at all (ids, names, languages, query text)
ONE_LINE = r"^[^\x00-\x1f\x7f]*$"
# body text: tabs and line breaks are text, other control characters (NUL …) are not
BODY_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
# the same with at least one visible character (what is left after strip() is not empty)
VISIBLE_LINE = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"
VISIBLE_BODY = (
    r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
)
LANGUAGE = r"^[A-Za-z]{2,3}$"
WEB_ADDRESS = r"^https?://[^\s\x00-\x1f\x7f]+$"
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: object) -> object:
    """Only ISO 8601 text is a date here (pydantic alone would take "123" as a Unix time, and
    "2026-07-01" as its midnight rather than the whole day)."""
    if not isinstance(value, str):
        return value
    if not _ISO_DAY.match(value):
        raise ValueError("expected an ISO 8601 date (2026-07-01) or time (2026-07-01T10:00:00Z)")
    return date.fromisoformat(value) if len(value) == len("2026-07-01") else value


# A date, or a date and time (UTC when it names no zone)
When = Annotated[datetime | date, BeforeValidator(_iso_date)]


def day_start(value: datetime | date | None) -> datetime | None:
    """The instant a `When` starts: a date's midnight UTC, a naive time taken as UTC."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        return datetime.combine(value, time.min, UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def day_end(value: datetime | date | None) -> datetime | None:
    """The last instant a `When` covers: a date means its whole day (UTC)."""
    if value is not None and not isinstance(value, datetime):
        return datetime.combine(value, time.max, UTC)
    return day_start(value)


# ---- requests --------------------------------------------------------------------------------


class ArticleIn(BaseModel):
    """An article as posted: `text` is what matters; an item without text is skipped (with
    its reason in `items`), the rest of the batch is kept."""

    text: str = Field(pattern=BODY_TEXT, description="Body text (plain text).")
    title: str = Field("", pattern=BODY_TEXT, description="Headline.")
    url: str | None = Field(None, pattern=ONE_LINE, description="Where it was published.")
    date: str | None = Field(
        None, pattern=ONE_LINE, description="Publication date, ISO 8601 or as written."
    )
    language: str | None = Field(
        None, pattern=LANGUAGE, description="ISO 639-1 code; detected when missing."
    )
    source: str | None = Field(None, pattern=ONE_LINE, description="Publisher name.")


class ArticlesIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "articles": [
                        {
                            "title": "New tram line opens in Lyon",
                            "text": "A new tram line opened in Lyon on Monday, the city said.",
                            "date": "2026-07-01",
                            "language": "en",
                        }
                    ]
                }
            ]
        }
    )

    articles: list[ArticleIn] = Field(min_length=1, max_length=MAX_ARTICLES_PER_POST)


class TextSide(BaseModel):
    """An article given by its text."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(pattern=VISIBLE_BODY, description="Body text to compare.")
    title: str | None = Field(None, pattern=BODY_TEXT, description="Headline.")
    language: str | None = Field(None, pattern=LANGUAGE, description="ISO 639-1; detected.")
    url: None = None
    id: None = None


class UrlSide(BaseModel):
    """An article given by the address of its page (fetched when the network allows)."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        pattern=WEB_ADDRESS,
        max_length=2000,
        description="A page to fetch (http or https only: never a file on the server).",
    )
    text: None = None
    title: None = None
    language: None = None
    id: None = None


class IdSide(BaseModel):
    """A stored article."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(
        pattern=VISIBLE_LINE, max_length=2000, description="Its id, ingest number or URL."
    )
    text: None = None
    title: None = None
    language: None = None
    url: None = None


def _side_kind(value: Any) -> str | None:
    """Which of text, url or id a side gives (None unless exactly one)."""
    if isinstance(value, dict):
        given = [key for key in ("text", "url", "id") if value.get(key) is not None]
    else:
        given = [key for key in ("text", "url", "id") if getattr(value, key, None) is not None]
    return given[0] if len(given) == 1 else None


# One side of a comparison: exactly one of text, url or id
Side = Annotated[
    Annotated[TextSide, Tag("text")]
    | Annotated[UrlSide, Tag("url")]
    | Annotated[IdSide, Tag("id")],
    Discriminator(
        _side_kind,
        custom_error_type="one_kind",
        custom_error_message="give exactly one of text, url or id",
    ),
]


class CompareIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "a": {
                        "title": "Earthquake hits Izmir",
                        "text": "A strong earthquake "
                        "struck off the coast of Izmir in Turkey on Saturday.",
                    },
                    "b": {"id": "1"},
                }
            ]
        }
    )

    a: Side
    b: Side


# ---- responses -------------------------------------------------------------------------------


class Problem(BaseModel):
    """Why a request was refused: a sentence, or pydantic's list of field errors."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"detail": "no story 999"}]})

    detail: str | list[dict[str, Any]]


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses an endpoint can return."""
    what = {
        400: "The request cannot be read (e.g. a body that is not UTF-8).",
        401: "The bearer token is missing or wrong.",
        403: "Ingest is off: the server was started without --token.",
        404: "Nothing stored under that key.",
        413: "The request body is larger than the server accepts (--max-body).",
        422: "A parameter or field is invalid; `detail` names it.",
        429: "Too many writes from this client; retry after `Retry-After` seconds.",
    }
    headers = {
        401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}},
        429: {
            "Retry-After": {
                "schema": {"type": "integer", "minimum": 1},
                "description": "Seconds until the next write is accepted.",
            }
        },
    }
    return {
        status: {"model": Problem, "description": what[status]}
        | ({"headers": headers[status]} if status in headers else {})
        for status in statuses
    }


class FeedOut(BaseModel):
    """A subscribed feed and its health, as `storylink feeds --json` shows it."""

    url: str
    title: str | None
    category: str | None
    status: str = Field(description="new, ok, failing or disabled")
    last_poll: datetime | None
    last_success: datetime | None
    last_error: str | None
    failures: int = Field(description="Consecutive failed polls (back-off doubles per failure).")
    next_poll: datetime | None
    interval_minutes: float
    entries_per_day: float = Field(description="New entries per day over the past week.")
    articles_per_day: float = Field(description="Entries that gave an article, per day.")
    feed_text_per_day: float = Field(
        description="Of those, articles with the feed's own text (their page failed)."
    )


class HealthOut(BaseModel):
    status: Literal["ok"]
    articles: int
    stories: int


class StoryArticleOut(BaseModel):
    """An article as a story's timeline lists it."""

    id: str
    seq: int = Field(description="Ingest number (also a key for GET /articles/{key}).")
    title: str
    language: str
    source: str | None
    url: str | None
    published: datetime | None
    origin: str = Field(description="Where it was read from (path, URL or SOURCE#N).")
    centrality: float = Field(description="How typical of its story (higher: more central).")


class EntityCountOut(BaseModel):
    kind: str
    label: str
    articles: int = Field(description="How many of the story's articles name it.")


class StoryOut(BaseModel):
    id: int
    headline: str
    headline_article: str
    size: int
    languages: list[str] = Field(description="Most articles first.")
    sources: list[str]
    first_seen: datetime | None
    last_seen: datetime | None
    entities: list[EntityCountOut] = Field(description="People and organisations.")
    places: list[EntityCountOut]
    grown_at: datetime | None = Field(description="When an article last joined.")
    timeline: list[StoryArticleOut] = Field(description="By publication time.")
    strength: float | None = Field(
        None, ge=0, le=1, description=f"With a search text: the match strength; {STRENGTH_NOTE}."
    )


class StoriesOut(BaseModel):
    offset: int
    limit: int
    stories: list[StoryOut]


class ArticleOut(BaseModel):
    """A stored article with its text, its ingest number and its story."""

    id: str
    title: str
    text: str
    language: str | None
    url: str | None
    source: str | None
    published: datetime | None
    origin: str
    seq: int
    story_id: int | None
    text_source: str | None = Field(
        description="For watched feeds: page (its page's text), feed (the feed's own), deferred."
    )
    text_note: str | None


class SearchHitOut(BaseModel):
    story_id: int
    strength: float = Field(ge=0, le=1, description=f"Match strength; {STRENGTH_NOTE}.")
    similarity: float = Field(
        description="The ranking's score: z-scores against unrelated articles plus the "
        "query's names an article names; unbounded, for ordering only."
    )
    article: StoryArticleOut


class SearchOut(BaseModel):
    query: str
    hits: list[SearchHitOut]


class SharedNameOut(BaseModel):
    kind: str
    label: str
    a: str
    b: str
    how: str = Field(description="How the two names were matched.")


class SharedValueOut(BaseModel):
    kind: Literal["date", "number"]
    label: str
    a: str
    b: str


class SharedOut(BaseModel):
    people: list[SharedNameOut]
    places: list[SharedNameOut]
    organisations: list[SharedNameOut]
    dates: list[SharedValueOut]
    numbers: list[SharedValueOut]


class AlignedOut(BaseModel):
    a: str
    b: str
    similarity: float


class SentenceCountsOut(BaseModel):
    a: int
    b: int
    with_counterpart: int


class UnmatchedSentenceOut(BaseModel):
    text: str
    position: int = Field(description="Index of the sentence in its article (0 = first).")
    closest: float = Field(
        description="Highest similarity to any sentence of the other article (below the "
        "alignment threshold, so no counterpart)."
    )


class UnmatchedOut(BaseModel):
    """One article's sentences that the other article does not report."""

    language: str
    total: int = Field(description="How many sentences of this article have no counterpart.")
    sentences: list[UnmatchedSentenceOut] = Field(
        description="At most 5, in article order: those furthest from the other article and "
        "most central to their own (so facts win over photo credits)."
    )


class OnlyInOut(BaseModel):
    a: UnmatchedOut = Field(description="What article A reports that B does not.")
    b: UnmatchedOut = Field(description="What article B reports that A does not.")


class CompareOut(BaseModel):
    """The same JSON as `storylink compare --json`: SemEval scale, 1 = very similar."""

    overall: float
    scores: dict[str, float]
    same_story: bool
    probability: float
    languages: list[str]
    articles: list[str]
    encoder: str
    variant: str
    summary: str
    shared: SharedOut
    aligned_sentences: list[AlignedOut]
    sentences: SentenceCountsOut
    only_in: OnlyInOut = Field(
        description="Where coverage diverges: each side's sentences without a counterpart."
    )
    features: dict[str, float]


class IngestReportOut(BaseModel):
    read: int
    added: int
    duplicates: int
    new_stories: int
    joined: int
    skipped: list[str]
    seconds: float
    revised: int
    doubtful_dates: int = Field(
        0,
        description="Added articles whose date was not trusted (before 1990, after the "
        "ingest, or far from the story they joined): kept, but not stretching a story's span.",
    )


class ItemOut(BaseModel):
    """What became of one posted article (numbered from 1, in posted order)."""

    item: int
    status: Literal["accepted", "skipped"]
    reason: str | None = Field(
        None, description="Why it was skipped, or what in it was not understood."
    )


class JobOut(BaseModel):
    """A background ingest: status, progress, and per posted article what became of it."""

    id: str
    total: int = Field(description="Articles accepted for ingest.")
    status: Literal["queued", "running", "done", "failed"]
    done: int
    report: IngestReportOut | None
    error: str | None
    created: datetime
    status_url: str
    items: list[ItemOut]
