"""The `storylink` command line: demo, compare, read."""

from __future__ import annotations

import json
import logging
import sys
from statistics import mean
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from .article import Article
from .compare import CompareError, Comparer, PairScore
from .read import FieldNames, ReadError, read_many, read_one

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
            f"[dim]encoder {score.encoder}[/]",
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
) -> None:
    """Compare two articles in any languages and explain the score.

    A and B: a file (.txt, .html, .jsonl, .csv, .rss …) or a URL,
    or SOURCE#N for entry N of a collection (JSONL line, CSV row, feed entry).

    Example: storylink compare report-en.txt report-ar.html --json
    """
    fields = _fields(field)
    try:
        first, second = read_one(a, fields), read_one(b, fields)
        score = Comparer().compare(first, second)
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
            sources, fields, lambda name: progress.update(task, advance=1, description=name)
        )
    for problem in report.errors:
        errors.print(f"[yellow]skipped:[/] {escape(str(problem))}", highlight=False, soft_wrap=True)
    articles = [with_language(a) for a in report.articles]
    if as_json:
        for article in articles:
            print(json.dumps(article.to_dict(), ensure_ascii=False))
    else:
        table = Table(title=f"{len(articles)} articles, {len(report.errors)} skipped")
        for column in ("id", "lang", "published", "title", "origin"):
            table.add_column(column, overflow="fold")
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
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s: %(message)s")
    logging.getLogger("storylink").setLevel(logging.INFO if verbose else logging.WARNING)


if __name__ == "__main__":  # pragma: no cover
    app()
