"""The HTTP service: a JSON API and web pages over one story database (`storylink serve`).

Like Datasette, one process serves both from the same store: the API for integrators
(`/stories`, `/stories/{id}`, `/articles/{id}`, `/search`, `POST /compare`, `POST /articles`,
OpenAPI docs at `/docs`) and server-rendered pages for people (`/`, `/story/{id}`, `/compare`),
which need no JavaScript and render right-to-left scripts with `dir="auto"` and `lang`.

Reads are open; `POST /articles` needs the bearer token given at start. Ingest runs in the
background, one job at a time, with a job id and progress (`GET /jobs/{id}`). The models are
not thread-safe, so store reads, searches and comparisons take turns behind one lock.
"""

from __future__ import annotations

import hmac
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field, model_validator

from .article import Article
from .compare import CompareError, Comparer, PairScore
from .encode import EncoderSet
from .feeds import feed_health, feed_store
from .read import FieldNames, ReadError, parse_date, read_one, record_article, url_fetcher
from .stories import Story, StoryStore

MAX_BODY_BYTES = 5_000_000  # a few hundred articles per POST; larger batches: `storylink ingest`
MAX_ARTICLES_PER_POST = 1000
PAGE_SIZE = 20
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
SCORE_NAMES = ("overall", "geography", "entities", "time", "narrative", "style", "tone")


class ArticleIn(BaseModel):
    """An article as posted: `text` is required, the rest optional."""

    text: str = Field(min_length=1, description="Body text (plain text).")
    title: str = Field("", description="Headline.")
    url: str | None = Field(None, description="Where it was published.")
    date: str | None = Field(None, description="Publication date, ISO 8601 or as written.")
    language: str | None = Field(None, description="ISO 639-1 code; detected when missing.")
    source: str | None = Field(None, description="Publisher name.")


class Side(BaseModel):
    """One side of a comparison: an article given by text, by URL or by stored id."""

    text: str | None = Field(None, description="Body text to compare.")
    title: str | None = Field(None, description="Headline (with `text`).")
    language: str | None = Field(None, description="ISO 639-1 code (with `text`).")
    url: str | None = Field(None, description="A page to fetch (when the network allows).")
    id: str | None = Field(None, description="A stored article: id, ingest number or URL.")

    @model_validator(mode="after")
    def one_kind(self) -> Side:
        given = [k for k in ("text", "url", "id") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of text, url or id")
        return self


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


class CompareIn(BaseModel):
    a: Side
    b: Side


class ArticlesIn(BaseModel):
    articles: list[ArticleIn] = Field(min_length=1, max_length=MAX_ARTICLES_PER_POST)


@dataclass
class Job:
    """A background ingest: its progress and, when done, its report or error."""

    id: str
    total: int
    status: str = "queued"  # queued | running | done | failed
    done: int = 0
    report: dict[str, Any] | None = None
    error: str | None = None
    created: str = field(default_factory=lambda: datetime.now().astimezone().isoformat())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Service:
    """The store, the comparer and the ingest jobs behind one app."""

    def __init__(self, db: Path, token: str | None) -> None:
        self.db = db
        self.token = token
        self.comparer = Comparer()  # as `storylink compare`: the richest scorer variant
        self.stories = self._open()
        self.lock = threading.Lock()
        self.jobs: dict[str, Job] = {}
        self._ingest = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest")

    def _open(self, encoders: EncoderSet | None = None) -> StoryStore:
        """The store, with the server's encoders unless given others."""
        comparer = Comparer(encoders or self.comparer.encoders, compact_vectors=True, glance=False)
        return StoryStore(self.db, comparer=comparer)

    @contextmanager
    def reading(self) -> Iterator[StoryStore]:
        with self.lock:
            self.stories.catch_up()  # see what `storylink watch`/`ingest` committed meanwhile
            yield self.stories

    def submit(self, articles: list[Article]) -> Job:
        job = Job(uuid.uuid4().hex[:12], len(articles))
        self.jobs[job.id] = job
        self._ingest.submit(self._run, job, articles)
        return job

    def _run(self, job: Job, articles: list[Article]) -> None:
        job.status = "running"
        try:
            # own models: the job runs beside requests, and the models are not thread-safe
            with self._open(EncoderSet(None, threads=1)) as writer:

                def progress(done: int, total: int) -> None:
                    job.done = done

                report = writer.add(articles, progress)
            job.report, job.done, job.status = report.to_dict(), job.total, "done"
            with self.lock:  # reopen so that searches see the new articles' vectors
                self.stories.close()
                self.stories = self._open()
        except Exception as error:  # a failed job is reported, the server goes on
            job.status, job.error = "failed", f"{type(error).__name__}: {error}"

    def close(self) -> None:
        self._ingest.shutdown(wait=True)
        self.stories.close()


def _article(data: ArticleIn | Side, origin: str) -> Article:
    record = {k: v for k, v in data.model_dump().items() if v is not None}
    try:
        return record_article(record, FieldNames(language="language"), origin)
    except ReadError as error:
        raise HTTPException(422, str(error)) from None


def create_app(
    db: str | Path,
    token: str | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    *,
    allow_private: bool = False,
) -> FastAPI:
    """The API and web pages over the story database at `db` (which must exist).

    A compared `{"url": ...}` is fetched from public addresses only, unless `allow_private`:
    otherwise anyone who can post to the API could make the server reach its own network.
    """
    db = Path(db)
    if not db.is_file():
        raise FileNotFoundError(f"no such database: {db} (create it with `storylink ingest`)")
    service = Service(db, token)
    fetcher = url_fetcher(allow_private)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        service.close()

    app = FastAPI(
        title="storylink",
        summary="News stories across languages: browse, search, compare, ingest.",
        version=_version(),
        lifespan=lifespan,
    )
    app.state.service = service

    @app.middleware("http")
    async def limit_body(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        length = request.headers.get("content-length")
        if length is None and request.method in ("POST", "PUT", "PATCH"):
            length = str(len(await request.body()))  # chunked: read it (kept for the endpoint)
        if length and length.isdigit() and int(length) > max_body_bytes:
            return JSONResponse(
                {"detail": f"request body of {length} bytes exceeds {max_body_bytes}"}, 413
            )
        return await call_next(request)

    def authorised(authorization: Annotated[str | None, Header()] = None) -> None:
        if not service.token:
            raise HTTPException(403, "ingest is disabled: start the server with --token")
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given, service.token):
            raise HTTPException(
                401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )

    def story_or_404(stories: StoryStore, story_id: int, language: str | None = None) -> Story:
        try:
            return stories.story(story_id, language)
        except KeyError:
            raise HTTPException(404, f"no story {story_id}") from None

    def find_stories(
        stories: StoryStore,
        language: str | None,
        since: str | None,
        until: str | None,
        entity: str | None,
        text: str | None,
        order: str,
        limit: int,
        offset: int,
    ) -> list[Story]:
        start, end = _date(since, "since"), _date(until, "until")
        if not text:
            return stories.stories(language, start, end, entity, order, limit, offset)
        # text: the stories of the best search hits, then the other filters
        found = []
        for hit in stories.search(text, 5 * (limit + offset)):
            story = stories.story(hit.story_id)
            if language and language not in story.languages:
                continue
            if start and story.last_seen and story.last_seen < start:
                continue
            if end and story.first_seen and story.first_seen > end:
                continue
            found.append(story)
        return found[offset : offset + limit]

    @app.get("/health", tags=["api"])
    def health() -> dict[str, Any]:
        """Liveness and the size of the store."""
        with service.reading() as stories:
            return {
                "status": "ok",
                "articles": stories.store.count("articles"),
                "stories": stories.store.count("stories"),
            }

    @app.get("/stories", tags=["api"])
    def list_stories(
        language: Annotated[str | None, Query(description="Stories with an article in it.")] = None,
        since: Annotated[str | None, Query(description="Last article on or after (ISO).")] = None,
        until: Annotated[str | None, Query(description="First article on or before.")] = None,
        entity: Annotated[str | None, Query(description="A named person/place/org.")] = None,
        text: Annotated[str | None, Query(description="Search text, any language.")] = None,
        order: Annotated[
            str, Query(pattern="^(newest|largest|grown)$", description="grown: latest to grow.")
        ] = "newest",
        limit: Annotated[int, Query(ge=1, le=200)] = PAGE_SIZE,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        """Stories, newest, largest or most recently grown first, with filters; `offset` and
        `limit` page."""
        with service.reading() as stories:
            found = find_stories(
                stories, language, since, until, entity, text, order, limit, offset
            )
        return {
            "offset": offset,
            "limit": limit,
            "stories": [s.to_dict() for s in found],
        }

    @app.get("/stories/{story_id}", tags=["api"])
    def get_story(
        story_id: int,
        language: Annotated[str | None, Query(description="Headline in this language.")] = None,
    ) -> dict[str, Any]:
        """One story with its timeline, languages, sources and key names."""
        with service.reading() as stories:
            return story_or_404(stories, story_id, language).to_dict()

    @app.get("/articles/{key}", tags=["api"])
    def get_article(key: str) -> dict[str, Any]:
        """A stored article by id, ingest number or URL, with its text and story id."""
        with service.reading() as stories:
            found = stories.store.find_article(key)
            if found is None:
                raise HTTPException(404, f"no article {key}")
            member, article = found
            entry = feed_store(stories.store).entries_of([article.id]).get(article.id)
        return article.to_dict() | {
            "seq": member.seq,
            "story_id": member.story_id,
            "text_source": entry.text_source if entry else None,  # page | feed (watch)
            "text_note": entry.note if entry else None,
        }

    @app.get("/feeds", tags=["api"])
    def list_feeds() -> list[FeedOut]:
        """The feeds `storylink watch` follows, with their health."""
        with service.reading() as stories:
            health = feed_health(feed_store(stories.store))
        return [FeedOut(**vars(h)) for h in health]

    @app.get("/search", tags=["api"])
    def search(
        q: Annotated[str, Query(min_length=1, description="Text in any language.")],
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
    ) -> dict[str, Any]:
        """The best article of each matching story, best first (similarity: a z-score)."""
        with service.reading() as stories:
            try:
                hits = stories.search(q, limit)
            except ValueError as error:
                raise HTTPException(422, str(error)) from None
        return {"query": q, "hits": [h.to_dict() for h in hits]}

    def side_article(side: Side, name: str) -> Article:
        if side.id:
            with service.reading() as stories:
                found = stories.store.find_article(side.id)
            if found is None:
                raise HTTPException(404, f"{name}: no article {side.id}")
            return found[1]
        if side.url:
            try:
                return read_one(side.url, fetcher=fetcher)
            except ReadError as error:
                raise HTTPException(422, f"{name}: {error}") from None
        return _article(side, name)

    def compare_sides(a: Side, b: Side) -> PairScore:
        first, second = side_article(a, "a"), side_article(b, "b")
        with service.lock:
            try:
                return service.comparer.compare(first, second)
            except CompareError as error:
                raise HTTPException(422, str(error)) from None

    @app.post("/compare", tags=["api"])
    def compare(body: CompareIn) -> dict[str, Any]:
        """Score two articles (the same JSON as `storylink compare --json`)."""
        return compare_sides(body.a, body.b).to_dict()

    @app.post("/articles", tags=["api"], status_code=202, dependencies=[Depends(authorised)])
    def post_articles(body: ArticlesIn) -> dict[str, Any]:
        """Ingest articles in the background; poll `GET /jobs/{id}` for progress."""
        articles = [_article(a, f"POST /articles#{n}") for n, a in enumerate(body.articles, 1)]
        job = service.submit(articles)
        return job.to_dict() | {"status_url": f"/jobs/{job.id}"}

    @app.get("/jobs/{job_id}", tags=["api"])
    def get_job(job_id: str) -> dict[str, Any]:
        """An ingest job: status (queued, running, done, failed), progress and report."""
        job = service.jobs.get(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id}")
        return job.to_dict()

    # ---- web pages -------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page_stories(
        request: Request,
        language: str | None = None,
        q: str | None = None,
        page: Annotated[int, Query(ge=1)] = 1,
    ) -> Response:
        with service.reading() as stories:
            found = find_stories(
                stories,
                language or None,
                None,
                None,
                None,
                q or None,
                "newest",
                PAGE_SIZE + 1,
                (page - 1) * PAGE_SIZE,
            )
            total = stories.store.count("stories")
        return TEMPLATES.TemplateResponse(
            request,
            "stories.html",
            {
                "stories": found[:PAGE_SIZE],
                "more": len(found) > PAGE_SIZE,
                "page": page,
                "language": language or "",
                "q": q or "",
                "total": total,
            },
        )

    @app.get("/story/{story_id}", response_class=HTMLResponse, include_in_schema=False)
    def page_story(request: Request, story_id: int, language: str | None = None) -> Response:
        with service.reading() as stories:
            story = story_or_404(stories, story_id, language)
        return TEMPLATES.TemplateResponse(request, "story.html", {"story": story})

    @app.get("/compare", response_class=HTMLResponse, include_in_schema=False)
    def page_compare(request: Request, a: str | None = None, b: str | None = None) -> Response:
        return _compare_page(request, {"a_id": a or "", "b_id": b or ""}, None, None)

    @app.post("/compare/page", response_class=HTMLResponse, include_in_schema=False)
    async def page_compare_result(request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8")).items()}
        sides = []
        try:
            for name in ("a", "b"):
                stored = form.get(f"{name}_id", "").strip()
                text = form.get(f"{name}_text", "").strip()
                title = form.get(f"{name}_title", "").strip()
                sides.append(Side(id=stored) if stored else Side(text=text, title=title))
            score = compare_sides(*sides)
        except (ValueError, HTTPException) as error:
            message = error.detail if isinstance(error, HTTPException) else _first_error(error)
            return _compare_page(request, form, None, str(message), status=422)
        return _compare_page(request, form, score, None)

    def _compare_page(
        request: Request,
        form: dict[str, str],
        score: PairScore | None,
        error: str | None,
        status: int = 200,
    ) -> Response:
        return TEMPLATES.TemplateResponse(
            request,
            "compare.html",
            {"form": form, "score": score, "error": error, "score_names": SCORE_NAMES},
            status_code=status,
        )

    return app


def _first_error(error: ValueError) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):
        first = errors()[0]
        return f"{'.'.join(map(str, first['loc']))}: {first['msg']}".strip(": ")
    return str(error)


def _date(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    parsed = parse_date(value)
    if parsed is None:
        raise HTTPException(422, f"{name}: cannot read {value!r} as a date")
    return parsed


def _version() -> str:
    from . import __version__

    return __version__
