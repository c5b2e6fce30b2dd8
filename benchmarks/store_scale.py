"""A store that lives for years (issue 14): per-article cost, restart time, memory and query
speed of a story store holding 10k to 1M articles.

    PYTHONPATH=src .venv/bin/python benchmarks/store_scale.py --sizes 10000,100000
    PYTHONPATH=src .venv/bin/python benchmarks/store_scale.py --fill 300000 --db DB
    PYTHONPATH=src .venv/bin/python benchmarks/store_scale.py --measure --db DB [--json]
    PYTHONPATH=src .venv/bin/python benchmarks/store_scale.py --measure --db DB --profile

(DB e.g. /work/scale-data/store-300000.db: stores go there, never into the repository.)

Articles: real analyses (names, dates, numbers, float16 home-encoder vectors, as `StoryStore`'s
ingest comparer makes them) of the dev pairs' articles and the shipped examples, computed once
and cached in `/work/scale-data/analyses-<version>-<hash of the analysis modules>.pkl`. A synthetic
article is a copy of one of them under a new title (so a new id), dated anywhere in the two
years before 2026-01-01, with its document, title and sentence vectors moved by Gaussian noise
to a cosine of 0.85-0.95 with the original's.

`--fill N` writes N such articles straight through `SQLiteStore.commit`, already grouped into
synthetic stories (sizes mostly 1-3, 2 % of 20-60, mean ~3; a story's members copy one
article or its same-story pair partner and lie within a few days; centrality is the cosine to
the story's centroid), so no clustering runs during the fill; then opens `StoryStore` once and
searches, which builds the nearest-neighbour indexes beside the database ("index build").

`--measure` times the store as a user meets it, each part in a fresh process of this script:
* ingest: 5 batches of 100 new articles (dated in the last 30 days before 2026-01-01) through
  `StoryStore.add`, with `storylink.stories.analyse_chunk` replaced by a lookup of ready
  analyses, so clustering + indexes + commit are timed without the analysis; the first batch
  also restores the clustering state (`restore_s` = first batch - 100 x steady per-article
  time); the open time of `StoryStore(path)` and the process's peak RSS, models included
  (USE, e5 and spaCy are loaded before timing). The articles stay in the store (+500), in
  the very window the next measure times: to compare runs, measure a fresh copy of a fill
  each time (`cp DB DB2; cp -r DB.*.index …`); the summary says how many a store holds.
* search: first query (loads the indexes; encoders loaded before), median of 10 warm ones.
* story lists: newest 20, largest 20, entity filter (a place, a person): median of 5.
* disk: bytes per article of the database, its WAL and every `<db>.*` sidecar (the indexes),
  with and without the stored title + text bytes.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import math
import os
import pickle
import pstats
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

import storylink
from storylink.article import Article
from storylink.compare import Comparer
from storylink.demo import example_articles
from storylink.encode import ArticleVectors, EncoderSet
from storylink.evaluate import load_pairs
from storylink.features import PreparedArticle
from storylink.store import Batch, SQLiteStore, StoryRow, is_server_uri, open_store
from storylink.stories import StoryStore, pair_articles

DATA = Path("/work/scale-data")
PAIRS = Path(__file__).resolve().parents[1] / "../shared/data/semeval8/dev_pairs.jsonl"
END = datetime(2026, 1, 1, tzinfo=UTC)
DAY = 86_400.0
COMMIT_ARTICLES = 2_000  # articles per fill transaction
NEW_BATCHES, NEW_PER_BATCH, NEW_DAYS = 5, 100, 30
ENCODERS = ("use-m3", "e5-small")  # loaded before anything is timed
CROSS = "e5-small"  # the encoder of pairs across encoder spaces
FIRST_QUERY = "earthquake in Turkey"
WARM_QUERIES = (
    "flood warnings in Germany",
    "Bundestagswahl und Koalitionsverhandlungen",
    "élection présidentielle en France",
    "inundaciones en España",
    "протесты в Москве",
    "الانتخابات في مصر",
    "中国经济增长放缓",
    "İstanbul'da deprem",
    "trade war between China and the United States",
    "Brexit negotiations in Brussels",
)
ENTITIES = ("China", "Trump")  # the place the dev articles name most, and a person
# (Moscow, measured before 2026-12-07 night, is named by none of them: it timed an empty answer)


# ---------------------------------------------------------------- real analyses (cached)


@dataclass(frozen=True)
class Template:
    """A real analysed article that synthetic ones copy, and its same-story partners."""

    home: str
    prepared: PreparedArticle  # with its home encoder's vectors only, as ingest keeps it
    siblings: tuple[int, ...]  # template positions of the same story, itself included
    cross: dict[str, ArticleVectors]  # e5 vectors of a USE article (see `new_articles`)


ANALYSIS_MODULES = ("article", "compare", "dates", "encode", "entities", "features", "language")
ANALYSIS_MODULES += ("text",)


def source_key() -> str:
    """storylink's version and a hash of the modules that make an analysis (not the store's:
    its rewrite reuses the cached analyses); analyses of other code are not reused."""
    digest = hashlib.sha256()
    package = Path(storylink.__file__).parent
    for name in ANALYSIS_MODULES:
        digest.update((package / f"{name}.py").read_bytes())
    return f"{storylink.__version__}-{digest.hexdigest()[:12]}"


def analyse_templates(pairs_path: Path) -> list[Template]:
    """Analyse the dev pairs' articles and the examples with the default ingest comparer."""
    comparer = Comparer(encoders=EncoderSet(None, threads=1), compact_vectors=True, glance=False)
    pairs = load_pairs(pairs_path)
    examples = example_articles()
    articles = pair_articles(pairs) + [a for _, a in examples]
    story_of: dict[str, str] = {a.id: f"example:{key}" for key, a in examples}
    for pair in pairs:  # a same-story pair (Overall <= 2) is one story
        if pair.scores["overall"] <= 2.0:
            story_of.setdefault(pair.b.id, story_of.setdefault(pair.a.id, pair.a.id))
    analysed: list[tuple[str, PreparedArticle]] = []
    for article in articles:
        try:
            prepared = comparer.analyse(article)
        except ValueError as error:  # CompareError: language no encoder knows
            print(f"  skipped {article.id}: {error}", file=sys.stderr)
            continue
        analysed.append((comparer.home_encoder(prepared).name, prepared))
    groups: dict[str, list[int]] = {}
    for i, (_, prepared) in enumerate(analysed):
        groups.setdefault(story_of.get(prepared.article.id, prepared.article.id), []).append(i)
    e5 = EncoderSet(None, threads=2)
    found = []
    for home, prepared in analysed:
        cross = {}
        if home != CROSS:
            cross[CROSS] = e5.vectors(prepared.article, e5.encoder(CROSS)).compact()
        group = groups[story_of.get(prepared.article.id, prepared.article.id)]
        found.append(Template(home, prepared, tuple(group), cross))
    return found


def templates(pairs_path: Path = PAIRS) -> list[Template]:
    """The analyses from `DATA/analyses-<key>.pkl` (one file per `source_key`, so a change to
    the classes pickled never spoils another version's), computed when missing (~8 min: the
    e5 vectors of 383 articles on 2 threads)."""
    key = source_key()
    cache = DATA / f"analyses-{key}.pkl"
    if not cache.exists():
        started = time.perf_counter()
        found = [vars(t) for t in analyse_templates(pairs_path)]  # plain fields, no class here
        DATA.mkdir(parents=True, exist_ok=True)
        partial = cache.with_name(cache.name + ".partial")
        with partial.open("wb") as handle:
            pickle.dump(found, handle)
        partial.replace(cache)
        seconds = time.perf_counter() - started
        print(f"analysed {len(found)} articles in {seconds:.0f} s ({key})", file=sys.stderr)
    with cache.open("rb") as handle:
        return [Template(**fields) for fields in pickle.load(handle)]


# ---------------------------------------------------------------- synthetic articles


def _noisy(matrix: np.ndarray, cosine: float, rng: np.random.Generator) -> np.ndarray:
    """Unit rows moved to about `cosine` from the given unit rows, rounded through float16."""
    rows = np.atleast_2d(np.asarray(matrix, dtype=np.float32))
    sigma = math.sqrt((1.0 / cosine**2 - 1.0) / rows.shape[1])
    moved = rows + sigma * rng.standard_normal(rows.shape, dtype=np.float32)
    moved /= np.maximum(np.linalg.norm(moved, axis=1, keepdims=True), 1e-12)
    rounded: np.ndarray = moved.astype(np.float16).astype(np.float32)
    return rounded.reshape(np.shape(matrix))


def _unit(vector: np.ndarray) -> np.ndarray:
    scaled: np.ndarray = vector / max(float(np.linalg.norm(vector)), 1e-12)
    return scaled


def perturbed(vectors: ArticleVectors, rng: np.random.Generator) -> ArticleVectors:
    """The vectors moved by noise to a cosine of 0.85-0.95 with the originals (as `compact`)."""
    cosine = float(rng.uniform(0.85, 0.95))
    sentence_vectors = (
        _noisy(vectors.sentence_vectors, cosine, rng)
        if len(vectors.sentence_vectors)
        else vectors.sentence_vectors
    )
    document = _noisy(vectors.document_vector, cosine, rng)
    title = None if vectors.title_vector is None else _noisy(vectors.title_vector, cosine, rng)
    mean = _unit(sentence_vectors.mean(axis=0)) if len(sentence_vectors) else document
    return ArticleVectors(
        vectors.encoder, vectors.sentences, sentence_vectors, title, document, mean
    )


def synthetic(
    template: Template, tag: str, ts: float, rng: np.random.Generator, cross: bool = False
) -> PreparedArticle:
    """A copy of a template's analysis as a new article: new title suffix (so a new id), URL,
    origin and date; same text, names, dates and numbers; perturbed vectors (with `cross`, its
    e5 vectors too, which clustering would otherwise encode when it compares across spaces)."""
    base = template.prepared
    article = replace(
        base.article,
        title=f"{base.article.title} [{tag}]",
        url=f"https://scale.invalid/{tag}",
        origin=f"scale#{tag}",
        published=datetime.fromtimestamp(ts, UTC),
        id="",  # recomputed from title and text
    )
    kept = base.vectors | (template.cross if cross else {})
    vectors = {name: perturbed(v, rng) for name, v in kept.items()}
    return replace(base, article=article, vectors=vectors)


@dataclass
class PlannedStory:
    id: int
    start: float
    members: list[tuple[float, int]]  # (timestamp, template position), by time


def story_sizes(total: int, rng: np.random.Generator) -> list[int]:
    """Heavy-tailed sizes summing to `total`: geometric 1-19 (mean ~2.2), 2 % uniform 20-60."""
    sizes: list[int] = []
    left = total
    while left > 0:
        size = (
            int(rng.integers(20, 61)) if rng.random() < 0.02 else min(19, int(rng.geometric(0.45)))
        )
        sizes.append(min(size, left))
        left -= sizes[-1]
    return sizes


def plan(total: int, count: int, rng: np.random.Generator, years: float = 2) -> list[PlannedStory]:
    """Synthetic stories over the `years` before `END`, by start time."""
    stories = []
    span = years * 365 * DAY
    for size in story_sizes(total, rng):
        template = int(rng.integers(count))
        start = END.timestamp() - span + float(rng.uniform(0, span - 7 * DAY))
        offsets = np.sort(np.minimum(rng.exponential(1.5 * DAY, size), 6 * DAY))
        offsets[0] = 0.0
        stories.append(PlannedStory(0, start, [(start + float(o), template) for o in offsets]))
    stories.sort(key=lambda s: s.start)
    for number, story in enumerate(stories, 1):
        story.id = number
    return stories


def centralities(homes: list[str], documents: list[np.ndarray]) -> list[float]:
    """Each member's cosine to the centroid of the story's members in its encoder space."""
    values = [1.0] * len(homes)
    for space in set(homes):
        members = [i for i, h in enumerate(homes) if h == space]
        matrix = np.vstack([documents[i] for i in members])
        for i, value in zip(members, matrix @ _unit(matrix.mean(axis=0)), strict=True):
            values[i] = float(value)
    return values


def story_batch(
    story: PlannedStory, first_seq: int, pool: list[Template], rng: np.random.Generator
) -> Batch:
    """One planned story's articles, membership and story row."""
    batch = Batch()
    homes, documents = [], []
    for n, (ts, position) in enumerate(story.members):
        template = pool[position]
        if n and len(template.siblings) > 1 and rng.random() < 0.5:
            template = pool[int(rng.choice(template.siblings))]
        seq = first_seq + n
        prepared = synthetic(template, str(seq), ts, rng)
        batch.articles.append((seq, template.home, prepared))
        homes.append(template.home)
        documents.append(prepared.vectors[template.home].document_vector)
    values = centralities(homes, documents)
    main = max(set(homes), key=lambda h: (homes.count(h), h == "use-m3"))
    headline = max((i for i, h in enumerate(homes) if h == main), key=lambda i: values[i])
    for n, value in enumerate(values):
        batch.memberships[first_seq + n] = (story.id, value)
    times = [ts for ts, _ in story.members]
    sole = homes[0] if len(set(homes)) == 1 else None  # what the clusterer would record
    batch.stories[story.id] = StoryRow(
        story.id, first_seq + headline, len(times), min(times), max(times), sole
    )
    return batch


def merge(batches: Sequence[Batch]) -> Batch:
    return Batch(
        articles=[a for b in batches for a in b.articles],
        memberships={k: v for b in batches for k, v in b.memberships.items()},
        stories={k: v for b in batches for k, v in b.stories.items()},
    )


def sidecars(db: Path) -> list[Path]:
    """Files that belong to a store: the database, its WAL and shared memory, `<db>.*`."""
    found = [db.with_name(db.name + suffix) for suffix in ("", "-wal", "-shm")]
    found += sorted(db.parent.glob(db.name + ".*"))
    return [p for p in found if p.exists()]


def _bytes(path: Path) -> int:
    """A file's size, or everything in a directory (an index of monthly shards)."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def meta_path(db: Path) -> Path:
    return db.with_name(db.stem + "-fill.json")


def fill(db: Path, total: int, seed: int, years: float = 2) -> dict[str, Any]:
    """A fresh store of `total` synthetic articles in synthetic stories over `years`; indexes
    built. More years at the same size: fewer articles in a new article's time window."""
    pool = templates()
    for path in sidecars(db):  # an earlier fill's database and index directories
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    db.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    stories = plan(total, len(pool), rng, years)
    store = SQLiteStore(db)
    seq, pending, written = store.next_seq(), [], 0
    started = time.perf_counter()
    for story in stories:
        pending.append(story_batch(story, seq, pool, rng))
        seq += len(story.members)
        if seq - written - 1 >= COMMIT_ARTICLES or story is stories[-1]:
            batch = merge(pending)
            store.commit(batch)
            written += len(batch.articles)
            pending = []
            if written % 50_000 < COMMIT_ARTICLES:
                rate = written / (time.perf_counter() - started)
                print(f"  {written:,} articles, {rate:,.0f}/s", file=sys.stderr)
    fill_s = time.perf_counter() - started
    store.close()
    text_bytes = sum(
        len(t.prepared.article.title.encode()) + len(t.prepared.article.text.encode()) for t in pool
    )  # per template, for the fallback estimate below
    opened = time.perf_counter()
    stories_store = StoryStore(db)
    open_s = time.perf_counter() - opened
    load_encoders(stories_store)
    built = time.perf_counter()
    stories_store.save_indexes()  # as `storylink ingest` would have left them
    stories_store.close()
    index_s = time.perf_counter() - built
    result = {
        "articles": total,
        "stories": len(stories),
        "seed": seed,
        "years": years,
        "fill_s": round(fill_s, 1),
        "fill_rate": round(total / fill_s, 1),
        "open_s": round(open_s, 3),
        "index_build_s": round(index_s, 2),
        "db_gb": round(_size(db) / 2**30, 3),
        "mean_template_text_bytes": round(text_bytes / len(pool)),
        "storylink": source_key(),
    }
    meta_path(db).write_text(json.dumps(result, indent=1))
    return result


def _size(db: Path) -> int:
    return sum(
        db.with_name(db.name + s).stat().st_size
        for s in ("", "-wal")
        if db.with_name(db.name + s).exists()
    )


# ---------------------------------------------------------------- probes (fresh processes)


def load_encoders(stories: StoryStore) -> None:
    """Load the models a store uses (USE, e5; spaCy via one analysis) before timing anything."""
    comparer = getattr(stories, "comparer", None)
    if comparer is None:
        return
    for name in ENCODERS:
        comparer.encoders.encoder(name).encode(["warm up"])


def warm_models(stories: StoryStore, pool: list[Template]) -> None:
    load_encoders(stories)
    comparer = getattr(stories, "comparer", None)
    if comparer is not None:
        english = next(t for t in pool if t.prepared.language == "en")
        comparer.analyse(replace(english.prepared.article, title="warm up", id=""))


def new_articles(pool: list[Template], first: int, count: int, seed: int) -> list[PreparedArticle]:
    """`count` new synthetic articles dated in the last `NEW_DAYS` days before `END`, by date;
    tagged by the store's next number, so a second measurement adds new articles too.

    Copies of USE-language articles only, each with its e5 vectors ready: a USE article
    compared with an e5-only story (Greek, Hebrew, Persian examples) needs its e5 vectors, ~1 s
    of encoding on one thread, which is analysis, not store cost (and would swamp the figure:
    a few such comparisons per 100 articles)."""
    rng = np.random.default_rng([seed, first])
    usable = [t for t in pool if CROSS in t.cross]
    times = np.sort(rng.uniform(END.timestamp() - NEW_DAYS * DAY, END.timestamp(), count))
    return [
        synthetic(usable[int(rng.integers(len(usable)))], f"new {first + i}", float(ts), rng, True)
        for i, ts in enumerate(times)
    ]


def patch_analysis(prepared: Sequence[PreparedArticle]) -> None:
    """Make `StoryStore.add` take these ready analyses instead of analysing."""
    import storylink.stories

    by_id = {p.article.id: p for p in prepared}

    def ready(articles: list[Article], comparer: Any = None, **_: Any) -> list[PreparedArticle]:
        return [by_id[a.id] for a in articles]

    storylink.stories.analyse_chunk = ready  # type: ignore[assignment]


@dataclass
class Ingest:
    """A store opened for the ingest probes, models loaded, new articles ready to add."""

    stories: StoryStore
    fresh: list[PreparedArticle]
    stored: int
    open_s: float
    models_rss_gb: float

    def add(self, batch: int) -> tuple[float, float]:
        """Add batch number `batch` of `NEW_PER_BATCH` articles; wall and CPU seconds."""
        chunk = self.fresh[batch * NEW_PER_BATCH : (batch + 1) * NEW_PER_BATCH]
        wall, cpu = time.perf_counter(), time.process_time()
        report = self.stories.add([p.article for p in chunk])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert report.added == len(chunk), report
        return wall, cpu


def open_for_ingest(db: Path, seed: int, batches: int) -> Ingest:
    pool = templates()
    first = open_store(db)  # either store: benchmarks/pg_scale.py measures PostgreSQL with this
    start_seq = first.next_seq()
    first.close()
    fresh = new_articles(pool, start_seq, batches * NEW_PER_BATCH, seed)
    patch_analysis(fresh)
    opened = time.perf_counter()
    stories = StoryStore(db)
    open_s = time.perf_counter() - opened
    warm_models(stories, pool)
    return Ingest(stories, fresh, start_seq - 1, open_s, _rss_gb())


def probe_ingest(db: Path, seed: int) -> dict[str, Any]:
    ingest = open_for_ingest(db, seed, NEW_BATCHES)
    wall, cpu = zip(*(ingest.add(b) for b in range(NEW_BATCHES)), strict=True)
    ingest.stories.close()
    steady = statistics.mean(wall[1:]) / NEW_PER_BATCH
    return {
        "stored_articles": ingest.stored,
        "open_s": round(ingest.open_s, 3),
        "ms_per_article": round(1000 * steady, 2),
        "cpu_ms_per_article": round(1000 * statistics.mean(cpu[1:]) / NEW_PER_BATCH, 2),
        "first_batch_s": round(wall[0], 2),
        "restore_s": round(wall[0] - NEW_PER_BATCH * steady, 2),
        "batch_s": [round(s, 2) for s in wall],
        "models_rss_gb": round(ingest.models_rss_gb, 3),
        "peak_rss_gb": round(_rss_gb(), 3),
    }


def probe_profile(db: Path, seed: int, lines: int = 20) -> dict[str, Any]:
    """cProfile of a first batch (restore included) and of a second one, top entries by
    cumulative time; run after the other probes, so its overhead is in no figure."""
    ingest = open_for_ingest(db, seed, 2)
    found = {}
    for batch, name in enumerate(("profile_first_batch", "profile_steady_batch")):
        profiler = cProfile.Profile()
        profiler.enable()
        ingest.add(batch)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(lines)
        found[name] = out.getvalue()
    ingest.stories.close()
    return found


def _rss_gb() -> float:
    """Peak resident memory of this process: VmHWM (ru_maxrss would count the parent's memory
    at fork time too, as Linux keeps it across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def _median_ms(call: Callable[[], object], repeats: int = 5) -> float:
    call()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return round(1000 * statistics.median(times), 2)


def probe_search(db: Path) -> dict[str, Any]:
    stories = StoryStore(db)
    load_encoders(stories)
    started = time.perf_counter()
    hits = stories.search(FIRST_QUERY)
    first_s = time.perf_counter() - started
    times = []
    for query in WARM_QUERIES:
        started = time.perf_counter()
        stories.search(query)
        times.append(time.perf_counter() - started)
    stories.close()
    return {
        "search_first_s": round(first_s, 3),
        "search_warm_ms": round(1000 * statistics.median(times), 2),
        "search_hits": len(hits),
        "search_rss_gb": round(_rss_gb(), 3),
    }


def probe_lists(db: Path) -> dict[str, Any]:
    stories = StoryStore(db)
    result: dict[str, Any] = {
        "list_ms": _median_ms(lambda: stories.stories(limit=20)),
        "largest_ms": _median_ms(lambda: stories.stories(order="largest", limit=20)),
    }
    for name in ENTITIES:
        result[f"entity_{name.lower()}_ms"] = _median_ms(lambda n=name: stories.stories(entity=n))
        result[f"entity_{name.lower()}_stories"] = len(stories.stories(entity=name))
    stories.close()
    return result


PROBES = {"ingest", "search", "lists", "profile"}


def run_probe(name: str, db: Path, seed: int) -> dict[str, Any]:
    """Run one probe in a fresh process of this script; its JSON result."""
    command = [sys.executable, __file__, "--probe", name, "--db", str(db), "--seed", str(seed)]
    run = subprocess.run(command, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        sys.exit(f"probe {name} failed:\n{run.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def disk(db: Path) -> dict[str, Any]:
    """Bytes per article on disk, with and without the stored title and text."""
    store = SQLiteStore(db)
    articles = store.next_seq() - 1
    store.close()
    files = {p.name: _bytes(p) for p in sidecars(db)}
    index = sum(size for name, size in files.items() if name.startswith(db.name + "."))
    total = sum(files.values())
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        text = connection.execute(
            "SELECT SUM(LENGTH(CAST(title AS BLOB)) + LENGTH(CAST(text AS BLOB))) FROM articles"
        ).fetchone()[0]
    except sqlite3.Error:  # another schema: estimate from the templates' texts
        text = articles * json.loads(meta_path(db).read_text())["mean_template_text_bytes"]
    finally:
        connection.close()
    return {
        "articles_after": articles,
        "db_gb": round(_size(db) / 2**30, 3),
        "index_mb": round(index / 2**20, 1),
        "bytes_per_article": round(total / articles),
        "bytes_beyond_text": round((total - text) / articles),
        "files": files,
    }


def measure(db: Path, seed: int, profile: bool = False) -> dict[str, Any]:
    """Every figure, each probe in its own fresh process, in this order."""
    templates()  # computed here if missing, never inside a probe (its peak RSS would show it)
    load = os.getloadavg()[0]  # the machine is shared: say how busy it was
    result = run_probe("ingest", db, seed) | {"load_before": round(load, 1)}
    if meta_path(db).exists():  # articles earlier probes left in exactly the window measured
        filled = json.loads(meta_path(db).read_text())["articles"]
        result["probed_before"] = result["stored_articles"] - filled
    result |= run_probe("search", db, seed)
    result |= run_probe("lists", db, seed)
    result |= disk(db)
    if profile:
        result |= run_probe("profile", db, seed)
    return result


# ---------------------------------------------------------------- output


def summary(result: dict[str, Any]) -> Iterator[str]:
    r = result
    yield (
        f"stored articles        {r['stored_articles']:,} (+{NEW_BATCHES * NEW_PER_BATCH} added; "
        f"load average {r['load_before']} before)"
    )
    if r.get("probed_before"):
        yield (
            f"NOTE                   {r['probed_before']:,} articles from earlier measures are in "
            "the window measured: denser than a fresh fill (measure a copy of one)"
        )
    yield f"open StoryStore        {r['open_s']:.3f} s"
    yield (
        f"ingest                 {r['ms_per_article']:.1f} ms/article steady (batches 2-5; "
        f"CPU {r['cpu_ms_per_article']:.1f} ms), "
        f"first batch {r['first_batch_s']:.2f} s -> restore {r['restore_s']:.2f} s; "
        f"batches {r['batch_s']}"
    )
    yield (
        f"peak RSS (ingest)      {r['peak_rss_gb']:.2f} GB "
        f"(models loaded, before ingest: {r['models_rss_gb']:.2f})"
    )
    yield (
        f"search                 {r['search_warm_ms']:.1f} ms warm (median of 10), "
        f"first {r['search_first_s']:.2f} s"
    )
    yield (
        f"story list             {r['list_ms']:.1f} ms newest 20, "
        f"{r['largest_ms']:.1f} ms largest 20"
    )
    found = (
        f"{r[f'entity_{n.lower()}_ms']:.1f} ms {n} ({r[f'entity_{n.lower()}_stories']} stories)"
        for n in ENTITIES
    )
    yield f"entity filter          {', '.join(found)}"
    yield (
        f"disk                   db {r['db_gb']:.3f} GB, indexes {r['index_mb']:.0f} MB, "
        f"{r['bytes_per_article']:,} B/article, {r['bytes_beyond_text']:,} beyond the text"
    )


HEADER = (
    "| stored articles | ms per new article (CPU) | restore s | peak RSS GB | db GB | index MB "
    "| search warm ms / first s | story list ms | entity filter ms | bytes/article beyond text |"
)


def table_row(r: dict[str, Any]) -> str:
    return (
        f"| {r['stored_articles']:,} | {r['ms_per_article']:.1f} ({r['cpu_ms_per_article']:.1f}) "
        f"| {r['restore_s']:.1f} "
        f"| {r['peak_rss_gb']:.2f} | {r['db_gb']:.2f} | {r['index_mb']:.0f} "
        f"| {r['search_warm_ms']:.1f} / {r['search_first_s']:.2f} | {r['list_ms']:.1f} "
        f"| {max(r[f'entity_{n.lower()}_ms'] for n in ENTITIES):.1f} "
        f"| {r['bytes_beyond_text']:,} |"
    )


def store_location(text: str) -> str | Path:
    """A SQLite file's path, or a PostgreSQL URI as given (a Path would fold its "//")."""
    return text if is_server_uri(text) else Path(text)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--db", type=store_location, help="the store to fill or measure")
    parser.add_argument("--fill", type=int, metavar="N", help="write a fresh store of N articles")
    parser.add_argument("--measure", action="store_true", help="measure the store at --db")
    parser.add_argument("--sizes", help="fill and measure each size, e.g. 10000,100000")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument(
        "--years", type=float, default=2, help="--fill: spread the articles over this many years"
    )
    parser.add_argument("--json", action="store_true", help="also print one JSON object")
    parser.add_argument(
        "--profile", action="store_true", help="then cProfile a first and a second batch"
    )
    parser.add_argument("--prepare", action="store_true", help="only compute the analyses")
    parser.add_argument("--probe", choices=sorted(PROBES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        probes = {
            "ingest": lambda: probe_ingest(args.db, args.seed),
            "profile": lambda: probe_profile(args.db, args.seed),
            "search": lambda: probe_search(args.db),
            "lists": lambda: probe_lists(args.db),
        }
        print(json.dumps(probes[args.probe]()))
        return
    if args.prepare:
        print(f"{len(templates())} analysed articles ({source_key()})")
        return
    if args.sizes:
        run_sizes([int(s) for s in args.sizes.split(",")], args.seed, args.json, args.profile)
        return
    if not args.db or not (args.fill or args.measure):
        parser.error("say --fill N --db PATH, --measure --db PATH, or --sizes")
    if args.fill:
        filled = fill(args.db, args.fill, args.seed, args.years)
        print(fill_line(filled))
    if args.measure:
        result = measure(args.db, args.seed, args.profile)
        print("\n".join(summary(result)))
        print_profiles(result)
        if args.json:
            print(json.dumps(result))


def print_profiles(result: dict[str, Any]) -> None:
    for name in ("profile_first_batch", "profile_steady_batch"):
        if name in result:
            print(f"{name.replace('_', ' ')}:\n{result.pop(name)}", flush=True)


def fill_line(f: dict[str, Any]) -> str:
    return (
        f"fill: {f['articles']:,} articles in {f['stories']:,} stories, {f['fill_s']:.0f} s "
        f"({f['fill_rate']:,.0f} articles/s); db {f['db_gb']:.2f} GB; open {f['open_s']:.2f} s; "
        f"index build {f['index_build_s']:.1f} s"
    )


def run_sizes(sizes: list[int], seed: int, as_json: bool, profile: bool) -> None:
    rows = []
    for size in sizes:
        db = DATA / f"store-{size}.db"
        filled = fill(db, size, seed)
        print(fill_line(filled), flush=True)
        result = measure(db, seed, profile) | {"fill": filled}
        print("\n".join(summary(result)), flush=True)
        print_profiles(result)
        rows.append(result)
    print()
    print(HEADER)
    print("|" + "---:|" * 10)
    for row in rows:
        print(table_row(row))
    if as_json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
