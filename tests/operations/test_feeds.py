"""Atom feeds and the service's own audit lines: runs through the runs service (published, superseded by a
newer run, failed) and maintainers' decisions through the moderation service (flagged, hidden) reach the
model, organisation and board feeds and /changelog.atom, parsed back as XML; ids are stable, ETags give 304,
pages link their feeds. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db.models import EvaluationResult, ResultVisibility
from app.db.session import unit_of_work
from app.main import create_app
from app.services.operations.audit import ChangelogEntry, changelog, record_event
from app.services.operations.maintainers import Actor
from app.services.operations.moderation import change_visibility
from app.services.results import runs
from tests.operations.runs_support import fail_run, finish_run, new_submission, start_run
from tests.support.web_app import board_app

ATOM = {"a": "http://www.w3.org/2005/Atom"}
MAINTAINER = Actor(name="alice", via="token")
HOOK = "https://hooks.example/T0PSECRETPATH"
HOOK_SECRET = "feed-test-webhook-secret-000000"


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    link: str
    updated: datetime
    summary: str
    author: str
    category: str


def parse(body: bytes) -> tuple[ET.Element, list[Entry]]:
    root = ET.fromstring(body)
    assert root.tag == "{http://www.w3.org/2005/Atom}feed"
    entries = []
    for item in root.findall("a:entry", ATOM):
        link = item.find("a:link", ATOM)
        category = item.find("a:category", ATOM)
        assert link is not None and category is not None
        entries.append(
            Entry(
                id=item.findtext("a:id", "", ATOM),
                title=item.findtext("a:title", "", ATOM),
                link=link.attrib["href"],
                updated=datetime.fromisoformat(item.findtext("a:updated", "", ATOM)),
                summary=item.findtext("a:summary", "", ATOM),
                author=item.findtext("a:author/a:name", "", ATOM),
                category=category.attrib["term"],
            )
        )
    return root, entries


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> FastAPI:
    return board_app(Settings(database_url=db_url, data_dir=tmp_path, secret_key="test-only-secret"))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@dataclass(frozen=True)
class Board:
    """What happened: result ids by name."""

    first: int  # org-a/m1's first result, superseded by ``second``
    second: int  # flagged
    failed_submission: int  # org-a/m2's failed run
    other: int  # org-b/x's result, hidden


def result_of(factory: sessionmaker[Session], submission_id: int) -> int:
    with unit_of_work(factory) as session:
        statement = select(EvaluationResult.id).where(EvaluationResult.submission_id == submission_id)
        return session.scalars(statement).one()


@pytest.fixture
def board(db_session_factory: sessionmaker[Session]) -> Board:
    first = new_submission(db_session_factory, "org-a/m1", commit="1" * 40)
    finish_run(db_session_factory, first, 0.6)
    second = new_submission(db_session_factory, "org-a/m1", commit="2" * 40)
    finish_run(db_session_factory, second, 0.8)
    failed = new_submission(db_session_factory, "org-a/m2", webhook_url=HOOK, webhook_secret=HOOK_SECRET)
    fail_run(db_session_factory, failed, "out_of_memory", "The model did not fit in the GPU's memory.")
    other = new_submission(db_session_factory, "org-b/x")
    finish_run(db_session_factory, other, 0.5)
    ids = Board(
        first=result_of(db_session_factory, first),
        second=result_of(db_session_factory, second),
        failed_submission=failed,
        other=result_of(db_session_factory, other),
    )
    with unit_of_work(db_session_factory) as session:
        change_visibility(
            session,
            MAINTAINER,
            ids.second,
            ResultVisibility.FLAGGED,
            reason="The scores look contaminated.",
            link="https://discuss.example/42",
        )
        change_visibility(
            session, MAINTAINER, ids.other, ResultVisibility.HIDDEN, reason="Removed on request."
        )
        record_event(
            session, actor="alice", action="namespace_updated", subject="namespace", subject_id="spam"
        )
        record_event(
            session,
            actor="alice",
            action="result_flagged",
            subject="result",
            subject_id=999,
            model="org-c/judge",
            benchmark="rewardbench-v2",
            reason="Another benchmark's board.",
        )
    return ids


def log(factory: sessionmaker[Session]) -> list[ChangelogEntry]:
    with unit_of_work(factory) as session:
        return changelog(session, limit=100)


# The service's audit lines ----------------------------------------------------------------------------------


def test_runs_write_their_audit_lines_in_the_same_transaction(
    db_session_factory: sessionmaker[Session], board: Board
) -> None:
    lines = {
        (line.action, line.subject_id): line for line in log(db_session_factory) if line.actor == "service"
    }
    published = lines[("result_published", str(board.second))]
    assert (published.model, published.benchmark, published.subject) == (
        "org-a/m1",
        "rewardbench-v1",
        "result",
    )
    assert published.detail["score"] == pytest.approx(0.8)
    assert published.detail["result_id"] == board.second and published.detail["current"] is True
    superseded = lines[("result_superseded", str(board.first))]
    assert superseded.detail["by_result_id"] == board.second
    assert superseded.reason is not None and f"Result {board.second}" in superseded.reason
    failed = lines[("result_failed", str(board.failed_submission))]
    assert (failed.model, failed.subject, failed.detail["failure_kind"]) == (
        "org-a/m2",
        "submission",
        "out_of_memory",
    )
    assert failed.reason == "The model did not fit in the GPU's memory."
    # The first result of a model replaces nothing.
    assert ("result_superseded", str(board.second)) not in lines
    assert [key for key in lines if key[0] == "result_superseded"] == [
        ("result_superseded", str(board.first))
    ]


def test_a_run_that_lost_its_lease_writes_no_audit_line(db_session_factory: sessionmaker[Session]) -> None:
    submission_id = new_submission(db_session_factory, "org-z/late")
    spec = start_run(db_session_factory, submission_id)
    stale = replace(spec, attempt=spec.attempt + 1)  # a fencing token this submission never handed out
    runs.fail(db_session_factory, stale, "internal_error", "A run that no longer holds the submission.")
    assert [line for line in log(db_session_factory) if line.model == "org-z/late"] == []


# Feeds ------------------------------------------------------------------------------------------------------


def test_a_models_feed_has_its_results_events_in_words(
    client: TestClient, db_session_factory: sessionmaker[Session], board: Board
) -> None:
    response = client.get("/models/org-a/m1/feed.atom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    root, entries = parse(response.content)
    assert root.findtext("a:title", "", ATOM) == "org-a/m1 on RewardBoard"
    assert [entry.category for entry in entries] == [
        "result_flagged",
        "result_superseded",
        "result_published",
        "result_published",
    ]
    flagged, superseded, newer, older = entries
    assert flagged.title == "org-a/m1: result flagged on RewardBench v1"
    assert "Reason: The scores look contaminated." in flagged.summary
    assert "https://discuss.example/42" in flagged.summary
    assert flagged.author == "alice"
    assert superseded.title == "org-a/m1: result superseded on RewardBench v1"
    assert f"Superseded by result {board.second}" in superseded.summary
    assert superseded.link == f"http://testserver/models/org-a/m1?result={board.first}"
    assert newer.title == "org-a/m1: result published on RewardBench v1 (Score 80.0)"
    assert older.title == "org-a/m1: result published on RewardBench v1 (Score 60.0)"
    assert newer.link == f"http://testserver/models/org-a/m1?result={board.second}"
    assert newer.author == "service"
    # Ids are tag URIs of the audit lines; times are the lines' own.
    lines = {line.id: line for line in log(db_session_factory) if line.model == "org-a/m1"}
    assert {entry.id for entry in entries} == {f"tag:testserver,2026:audit-event/{line}" for line in lines}
    for entry in entries:
        line = lines[int(entry.id.rsplit("/", 1)[1])]
        assert entry.updated == line.at
    assert root.findtext("a:updated", "", ATOM) == flagged.updated.isoformat()


def test_an_organisations_feed_has_every_model_of_it_and_no_secret(client: TestClient, board: Board) -> None:
    response = client.get("/orgs/org-a/feed.atom")
    assert response.status_code == 200
    _, entries = parse(response.content)
    titles = [entry.title for entry in entries]
    assert {title.split(":", 1)[0] for title in titles} == {"org-a/m1", "org-a/m2"}
    [failed] = [entry for entry in entries if entry.category == "result_failed"]
    assert failed.title == "org-a/m2: run failed on RewardBench v1 (out of memory)"
    assert "Failure: The model did not fit in the GPU's memory." in failed.summary
    assert failed.link == f"http://testserver/submissions/{board.failed_submission}"
    for path in ("/orgs/org-a/feed.atom", "/models/org-a/m2/feed.atom", "/changelog.atom", "/feed.atom"):
        text = client.get(path).text
        assert "T0PSECRETPATH" not in text and "hooks.example" not in text and HOOK_SECRET not in text, path


def test_a_boards_feed_has_that_benchmarks_result_events(client: TestClient, board: Board) -> None:
    _, v1 = parse(client.get("/feed.atom?benchmark=rewardbench-v1").content)
    assert {entry.title.split(":", 1)[0] for entry in v1} == {"org-a/m1", "org-a/m2", "org-b/x"}
    assert "result_hidden" in {entry.category for entry in v1}
    assert all("RewardBench v1" in entry.title for entry in v1)
    assert len(v1) == 7  # three results published, one superseded, a failed run, one flagged, one hidden
    _, default = parse(client.get("/feed.atom").content)
    assert [entry.id for entry in default] == [entry.id for entry in v1]
    root, v2 = parse(client.get("/feed.atom?benchmark=rewardbench-v2").content)
    assert [entry.title for entry in v2] == ["org-c/judge: result flagged on RewardBench 2"]
    assert root.findtext("a:title", "", ATOM) == "RewardBench 2 leaderboard on RewardBoard"


def test_the_changelog_feed_has_every_line(
    client: TestClient, db_session_factory: sessionmaker[Session], board: Board
) -> None:
    _, entries = parse(client.get("/changelog.atom").content)
    lines = log(db_session_factory)
    assert [entry.id for entry in entries] == [f"tag:testserver,2026:audit-event/{line.id}" for line in lines]
    namespace = next(entry for entry in entries if entry.category == "namespace_updated")
    assert namespace.title == "Namespace policy changed (namespace spam)"
    assert namespace.link == "http://testserver/changelog"


def test_feed_ids_are_stable_and_an_unchanged_feed_answers_304(
    client: TestClient, db_session_factory: sessionmaker[Session], board: Board
) -> None:
    first = client.get("/models/org-a/m1/feed.atom")
    etag = first.headers["etag"]
    assert client.get("/models/org-a/m1/feed.atom").content == first.content
    unchanged = client.get("/models/org-a/m1/feed.atom", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    newer = new_submission(db_session_factory, "org-a/m1", commit="3" * 40)
    finish_run(db_session_factory, newer, 0.9)
    changed = client.get("/models/org-a/m1/feed.atom", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    before = [entry.id for entry in parse(first.content)[1]]
    after = [entry.id for entry in parse(changed.content)[1]]
    assert after[-len(before) :] == before  # old entries keep their ids; new ones come first
    assert len(after) == len(before) + 2  # published, and the flagged result superseded


def test_the_public_url_names_links_and_ids(db_url: str, tmp_path: Path, board: Board) -> None:
    settings = Settings(
        database_url=db_url,
        data_dir=tmp_path,
        secret_key="test-only-secret",
        public_url="https://board.example/",
    )
    with TestClient(create_app(settings)) as client:
        root, entries = parse(client.get("/models/org-a/m1/feed.atom").content)
    assert root.findtext("a:id", "", ATOM) == "tag:board.example,2026:feed/models/org-a/m1/feed.atom"
    assert entries[0].id.startswith("tag:board.example,2026:audit-event/")
    assert entries[0].link.startswith("https://board.example/models/org-a/m1?result=")


def test_unknown_feeds_answer_404_in_words_and_a_quiet_model_an_empty_feed(
    client: TestClient, db_session_factory: sessionmaker[Session]
) -> None:
    for path, words in (
        ("/models/nobody/none/feed.atom", "There is no model nobody/none on this board."),
        ("/orgs/nobody/feed.atom", "No model of the organisation nobody is on this board."),
        ("/feed.atom?benchmark=rewardbench-v9", "There is no benchmark rewardbench-v9; choose one of"),
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert words in response.text, path
    new_submission(db_session_factory, "org-q/quiet")  # known, nothing happened to it yet
    root, entries = parse(client.get("/models/org-q/quiet/feed.atom").content)
    assert entries == [] and root.findtext("a:updated", "", ATOM) == "2026-01-01T00:00:00+00:00"


def test_pages_link_their_feeds(client: TestClient, board: Board) -> None:
    def feeds_of(path: str) -> list[str]:
        page = client.get(path)
        assert page.status_code == 200, path
        head = BeautifulSoup(page.text, "html.parser").head
        assert head is not None
        links = head.find_all("link", attrs={"rel": "alternate", "type": "application/atom+xml"})
        return [str(link["href"]) for link in links]

    assert feeds_of("/models/org-a/m1") == [
        "/changelog.atom",
        "/models/org-a/m1/feed.atom",
        "/orgs/org-a/feed.atom",
    ]
    assert feeds_of("/?benchmark=rewardbench-v2") == [
        "/changelog.atom",
        "/feed.atom?benchmark=rewardbench-v2",
    ]
    assert feeds_of("/changelog") == ["/changelog.atom"]
    model_page = BeautifulSoup(client.get("/models/org-a/m1").text, "html.parser")
    assert model_page.find("a", href="/orgs/org-a/feed.atom") is not None
    for href in feeds_of("/models/org-a/m1"):
        assert client.get(href).status_code == 200, href
