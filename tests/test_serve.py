"""The HTTP API against the real server on 127.0.0.1 (a `storylink serve` subprocess)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from storylink.demo import examples_path

from .conftest import TOKEN, serving


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
    for name in ("Arabic", "العربية", "AR"):  # a language as a person names it
        named = httpx.get(f"{served}/stories", params={"language": name}).json()["stories"]
        assert named == arabic
    unknown = httpx.get(f"{served}/stories", params={"language": "Elvish"})
    assert unknown.status_code == 422 and "e.g. ar, Arabic" in unknown.text
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
    assert bad_date.status_code == 422 and "since" in bad_date.text  # the field is named
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
    only_in = score["only_in"]
    assert only_in["a"]["language"] == "en" and only_in["b"]["language"] == "ar"
    assert only_in["a"]["total"] >= len(only_in["a"]["sentences"]) > 0
    assert {"text", "position", "closest"} == set(only_in["a"]["sentences"][0])
    ids = {"a": {"id": "1"}, "b": {"id": "9"}}  # a cold server loads models: seconds
    stored = httpx.post(f"{served}/compare", json=ids, timeout=120).json()
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
    state = wait_for(served, job.json()["status_url"])
    assert state["status"] == "done" and state["report"]["added"] == 1
    assert httpx.get(f"{served}/health").json()["articles"] == 23
    hits = httpx.get(f"{served}/search", params={"q": "tramway Lyon"}).json()["hits"]
    assert hits[0]["article"]["title"] == article["title"]


def test_bad_input_is_refused_with_a_4xx_never_a_5xx(served: str) -> None:
    """What the fuzzer found on the shipped code: each of these was a 500."""
    for path, params in [
        ("/stories", {"offset": "32366318723171831808"}),  # SQLite integer overflow
        ("/stories/100191927764834874596080636351429476352", {}),
        ("/stories", {"language": "a\x00"}),
        ("/stories", {"entity": "Izmir\x00"}),
        ("/search", {"q": "   "}),
    ]:
        response = httpx.get(f"{served}{path}", params=params)
        assert response.status_code == 422, (path, params, response.text)
        assert response.json()["detail"]
    for key in ("99999999999999999999999", "²"):  # digits SQLite or int() cannot take
        missing = httpx.get(f"{served}/articles/{key}")
        assert missing.status_code == 404 and missing.json()["detail"] == f"no article {key}"
    bad_date = httpx.get(f"{served}/stories", params={"since": "123"})  # not a Unix time
    assert bad_date.status_code == 422 and "ISO 8601" in bad_date.text
    # a date means its whole day: the Nile summit's last article is on 2026-04-20 (UTC)
    nile = {"since": "2026-04-20", "until": "2026-04-20"}
    found = httpx.get(f"{served}/stories", params=nile).json()["stories"]
    assert [s["size"] for s in found] == [6]


def test_compare_never_reads_files_on_the_server(served: str, tmp_path: Path) -> None:
    """On the shipped code `{"url": "/path/on/server"}` read that file into the comparison."""
    secret = tmp_path / "secret.txt"
    secret.write_text("The database password is hunter2. Nobody outside may read this.")
    body = {"a": {"url": str(secret)}, "b": {"text": "The password is hunter2, a note says."}}
    refused = httpx.post(f"{served}/compare", json=body)
    assert refused.status_code == 422 and "hunter2" not in refused.text
    assert "url" in refused.json()["detail"][0]["loc"]


def test_articles_by_url(served: str) -> None:
    url = "https://alofoqnews.example/world/turkey-izmir-earthquake-6-1"
    article = httpx.get(f"{served}/articles", params={"url": url}).json()
    assert article["url"] == url and article["language"] == "ar" and article["story_id"]
    same = httpx.get(f"{served}/articles/{article['seq']}").json()
    assert same["id"] == article["id"]
    missing = httpx.get(f"{served}/articles", params={"url": "https://example.org/none"})
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no article https://example.org/none"


def test_the_schema_describes_every_answer(served: str) -> None:
    schema = httpx.get(f"{served}/openapi.json").json()
    story = schema["paths"]["/stories/{story_id}"]["get"]["responses"]
    assert story["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/StoryOut")
    assert {"404", "422"} <= set(story)
    post = schema["paths"]["/articles"]["post"]
    assert {"202", "400", "401", "403", "413", "422", "429"} <= set(post["responses"])
    assert "Retry-After" in post["responses"]["429"]["headers"]
    assert post["security"] == [{"HTTPBearer": []}]
    since = next(
        p for p in schema["paths"]["/stories"]["get"]["parameters"] if p["name"] == "since"
    )
    formats = {s.get("format") for s in since["schema"]["anyOf"]}
    assert {"date", "date-time"} <= formats
    assert all(
        "200" in op["responses"] or "202" in op["responses"]
        for path in schema["paths"].values()
        for op in path.values()
    )


def test_a_wrong_token_is_told_so_and_tokens_are_compared_as_bytes(served: str) -> None:
    url, body = f"{served}/articles", {"articles": [{"text": "Some text."}]}
    missing = httpx.post(url, json=body)
    assert missing.status_code == 401 and "bearer token is required" in missing.json()["detail"]
    wrong = httpx.post(url, json=body, headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "token is wrong" in wrong.json()["detail"]
    assert wrong.headers["www-authenticate"].startswith("Bearer")
    # a non-ASCII token: hmac.compare_digest on str raised TypeError (a 500) on the shipped code
    odd = httpx.post(url, json=body, headers={"authorization": "Bearer jö".encode()})
    assert odd.status_code == 401 and "token is wrong" in odd.json()["detail"]


def test_a_batch_keeps_its_good_articles_and_says_why_others_were_skipped(served: str) -> None:
    article = {
        "title": "Porto opens its new bridge over the Douro",
        "text": "Porto opened a new road bridge over the Douro river on Friday, the city hall "
        "said. The bridge links Campanhã with Vila Nova de Gaia and cost 50 million euros.",
        "date": "2026-08-14",
    }
    posted = httpx.post(
        f"{served}/articles",
        json={
            "articles": [
                {"text": ""},
                article,
                {"text": "Text.", "url": "http://[broken"},
                {"text": "A short note on the harbour.", "date": "sometime soon-ish"},
            ]
        },
        headers={"authorization": f"Bearer {TOKEN}"},
        timeout=60,
    )
    assert posted.status_code == 202, posted.text
    items = posted.json()["items"]
    assert [i["status"] for i in items] == ["skipped", "accepted", "skipped", "accepted"]
    assert "no text" in items[0]["reason"] and "POST /articles#1" in items[0]["reason"]
    assert items[1]["reason"] is None and items[2]["reason"]
    assert items[3]["reason"] == ("date 'sometime soon-ish' not understood: stored undated")
    state = wait_for(served, posted.json()["status_url"])
    assert state["status"] == "done" and state["report"]["added"] == 2 and state["total"] == 2
    assert state["items"] == items  # the job keeps them
    nothing = httpx.post(
        f"{served}/articles",
        json={"articles": [{"text": " "}]},
        headers={"authorization": f"Bearer {TOKEN}"},
        timeout=60,
    ).json()
    assert nothing["status"] == "done" and nothing["total"] == 0
    assert nothing["report"]["skipped"] == [nothing["items"][0]["reason"]]


def wait_for(served: str, status_url: str) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    # an ingest job loads its own models beside the server's: answers can take seconds
    while (state := httpx.get(f"{served}{status_url}", timeout=60).json())["status"] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    return state


def test_story_page_times_are_in_utc(served: str) -> None:
    quake = httpx.get(f"{served}/stories", params={"text": "Izmir earthquake"}).json()
    story_id = quake["stories"][0]["id"]
    page = httpx.get(f"{served}/story/{story_id}").text
    # the Arabic report was published at 11:05 in Turkey (+03:00): 08:05 UTC
    assert '<time datetime="2026-03-14T11:05:00+03:00">2026-03-14 08:05</time>' in page
    assert ">2026-03-14 11:05<" not in page
    assert "Beyond the headline article" in page and "حسن دمير" in page  # only in the Arabic


def test_compare_form_errors_speak_of_the_form(served: str) -> None:
    page = f"{served}/compare/page"
    empty = httpx.post(page, data={"a_id": "", "b_id": "1"})
    assert empty.status_code == 422
    assert "Article A: give a stored article id, or paste its text" in empty.text
    assert "url" not in empty.text.split('role="alert"')[1].split("</p>")[0]
    both = httpx.post(page, data={"a_id": "1", "b_text": "Some text.", "b_id": "2"})
    assert "Article B: give a stored article id or a text, not both" in both.text
    missing = httpx.post(page, data={"a_id": "nope", "b_id": "1"})
    assert "Article A: no article nope" in missing.text


def test_writes_are_rate_limited_per_client_and_tokens_never_logged(tmp_path: Path) -> None:
    from storylink.demo import examples_path
    from storylink.stories import StoryStore

    db, log = tmp_path / "small.db", tmp_path / "server.log"
    with StoryStore(db) as stories:
        stories.ingest([str(examples_path())])
    with serving(db, "--token", TOKEN, "--writes-per-minute", "2", log=log) as base:
        right = {"authorization": f"Bearer {TOKEN}"}
        body = {"articles": [{"text": ""}]}  # skipped: nothing is ingested
        answers = [httpx.post(f"{base}/articles", json=body, headers=right) for _ in range(3)]
        assert [a.status_code for a in answers] == [202, 202, 429]
        assert 1 <= int(answers[2].headers["retry-after"]) <= 30
        assert "too many writes" in answers[2].json()["detail"]
        wrong = httpx.post(f"{base}/articles", json=body, headers={"authorization": "Bearer x9"})
        assert wrong.status_code == 401  # a wrong token is refused before it costs a write
        assert httpx.get(f"{base}/health").status_code == 200  # reads are not limited
    output = log.read_text()
    assert TOKEN not in output and "x9" not in output


def test_rate_limiter_refills_and_forgets_quiet_clients() -> None:
    from storylink import ratelimit

    now = [0.0]
    limiter = ratelimit.RateLimiter(per_minute=6, clock=lambda: now[0])  # one per 10 s
    assert [limiter.take("a") for _ in range(7)] == [0] * 6 + [10]
    assert limiter.take("b") == 0  # per client
    now[0] = 5.0
    assert limiter.take("a") == 5  # half a token back
    now[0] = 10.0
    assert limiter.take("a") == 0
    for n in range(ratelimit.FORGET_ABOVE + 1):
        limiter.take(f"client-{n}")
    now[0] = 1000.0  # all full again: forgotten, so memory stays bounded
    limiter.take("c")
    assert len(limiter._buckets) == 1


def test_pages_refuse_bad_input_without_a_500(served: str) -> None:
    assert httpx.get(f"{served}/", params={"q": "  "}).status_code == 200  # was a 500
    assert httpx.get(f"{served}/", params={"language": " AR "}).text.count('class="story"') == 2
    assert httpx.get(f"{served}/story/99999999999999999999999").status_code == 422
    latin1 = httpx.post(f"{served}/compare/page", content=b"a_id=\xff&b_id=1")  # was a 500
    assert latin1.status_code == 422 and "Article A: no article" in latin1.text
