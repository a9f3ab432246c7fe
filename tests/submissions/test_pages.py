"""The /submit form (with its CSRF protection), /queue and /submissions/{id}."""

from __future__ import annotations

from typing import Any

from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from app.http.csrf import CSRF_COOKIE
from tests.submissions.conftest import GOOD, NO_TEMPLATE, PICKLE_ONLY, SentMessages


def form_token(client: TestClient) -> str:
    page = client.get("/submit")
    assert page.status_code == 200
    field = BeautifulSoup(page.text, "html.parser").find("input", attrs={"name": "csrf_token"})
    assert field is not None
    return str(field["value"])  # type: ignore[index]


def form(model: str = GOOD, **extra: Any) -> dict[str, Any]:
    fields = {"model": model, "revision": "main", "model_type": "classifier"}
    return {**fields, "classifier.chat_template": "auto", **extra}


def test_submit_page_shows_the_form(client: TestClient) -> None:
    page = client.get("/submit")
    assert page.status_code == 200
    soup = BeautifulSoup(page.text, "html.parser")
    names = {field.get("name") for field in soup.find_all(["input", "select"])}
    assert {
        "model",
        "revision",
        "model_type",
        "classifier.chat_template",
        "dpo.reference_model",
        "dpo.reference_from_card",
        "dpo-ref-free.normalization",
        "judge-pairwise.both_orders",
        "judge-pairwise.seed",
        "judge-rubric.max_new_tokens",
        "benchmark",
        "iteration_of",
        "csrf_token",
    } <= names
    benchmarks = {option["value"] for option in soup.select("select#benchmark option")}
    assert benchmarks == {"rewardbench-v1", "rewardbench-v2"}
    # Without the script every type's settings show, each saying which type it belongs to.
    legends = [legend.get_text(" ", strip=True) for legend in soup.select("fieldset.kind-settings legend")]
    assert any("used only when the model type is DPO" in text for text in legends)
    assert soup.find("script", attrs={"src": "/static/submit-form.js"}) is not None
    assert CSRF_COOKIE in page.cookies
    assert "HttpOnly" in page.headers["set-cookie"] and "SameSite=strict" in page.headers["set-cookie"]


def test_cross_origin_post_without_the_token_is_refused(client: TestClient, sent: SentMessages) -> None:
    response = client.post("/submit", data=form(), headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    client.cookies.clear()
    assert client.post("/submit", data=form()).status_code == 403  # no cookie, no token
    token = form_token(client)
    assert client.post("/submit", data=form(csrf_token=token + "x")).status_code == 403
    forged = client.post("/submit", data=form(csrf_token=token), headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403
    assert sent.ids == []


def test_form_submission_redirects_to_the_status_page(client: TestClient, sent: SentMessages) -> None:
    token = form_token(client)
    response = client.post("/submit", data=form(NO_TEMPLATE, csrf_token=token), follow_redirects=False)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location == f"/submissions/{sent.ids[0]}"
    page = client.get(location).text
    assert "queued" in page and "Position <strong>1</strong>" in page
    assert "has no chat template" in page
    queue = client.get("/queue").text
    assert NO_TEMPLATE in queue and "1 of 1" in queue and "a default of about 15 minutes" in queue


def test_check_only_lists_every_check(client: TestClient, sent: SentMessages) -> None:
    token = form_token(client)
    page = client.post("/submit", data=form(csrf_token=token, action="validate"))
    assert page.status_code == 200
    assert "All checks passed" in page.text
    rows = BeautifulSoup(page.text, "html.parser").select("table.checks tbody tr")
    assert len(rows) == 13 and sent.ids == []


def test_rejection_is_shown_on_the_form(client: TestClient) -> None:
    token = form_token(client)
    page = client.post("/submit", data=form(PICKLE_ONLY, csrf_token=token))
    assert page.status_code == 422
    assert "Only pickle weights were found" in page.text
    assert PICKLE_ONLY in page.text  # the form keeps what was typed
    bad = client.post("/submit", data=form("x", csrf_token=token, **{"classifier.chat_template": "chatml"}))
    assert bad.status_code == 422 and "chat_template" in bad.text


def test_form_reads_only_the_chosen_types_settings(client: TestClient, sent: SentMessages) -> None:
    token = form_token(client)
    fields = {
        "model_type": "dpo",
        "dpo.reference_model": "",
        "judge-pairwise.seed": "not a number",  # another type's field: ignored
        "classifier.chat_template": "chatml",  # ignored too
    }
    page = client.post("/submit", data=form(csrf_token=token, **fields))
    assert page.status_code == 422
    assert "scored against a reference model" in page.text
    assert "not a number" not in page.text and "chatml" not in page.text
    judge = {"model_type": "judge-pairwise", "judge-pairwise.seed": "seven"}
    page = client.post("/submit", data=form(csrf_token=token, **judge))
    assert page.status_code == 422 and "is not a whole number" in page.text
    assert sent.ids == []


def test_duplicate_on_the_form_links_to_the_first(client: TestClient) -> None:
    token = form_token(client)
    first = client.post("/submit", data=form(csrf_token=token), follow_redirects=False)
    again = client.post("/submit", data=form(csrf_token=token))
    assert again.status_code == 409
    assert f'href="{first.headers["location"]}"' in again.text


def test_unknown_submission_page_is_404(client: TestClient) -> None:
    page = client.get("/submissions/999")
    assert page.status_code == 404 and "does not exist" in page.text


def test_markup_in_a_model_id_is_escaped(client: TestClient) -> None:
    token = form_token(client)
    page = client.post("/submit", data=form("<script>alert(1)</script>", csrf_token=token))
    assert page.status_code == 422
    assert "<script>alert(1)</script>" not in page.text
