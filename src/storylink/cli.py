"""The `storylink` command line: demo, compare, read; ingest, stories, story, search, related,
recluster, export, doctor, eval."""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from statistics import mean
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.progress import TextColumn
from rich.table import Table

from .article import Article
from .cluster import ClusterParams
from .compare import CompareError, Comparer, PairScore
from .doctor import SHOWN, check_server
from .doctor import Report as DoctorReport
from .doctor import check as check_store
from .doctor import repair as repair_store
from .encode import EncoderSet
from .evaluate import LabelledPair, PairMetrics, load_pairs, pair_metrics, score_pairs
from .executor import Engine, EngineError, EngineName
from .faults import explain
from .feeds import FeedSource, feed_store, subscribe
from .fetch import FetchPolicy
from .language import language_code
from .lock import LockError
from .paths import cache_dir
from .read import FieldNames, ReadError, parse_date, read_many, read_one, url_fetcher
from .scorer import RIDGE_ALPHA, Scorer
from .search import STRENGTH_NOTE
from .serve import MAX_BODY_BYTES, WRITES_PER_MINUTE
from .store import StoreError, is_server_uri, redacted
from .stories import BATCH_SIZE, DEFAULT_DB, SearchHit, Story, StoryStore, evaluate_clustering
from .train import cross_validate, fit_scorer, prepare_articles
from .watch import CycleReport

app = typer.Typer(
    help=(
        "Link news coverage across languages.\n\n"
        "Compare two articles in any languages and scripts, get a SemEval-2022 Task 8 score "
        "(1 = very similar … 4 = very dissimilar), a same-story verdict and the reasons: shared "
        "people, places, organisations, dates, numbers, and sentences that say the same thing."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


FIELD_HELP = (
    "Rename a JSONL key / CSV column: NAME=KEY with NAME one of title, text, url, date, "
    "language, source. Repeat for several, e.g. --field text=body."
)


def _fields(renames: list[str] | None) -> FieldNames:
    try:
        return FieldNames.parse(renames or [])
    except ValueError as error:
        raise _fail(str(error)) from None


WORKERS_OPTION = typer.Option(
    min=1,
    help="Processes that analyse articles, each loading the models (default: 1; with "
    "--engine dask and no --scheduler, the local Dask cluster's workers: one per core).",
)
ENGINE_OPTION = typer.Option(
    "--engine",
    help="Where articles are analysed: local (this machine, --workers processes) or dask "
    "(a Dask cluster: the one at --scheduler, else a local one).",
)
SCHEDULER_OPTION = typer.Option(
    "--scheduler",
    metavar="tcp://HOST:PORT",
    help="The Dask scheduler whose workers analyse articles (implies --engine dask).",
)


def _engine(name: EngineName | None, workers: int | None, scheduler: str | None) -> Engine:
    """The engine the options name: --scheduler alone means dask."""
    try:
        default = EngineName.DASK if scheduler else EngineName.LOCAL
        return Engine(name or default, workers, scheduler)
    except ValueError as error:
        raise _fail(str(error)) from None


BATCH_SIZE_OPTION = typer.Option(min=1, help="Articles per transaction; a crash loses at most one.")
ALLOW_PRIVATE_OPTION = typer.Option(
    "--allow-private",
    help="Also fetch URLs on loopback and private addresses (127.0.0.1, 10.x, 192.168.x …), "
    "for local setups and tests; by default storylink fetches only from public addresses.",
)
SCORER_OPTION = typer.Option(
    "--scorer", help="A scorer directory written by `storylink train` (default: the shipped one)."
)


def _comparer(scorer: Path | None) -> Comparer:
    if scorer is None:
        return Comparer()
    try:
        return Comparer(scorer=Scorer.load(scorer))
    except (OSError, ValueError, KeyError) as error:
        raise _fail(f"{scorer}: not a scorer directory ({error})") from None


def _warn_skipped(problems: Iterable[object]) -> None:
    """Each input skipped, on stderr: the command goes on with the rest."""
    for problem in problems:
        errors.print(f"[yellow]skipped:[/] {escape(str(problem))}", highlight=False, soft_wrap=True)


def _pairs(paths: list[Path], gold: bool = True) -> list[LabelledPair]:
    """The labelled pairs of every file, in order (e.g. dev_pairs.jsonl + more_pairs.jsonl)."""
    try:
        return [pair for path in paths for pair in load_pairs(path, gold)]
    except (OSError, ReadError) as error:
        raise _fail(str(error)) from None


TEXT_COLUMNS = {"title", "origin", "source", "headline"}


def _add_columns(table: Table, *names: str) -> None:
    """Text columns share the width and wrap; the others (ids, codes, scores, times) never
    wrap, so that an article id can be copied whole and tables fit an 80-column terminal."""
    for name in names:
        if name in TEXT_COLUMNS:
            table.add_column(name, ratio=1, overflow="fold")
        else:
            table.add_column(name, no_wrap=True)


def _short(text: str, limit: int = 90) -> str:
    """Text for a panel line: cut at a word with an ellipsis, markup escaped."""
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + " …"
    return escape(text)


def _score_color(overall: float) -> str:
    return "green" if overall <= 2 else "yellow" if overall <= 2.75 else "red"


def print_score(score: PairScore, a: Article, b: Article) -> None:
    """Rich rendering of one comparison: verdict, shared names and values, aligned sentences."""
    verdict = "SAME STORY" if score.same_story else "DIFFERENT STORIES"
    color = _score_color(score.overall)
    console.print(
        Panel(
            f"[bold {color}]{verdict}[/]  overall [bold]{score.overall:.2f}[/] "
            f"(1 = very similar … 4 = very dissimilar)  probability {score.probability:.0%}\n"
            f"A \\[{score.language_a}] {_short(a.title or a.origin)}\n"
            f"B \\[{score.language_b}] {_short(b.title or b.origin)}\n"
            + "  ".join(f"{k} {v:.2f}" for k, v in score.scores.items() if k != "overall")
            + f"\n[dim]encoder {score.encoder}, scorer variant {score.variant}[/]",
            title="storylink compare",
            expand=False,
        )
    )
    ex = score.explanation
    table = Table(title="Shared", show_lines=False)
    for column in ("kind", "name", "in A", "in B"):
        table.add_column(column)
    table.add_column("matched by", no_wrap=True)
    for kind in ("people", "places", "organisations"):
        for name in getattr(ex, kind):
            table.add_row(kind, escape(name.label), escape(name.a), escape(name.b), name.how)
    for kind in ("dates", "numbers"):
        for value in getattr(ex, kind):
            table.add_row(kind, escape(value.label), escape(value.a), escape(value.b), "value")
    if table.row_count:
        console.print(table)
    aligned = Table(title="Sentences that say the same thing", caption=ex.alignment_summary())
    aligned.add_column("sim", justify="right")
    aligned.add_column("A")
    aligned.add_column("B")
    for pair in ex.aligned_sentences:
        aligned.add_row(f"{pair.similarity:.2f}", escape(pair.a), escape(pair.b))
    if aligned.row_count:
        console.print(aligned)
    for side, only in (("A", ex.only_in_a), ("B", ex.only_in_b)):
        if only.total:
            console.print(f"[bold]Only in {side} ({only.language}):[/] {only.caption()}")
            for sentence in only.sentences:
                console.print(f"  • {escape(sentence.text)}")
    console.print(f"[bold]Why:[/] {escape(ex.summary())}")


@app.command()
def compare(
    a: Annotated[
        str,
        typer.Argument(
            help="First article: a file, a URL, or SOURCE#N for entry N of a collection."
        ),
    ],
    b: Annotated[str, typer.Argument(help="Second article, same forms as A.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of tables.")
    ] = False,
    field: Annotated[list[str] | None, typer.Option("--field", help=FIELD_HELP)] = None,
    scorer: Annotated[Path | None, SCORER_OPTION] = None,
    allow_private: Annotated[bool, ALLOW_PRIVATE_OPTION] = False,
) -> None:
    """Compare two articles in any languages and explain the score.

    A and B: a file (.txt, .html, .jsonl, .csv, .rss …) or a URL,
    or SOURCE#N for entry N of a collection (JSONL line, CSV row, feed entry).

    Example: storylink compare report-en.txt report-ar.html --json
    """
    fields = _fields(field)
    try:
        fetcher = url_fetcher(allow_private)
        first, second = read_one(a, fields, fetcher=fetcher), read_one(b, fields, fetcher=fetcher)
        score = _comparer(scorer).compare(first, second)
    except (ReadError, CompareError) as error:
        raise _fail(str(error)) from None
    if as_json:
        print(json.dumps(score.to_dict(), ensure_ascii=False, indent=2))
    else:
        print_score(score, first, second)


@app.command("read")
def read_command(
    sources: Annotated[
        list[str], typer.Argument(help="Files, directories (recursive), globs or URLs.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print articles as JSON Lines.")] = False,
    field: Annotated[list[str] | None, typer.Option("--field", help=FIELD_HELP)] = None,
    allow_private: Annotated[bool, ALLOW_PRIVATE_OPTION] = False,
) -> None:
    """Read articles from any supported input and list them; bad inputs are reported and skipped.

    Supported: .txt (first line = title), .html, .jsonl, .csv/.tsv, .rss/.atom/.xml, URLs.
    Exit code 1 when some input was skipped, 2 when nothing could be read.
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from .language import with_language

    fields = _fields(field)
    columns = (SpinnerColumn(), TextColumn("reading: {task.completed} inputs, {task.description}"))
    with Progress(*columns, console=errors, transient=True) as progress:
        task = progress.add_task("", total=None)
        report = read_many(
            sources,
            fields,
            lambda name: progress.update(task, advance=1, description=name),
            fetcher=url_fetcher(allow_private),
        )
    _warn_skipped(report.errors)
    articles = [with_language(a) for a in report.articles]
    if as_json:
        for article in articles:
            print(json.dumps(article.to_dict(), ensure_ascii=False))
    else:
        table = Table(title=f"{len(articles)} articles, {len(report.errors)} skipped")
        _add_columns(table, "id", "lang", "published", "title", "origin")
        for article in articles:
            published = article.published.date().isoformat() if article.published else ""
            title, origin = _short(article.title, 70), escape(article.origin)
            table.add_row(article.id, article.language or "", published, title, origin)
        console.print(table)
    if not articles:
        raise typer.Exit(2)
    if report.errors:
        raise typer.Exit(1)


@app.command()
def demo(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print every pair score as JSON Lines.")
    ] = False,
) -> None:
    """Compare every pair of the shipped example articles (5 stories, 13 languages, 7 scripts)."""
    from rich.progress import Progress

    from .demo import example_articles, run_demo

    items = example_articles()
    total = len(items) * (len(items) - 1) // 2
    with Progress(console=errors, transient=True) as progress:
        task = progress.add_task("comparing example articles", total=total)
        pairs = run_demo(on_pair=lambda: progress.advance(task), items=items)
    if as_json:
        for pair in pairs:
            print(
                json.dumps(
                    {"story_a": pair.story_a, "story_b": pair.story_b} | pair.score.to_dict(),
                    ensure_ascii=False,
                )
            )
        return
    languages = sorted({p.score.language_a for p in pairs} | {p.score.language_b for p in pairs})
    console.print(
        f"[bold]{len(items)} example articles[/], {len({s for s, _ in items})} stories, "
        f"languages: {', '.join(languages)}; {len(pairs)} pairs compared\n"
    )
    table = Table(title="Mean Overall per story pair (1 = very similar … 4 = very dissimilar)")
    table.add_column("story A")
    table.add_column("story B")
    table.add_column("pairs", justify="right")
    table.add_column("mean overall", justify="right")
    table.add_column("judged same story", justify="right")
    groups: dict[tuple[str, str], list[PairScore]] = {}
    for pair in pairs:
        story_a, story_b = sorted((pair.story_a, pair.story_b))
        groups.setdefault((story_a, story_b), []).append(pair.score)
    for (sa, sb), scores in sorted(groups.items(), key=lambda kv: (kv[0][0] != kv[0][1], kv[0])):
        overall = mean(s.overall for s in scores)
        same = sum(s.same_story for s in scores)
        table.add_row(
            sa,
            sb,
            str(len(scores)),
            f"[{_score_color(overall)}]{overall:.2f}[/]",
            f"{same}/{len(scores)}",
        )
    console.print(table)
    same_story = [p.score.overall for p in pairs if p.same_story_gold]
    different = [p.score.overall for p in pairs if not p.same_story_gold]
    correct = sum(p.score.same_story == p.same_story_gold for p in pairs)
    console.print(
        f"same-story pairs: mean overall [bold]{mean(same_story):.2f}[/]; "
        f"different-story pairs: [bold]{mean(different):.2f}[/]; "
        f"verdict right for {correct}/{len(pairs)} pairs\n"
    )
    shown = next(
        (
            p
            for p in pairs
            if p.same_story_gold and {p.score.language_a, p.score.language_b} == {"en", "ar"}
        ),
        pairs[0],
    )
    print_score(shown.score, shown.a, shown.b)
    _demo_stories()


def _demo_stories() -> None:
    """Group the example articles into stories in a scratch database, as `ingest` would."""
    import tempfile

    from .demo import examples_path

    with tempfile.TemporaryDirectory() as scratch, StoryStore(Path(scratch) / "demo.db") as store:
        with _progress_bar("grouping the examples into stories") as progress:
            task = progress.add_task("", total=None)
            store.ingest(
                [examples_path()],
                on_progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        found = store.stories(order="largest", limit=20)
        console.print(
            _story_table(found, "\nThe same articles grouped into stories (storylink ingest)")
        )
        quake = store.search("earthquake in Turkey", limit=1)
        if quake:
            story = store.story(quake[0].story_id, language="ar")
            console.print(
                f'storylink search "earthquake in Turkey" → story {story.id}, headline in '
                f"Arabic: {escape(story.headline)}"
            )


# ------------------------------------------------------------------------------- stories

DB_HELP = " or a PostgreSQL server: postgresql://USER@HOST/DB (any libpq URI)."
DB_OPTION = typer.Option("--db", help="The story database: a SQLite file made by ingest," + DB_HELP)
NEW_DB_OPTION = typer.Option(
    "--db", help="The story database: a SQLite file (created if missing)," + DB_HELP
)
JSON_OPTION = typer.Option("--json", help="Print JSON instead of tables.")


def _params(
    threshold: float | None,
    window_days: float | None,
    half_life_days: float | None,
    scan_rows: int | None = None,
) -> ClusterParams | None:
    """Cluster parameters from options; None keeps the database's own (or the defaults)."""
    given: dict[str, Any] = {
        k: v
        for k, v in (
            ("threshold", threshold),
            ("window_days", window_days),
            ("half_life_days", half_life_days),
        )
        if v is not None
    }
    if scan_rows is not None:
        given["scan_rows"] = scan_rows or None  # 0: no budget
    if not given:
        return None
    try:
        return ClusterParams(**given)
    except ValueError as error:
        raise _fail(str(error)) from None


@contextmanager
def _open(
    db: str | Path,
    params: ClusterParams | None = None,
    engine: Engine | None = None,
    batch_size: int = BATCH_SIZE,
) -> Iterator[StoryStore]:
    """The story store for one command; storage faults (disk full, read-only, a writer that
    keeps the lock, a PostgreSQL server gone) end the command with what happened and what to
    do (`faults.explain`), and so does an engine that cannot run (a Dask scheduler out of
    reach)."""
    if not is_server_uri(db) and not Path(db).parent.exists():
        raise _fail(f"{Path(db).parent}: no such directory")
    try:
        with StoryStore(db, params=params, engine=engine, batch_size=batch_size) as stories:
            yield stories
    except EngineError as error:
        raise _fail(str(error)) from None
    except (StoreError, sqlite3.Error, OSError) as error:
        message = explain(error, Path(db))
        if message is None:
            raise
        raise _fail(message) from None
    except Exception as error:
        if not type(error).__module__.startswith("psycopg"):
            raise
        raise _fail(f"{redacted(db)}: {' '.join(str(error).split())}") from None


def _need_db(db: str) -> None:
    if not is_server_uri(db) and not Path(db).exists():
        raise _fail(f"{db}: no such database; create it with: storylink ingest --db {db} PATH")


def _progress_bar(description: str) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    columns = (TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    return Progress(*columns, console=errors, transient=True)


def _when(moment: datetime | None) -> str:
    """A time in UTC, so that a timeline reads in order whatever zones the sources used."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if moment else "—"


def _count(n: int, noun: str, plural: str = "") -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"


THRESHOLD_HELP = "Same-story probability an article needs to join a story (0–1)."
WINDOW_HELP = "Days apart beyond which a new article is not compared with a story's article."
HALF_LIFE_HELP = "Days apart over which the chance to join via an article halves (stories go cold)."
SCAN_ROWS_OPTION = typer.Option(
    min=0,
    help="Rows a neighbour lookup scores (whole inverted lists, so about) in months too dense "
    "to search exactly (over 8,192 articles of one encoder): faster in dense stores, at some "
    "recall; 0 = no budget (default 4,096).",
)


@app.command()
def ingest(
    sources: Annotated[
        list[str], typer.Argument(help="Files, directories (recursive), globs, feeds or URLs.")
    ],
    db: Annotated[str, NEW_DB_OPTION] = DEFAULT_DB,
    field: Annotated[list[str] | None, typer.Option("--field", help=FIELD_HELP)] = None,
    workers: Annotated[int | None, WORKERS_OPTION] = None,
    engine: Annotated[EngineName | None, ENGINE_OPTION] = None,
    scheduler: Annotated[str | None, SCHEDULER_OPTION] = None,
    batch_size: Annotated[int, BATCH_SIZE_OPTION] = BATCH_SIZE,
    threshold: Annotated[float | None, typer.Option(help=THRESHOLD_HELP)] = None,
    window_days: Annotated[float | None, typer.Option(help=WINDOW_HELP)] = None,
    half_life_days: Annotated[float | None, typer.Option(help=HALF_LIFE_HELP)] = None,
    scan_rows: Annotated[int | None, SCAN_ROWS_OPTION] = None,
    as_json: Annotated[bool, JSON_OPTION] = False,
    allow_private: Annotated[bool, ALLOW_PRIVATE_OPTION] = False,
) -> None:
    """Add articles to the story database and group them into stories, across languages.

    Each new article joins the story it most likely belongs to (compared with the latest
    article of each candidate story), or starts a new one. Articles already in the database are
    skipped, so re-running on the same inputs adds nothing; bad inputs are reported and
    skipped. Clustering options are remembered by the database.

    Example: storylink ingest feeds/ wires.jsonl --db news.db --engine dask
    """
    fields = _fields(field)
    params = _params(threshold, window_days, half_life_days, scan_rows)
    existed = is_server_uri(db) or Path(db).exists()
    with _open(db, params, _engine(engine, workers, scheduler), batch_size) as stories:
        errors.print("[dim]reading inputs and loading models …[/]", highlight=False)
        stories.start_engine()
        before = stories.store.count("articles")
        with _progress_bar("ingesting") as progress:
            task = progress.add_task("", total=None)
            try:
                report = stories.ingest(
                    sources,
                    fields,
                    lambda done, total: progress.update(task, completed=done, total=total),
                    fetcher=url_fetcher(allow_private),
                )
            except StoreError as error:
                raise _fail(str(error)) from None
            except KeyboardInterrupt:
                saved = stories.store.count("articles") - before
                errors.print(
                    f"interrupted: {saved} new articles were saved with their stories; "
                    "run the same command again to add the rest",
                    highlight=False,
                )
                raise typer.Exit(130) from None
    _warn_skipped(report.skipped)
    if not existed and not report.added:
        _remove_new_store(Path(db))
    if as_json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        rate = report.added / report.seconds if report.seconds else 0.0
        console.print(
            f"{report.read} read, [bold]{report.added} added[/] ({report.new_stories} new stories, "
            f"{report.joined} joined a story), {report.duplicates} already in "
            f"{escape(redacted(db))}, "
            f"{len(report.skipped)} skipped; {report.seconds:.1f} s ({rate:.1f} articles/s)"
        )
        if report.doubtful_dates:
            console.print(f"{report.doubtful_dates} dates not trusted (kept, not in story spans)")
    if not report.read and report.skipped:
        raise typer.Exit(2)
    if report.skipped:
        raise typer.Exit(1)


def _remove_new_store(db: Path) -> None:
    """A command that added nothing leaves no database behind it created (with its lock and
    SQLite journal files; vector indexes exist only once an article is stored)."""
    for path in (db, *(db.with_name(db.name + end) for end in (".lock", "-wal", "-shm"))):
        path.unlink(missing_ok=True)
    errors.print(
        f"nothing added: {escape(str(db))} was not created", highlight=False, soft_wrap=True
    )


@app.command()
def recluster(
    db: Annotated[str, DB_OPTION] = DEFAULT_DB,
    threshold: Annotated[float | None, typer.Option(help=THRESHOLD_HELP)] = None,
    window_days: Annotated[float | None, typer.Option(help=WINDOW_HELP)] = None,
    half_life_days: Annotated[float | None, typer.Option(help=HALF_LIFE_HELP)] = None,
    scan_rows: Annotated[int | None, SCAN_ROWS_OPTION] = None,
) -> None:
    """Rebuild every story from the stored articles, e.g. with new clustering options.

    Nothing is re-read or re-encoded; articles are re-assigned in the order they were ingested,
    and the old stories are replaced in one transaction.
    """
    _need_db(db)
    params = _params(threshold, window_days, half_life_days, scan_rows)
    with _open(db, params) as stories, _progress_bar("re-clustering") as progress:
        task = progress.add_task("", total=None)
        count = stories.recluster(
            on_progress=lambda done, total: progress.update(task, completed=done, total=total)
        )
    console.print(f"{count} stories in {escape(redacted(db))}")


def _story_table(found: list[Story], title: str) -> Table:
    table = Table(title=title)
    for column in ("id", "size", "languages", "first seen (UTC)"):
        table.add_column(column, no_wrap=column != "languages")
    table.add_column("headline", ratio=1, min_width=24, overflow="fold")
    for story in found:
        span = ""
        if story.first_seen and story.last_seen:
            days = (story.last_seen - story.first_seen).days
            span = f" +{days}d" if days else ""
        table.add_row(
            str(story.id),
            str(story.size),
            " ".join(story.languages),
            _when(story.first_seen)[:10] + span,
            _short(story.headline, 90),
        )
    return table


def _date(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    parsed = parse_date(value)
    if parsed is None:
        raise _fail(f"--{name}: cannot read {value!r} as a date (try 2024-05-01)")
    return parsed


def _language(value: str | None) -> str | None:
    """A --language given as a code or a name ("ar", "Arabic"), as the store's code."""
    if value is None:
        return None
    try:
        return language_code(value)
    except ValueError as error:
        raise _fail(f"--language: {error}") from None


LANGUAGE_NAMES = "as a code or a name: ar, Arabic, العربية"


@app.command("stories")
def stories_command(
    db: Annotated[str, DB_OPTION] = DEFAULT_DB,
    language: Annotated[
        str | None,
        typer.Option(help=f"Only stories with an article in this language ({LANGUAGE_NAMES})."),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only stories with an article on or after this date.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Only stories that began on or before this date.")
    ] = None,
    entity: Annotated[
        str | None, typer.Option(help="Only stories naming this person, place or organisation.")
    ] = None,
    largest: Annotated[bool, typer.Option(help="Largest first instead of newest first.")] = False,
    order: Annotated[
        str | None,
        typer.Option(help="newest, largest or grown (latest to gain an article, for watch)."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many stories.")] = 20,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many (paging).")] = 0,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """List stories, newest first (by their latest article), largest or recently grown first.

    Example: storylink stories --language ar --entity Izmir --largest
    """
    code = _language(language)
    _need_db(db)
    with _open(db) as stories:
        try:
            found = stories.stories(
                code,
                _date(since, "since"),
                _date(until, "until"),
                entity,
                order or ("largest" if largest else "newest"),
                limit,
                offset,
            )
        except ValueError as error:  # an unknown --order
            raise _fail(str(error)) from None
    if as_json:
        print(json.dumps([s.to_dict() for s in found], ensure_ascii=False, indent=2))
    else:
        console.print(_story_table(found, _count(len(found), "story", "stories")))


@app.command("story")
def story_command(
    story_id: Annotated[int, typer.Argument(help="The story's id (see storylink stories).")],
    db: Annotated[str, DB_OPTION] = DEFAULT_DB,
    language: Annotated[
        str | None,
        typer.Option(help=f"Headline in this language when the story has one ({LANGUAGE_NAMES})."),
    ] = None,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Show one story: headline, languages, sources, key names, articles by language."""
    code = _language(language)
    _need_db(db)
    with _open(db) as stories:
        try:
            story = stories.story(story_id, code)
        except KeyError:
            raise _fail(f"no story {story_id} in {redacted(db)}") from None
    if as_json:
        print(json.dumps(story.to_dict(), ensure_ascii=False, indent=2))
        return
    names = ", ".join(f"{e.label} ({e.articles})" for e in story.entities) or "—"
    places = ", ".join(f"{p.label} ({p.articles})" for p in story.places) or "—"
    console.print(
        Panel(
            f"[bold]{escape(story.headline)}[/]\n"
            f"{story.size} articles in {', '.join(story.languages)}; "
            f"{_when(story.first_seen)} → {_when(story.last_seen)} UTC\n"
            f"sources: {escape(', '.join(story.sources) or '—')}\n"
            f"people and organisations: {escape(names)}\nplaces: {escape(places)}",
            title=f"story {story.id}",
            expand=False,
        )
    )
    for lang, items in story.by_language().items():
        table = Table(
            title=f"{escape(f'[{lang}]')} {_count(len(items), 'article')}", title_justify="left"
        )
        _add_columns(table, "published", "source", "title", "id")
        for item in items:
            table.add_row(
                _when(item.published),
                escape(item.source or ""),
                _short(item.title or item.origin),
                item.id,
            )
        console.print(table)


def _hits_table(hits: list[SearchHit], title: str) -> Table:
    table = Table(title=title, caption=STRENGTH_NOTE)
    _add_columns(table, "story", "match", "lang", "published", "title", "article")
    for hit in hits:
        table.add_row(
            str(hit.story_id),
            f"{hit.strength:.2f}",
            hit.article.language,
            _when(hit.article.published),
            _short(hit.article.title or hit.article.origin, 70),
            hit.article.id,
        )
    return table


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="Text in any language.")],
    db: Annotated[str, DB_OPTION] = DEFAULT_DB,
    limit: Annotated[int, typer.Option(min=1, help="How many stories.")] = 10,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Find stories by meaning, in any language: an English query finds Arabic coverage.

    Example: storylink search "earthquake in Turkey"
    """
    _need_db(db)
    with _open(db) as stories:
        try:
            hits = stories.search(query, limit)
        except ValueError as error:
            raise _fail(str(error)) from None
    if as_json:
        print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False, indent=2))
    else:
        console.print(_hits_table(hits, f"best match per story for {query!r}"))


@app.command()
def related(
    article: Annotated[
        str, typer.Argument(help="An article: its id, URL, ingest number or origin (FILE#N).")
    ],
    db: Annotated[str, DB_OPTION] = DEFAULT_DB,
    limit: Annotated[int, typer.Option(min=1, help="How many stories.")] = 10,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Show an article's story and the closest articles of other stories."""
    _need_db(db)
    with _open(db) as stories:
        try:
            item, hits = stories.related(article, limit)
        except KeyError as error:
            raise _fail(str(error.args[0])) from None
        story = stories.story_of([item.id]).get(item.id)
    if as_json:
        data = {
            "article": item.to_dict(),
            "story_id": story,
            "related": [h.to_dict() for h in hits],
        }
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return
    console.print(f"[{item.language}] {_short(item.title)} — story {story}")
    console.print(_hits_table(hits, "closest articles of other stories"))


@app.command()
def export(
    out: Annotated[Path, typer.Argument(help="Output file: .jsonl or .parquet.")],
    db: Annotated[str, DB_OPTION] = DEFAULT_DB,
    format: Annotated[
        str | None, typer.Option(help="jsonl or parquet (default: from OUT's suffix).")
    ] = None,
) -> None:
    """Export the stories: JSONL = one story per line with its timeline; Parquet = one row
    per article with its story id and headline."""
    _need_db(db)
    with _open(db) as stories:
        try:
            count = stories.export(out, format)
        except (ValueError, OSError) as error:
            raise _fail(str(error)) from None
    console.print(f"wrote {count} rows to {escape(str(out))}")


@app.command("doctor")
def doctor_command(
    db: Annotated[str, DB_OPTION] = DEFAULT_DB,
    repair: Annotated[
        bool, typer.Option("--repair", help="Fix what can be fixed, then check again.")
    ] = False,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Check a story database and its vector indexes for damage; --repair fixes what it can.

    Checks the schema version and SQLite's integrity; that every article is
    in exactly one story and each story's size, time span and headline
    match its members; orphan rows (vectors, names, memberships, feed
    entries of nothing); that every article's analysis and vector can be
    read; that each index holds exactly the database's articles and vectors.
    Checking changes nothing. --repair waits for the writer lock, drops
    orphans, recomputes stories, gives an article in no story one of its
    own, rebuilds indexes, analyses damaged articles again, and says what it
    could not fix.

    On PostgreSQL it checks the schema version, the stories and memberships
    and orphan rows; SQLite's integrity check, the decoding of every row,
    the index files (pgvector's indexes are the server's) and --repair are
    for SQLite stores only.

    Exit codes: 0 healthy (with --repair: healthy afterwards); 1 problems
    found (with --repair: some are left); 2 the database could not be
    checked (missing, not storylink's, newer).

    Example: storylink doctor --db news.db --repair
    """
    if is_server_uri(db) and repair:
        raise _fail("--repair works on SQLite stores only; on PostgreSQL, check without it")
    try:
        if is_server_uri(db):
            report = check_server(db)
        else:
            report = repair_store(db) if repair else check_store(db)
    except (StoreError, LockError, sqlite3.Error, OSError) as error:
        raise _fail(explain(error, Path(db)) or str(error)) from None
    if as_json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_report(report, db, repair)
    raise typer.Exit(report.exit_code)


def _print_report(report: DoctorReport, db: str, repaired: bool) -> None:
    if report.error:
        raise _fail(report.error)
    console.print(
        f"{escape(report.db)}: schema {report.schema_version}, "
        f"{_count(report.articles, 'article')}, {_count(report.stories, 'story', 'stories')} "
        f"({'repaired and checked again' if repaired else 'checked'} in {report.seconds:.2f} s)",
        highlight=False,
    )
    for finding in report.repaired:
        console.print(f"[green]repaired:[/] {escape(finding.problem)}", highlight=False)
    label = "[red]not repaired:[/]" if repaired else "[yellow]problem:[/]"
    for finding in report.findings:
        subjects = ", ".join(finding.subjects[:SHOWN])
        action = (
            f"--repair {finding.repair}" if finding.repair else "cannot be repaired by storylink"
        )
        line = f"{label} {escape(finding.problem)}"
        line += f" [dim]({escape(subjects)})[/]" if subjects else ""
        console.print(f"{line}\n  → {escape(action)}", highlight=False, soft_wrap=True)
    if not report.findings:
        console.print("[bold green]healthy[/]")
    elif not repaired and any(f.repair for f in report.findings):
        console.print(f"run: storylink doctor --db {escape(str(db))} --repair", highlight=False)


@app.command()
def train(
    pairs: Annotated[
        list[Path],
        typer.Option(
            help="Labelled pairs: JSONL (shared layout) or CSV (SemEval layout); repeat the "
            "option to train on several files."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Directory to write the scorer into.")] = Path("scorer"),
    seed: Annotated[int, typer.Option(help="Seed of the cross-validation folds.")] = 0,
    folds: Annotated[
        int, typer.Option(min=0, help="Grouped cross-validation folds (0: no cross-validation).")
    ] = 5,
    alpha: Annotated[float, typer.Option(min=0.0, help="Ridge penalty.")] = RIDGE_ALPHA,
) -> None:
    """Train the pair scorer (7 dimensions + same-story probability).

    Reports grouped cross-validation first (pairs sharing an article stay in
    one fold), then fits on all pairs and writes OUT/scorer.json and
    OUT/scorer-background.npz. Same pairs, same artifact. Use it with
    `storylink compare --scorer OUT` or `storylink eval --scorer OUT`.

    The shipped scorer: storylink train --out src/storylink/data
    --pairs ../shared/data/semeval8/dev_pairs.jsonl
    --pairs ../shared/data/semeval8/more_pairs.jsonl
    """
    labelled = _pairs(pairs)
    comparer = Comparer(encoders=EncoderSet(cache_dir() / "embeddings.sqlite"))
    with _progress_bar("analysing and encoding articles") as progress:
        task = progress.add_task("", total=None)
        prepared = prepare_articles(
            labelled,
            comparer,
            lambda done, total: progress.update(task, completed=done, total=total),
        )
    if folds:
        try:
            scored = cross_validate(labelled, prepared, comparer, folds, seed, alpha)
        except ValueError as error:
            raise _fail(f"{error}; use --folds 0 to train without it") from None
        metrics = pair_metrics(labelled, [s.scores for s in scored], [s.same_story for s in scored])
        console.print(
            f"{len(labelled)} pairs, grouped {folds}-fold CV (seed {seed}): Pearson overall "
            f"[bold]{metrics.pearson['overall']:.3f}[/], "
            f"same-story F1 {metrics.same_story['f1']:.3f}"
        )
    try:
        scorer = fit_scorer(
            labelled,
            prepared,
            comparer,
            alpha,
            f"{' + '.join(p.name for p in pairs)} ({len(labelled)} pairs)",
        )
    except ValueError as error:
        raise _fail(str(error)) from None
    scorer.save(out)
    console.print(f"wrote {escape(str(out))}/scorer.json and scorer-background.npz")


def _metrics_tables(metrics: PairMetrics) -> None:
    table = Table(title=f"{metrics.n_pairs} pairs: correlation with gold (higher is better)")
    for column in ("dimension", "Pearson", "Spearman"):
        table.add_column(column, justify="left" if column == "dimension" else "right")
    for dimension, value in metrics.pearson.items():
        table.add_row(dimension, f"{value:.3f}", f"{metrics.spearman[dimension]:.3f}")
    console.print(table)
    pairs = Table(title="Overall by language pair")
    for column in ("pair", "n", "Pearson", "Spearman"):
        pairs.add_column(column, justify="left" if column == "pair" else "right")
    for name, found in metrics.by_language_pair.items():
        r, rho = (
            found["pearson"].get("overall", math.nan),
            found["spearman"].get("overall", math.nan),
        )
        pairs.add_row(name, str(found["n_pairs"]), f"{r:.3f}", f"{rho:.3f}")
    console.print(pairs)
    verdict = metrics.same_story
    console.print(
        f"same story (gold Overall ≤ 2): precision [bold]{verdict['precision']:.3f}[/], "
        f"recall [bold]{verdict['recall']:.3f}[/], F1 [bold]{verdict['f1']:.3f}[/]"
    )


@app.command("eval")
def eval_command(
    pairs: Annotated[
        list[Path],
        typer.Argument(
            help="Labelled pairs: JSONL (shared layout) or CSV (SemEval layout), one or more files."
        ),
    ],
    out: Annotated[
        Path | None, typer.Option(help="Write each pair's predicted scores here (JSONL).")
    ] = None,
    workers: Annotated[int | None, WORKERS_OPTION] = None,
    engine: Annotated[EngineName | None, ENGINE_OPTION] = None,
    scheduler: Annotated[str | None, SCHEDULER_OPTION] = None,
    scorer: Annotated[Path | None, SCORER_OPTION] = None,
    clustering: Annotated[
        bool, typer.Option(help="Also cluster the articles into stories and score that.")
    ] = True,
    db: Annotated[
        Path | None, typer.Option(help="Keep the clustering store here (default: temporary).")
    ] = None,
    threshold: Annotated[float | None, typer.Option(help=THRESHOLD_HELP)] = None,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Measure storylink on labelled pairs: pair scores and story clustering.

    Pair scores: Pearson and Spearman of each predicted dimension with gold,
    overall and per language pair, and precision/recall/F1 of the same-story
    verdict (gold Overall ≤ 2). Clustering: the articles are ingested into a
    fresh store; a pair counts as joined when both land in one story (gold:
    Overall ≤ 2 same, ≥ 3 different, pairs in between left out).

    Example: storylink eval dev_pairs.jsonl --workers 2 --out pred.jsonl
    """
    labelled = _pairs(pairs)
    comparer = _comparer(scorer)
    chosen = _engine(engine, workers, scheduler)
    with _progress_bar("scoring pairs") as progress:
        task = progress.add_task("", total=None)
        try:
            scored = score_pairs(
                labelled,
                comparer,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
                engine=chosen,
            )
        except EngineError as error:
            raise _fail(str(error)) from None
    kept = [(p, s) for p, s in zip(labelled, scored, strict=True) if isinstance(s, PairScore)]
    skipped = [
        f"{p.pair_id}: {s}" for p, s in zip(labelled, scored, strict=True) if isinstance(s, str)
    ]
    for message in skipped:
        errors.print(f"[yellow]skipped[/] {escape(message)}", highlight=False)
    if not kept:
        raise _fail("no pair could be scored")
    metrics = pair_metrics(
        [p for p, _ in kept], [s.scores for _, s in kept], [s.same_story for _, s in kept]
    )
    if out is not None:
        with out.open("w", encoding="utf-8") as handle:
            for pair, score in kept:
                row = {"pair_id": pair.pair_id, **{k: round(v, 4) for k, v in score.scores.items()}}
                row |= {"same_story": score.same_story, "probability": round(score.probability, 4)}
                handle.write(json.dumps(row) + "\n")
    result: dict[str, Any] = {"n_scored": len(kept), "skipped": skipped, **metrics.to_dict()}
    result["n_pairs"] = len(labelled)
    if clustering:
        result["clustering"] = _clustering(labelled, db, threshold, chosen)
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    _metrics_tables(metrics)
    if clustering:
        found = result["clustering"]
        console.print(
            f"clustering ({found['n_pairs']} pairs with a clear gold label): precision "
            f"[bold]{found['precision']:.3f}[/], recall [bold]{found['recall']:.3f}[/], "
            f"F1 [bold]{found['f1']:.3f}[/]"
        )
    if out is not None:
        console.print(f"wrote {len(kept)} predictions to {escape(str(out))}")


def _clustering(
    labelled: list[LabelledPair], db: Path | None, threshold: float | None, engine: Engine
) -> dict[str, Any]:
    """Pairwise precision/recall/F1 of clustering the pairs' articles in a fresh store."""
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        path = db or Path(scratch) / "eval.db"
        if path.exists():
            raise _fail(f"{path} exists; eval needs a fresh store")
        with (
            _open(path, _params(threshold, None, None), engine) as stories,
            _progress_bar("clustering pair articles") as progress,
        ):
            task = progress.add_task("", total=None)
            scores = evaluate_clustering(
                labelled,
                stories,
                lambda done, total: progress.update(task, completed=done, total=total),
            )
    return {
        "precision": round(scores.precision, 4),
        "recall": round(scores.recall, 4),
        "f1": round(scores.f1, 4),
        "n_pairs": scores.n_pairs,
        "true_positives": scores.true_positives,
        "false_positives": scores.false_positives,
        "false_negatives": scores.false_negatives,
    }


OUT_OPTION = typer.Option(
    "--out", help="The Parquet file to write (whole when the run completes, else untouched)."
)


def _out(out: Path) -> Path:
    if not out.parent.is_dir():
        raise _fail(f"{out.parent}: no such directory")
    if out.is_dir():
        raise _fail(f"{out}: is a directory; give a file name, e.g. {out / 'out.parquet'}")
    return out


@app.command()
def embed(
    sources: Annotated[
        list[str], typer.Argument(help="Files, directories (recursive), globs, feeds or URLs.")
    ],
    out: Annotated[Path, OUT_OPTION],
    encoder: Annotated[
        str | None,
        typer.Option(
            help="Read every article with this encoder (use-m3: 16 languages, e5-small: ~90) "
            "instead of each with its home encoder (USE for its languages, else e5)."
        ),
    ] = None,
    field: Annotated[list[str] | None, typer.Option("--field", help=FIELD_HELP)] = None,
    workers: Annotated[int | None, WORKERS_OPTION] = None,
    engine: Annotated[EngineName | None, ENGINE_OPTION] = None,
    scheduler: Annotated[str | None, SCHEDULER_OPTION] = None,
    allow_private: Annotated[bool, ALLOW_PRIVATE_OPTION] = False,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Write each article's document vector to Parquet, for data teams.

    One row per article (read once: the same title and text again is a
    duplicate): id, origin, language, and one vector column per encoder
    (use-m3: 512 floats, e5-small: 384), null where that encoder did not
    read the article. Bad inputs are reported and skipped.

    Example: storylink embed corpus/ wires.jsonl --out vectors.parquet --engine dask
    """
    from .batch import embed as embed_articles

    fields = _fields(field)
    chosen = _engine(engine, workers, scheduler)
    with _progress_bar("embedding") as progress:
        task = progress.add_task("", total=None)
        try:
            report = embed_articles(
                sources,
                _out(out),
                fields,
                chosen,
                encoder,
                lambda done, total: progress.update(task, completed=done, total=total),
                fetcher=url_fetcher(allow_private),
            )
        except (EngineError, ValueError, OSError) as error:
            raise _fail(str(error)) from None
    _warn_skipped(report.skipped)
    if as_json:
        print(json.dumps(asdict(report), ensure_ascii=False, indent=2))
    else:
        console.print(
            f"{report.read} read, [bold]{report.written} written[/] to {escape(str(out))}, "
            f"{report.duplicates} duplicates, {len(report.skipped)} skipped"
        )
    if not report.written:
        errors.print(f"nothing written: {escape(str(out))} was not created", highlight=False)
    if not report.written and report.skipped:
        raise typer.Exit(2)
    if report.skipped:
        raise typer.Exit(1)


@app.command("score-pairs")
def score_pairs_command(
    pairs: Annotated[
        list[Path],
        typer.Argument(
            help="Pairs as `storylink eval` reads them (JSONL or CSV); gold scores optional."
        ),
    ],
    out: Annotated[Path, OUT_OPTION],
    scorer: Annotated[Path | None, SCORER_OPTION] = None,
    workers: Annotated[int | None, WORKERS_OPTION] = None,
    engine: Annotated[EngineName | None, ENGINE_OPTION] = None,
    scheduler: Annotated[str | None, SCHEDULER_OPTION] = None,
) -> None:
    """Score pairs of articles to Parquet, for data teams.

    One row per pair, in input order: pair_id, id_a, id_b, language_a,
    language_b, the seven scores as `storylink compare` gives them
    (overall, geography, entities, time, narrative, style, tone;
    1 = very similar … 4), probability (same story), same_story, and
    error: why a pair could not be scored (its scores are then empty).

    Example: storylink score-pairs pairs.jsonl --out scores.parquet --engine dask
    """
    from .batch import score_pairs_table, write_table

    labelled = _pairs(pairs, gold=False)
    comparer = _comparer(scorer)
    chosen = _engine(engine, workers, scheduler)
    with _progress_bar("analysing pair articles") as progress:
        task = progress.add_task("", total=None)
        try:
            table = score_pairs_table(
                labelled,
                comparer,
                chosen,
                lambda done, total: progress.update(task, completed=done, total=total),
            )
            write_table(table, _out(out))
        except (EngineError, OSError) as error:
            raise _fail(str(error)) from None
    problems = zip(labelled, table.column("error").to_pylist(), strict=True)
    failed = [f"{pair.pair_id}: {problem}" for pair, problem in problems if problem]
    for message in failed:
        errors.print(f"[yellow]not scored[/] {escape(message)}", highlight=False, soft_wrap=True)
    console.print(
        f"{len(labelled)} pairs, [bold]{len(labelled) - len(failed)} scored[/] to "
        f"{escape(str(out))}, {len(failed)} not scored"
    )
    if len(failed) == len(labelled):
        raise typer.Exit(2)
    if failed:
        raise typer.Exit(1)


@app.command()
def serve(
    db: Annotated[str, DB_OPTION] = DEFAULT_DB,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="STORYLINK_TOKEN",
            help="Bearer token that POST /articles requires (or $STORYLINK_TOKEN); "
            "without one, ingest over HTTP is off. Reads are open.",
        ),
    ] = None,
    max_body: Annotated[
        int, typer.Option(min=1024, help="Largest request body in bytes (larger: 413).")
    ] = MAX_BODY_BYTES,
    allow_private: Annotated[bool, ALLOW_PRIVATE_OPTION] = False,
    writes_per_minute: Annotated[
        float,
        typer.Option(
            min=0, help="POST /articles a client address may make a minute (0: no limit)."
        ),
    ] = WRITES_PER_MINUTE,
) -> None:
    """Serve the stories: JSON API (docs at /docs) and web pages (/, /story/ID, /compare).

    Example: storylink serve --db news.db --port 8000 --token "$(openssl rand -hex 16)"
    """
    import uvicorn

    _need_db(db)
    from .serve import create_app

    app = create_app(
        db, token, max_body, allow_private=allow_private, writes_per_minute=writes_per_minute
    )
    console.print(f"storylink on http://{host}:{port}/  (API docs: http://{host}:{port}/docs)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


DEFAULT_POLICY = FetchPolicy()


def _sources(specs: list[str]) -> list[FeedSource]:
    from .feeds import FeedError, feed_sources

    try:
        return [source for spec in specs for source in feed_sources(spec)]
    except FeedError as error:
        raise _fail(str(error)) from None


@app.command()
def watch(
    feeds: Annotated[
        list[str] | None,
        typer.Argument(
            help="Feed URLs, text files of URLs (one a line, # comments) or OPML files to "
            "subscribe to; none: poll the feeds already subscribed."
        ),
    ] = None,
    db: Annotated[str, NEW_DB_OPTION] = DEFAULT_DB,
    cycles: Annotated[
        int | None, typer.Option(min=1, help="Poll this many times, then exit (default: run on).")
    ] = None,
    interval: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            help="Poll every feed this often (seconds) instead of the adaptive 5 min–24 h "
            "schedule (15 min for a new feed).",
        ),
    ] = None,
    host_interval: Annotated[
        float, typer.Option(min=0.0, help="Seconds between two requests to one host.")
    ] = DEFAULT_POLICY.host_interval,
    timeout: Annotated[
        float, typer.Option(min=0.1, help="Connect and read timeout in seconds.")
    ] = DEFAULT_POLICY.read_timeout,
    max_hosts: Annotated[
        int, typer.Option(min=1, help="Requests in flight at once, over all hosts.")
    ] = DEFAULT_POLICY.max_hosts,
    user_agent: Annotated[
        str | None, typer.Option(help="User-Agent to send (default: storylink and its version).")
    ] = None,
    allow_private: Annotated[bool, ALLOW_PRIVATE_OPTION] = False,
    workers: Annotated[int | None, WORKERS_OPTION] = None,
    engine: Annotated[EngineName | None, ENGINE_OPTION] = None,
    scheduler: Annotated[str | None, SCHEDULER_OPTION] = None,
    batch_size: Annotated[int, BATCH_SIZE_OPTION] = BATCH_SIZE,
) -> None:
    """Follow feeds live: subscribe to FEEDs, then poll every subscribed feed.

    Each feed is polled on its own schedule with conditional
    requests; the pages of new entries are fetched (robots.txt
    obeyed, one request at a time per host) and read as articles,
    which join their stories as with `ingest`. An entry whose page
    cannot be read keeps the feed's own text. Failing feeds back
    off up to a day; Retry-After is honoured; 410 stops a feed;
    301/308 move it. Ctrl-C or SIGTERM finishes the batch in flight.

    Example: storylink watch feeds.opml https://example.org/rss --db news.db
    """
    import signal

    from .fetch import Fetcher
    from .watch import Watcher

    sources = _sources(feeds or [])
    policy = FetchPolicy(
        user_agent=user_agent or DEFAULT_POLICY.user_agent,
        connect_timeout=timeout,
        read_timeout=timeout,
        host_interval=host_interval,
        max_hosts=max_hosts,
        allow_private=allow_private,
    )
    with _open(db, engine=_engine(engine, workers, scheduler), batch_size=batch_size) as stories:
        watcher = Watcher(stories, Fetcher(policy), interval, batch_size)
        added = watcher.subscribe(sources)
        if sources:
            errors.print(
                f"{_count(added, 'new feed')}, {len(sources) - added} already subscribed",
                highlight=False,
            )
        if watcher.next_due() is None:
            name = redacted(db)
            raise _fail(
                f"{name}: no feeds to poll; subscribe with: storylink watch FEED --db {name}"
            )
        stories.start_engine()
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, lambda *_: watcher.stop())

        def show(report: CycleReport) -> None:
            for problem in report.errors:
                errors.print(f"[yellow]{escape(problem)}[/]", highlight=False, soft_wrap=True)
            console.print(f"{_when(datetime.now(UTC))}  {report.line()}", highlight=False)

        try:
            reports = watcher.run(cycles, show)
        except StoreError as error:
            raise _fail(str(error)) from None
    if cycles is not None and reports and reports[-1].failed:
        raise typer.Exit(1)  # for cron: the last poll left feeds failing


feeds_app = typer.Typer(
    help="The feeds `storylink watch` follows, with their health (list, add, remove)."
)
app.add_typer(feeds_app, name="feeds")


@feeds_app.callback(invoke_without_command=True)
def feeds_list(
    context: typer.Context,
    db: Annotated[str, DB_OPTION] = DEFAULT_DB,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """List subscribed feeds and their health: last poll and success,
    last error, consecutive failures, next poll, entries and articles
    per day (past week).

    Example: storylink feeds --db news.db
    """
    if context.invoked_subcommand:
        return
    from .feeds import feed_health

    _need_db(db)
    with _open(db) as stories:
        health = feed_health(feed_store(stories.store))
    if as_json:
        print(json.dumps([h.to_dict() for h in health], ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{_count(len(health), 'feed')}; times in UTC")
    table.add_column("feed (last error)", ratio=1, min_width=20, overflow="fold")
    for column in ("status", "last success", "next poll", "entries / articles a day"):
        table.add_column(column, max_width=12)
    for h in health:
        cell = escape(f"{h.title}\n{h.url}" if h.title else h.url)
        if h.last_error:
            cell += f"\n[red]{escape(h.last_error)}[/]"
        status = f"{h.status} ({h.failures}×)" if h.failures else h.status
        rates = f"{h.entries_per_day:g} / {h.articles_per_day:g}"
        if h.feed_text_per_day:
            rates += f" ({h.feed_text_per_day:g} feed text)"
        table.add_row(cell, status, _when(h.last_success), _when(h.next_poll), rates)
    console.print(table)


@feeds_app.command("add")
def feeds_add(
    feeds: Annotated[list[str], typer.Argument(help="Feed URLs, URL lists or OPML files.")],
    db: Annotated[str, NEW_DB_OPTION] = DEFAULT_DB,
) -> None:
    """Subscribe to feeds without polling them (`storylink watch` polls them)."""
    sources = _sources(feeds)
    with _open(db) as stories:
        added = subscribe(feed_store(stories.store), sources)
    console.print(f"{_count(added, 'new feed')}, {len(sources) - added} already subscribed")


@feeds_app.command("remove")
def feeds_remove(
    urls: Annotated[list[str], typer.Argument(help="Feed URLs, as `storylink feeds` lists them.")],
    db: Annotated[str, DB_OPTION] = DEFAULT_DB,
) -> None:
    """Unsubscribe from feeds; their articles stay in the stories."""
    _need_db(db)
    with _open(db) as stories:
        missing = [url for url in urls if not feed_store(stories.store).unsubscribe(url)]
    console.print(f"removed {_count(len(urls) - len(missing), 'feed')}")
    if missing:
        raise _fail(f"not subscribed: {', '.join(missing)}")


def _version(value: bool) -> None:
    if value:
        from . import __version__

        print(f"storylink {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    _configure_logging(verbose)


def _configure_logging(verbose: bool) -> None:
    """storylink's own warnings always reach stderr, in its words; other libraries' log lines
    (trafilatura's "discarding data: None", htmldate, dateparser) and Python warnings only
    with -v, when they help to debug."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    if not verbose:
        handler.addFilter(logging.Filter("storylink"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    logging.captureWarnings(True)
    logging.getLogger("storylink").setLevel(logging.INFO if verbose else logging.WARNING)


if __name__ == "__main__":  # pragma: no cover
    app()
