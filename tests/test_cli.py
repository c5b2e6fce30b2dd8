"""The command line, run as a user runs it: a real subprocess."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from rich.cells import cell_len

from storylink.demo import examples_path

from .conftest import SEED_AR, SEED_EN, need


def storylink(*args: str, columns: int | None = None) -> subprocess.CompletedProcess[str]:
    """Run the command line; `columns` sets the terminal width the tables must fit."""
    env = {**os.environ, "COLUMNS": str(columns)} if columns else None
    command = [sys.executable, "-m", "storylink.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)


def test_help_teaches() -> None:
    result = storylink("--help")
    assert result.returncode == 0
    for command in ("compare", "read", "demo", "ingest", "stories", "search", "eval", "export"):
        assert command in result.stdout
    ingest_help = storylink("ingest", "--help").stdout
    assert "--db" in ingest_help and "--threshold" in ingest_help and "Example" in ingest_help
    compare_help = storylink("compare", "--help").stdout
    assert "SOURCE#N" in compare_help and "--json" in compare_help


def test_compare_json_on_seeds() -> None:
    result = storylink("compare", str(need(SEED_EN)), str(need(SEED_AR)), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["same_story"] is True
    assert {p["label"] for p in data["shared"]["people"]} >= {"Vladimir Putin", "Hassan Rouhani"}
    assert data["shared"]["places"] and data["shared"]["dates"] and data["aligned_sentences"]
    only_in = data["only_in"]
    assert only_in["a"]["language"] == "en" and only_in["b"]["language"] == "ar"
    assert any("1992" in s["text"] for s in only_in["a"]["sentences"])
    assert only_in["b"]["total"] >= len(only_in["b"]["sentences"]) > 0


def test_compare_table_picks_rows_of_a_collection() -> None:
    path = examples_path()
    result = storylink("compare", f"{path}#1", f"{path}#3")  # izmir-quake en and ar
    assert result.returncode == 0, result.stderr
    assert "SAME STORY" in result.stdout and "Kemal Arslan" in result.stdout
    assert "Only in A (en):" in result.stdout and "without a counterpart" in result.stdout


def test_compare_errors_are_clear(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    binary = tmp_path / "blob.txt"
    binary.write_bytes(bytes(range(256)) * 8)
    tibetan = tmp_path / "bo.txt"
    tibetan.write_text("བོད་ཀྱི་སྐད་ཡིག\nབོད་ཀྱི་སྐད་ཡིག་ནི་བོད་རིགས་ཀྱི་སྐད་ཡིག་ཡིན། ང་ཚོས་དེ་རིང་གསར་འགྱུར་ཀློག་གི་ཡོད།")
    english = tmp_path / "en.txt"
    english.write_text("Title\nThe president spoke with his counterpart by telephone on Saturday.")
    for bad, message in [
        (empty, "file is empty"),
        (binary, "binary"),
        (tibetan, "no packaged encoder knows language 'bo'"),
        (examples_path(), "holds 22 articles; pick one as SOURCE#N"),
        (tmp_path / "missing.txt", "no such file"),
    ]:
        result = storylink("compare", str(bad), str(english))
        assert result.returncode == 2
        assert message in result.stderr and str(bad) in result.stderr
        assert "Traceback" not in result.stderr


def test_read_batch_reports_and_skips(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Good title\nGood body text for the article.")
    (tmp_path / "bad.jsonl").write_text('{"title": "ok", "text": "Fine row."}\n{broken\n')
    (tmp_path / "empty.csv").write_text("")
    result = storylink("read", str(tmp_path), "--json")
    assert result.returncode == 1
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(r["title"] for r in rows) == ["Good title", "ok"]
    assert all(r["language"] == "en" for r in rows)
    assert (
        "bad.jsonl#2: malformed JSON" in result.stderr
        and "empty.csv: file is empty" in result.stderr
    )


def test_demo_runs_and_separates_stories() -> None:
    result = storylink("demo")
    assert result.returncode == 0, result.stderr
    assert "22 example articles" in result.stdout
    line = next(x for x in result.stdout.splitlines() if x.startswith("same-story pairs"))
    same, different = (float(part.split()[-1].rstrip(";")) for part in line.split(";")[:2])
    assert same < 2 < 3 < different
    assert "grouped into stories" in result.stdout and "headline in Arabic" in result.stdout


def test_story_commands_end_to_end(tmp_path: Path) -> None:
    """ingest → stories → story → search → related → export → recluster, all --json."""
    db = str(tmp_path / "cli.db")
    # --scan-rows 0: no row budget (its months are small: searched exactly either way)
    ingested = storylink("ingest", str(examples_path()), "--db", db, "--json", "--scan-rows", "0")
    assert ingested.returncode == 0, ingested.stderr
    assert json.loads(ingested.stdout)["added"] == 22
    with sqlite3.connect(db) as saved:
        (params,) = saved.execute(
            "SELECT value FROM settings WHERE key = 'cluster_params'"
        ).fetchone()
    assert json.loads(params)["scan_rows"] is None  # remembered by the database
    again = json.loads(storylink("ingest", str(examples_path()), "--db", db, "--json").stdout)
    assert (again["added"], again["duplicates"]) == (0, 22)
    listed = json.loads(storylink("stories", "--db", db, "--largest", "--json").stdout)
    assert [s["size"] for s in listed] == [6, 6, 6, 2, 2]
    arabic = json.loads(storylink("stories", "--db", db, "--language", "ar", "--json").stdout)
    assert len(arabic) == 2  # the quake and the Nile summit
    for name in ("Arabic", "arabic", "العربية"):  # a name found nothing before
        named = storylink("stories", "--db", db, "--language", name, "--json")
        assert json.loads(named.stdout) == arabic, named.stderr
    martian = storylink("stories", "--db", db, "--language", "Martian")
    assert martian.returncode == 2 and "unknown language 'Martian'" in martian.stderr
    assert "e.g. ar, Arabic" in martian.stderr
    story_id = str(arabic[0]["id"])
    shown = json.loads(
        storylink("story", story_id, "--db", db, "--language", "ar", "--json").stdout
    )
    assert shown["id"] == arabic[0]["id"] and shown["timeline"]
    # "the Ethiopian Renaissance Dam": two words alone sit at the noise floor of USE's
    # query-to-document cosine (0.13 for the dam story and the quake alike, RESULTS.md)
    hits = json.loads(storylink("search", "سد النهضة الإثيوبي", "--db", db, "--json").stdout)
    nile = json.loads(storylink("story", str(hits[0]["story_id"]), "--db", db, "--json").stdout)
    assert "fa" in nile["languages"]
    related = storylink("related", f"{examples_path()}#1", "--db", db, "--json")
    assert related.returncode == 0, related.stderr
    assert json.loads(related.stdout)["article"]["origin"].endswith("#1")
    ids = [hit["article"]["id"] for hit in json.loads(related.stdout)["related"]]
    for command in (
        ["stories"],
        ["story", story_id],
        ["search", "earthquake"],
        ["related", f"{examples_path()}#1"],
    ):
        shown = storylink(*command, "--db", db, columns=80)
        assert shown.returncode == 0, shown.stderr
        assert max(cell_len(line) for line in shown.stdout.splitlines()) <= 80, shown.stdout
        assert "…" not in shown.stdout.replace(" …", ""), "a column was clipped"
    narrow = storylink("related", f"{examples_path()}#1", "--db", db, columns=80).stdout
    assert ids and all(i in narrow for i in ids), narrow  # whole, to be copied
    out = tmp_path / "stories.jsonl"
    assert storylink("export", str(out), "--db", db).returncode == 0
    assert len(out.read_text("utf-8").splitlines()) == 5
    assert "5 stories" in storylink("recluster", "--db", db).stdout
    missing = storylink("stories", "--db", str(tmp_path / "nope.db"))
    assert missing.returncode == 2 and "no such database" in missing.stderr
    unknown = storylink("story", "999", "--db", db)
    assert unknown.returncode == 2 and "no story 999" in unknown.stderr
    bad_date = storylink("stories", "--db", db, "--since", "soon-ish")
    assert bad_date.returncode == 2 and "--since" in bad_date.stderr


def test_text_that_looks_like_markup_is_printed_as_written(tmp_path: Path) -> None:
    a = tmp_path / "a.txt"
    a.write_text(
        "Floods [/b] hit [red]Kazan[/red] [sic]\nHeavy rain flooded the city of Kazan on Friday."
    )
    b = tmp_path / "b.txt"
    b.write_text("Наводнение в Казани\nСильный дождь затопил Казань в пятницу.")
    result = storylink("compare", str(a), str(b))
    assert result.returncode == 0, result.stderr
    assert "[/b] hit [red]Kazan[/red] [sic]" in result.stdout
    assert "[en]" in result.stdout and "[ru]" in result.stdout
    listing = storylink("read", str(a))
    assert listing.returncode == 0 and "[sic]" in listing.stdout


def test_a_failed_ingest_creates_no_database(tmp_path: Path) -> None:
    db = tmp_path / "news.db"
    result = storylink("ingest", str(tmp_path / "missing.txt"), "--db", str(db))
    assert result.returncode == 2 and "missing.txt: no such file" in result.stderr
    assert "was not created" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_other_libraries_are_quiet_without_verbose(tmp_path: Path) -> None:
    """trafilatura logged "discarding data: None" for each entry without text (382 times over
    feedparser's test feeds); only storylink's own words reach the terminal, unless -v."""
    feed = tmp_path / "feed.rss"
    feed.write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>C</title>'
        '<item><title>Picture</title><description>&lt;img src="a.png"&gt;</description></item>'
        "<item><title>Valencia</title><description>&lt;p&gt;The port of Valencia opened a new "
        "rail terminal on Monday.&lt;/p&gt;</description></item></channel></rss>",
        "utf-8",
    )
    quiet = storylink("read", str(feed), "--json")
    assert quiet.returncode == 1 and len(quiet.stdout.splitlines()) == 1
    assert quiet.stderr.split() == ["skipped:", f"{feed}#1:", "article", "has", "no", "text"]
    verbose = storylink("-v", "read", str(feed), "--json")
    assert "trafilatura.core: discarding data: None" in verbose.stderr
