"""The HTTP service: a JSON API and web pages over one story database (`storylink serve`).

Like Datasette, one process serves both from the same store: the API for integrators
(`/stories`, `/stories/{id}`, `/articles/{id}`, `/search`, `POST /compare`, `POST /articles`,
OpenAPI docs at `/docs`) and server-rendered pages for people (`/`, `/story/{id}`, `/compare`),
which need no JavaScript and render right-to-left scripts with `dir="auto"` and `lang`.

Reads are open; `POST /articles` needs the bearer token given at start and is rate-limited per
client address. Ingest runs in the background, one job at a time, with a job id, progress and
what became of each posted article (`GET /jobs/{id}`). The models are not thread-safe, so store
reads, searches and comparisons take turns behind one lock. What each endpoint takes and
returns is declared in `api_models`, so /docs (served from the package, no CDN) shows it.
"""

from __future__ import annotations

import hmac
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi import Path as FastAPIPath
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.templating import Jinja2Templates
from fastapi_offline import FastAPIOffline
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from .api_models import (
    MAX_OFFSET,
    ONE_LINE,
    SQLITE_MAX_INT,
    VISIBLE_LINE,
    ArticleIn,
    ArticleOut,
    ArticlesIn,
    CompareIn,
    CompareOut,
    FeedOut,
    HealthOut,
    IdSide,
    JobOut,
    SearchOut,
    Side,
    StoriesOut,
    StoryOut,
    TextSide,
    When,
    day_end,
    day_start,
    problems,
)
from .article import Article
from .compare import CompareError, Comparer, PairScore
from .differs import story_divergence
from .encode import EncoderSet
from .feeds import feed_health, feed_store
from .language import language_code
from .ratelimit import RateLimiter
from .read import FieldNames, ReadError, read_one, record_article, url_fetcher
from .search import STRENGTH_NOTE
from .store import Member, is_server_uri
from .stories import IngestReport, Story, StoryStore

MAX_BODY_BYTES = 5_000_000  # a few hundred articles per POST; larger batches: `storylink ingest`
WRITES_PER_MINUTE = 30  # per client address, on POST /articles
PAGE_SIZE = 20
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:"
)
BEARER = HTTPBearer(auto_error=False, description="The token `storylink serve` was given.")
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
SCORE_NAMES = ("overall", "geography", "entities", "time", "narrative", "style", "tone")


def utc_minute(when: datetime | None) -> str:
    """A time as the pages show it: in UTC (a naive time is taken as UTC), to the minute."""
    if when is None:
        return ""
    return (
        (when if when.tzinfo else when.replace(tzinfo=UTC))
        .astimezone(UTC)
        .strftime("%Y-%m-%d %H:%M")
    )


TEMPLATES.env.filters["utc"] = utc_minute


def language_param(value: str | None) -> str | None:
    """A language filter as a person gives it ("ar", "Arabic", "العربية") → its code; 422
    saying what is accepted otherwise."""
    if value is None or not value.strip():
        return None
    try:
        return language_code(value)
    except ValueError as error:
        raise HTTPException(422, str(error)) from None


@dataclass(frozen=True)
class ItemResult:
    """What became of one posted article (numbered from 1, in posted order); `reason` says why
    it was skipped, or what was not understood in an accepted one."""

    item: int
    status: str  # accepted | skipped
    reason: str | None = None


@dataclass
class Job:
    """A background ingest: its progress, what became of each posted article, and when done,
    its report or error."""

    id: str
    total: int
    items: list[ItemResult] = field(default_factory=list)
    status: str = "queued"  # queued | running | done | failed
    done: int = 0
    report: dict[str, Any] | None = None
    error: str | None = None
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"status_url": f"/jobs/{self.id}"}


class Service:
    """The store, the comparer and the ingest jobs behind one app."""

    def __init__(self, db: str | Path, token: str | None) -> None:
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

    def submit(self, articles: list[Article], items: list[ItemResult]) -> Job:
        """A job for the accepted articles; with none, a job that is done at once and says why
        each was skipped."""
        job = Job(uuid.uuid4().hex[:12], len(articles), items)
        self.jobs[job.id] = job
        if articles:
            self._ingest.submit(self._run, job, articles)
        else:
            skipped = [str(item.reason) for item in items]
            job.status, job.report = "done", IngestReport(skipped=skipped).to_dict()
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


def _article(data: ArticleIn | TextSide, origin: str) -> Article:
    """The article a request gives (`ReadError` when it has no text)."""
    record = {k: v for k, v in data.model_dump().items() if v is not None}
    return record_article(record, FieldNames(language="language"), origin)


def _posted(articles: list[ArticleIn]) -> tuple[list[Article], list[ItemResult]]:
    """The posted articles that can be ingested, and for each item whether it was accepted or
    skipped and why: one bad item does not cost the rest of the batch."""
    accepted, items = [], []
    for number, posted in enumerate(articles, 1):
        try:
            article = _article(posted, f"POST /articles#{number}")
        except (ReadError, ValueError) as error:  # no text, or a URL that cannot be parsed
            items.append(ItemResult(number, "skipped", str(error)))
            continue
        accepted.append(article)
        undated = posted.date and not article.published
        note = f"date {posted.date!r} not understood: stored undated" if undated else None
        items.append(ItemResult(number, "accepted", note))
    return accepted, items


def create_app(
    db: str | Path,
    token: str | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    *,
    allow_private: bool = False,
    writes_per_minute: float = WRITES_PER_MINUTE,
) -> FastAPI:
    """The API and web pages over the story database at `db` (which must exist).

    A compared `{"url": ...}` is fetched from public addresses only, unless `allow_private`:
    otherwise anyone who can post to the API could make the server reach its own network.
    Each client address may post `writes_per_minute` ingests a minute (0: no limit).
    """
    if not is_server_uri(db):  # a PostgreSQL server says itself whether it can be reached
        db = Path(db)
        if not db.is_file():
            raise FileNotFoundError(f"no such database: {db} (create it with `storylink ingest`)")
    service = Service(db, token)
    fetcher = url_fetcher(allow_private)
    limiter = RateLimiter(writes_per_minute) if writes_per_minute > 0 else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        service.close()

    # Swagger UI and ReDoc from the package's own files: /docs works without the internet
    app = FastAPIOffline(
        title="storylink",
        summary="News stories across languages: browse, search, compare, ingest.",
        version=_version(),
        lifespan=lifespan,
    )
    app.state.service = service

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        """As FastAPI answers, except that a 405 lists every method the path takes (Starlette
        names only those of the first route that matches it: GET /articles, not POST)."""
        if error.status_code == 405:
            allowed = {
                method
                for route in app.router.routes
                if isinstance(route, APIRoute) and route.matches(request.scope)[0] != Match.NONE
                for method in route.methods or ()
            }
            error.headers = {"Allow": ", ".join(sorted(allowed))}
        return await http_exception_handler(request, error)

    @app.middleware("http")
    async def docs_stay_local(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """The docs pages may load nothing from elsewhere (ReDoc would fetch its logo from its
        maker's CDN: a request that leaks who reads the docs, and fails offline)."""
        response = await call_next(request)
        if request.url.path in ("/docs", "/redoc"):
            response.headers["Content-Security-Policy"] = DOCS_POLICY
        return response

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

    def authorised(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    ) -> None:
        if not service.token:
            raise HTTPException(403, "ingest is disabled: start the server with --token")
        if credentials is None:
            raise HTTPException(
                401,
                "a bearer token is required: send the header 'Authorization: Bearer TOKEN'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        # bytes, so that any header compares in constant time (str must be ASCII for that)
        given = credentials.credentials.encode("utf-8")
        if not hmac.compare_digest(given, service.token.encode("utf-8")):
            raise HTTPException(
                401,
                "the bearer token is wrong: use the token the server was started with",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )

    def rate_limited(request: Request) -> None:
        client = request.client.host if request.client else "unknown"
        wait = limiter.take(client) if limiter else 0
        if wait:
            raise HTTPException(
                429,
                f"too many writes from {client}: at most {writes_per_minute:g} a minute; "
                f"retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )

    def story_or_404(stories: StoryStore, story_id: int, language: str | None = None) -> Story:
        try:
            return stories.story(story_id, language)
        except KeyError:
            raise HTTPException(404, f"no story {story_id}") from None

    def article_or_404(stories: StoryStore, key: str, name: str = "") -> tuple[Member, Article]:
        # a number past SQLite's range cannot be an ingest number, nor an id, URL or origin
        beyond = key.isdigit() and (not key.isdecimal() or int(key) > SQLITE_MAX_INT)
        found = None if beyond else stories.store.find_article(key)
        if found is None:
            raise HTTPException(404, f"{name}no article {key}")
        return found

    def find_stories(
        stories: StoryStore,
        language: str | None,
        since: datetime | None,
        until: datetime | None,
        entity: str | None,
        text: str | None,
        order: str,
        limit: int,
        offset: int,
    ) -> list[tuple[Story, float | None]]:
        """Stories with their match strength (None without a search text)."""
        if not text:
            found = stories.stories(language, since, until, entity, order, limit, offset)
            return [(story, None) for story in found]
        # text: the stories of the best search hits, then the other filters
        matches: list[tuple[Story, float | None]] = []
        for hit in stories.search(text, 5 * (limit + offset)):
            story = stories.story(hit.story_id)
            if language and language not in story.languages:
                continue
            if since and story.last_seen and story.last_seen < since:
                continue
            if until and story.first_seen and story.first_seen > until:
                continue
            matches.append((story, hit.strength))
        return matches[offset : offset + limit]

    def article_out(stories: StoryStore, found: tuple[Member, Article]) -> dict[str, Any]:
        member, article = found
        entry = feed_store(stories.store).entries_of([article.id]).get(article.id)
        return article.to_dict() | {
            "seq": member.seq,
            "story_id": member.story_id,
            "text_source": entry.text_source if entry else None,  # page | feed (watch)
            "text_note": entry.note if entry else None,
        }

    @app.get("/health", tags=["api"], response_model=HealthOut)
    def health() -> dict[str, Any]:
        """Liveness and the size of the store."""
        with service.reading() as stories:
            return {
                "status": "ok",
                "articles": stories.store.count("articles"),
                "stories": stories.store.count("stories"),
            }

    @app.get("/stories", tags=["api"], response_model=StoriesOut, responses=problems(422))
    def list_stories(
        language: Annotated[
            str | None,
            Query(
                pattern=ONE_LINE,
                max_length=64,
                description="Stories with an article in it: a code or a name (ar, Arabic).",
            ),
        ] = None,
        since: Annotated[
            When | None, Query(description="Last article on or after (ISO date or time).")
        ] = None,
        until: Annotated[
            When | None, Query(description="First article on or before (a date: all of it).")
        ] = None,
        entity: Annotated[
            str | None,
            Query(pattern=ONE_LINE, max_length=200, description="A named person/place/org."),
        ] = None,
        text: Annotated[
            str | None,
            Query(pattern=VISIBLE_LINE, max_length=2000, description="Search text, any language."),
        ] = None,
        order: Annotated[
            Literal["newest", "largest", "grown"], Query(description="grown: latest to grow.")
        ] = "newest",
        limit: Annotated[int, Query(ge=1, le=200)] = PAGE_SIZE,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> dict[str, Any]:
        """Stories, newest, largest or most recently grown first, with filters; `offset` and
        `limit` page."""
        with service.reading() as stories:
            found = find_stories(
                stories,
                language_param(language),
                day_start(since),
                day_end(until),
                entity,
                text,
                order,
                limit,
                offset,
            )
        return {
            "offset": offset,
            "limit": limit,
            "stories": [
                s.to_dict() | {"strength": None if strength is None else round(strength, 3)}
                for s, strength in found
            ],
        }

    @app.get(
        "/stories/{story_id}", tags=["api"], response_model=StoryOut, responses=problems(404, 422)
    )
    def get_story(
        story_id: Annotated[int, FastAPIPath(ge=0, le=SQLITE_MAX_INT, examples=[1])],
        language: Annotated[
            str | None,
            Query(
                pattern=ONE_LINE,
                max_length=64,
                description="Headline in this language: a code or a name (ar, Arabic).",
            ),
        ] = None,
    ) -> dict[str, Any]:
        """One story with its timeline, languages, sources and key names."""
        with service.reading() as stories:
            return story_or_404(stories, story_id, language_param(language)).to_dict()

    @app.get(
        "/articles/{key}", tags=["api"], response_model=ArticleOut, responses=problems(404, 422)
    )
    def get_article(
        key: Annotated[
            str,
            FastAPIPath(
                pattern=ONE_LINE,
                max_length=2000,
                examples=["1"],
                description="Id, ingest number or origin (a URL: use GET /articles?url=).",
            ),
        ],
    ) -> dict[str, Any]:
        """A stored article by id, ingest number or origin, with its text and story id."""
        with service.reading() as stories:
            return article_out(stories, article_or_404(stories, key))

    @app.get("/articles", tags=["api"], response_model=ArticleOut, responses=problems(404, 422))
    def get_article_by_url(
        url: Annotated[
            str,
            Query(
                pattern=ONE_LINE,
                min_length=1,
                max_length=2000,
                examples=["https://example.org/news/2026/07/01/tram-line-opens"],
                description="The article's URL (or any key GET /articles/{key} takes).",
            ),
        ],
    ) -> dict[str, Any]:
        """A stored article by its URL, which cannot be a path segment (its slashes split it)."""
        with service.reading() as stories:
            return article_out(stories, article_or_404(stories, url))

    @app.get("/feeds", tags=["api"], response_model=list[FeedOut])
    def list_feeds() -> list[FeedOut]:
        """The feeds `storylink watch` follows, with their health."""
        with service.reading() as stories:
            health = feed_health(feed_store(stories.store))
        return [FeedOut(**vars(h)) for h in health]

    @app.get("/search", tags=["api"], response_model=SearchOut, responses=problems(422))
    def search(
        q: Annotated[
            str,
            Query(min_length=1, max_length=2000, pattern=VISIBLE_LINE, description="Any language."),
        ],
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
    ) -> dict[str, Any]:
        """The best article of each matching story, best first, with its match strength."""
        with service.reading() as stories:
            try:
                hits = stories.search(q, limit)
            except ValueError as error:
                raise HTTPException(422, str(error)) from None
        return {"query": q, "hits": [h.to_dict() for h in hits]}

    def side_article(side: Side, name: str) -> Article:
        if isinstance(side, IdSide):
            with service.reading() as stories:
                return article_or_404(stories, side.id, f"{name}: ")[1]
        try:
            if isinstance(side, TextSide):
                return _article(side, name)
            return read_one(side.url, fetcher=fetcher)
        except (ReadError, ValueError) as error:
            raise HTTPException(422, f"{name}: {error}" if side.url else str(error)) from None

    def compare_sides(a: Side, b: Side, names: tuple[str, str] = ("a", "b")) -> PairScore:
        first, second = side_article(a, names[0]), side_article(b, names[1])
        with service.lock:
            try:
                return service.comparer.compare(first, second)
            except CompareError as error:
                raise HTTPException(422, str(error)) from None

    @app.post(
        "/compare",
        tags=["api"],
        response_model=CompareOut,
        responses=problems(400, 404, 413, 422),
    )
    def compare(body: CompareIn) -> dict[str, Any]:
        """Score two articles (the same JSON as `storylink compare --json`). 422 also when an
        article cannot be compared (no language can be told, a URL cannot be read)."""
        return compare_sides(body.a, body.b).to_dict()

    @app.post(
        "/articles",
        tags=["api"],
        status_code=202,
        response_model=JobOut,
        responses=problems(400, 401, 403, 413, 422, 429),
        dependencies=[Depends(authorised), Depends(rate_limited)],
    )
    def post_articles(body: ArticlesIn) -> dict[str, Any]:
        """Ingest articles in the background; poll `GET /jobs/{id}` for progress. Each posted
        article is accepted or skipped with its reason (`items`); the rest of the batch goes on."""
        return service.submit(*_posted(body.articles)).to_dict()

    @app.get("/jobs/{job_id}", tags=["api"], response_model=JobOut, responses=problems(404, 422))
    def get_job(job_id: Annotated[str, FastAPIPath(pattern=ONE_LINE, max_length=64)]) -> Any:
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
        page: Annotated[int, Query(ge=1, le=MAX_OFFSET // PAGE_SIZE)] = 1,
    ) -> Response:
        with service.reading() as stories:
            found = find_stories(
                stories,
                language_param(language),
                None,
                None,
                None,
                q.strip() or None if q else None,
                "newest",
                PAGE_SIZE + 1,
                (page - 1) * PAGE_SIZE,
            )
            total = stories.store.count("stories")
        return TEMPLATES.TemplateResponse(
            request,
            "stories.html",
            {
                "stories": found[:PAGE_SIZE],  # (story, match strength or None)
                "more": len(found) > PAGE_SIZE,
                "page": page,
                "language": language or "",
                "q": q or "",
                "total": total,
                "strength_note": STRENGTH_NOTE,
            },
        )

    @app.get("/story/{story_id}", response_class=HTMLResponse, include_in_schema=False)
    def page_story(
        request: Request,
        story_id: Annotated[int, FastAPIPath(ge=0, le=SQLITE_MAX_INT)],
        language: str | None = None,
    ) -> Response:
        with service.reading() as stories:
            story = story_or_404(stories, story_id, language)
            divergence = story_divergence(stories, story)
        context = {"story": story, "divergence": divergence}
        return TEMPLATES.TemplateResponse(request, "story.html", context)

    @app.get(
        "/compare",
        response_class=HTMLResponse,
        tags=["pages"],
        responses={200: {"description": "The compare form (HTML).", "content": {"text/html": {}}}},
    )
    def page_compare(
        request: Request,
        a: Annotated[str | None, Query(description="Stored article id for side A.")] = None,
        b: Annotated[str | None, Query(description="Stored article id for side B.")] = None,
    ) -> Response:
        """The compare form for people (shares its path with `POST /compare`)."""
        return _compare_page(request, {"a_id": a or "", "b_id": b or ""}, None, None)

    @app.post("/compare/page", response_class=HTMLResponse, include_in_schema=False)
    async def page_compare_result(request: Request) -> Response:
        body = (await request.body()).decode("utf-8", "replace")  # a bad byte is not a crash
        form = {k: v[0] for k, v in parse_qs(body).items()}
        try:
            a, b = _form_side(form, "a"), _form_side(form, "b")
            score = compare_sides(a, b, names=("Article A", "Article B"))
        except (ValueError, HTTPException) as error:
            message = error.detail if isinstance(error, HTTPException) else str(error)
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


def _form_side(form: dict[str, str], name: str) -> Side:
    """One side of the compare form, or a `ValueError` in the form's own words."""
    stored = form.get(f"{name}_id", "").strip()
    text = form.get(f"{name}_text", "").strip()
    title = form.get(f"{name}_title", "").strip()
    label = f"Article {name.upper()}"
    if stored and text:
        raise ValueError(f"{label}: give a stored article id or a text, not both")
    if not stored and not text:
        raise ValueError(f"{label}: give a stored article id, or paste its text")
    try:
        return IdSide(id=stored) if stored else TextSide(text=text, title=title)
    except ValidationError:
        raise ValueError(f"{label}: the text or title holds control characters") from None


def _version() -> str:
    from . import __version__

    return __version__
