"""The JSON API: typed schemas, filters and sort, CSV, ETag/304, errors."""

from __future__ import annotations

import csv
import io

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import RewardModel
from app.schemas.benchmark import SectionRead, SubsetRanking, SubsetRead
from app.schemas.leaderboard import LEADERBOARD_RULE, LeaderboardPage
from app.schemas.models import ExamplesPage, ModelRead
from tests.web.factories import make_result, sample_pairs, scores_for

pytestmark = pytest.mark.usefixtures("published_files")


def test_leaderboard_schema_and_full_precision(client: TestClient) -> None:
    response = client.get("/api/v1/leaderboard")
    assert response.status_code == 200
    page = LeaderboardPage.model_validate(response.json())
    assert page.total == 5 and len(page.rows) == 5 and page.rule == LEADERBOARD_RULE
    top = page.rows[0]
    assert top.model == "general-preference/GPM-Gemma-2-9B"
    assert top.score == pytest.approx(0.9232564454664635, abs=1e-15)
    assert top.source == "imported" and top.source_detail == "general-preference__GPM-Gemma-2-9B.json"
    assert [row.rank for row in page.rows] == [1, 2, 3, 4, 5]
    assert page.benchmark == "rewardbench-v1" and page.sections[:4] == [
        "Chat",
        "Chat Hard",
        "Safety",
        "Reasoning",
    ]
    assert page.score_sections == ["Chat", "Chat Hard", "Safety", "Reasoning"]
    assert top.sections["Chat"] is not None and top.model_type == "custom-classifier"
    assert top.model_type_label == "Custom Classifier" and top.complete and top.hub_repo


def test_sort_filter_search_and_pagination(
    client: TestClient, db_session_factory: sessionmaker[Session]
) -> None:
    with db_session_factory.begin() as session:
        make_result(session, "acme/dpo", 0.5, model_type="dpo")
    rows = client.get("/api/v1/leaderboard", params={"sort": "safety", "order": "asc"}).json()["rows"]
    safety = [row["sections"]["Safety"] for row in rows]
    assert safety == sorted(safety) and len(rows) == 6
    old_spelling = client.get("/api/v1/leaderboard", params={"sort": "chat_hard"}).json()
    assert old_spelling["sort"] == "chat-hard"
    chat_hard = [row["sections"]["Chat Hard"] for row in old_spelling["rows"]]
    assert chat_hard == sorted(chat_hard, reverse=True)
    only = client.get("/api/v1/leaderboard", params={"model_type": "dpo"}).json()
    assert [row["model"] for row in only["rows"]] == ["acme/dpo"] and only["total"] == 1
    assert only["rows"][0]["rank"] == 6  # global rank by Score, not rank within the filter
    found = client.get("/api/v1/leaderboard", params={"q": "gemma-2-"}).json()
    assert {row["model"] for row in found["rows"]} == {
        "general-preference/GPM-Gemma-2-2B",
        "general-preference/GPM-Gemma-2-9B",
    }
    assert client.get("/api/v1/leaderboard", params={"q": "%"}).json()["total"] == 0
    evaluated = client.get("/api/v1/leaderboard", params={"source": "evaluated"}).json()
    assert [row["model"] for row in evaluated["rows"]] == ["acme/dpo"]
    first = client.get("/api/v1/leaderboard", params={"per_page": 2, "page": 1}).json()
    second = client.get("/api/v1/leaderboard", params={"per_page": 2, "page": 2}).json()
    assert first["total"] == 6 and len(first["rows"]) == 2
    assert {row["model"] for row in first["rows"]}.isdisjoint({row["model"] for row in second["rows"]})


def test_csv_download(client: TestClient) -> None:
    response = client.get("/api/v1/leaderboard", params={"format": "csv", "sort": "model"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 5
    header = response.text.splitlines()[0].split(",")
    assert header[:8] == ["rank", "model", "model_type", "score", "chat", "chat_hard", "safety", "reasoning"]
    assert [row["model"] for row in rows] == sorted(row["model"] for row in rows)
    assert float(rows[0]["score"]) > 0 and rows[0]["source"] == "imported"


def test_etag_and_304(client: TestClient, db_session_factory: sessionmaker[Session]) -> None:
    first = client.get("/api/v1/leaderboard")
    etag = first.headers["etag"]
    assert etag and "max-age" in first.headers["cache-control"]
    again = client.get("/api/v1/leaderboard", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    page = client.get("/")
    assert client.get("/", headers={"If-None-Match": page.headers["etag"]}).status_code == 304
    model = client.get("/api/v1/models/mightbe/Better-PairRM")
    assert (
        client.get(
            "/api/v1/models/mightbe/Better-PairRM", headers={"If-None-Match": model.headers["etag"]}
        ).status_code
        == 304
    )
    with db_session_factory.begin() as session:
        make_result(session, "acme/new", 0.99)
    changed = client.get("/api/v1/leaderboard", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert changed.json()["rows"][0]["model"] == "acme/new"


def test_model_detail_and_examples(client: TestClient, db_session_factory: sessionmaker[Session]) -> None:
    pairs = sample_pairs()
    with db_session_factory.begin() as session:
        make_result(
            session,
            "mightbe/Better-PairRM",
            0.8,
            scored=scores_for(pairs),
            examples=pairs,
            model_type="custom-classifier",
        )
    model = ModelRead.model_validate(client.get("/api/v1/models/mightbe/Better-PairRM").json())
    assert len(model.results) == 2
    current = model.results[0]
    assert current.is_current and current.source == "evaluated" and current.has_examples
    assert model.current_result_ids == [current.id] and len(current.subsets) == 23
    assert current.sections["Chat"] == pytest.approx(0.8) and current.benchmark_label == "RewardBench v1"
    assert not model.results[1].is_current and model.results[1].source == "imported"
    page = ExamplesPage.model_validate(
        client.get("/api/v1/models/mightbe/Better-PairRM/examples", params={"per_page": 10}).json()
    )
    assert page.total == 92 and len(page.items) == 10 and page.items[0].prompt
    assert page.candidate_labels == ["chosen", "rejected"] and len(page.items[0].candidates or []) == 2
    wrong = client.get(
        "/api/v1/models/mightbe/Better-PairRM/examples", params={"wrong_only": True, "subset": "math-prm"}
    ).json()
    assert wrong["total"] == 1 and not wrong["items"][0]["correct"]
    tie = client.get("/api/v1/models/mightbe/Better-PairRM/examples", params={"wrong_only": True}).json()
    assert any(item["scores"][0] == item["scores"][1] and item["top_tie"] for item in tie["items"])  # wrong
    imported = client.get(
        "/api/v1/models/mightbe/Better-PairRM/examples", params={"result_id": model.results[1].id}
    ).json()
    assert imported["total"] == 0


def test_sections_and_subsets(client: TestClient) -> None:
    sections = [SectionRead.model_validate(item) for item in client.get("/api/v1/sections").json()]
    assert [section.slug for section in sections] == [
        "chat",
        "chat-hard",
        "safety",
        "reasoning",
        "prior-sets",
    ]
    assert sum(section.rows for section in sections[:4]) == 2985
    assert [section.weight_in_score for section in sections] == [0.25, 0.25, 0.25, 0.25, 0.0]
    subsets = [SubsetRead.model_validate(item) for item in client.get("/api/v1/subsets").json()]
    core = [subset for subset in subsets if subset.part == "core"]
    assert len(core) == 23 and {s.name: s.weight for s in subsets}["math-prm"] == 984
    ranking = SubsetRanking.model_validate(client.get("/api/v1/subsets/hep-go").json())
    values = [row.value for row in ranking.rows]
    assert values == sorted(values, reverse=True) and len(values) == 5
    assert client.get("/api/v1/sections/chat-hard").json()["section"]["name"] == "Chat Hard"


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/v1/models/nobody/nothing", 404),
        ("/api/v1/models/nobody/nothing/examples", 404),
        ("/api/v1/models/mightbe/Better-PairRM/examples?subset=nope", 404),
        ("/api/v1/models/mightbe/Better-PairRM/examples?result_id=424242", 404),
        ("/api/v1/subsets/nope", 404),
        ("/api/v1/sections/nope", 404),
        ("/api/v1/nothing-here", 404),
        ("/api/v1/leaderboard?sort=password", 422),
        ("/api/v1/leaderboard?benchmark=rewardbench-v9", 422),
        ("/api/v1/sections?benchmark=rewardbench-v9", 404),
        ("/api/v1/benchmarks/rewardbench-v9", 404),
        ("/api/v1/leaderboard?per_page=0", 422),
        ("/api/v1/leaderboard?format=xml", 422),
        ("/api/v1/models/mightbe/Better-PairRM/examples?page=-1", 422),
    ],
)
def test_errors_are_json_with_a_reason(client: TestClient, url: str, status: int) -> None:
    response = client.get(url)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail


def test_openapi_documents_the_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/api/v1/leaderboard",
        "/api/v1/models/{org}/{name}",
        "/api/v1/models/{org}/{name}/examples",
        "/api/v1/sections",
        "/api/v1/subsets",
        "/api/v1/subsets/{subset}",
    ):
        assert path in paths
    parameters = {p["name"] for p in paths["/api/v1/leaderboard"]["get"]["parameters"]}
    assert {
        "benchmark",
        "sort",
        "order",
        "model_type",
        "q",
        "partial",
        "page",
        "per_page",
        "format",
    } <= parameters
    assert "most recent result evaluated here" in spec["info"]["description"]
    assert "/api/v1/benchmarks" in paths
    docs = client.get("/docs")
    assert docs.status_code == 200
    sources = [tag["src"] for tag in BeautifulSoup(docs.text, "html.parser").find_all("script", src=True)]
    assert sources and all(str(src).startswith("/static/") for src in sources)  # no CDN
    assert client.get(str(sources[0])).status_code == 200


def test_search_matches_the_display_name_too(
    client: TestClient, db_session_factory: sessionmaker[Session]
) -> None:
    with db_session_factory.begin() as session:
        row = make_result(session, "acme/rm-7b", 0.6)
        session.get_one(RewardModel, row.reward_model_id).display_name = "Acme Helpful Judge"
    found = client.get("/api/v1/leaderboard", params={"q": "helpful judge"}).json()
    assert [item["model"] for item in found["rows"]] == ["acme/rm-7b"]
    assert client.get("/api/v1/leaderboard", params={"q": "nothing-like-this"}).json()["total"] == 0


def test_total_counts_the_rows_listed(client: TestClient, db_session_factory: sessionmaker[Session]) -> None:
    """Types shown apart (DPO Ref. Free) are neither listed nor counted on the main board."""
    with db_session_factory.begin() as session:
        make_result(session, "org/classifier", 0.8)
        make_result(session, "org/ref-free", 0.7, model_type="dpo-ref-free")
    board = client.get("/api/v1/leaderboard", params={"per_page": "1000"}).json()
    listed = [row["model"] for row in board["rows"]]
    assert "org/classifier" in listed and "org/ref-free" not in listed
    assert board["total"] == len(listed)
    apart = client.get("/api/v1/leaderboard", params={"model_type": "dpo-ref-free"}).json()
    assert [row["model"] for row in apart["rows"]] == ["org/ref-free"] and apart["total"] == 1
