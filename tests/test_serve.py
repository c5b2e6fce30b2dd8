"""The HTTP API against the real server on 127.0.0.1 (a `storylink serve` subprocess)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx

from storylink.demo import examples_path

from .conftest import TOKEN


def example(key: str) -> dict[str, str]:
    rows = map(json.loads, examples_path().read_text("utf-8").splitlines())
    row = next(r for r in rows if r["id"] == key)
    return {"title": row["title"], "text": row["text"], "language": row["lang"]}


def test_read_endpoints(served: str) -> None:
    assert httpx.get(f"{served}/health").json() | {"status": "ok"} == {
        "status": "ok",
        "articles": 22,
        "stories": 5,
    }
    arabic = httpx.get(f"{served}/stories", params={"language": "ar"}).json()["stories"]
    assert len(arabic) == 2
    by_text = httpx.get(f"{served}/stories", params={"text": "earthquake in Izmir"}).json()
    assert "ar" in by_text["stories"][0]["languages"]
    paged = httpx.get(f"{served}/stories", params={"limit": 2, "offset": 4}).json()["stories"]
    assert len(paged) == 1
    story = httpx.get(f"{served}/stories/{arabic[0]['id']}", params={"language": "ar"}).json()
    assert story["timeline"] and story["id"] == arabic[0]["id"]
    article = httpx.get(f"{served}/articles/{story['timeline'][0]['id']}").json()
    assert article["text"] and article["story_id"] == story["id"]
    hits = httpx.get(f"{served}/search", params={"q": "Землетрясение в Турции"}).json()["hits"]
    assert (
        hits[0]["story_id"]
        == httpx.get(f"{served}/search", params={"q": "زلزال"}).json()["hits"][0]["story_id"]
    )


def test_errors_are_clear(served: str) -> None:
    missing = httpx.get(f"{served}/stories/999")
    assert missing.status_code == 404 and missing.json()["detail"] == "no story 999"
    assert httpx.get(f"{served}/articles/nope").status_code == 404
    assert httpx.get(f"{served}/jobs/nope").status_code == 404
    assert httpx.get(f"{served}/search", params={"q": ""}).status_code == 422
    bad_date = httpx.get(f"{served}/stories", params={"since": "soon-ish"})
    assert bad_date.status_code == 422 and "since" in bad_date.json()["detail"]
    malformed = httpx.post(
        f"{served}/compare", content=b'{"a": {', headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 422
    assert "JSON decode error" in malformed.json()["detail"][0]["msg"]
    both = httpx.post(f"{served}/compare", json={"a": {"text": "x", "id": "1"}, "b": {"id": "2"}})
    assert both.status_code == 422 and "exactly one of text, url or id" in both.text
    huge = httpx.post(f"{served}/compare", json={"a": {"text": "x" * 300_000}, "b": {"id": "1"}})
    assert huge.status_code == 413 and "exceeds" in huge.json()["detail"]

    def chunked(text: bytes) -> Iterator[bytes]:  # no Content-Length: the server must count
        yield b'{"a": {"text": "'
        yield text
        yield b'"}, "b": {"id": "1"}}'

    headers = {"content-type": "application/json"}
    streamed = httpx.post(f"{served}/compare", content=chunked(b"x" * 300_000), headers=headers)
    assert streamed.status_code == 413
    sentence = b"An earthquake struck off the coast of Izmir in Turkey on Saturday. "
    small = httpx.post(f"{served}/compare", content=chunked(sentence), headers=headers, timeout=120)
    assert small.status_code == 200, small.text


def test_compare_will_not_fetch_from_the_servers_own_network(served: str) -> None:
    """Started without --allow-private, the API refuses a URL on loopback: no SSRF."""
    own = {"url": f"{served}/health"}
    refused = httpx.post(f"{served}/compare", json={"a": own, "b": {"text": "Some text."}})
    assert refused.status_code == 422
    assert "127.0.0.1 is a loopback address" in refused.json()["detail"]


def test_compare_by_text_and_by_id(served: str) -> None:
    body = {"a": example("izmir-quake-en"), "b": example("izmir-quake-ar")}
    score = httpx.post(f"{served}/compare", json=body, timeout=120).json()
    assert score["same_story"] and score["languages"] == ["en", "ar"]
    assert set(score["scores"]) >= {"overall", "geography", "narrative", "tone"}
    assert score["aligned_sentences"] and score["shared"]["places"]
    stored = httpx.post(f"{served}/compare", json={"a": {"id": "1"}, "b": {"id": "9"}}).json()
    assert stored["same_story"] is False  # the quake and the Nile summit


def test_ingest_needs_the_token_and_runs_as_a_job(served: str) -> None:
    article = {
        "title": "New tram line opens in Lyon",
        "text": "A new tram line opened in Lyon on Monday, the city said. It cost 40 million "
        "euros and links the station to the university.",
        "date": "2026-07-01",
    }
    url = f"{served}/articles"
    assert httpx.post(url, json={"articles": [article]}).status_code == 401
    wrong = {"authorization": "Bearer nope"}
    assert httpx.post(url, json={"articles": [article]}, headers=wrong).status_code == 401
    right = {"authorization": f"Bearer {TOKEN}"}
    assert httpx.post(url, json={"articles": []}, headers=right).status_code == 422
    job = httpx.post(url, json={"articles": [article]}, headers=right)
    assert job.status_code == 202
    deadline = time.monotonic() + 120
    while (state := httpx.get(f"{served}{job.json()['status_url']}").json())["status"] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert state["status"] == "done" and state["report"]["added"] == 1
    assert httpx.get(f"{served}/health").json()["articles"] == 23
    hits = httpx.get(f"{served}/search", params={"q": "tramway Lyon"}).json()["hits"]
    assert hits[0]["article"]["title"] == article["title"]
