"""The compare page reads at a glance: the best value of every row marked, subsets grouped by section,
the interval and the missing per-example scores explained once, numbered pages of disagreements."""

from __future__ import annotations

from bs4 import BeautifulSoup, Tag
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.web.test_compare import A, B, store_three


def value_of(cell: Tag) -> float:
    value = cell.select_one(".value")
    assert value is not None
    return float(value.get_text())


def test_the_best_of_each_row_is_marked_and_notes_are_said_once(
    client: TestClient, db_session_factory: sessionmaker[Session]
) -> None:
    store_three(db_session_factory)
    data = client.get(f"/api/v1/compare?models={A},{B},org/imported").json()
    soup = BeautifulSoup(client.get(f"/compare?models={A},{B},org/imported").text, "html.parser")
    sections = soup.select("#compare-sections tbody tr")
    assert len(sections) == 1 + len(data["sections"])
    for row in sections:
        cells = row.select("td")
        values = [value_of(td) for td in cells]
        marked = [value_of(td) for td in cells if "best" in td.get_attribute_list("class")]
        assert marked and set(marked) == {max(values)}
        assert all("(best)" in td.get_text() for td in cells if "best" in td.get_attribute_list("class"))
    groups = [th.get_text(strip=True) for th in soup.select("#compare-subsets tr.group th")]
    assert groups == data["sections"]
    subset_rows = soup.select("#compare-subsets tbody tr:not(.group)")
    assert len(subset_rows) == len(data["subsets"])
    for row in subset_rows:
        texts = [td.get_text(strip=True).removesuffix("(best)") for td in row.select("td")[:-1]]
        numbers = [float(text) for text in texts if text != "—"]
        best = [td for td in row.select("td")[:-1] if "best" in td.get_attribute_list("class")]
        assert best and all(
            float(td.get_text(strip=True).removesuffix("(best)")) == max(numbers) for td in best
        )
    text = soup.get_text(" ")
    assert text.count("No per-example scores are stored") == 1
    assert "no interval" not in " ".join(td.get_text(" ") for td in soup.select("#compare-sections td"))
