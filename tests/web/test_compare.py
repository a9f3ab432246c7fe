"""Comparing models: side by side per section and subset, then the examples they disagree on, in full."""

from __future__ import annotations

from bs4 import BeautifulSoup, Tag
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import ResultSource
from app.services.presentation.compare import credit
from tests.web.factories import accuracies_of, make_result, sample_pairs, scores_for
from worker.engine.types import ScoredExample

A, B, C = "org/model-a", "org/model-b", "org/model-c"


def store_three(session_factory: sessionmaker[Session]) -> dict[str, list[ScoredExample]]:
    pairs = sample_pairs()
    scored = {A: scores_for(pairs, wrong_every=4), B: scores_for(pairs, wrong_every=3), C: scores_for(pairs)}
    with session_factory.begin() as session:
        for name, rows in scored.items():
            make_result(session, name, accuracies_of(rows), scored=rows, examples=pairs)
        make_result(session, "org/imported", 0.6, source=ResultSource.IMPORTED)
    return scored


def disagreeing(first: list[ScoredExample], second: list[ScoredExample]) -> set[tuple[str, str]]:
    other = {example.key: example.outcome for example in second}
    return {example.key for example in first if example.outcome != other[example.key]}


def test_api_side_by_side_and_disagreements(
    client: TestClient, db_session_factory: sessionmaker[Session]
) -> None:
    scored = store_three(db_session_factory)
    data = client.get(f"/api/v1/compare?models={A},{B}").json()
    assert [model["model"] for model in data["models"]] == [A, B]
    assert all(model["score_interval"] is not None for model in data["models"])
    assert data["sections"] == ["Chat", "Chat Hard", "Safety", "Reasoning"]
    assert len(data["subsets"]) == 23
    expected = disagreeing(scored[A], scored[B])
    page = data["disagreements"]
    assert page["all_subsets"] == page["total"] == len(expected) > 0
    assert page["compared_examples"] == 92
    first = page["items"][0]
    assert (first["subset"], first["example_id"]) in expected
    assert first["prompt"] and len(first["candidates"]) == 2
    assert first["candidate_labels"] == ["Chosen", "Rejected"]
    assert set(first["scores"]) == {A, B} and set(first["credit"].values()) == {0.0, 1.0}
    by_subset = {subset["subset"]: subset["disagreements"] for subset in data["subsets"]}
    assert sum(by_subset.values()) == len(expected)

    subset = first["subset"]
    filtered = client.get(f"/api/v1/compare?models={A}&models={B}&subset={subset}").json()
    assert filtered["disagreements"]["total"] == by_subset[subset]
    assert {item["subset"] for item in filtered["disagreements"]["items"]} == {subset}

    three = client.get(f"/api/v1/compare?models={A},{B},{C}&per_page=5&page=2").json()
    assert len(three["models"]) == 3 and three["disagreements"]["page"] == 2
    assert len(three["disagreements"]["items"]) <= 5


def test_bad_comparisons_say_what_to_do(
    client: TestClient, db_session_factory: sessionmaker[Session]
) -> None:
    store_three(db_session_factory)
    one = client.get(f"/api/v1/compare?models={A}")
    assert one.status_code == 422 and "2 to 4" in one.json()["detail"]
    assert client.get(f"/api/v1/compare?models={A},{A}").status_code == 422  # a repeat is one model
    five = ",".join([A, B, C, "org/imported", "org/x"])
    assert client.get(f"/api/v1/compare?models={five}").status_code == 422
    unknown = client.get(f"/api/v1/compare?models={A},org/unknown")
    assert unknown.status_code == 404 and "org/unknown" in unknown.json()["detail"]
    assert client.get(f"/api/v1/compare?models={A},{B}&subset=nope").status_code == 404
    page = client.get(f"/compare?models={A},org/unknown")
    assert page.status_code == 404
    soup = BeautifulSoup(page.text, "html.parser")
    alert = soup.select_one('[role="alert"]')
    assert alert is not None and "org/unknown" in alert.get_text()
    models = soup.select_one('input[name="models"]')
    assert isinstance(models, Tag) and models["value"] == f"{A}, org/unknown"  # nothing typed is lost
    empty = client.get("/compare")
    assert empty.status_code == 200 and "Tick two or more models" in empty.text


def test_a_model_without_examples_is_compared_on_its_values(
    client: TestClient, db_session_factory: sessionmaker[Session]
) -> None:
    store_three(db_session_factory)
    data = client.get(f"/api/v1/compare?models={A},org/imported").json()
    assert data["disagreements"]["compared_examples"] == 0 and data["disagreements"]["items"] == []
    assert any("org/imported" in note for note in data["notes"])
    imported = data["models"][1]
    assert imported["score_interval"] is None and "imported" in imported["interval_note"]
    mixed = client.get(f"/api/v1/compare?models={A},{B},org/imported").json()
    assert mixed["disagreements"]["compared_examples"] == 92


def test_page_shows_both_models_and_each_disagreement_in_full(
    client: TestClient, db_session_factory: sessionmaker[Session]
) -> None:
    store_three(db_session_factory)
    soup = BeautifulSoup(client.get(f"/compare?models={A},{B}").text, "html.parser")
    headers = [th.get_text(" ", strip=True) for th in soup.select("#compare-sections thead th")]
    assert headers[1].startswith(A) and headers[2].startswith(B)
    rows = [tr.select_one("th").get_text() for tr in soup.select("#compare-sections tbody tr")]  # type: ignore[union-attr]
    assert rows == ["Score", "Chat", "Chat Hard", "Safety", "Reasoning"]
    assert len(soup.select("#compare-sections td .ci")) == 10  # every value has its interval
    items = soup.select("li.disagreement")
    assert items
    first = items[0]
    assert first.select("details pre.text")  # prompt and both answers
    assert [th.get_text() for th in first.select("table.example-scores thead th")] == [
        "Model",
        "Chosen",
        "Rejected",
    ]
    assert [th.get_text() for th in first.select("table.example-scores tbody th")] == [A, B]
    subset_link = soup.select_one("#compare-subsets a[href*='subset=']")
    assert isinstance(subset_link, Tag)
    filtered = BeautifulSoup(client.get(str(subset_link["href"])).text, "html.parser")
    chosen = filtered.select_one('select[name="subset"] option[selected]')
    assert chosen is not None
    assert all(
        span.get_text().startswith(chosen["value"])  # type: ignore[arg-type]
        for span in filtered.select("li.disagreement .subset")
    )


def test_board_rows_link_to_a_comparison(
    client: TestClient, db_session_factory: sessionmaker[Session]
) -> None:
    store_three(db_session_factory)
    soup = BeautifulSoup(client.get("/").text, "html.parser")
    form = soup.select_one("form#compare-form")
    assert isinstance(form, Tag) and form["action"] == "/compare" and form["method"] == "get"
    boxes = form.select('input[type="checkbox"][name="models"]')
    assert {box["value"] for box in boxes} >= {A, B, C}
    answer = client.get("/compare", params=[("benchmark", "rewardbench-v1"), ("models", A), ("models", B)])
    assert answer.status_code == 200 and "Where they disagree" in answer.text


def test_credit() -> None:
    assert credit([0.2, 0.9], 1, 0.0) == 0.0
    assert credit([0.9, 0.2, 0.3], 1, None) == 1.0
    assert credit([0.5, 0.6, 0.9, 0.1], 2, None) == 0.0
    assert credit([0.5, None], 1, None) == 0.0
