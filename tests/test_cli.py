"""The command line, run as a user runs it: a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from storylink.demo import examples_path

from .conftest import SEED_AR, SEED_EN, need


def storylink(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "storylink.cli", *args], capture_output=True, text=True, timeout=600
    )


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


def test_compare_table_picks_rows_of_a_collection() -> None:
    path = examples_path()
    result = storylink("compare", f"{path}#1", f"{path}#3")  # izmir-quake en and ar
    assert result.returncode == 0, result.stderr
    assert "SAME STORY" in result.stdout and "Kemal Arslan" in result.stdout


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
    ingested = storylink("ingest", str(examples_path()), "--db", db, "--json")
    assert ingested.returncode == 0, ingested.stderr
    assert json.loads(ingested.stdout)["added"] == 22
    again = json.loads(storylink("ingest", str(examples_path()), "--db", db, "--json").stdout)
    assert (again["added"], again["duplicates"]) == (0, 22)
    listed = json.loads(storylink("stories", "--db", db, "--largest", "--json").stdout)
    assert [s["size"] for s in listed] == [6, 6, 6, 2, 2]
    arabic = json.loads(storylink("stories", "--db", db, "--language", "ar", "--json").stdout)
    assert len(arabic) == 2  # the quake and the Nile summit
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
