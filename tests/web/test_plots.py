"""Plots: drawn from stored results of both benchmarks, each with its table, SVG and JSON at stable URLs."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import RewardModel
from app.services.presentation.plots import margin, score_by_iteration
from tests.web.factories import accuracies_of, make_result, sample_pairs, scores_for

SVG = "{http://www.w3.org/2000/svg}"


def parse_svg(text: str) -> ElementTree.Element:
    root = ElementTree.fromstring(text)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title") is not None and root.find(f"{SVG}desc") is not None
    assert "<script" not in text and "style=" not in text and "<style" not in text
    return root


def marks(root: ElementTree.Element) -> list[ElementTree.Element]:
    return [element for element in root.iter() if element.get("class") in ("plot-mark", "plot-mark-line")]


def with_models(session_factory: sessionmaker[Session]) -> None:
    """Three evaluated v1 models with examples and parameter counts, one of them DPO."""
    pairs = sample_pairs()
    with session_factory.begin() as session:
        for name, every, kind, params in (
            ("org/big", 10, "classifier", 7_000_000_000),
            ("org/small", 4, "classifier", 350_000_000),
            ("org/dpo", 3, "dpo", 2_000_000_000),
        ):
            scored = scores_for(pairs, wrong_every=every)
            result = make_result(session, name, accuracies_of(scored), scored=scored, model_type=kind)
            model = session.get(RewardModel, result.reward_model_id)
            assert model is not None
            model.parameter_count = params


def test_score_against_parameters_on_both_benchmarks(
    client: TestClient, seeded: None, db_session_factory: sessionmaker[Session]
) -> None:
    with_models(db_session_factory)
    data = client.get("/api/v1/plots/score-vs-parameters").json()
    plotted = {point["model"]: point for point in data["data"]["points"]}
    assert plotted["org/big"]["parameters"] == 7_000_000_000
    assert plotted["org/dpo"]["model_type"] == "dpo"
    assert plotted["org/big"]["score_interval"] is not None
    svg = client.get(data["svg_url"])
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    root = parse_svg(svg.text)
    drawn = [
        p for p in data["data"]["points"] if (p["parameters"] or p["parameters_from_name"]) and p["score"]
    ]
    legend = len({p["model_type"] for p in drawn})
    assert len(marks(root)) == len(drawn) + legend
    assert "DPO" in svg.text and "Seq. Classifier" in svg.text

    # RewardBench 2's published board: stored results of the other benchmark, through the same plot.
    v2 = client.get("/api/v1/plots/score-vs-parameters?benchmark=rewardbench-v2").json()
    assert v2["data"]["benchmark"] == "rewardbench-v2"
    assert len(v2["rows"]) > 50  # every ranked row is in the table, drawn or not
    page = client.get(v2["page_url"])
    assert page.status_code == 200
    soup = BeautifulSoup(page.text, "html.parser")
    assert soup.select_one("figure svg[role=img]") is not None
    table_rows = soup.select("#plot-table tbody tr")
    assert len(table_rows) == len(v2["rows"])


def test_filters_follow_the_leaderboard_view(
    client: TestClient, db_session_factory: sessionmaker[Session]
) -> None:
    with_models(db_session_factory)
    data = client.get("/api/v1/plots/score-vs-parameters?model_type=dpo").json()
    assert [point["model"] for point in data["data"]["points"]] == ["org/dpo"]
    assert "model_type=dpo" in data["page_url"] and "model_type=dpo" in data["svg_url"]
    page = BeautifulSoup(client.get(data["page_url"]).text, "html.parser")
    back = page.select_one("nav.crumbs a")
    assert back is not None and back["href"] == "/?model_type=dpo"


def test_the_refusal_picture_and_other_pairs(
    client: TestClient, db_session_factory: sessionmaker[Session]
) -> None:
    with_models(db_session_factory)
    data = client.get("/api/v1/plots/versus").json()
    assert (data["data"]["x"], data["data"]["y"]) == ("xstest-should-respond", "xstest-should-refuse")
    assert len(data["data"]["points"]) == 3
    page = BeautifulSoup(client.get(data["page_url"]).text, "html.parser")
    selected = [option.get_text() for option in page.select("select option[selected]")]
    assert selected == ["xstest-should-respond", "xstest-should-refuse"]
    chat = client.get("/api/v1/plots/versus?x=Chat&y=Safety").json()
    assert (chat["data"]["x"], chat["data"]["y"]) == ("Chat", "Safety")
    assert client.get("/api/v1/plots/versus?x=Chat&y=nothing").status_code == 404
    assert client.get("/api/v1/plots/no-such-plot").status_code == 404


def test_model_plots(client: TestClient, db_session_factory: sessionmaker[Session]) -> None:
    with_models(db_session_factory)
    sections = client.get("/api/v1/plots/sections?model=org/big").json()
    assert [row[0]["text"] for row in sections["rows"]] == [
        "Score",
        "Chat",
        "Chat Hard",
        "Safety",
        "Reasoning",
    ]
    assert all(re.fullmatch(r"\d+\.\d–\d+\.\d", row[2]["text"]) for row in sections["rows"])
    root = parse_svg(client.get(sections["svg_url"]).text)
    assert len([e for e in root.iter(f"{SVG}rect") if e.get("class") == "plot-bar"]) == 5

    strip = client.get("/api/v1/plots/subset-strip?model=org/big").json()
    assert len(strip["data"]["subsets"]) == 23
    assert all(len(subset["board"]) == 2 for subset in strip["data"]["subsets"])  # the two other models
    assert all(subset["board_models"] == 2 for subset in strip["data"]["subsets"])

    margins = client.get("/api/v1/plots/margins?model=org/small").json()
    rows = {row[0]["text"]: row for row in margins["rows"]}
    assert len(rows) == 23
    # scores_for: of each subset's four pairs one is wrong (0.1 vs 0.9 or a 0.5 tie), three right (0.9, 0.1).
    assert all(row[2]["text"] == "75.0" for row in rows.values())
    for subset in margins["data"]["subsets"]:
        assert subset["n"] == 4
        assert subset["median"] == pytest.approx(0.8)
        assert subset["p5"] in (pytest.approx(-0.56), pytest.approx(0.12))  # 5% of the way to the next
    assert client.get("/api/v1/plots/margins?model=org/unknown").status_code == 404


def test_a_published_row_shows_no_interval_and_says_why(client: TestClient, seeded: None) -> None:
    data = client.get("/api/v1/leaderboard").json()
    row = next(row for row in data["rows"] if row["source"] == "imported")
    plot = client.get(f"/api/v1/plots/sections?model={row['model']}").json()
    assert plot["notes"] and "imported without per-example scores" in plot["notes"][0]
    assert all(cells[2]["text"] == "—" for cells in plot["rows"])


def test_margin() -> None:
    assert margin([0.9, 0.1], 1) == 0.8
    assert margin([0.5, 0.7, 0.2, 0.6], 2) == 0.5 - 0.6
    assert margin([0.5, None], 1) is None


def test_score_by_iteration() -> None:
    plot = score_by_iteration(
        "org/rm-series",
        [("v1", 0.61, (0.58, 0.64)), ("v2", 0.66, (0.63, 0.69)), ("v3", 0.7, None)],
        params={"series": "org/rm-series"},
    )
    root = parse_svg(plot.svg)
    assert plot.name == "score-by-iteration"
    assert [row[0].text for row in plot.rows] == ["v1", "v2", "v3"]
    assert [row[2].text for row in plot.rows] == ["58.0–64.0", "63.0–69.0", "—"]
    assert len([e for e in root.iter(f"{SVG}circle") if e.get("class") == "plot-mark"]) == 3
    whiskers = [e for e in root.iter(f"{SVG}line") if e.get("class") == "plot-whisker"]
    assert len(whiskers) == 2 * 3  # two intervals, three lines each
    assert plot.data["iterations"][2] == {"label": "v3", "score": 0.7, "score_interval": None}
    assert plot.page_url == "/plots/score-by-iteration?series=org%2Frm-series"


def test_published_boards_are_drawn_at_the_size_their_names_state(client: TestClient, seeded: None) -> None:
    for benchmark in ("rewardbench-v1", "rewardbench-v2"):
        data = client.get(f"/api/v1/plots/score-vs-parameters?benchmark={benchmark}").json()
        from_names = [
            p for p in data["data"]["points"] if p["parameters_from_name"] and p["score"] is not None
        ]
        assert len(from_names) > 20, benchmark
        assert all(point["parameters"] is None for point in from_names)
        root = parse_svg(client.get(data["svg_url"]).text)
        pale = [
            mark for mark in marks(root) if "0.45" in (mark.get("fill-opacity"), mark.get("stroke-opacity"))
        ]
        assert len(pale) == len(from_names)
        assert any("(from the name)" in row[2]["text"] for row in data["rows"])


def test_the_board_shows_its_plot_as_an_image_light_or_dark(client: TestClient, seeded: None) -> None:
    soup = BeautifulSoup(client.get("/?benchmark=rewardbench-v2&model_type=classifier").text, "html.parser")
    figure = soup.select_one("#score-vs-parameters-figure")
    assert figure is not None
    image = figure.select_one("img")
    sources = {str(source["media"]): str(source["srcset"]) for source in figure.select("source")}
    assert image is not None
    assert image["src"] == "/plots/score-vs-parameters.svg?benchmark=rewardbench-v2&model_type=classifier"
    dark = {"srcset": sources["(prefers-color-scheme: dark)"]}
    assert dark["srcset"].endswith("&theme=dark")
    # A phone gets the chart drawn for its width, in its colours.
    assert sources["(max-width: 560px)"].endswith("&layout=narrow")
    assert sources["(max-width: 560px) and (prefers-color-scheme: dark)"].endswith(
        "&theme=dark&layout=narrow"
    )
    narrow = parse_svg(client.get(sources["(max-width: 560px)"]).text)
    assert narrow.get("width") == "400"
    assert "Score against parameter count" in str(image["alt"])
    light = client.get(str(image["src"]))
    night = client.get(str(dark["srcset"]))
    assert 'fill="#ffffff"' in light.text and 'fill="#181c22"' not in light.text
    assert 'fill="#181c22"' in night.text and 'fill="#ffffff"' not in night.text
    parse_svg(night.text)
    again = client.get(str(image["src"]), headers={"If-None-Match": light.headers["etag"]})
    assert again.status_code == 304  # served from the cache while the data is unchanged
    versus = soup.select_one("a.plot-link")
    assert versus is not None and str(versus["href"]).startswith("/plots/versus?benchmark=rewardbench-v2")


def test_a_big_board_is_summarised_in_the_strip() -> None:
    from app.services.presentation.svg_charts import STRIP_DOTS_MAX, StripRow, strip

    few = strip(
        [StripRow("a", [0.5] * 10, 0.6)], title="t", description="d", value_label="v", highlight_label="m"
    )
    many = strip(
        [StripRow("a", [i / 100 for i in range(STRIP_DOTS_MAX + 40)], 0.6)],
        title="t",
        description="d",
        value_label="v",
        highlight_label="m",
    )
    assert few.count('<circle class="plot-board"') == 10
    assert many.count('<circle class="plot-board"') == 0 and '<rect class="plot-board"' in many
    assert len(many) < 5000


def test_a_scatter_names_every_point_and_labels_its_leaders() -> None:
    from app.services.presentation.svg_charts import LABELLED, NARROW, Point, scatter

    points = [Point(1e9 * (i + 1), i / 20, f"org/model-{i:02d}", "Seq. Classifier") for i in range(15)]
    for width in (720, NARROW):
        svg = scatter(
            points, title="T", description="d", x_label="Parameters", y_label="Score", x_log=True, width=width
        )
        root = parse_svg(svg)
        marks_ = [e for e in root.iter() if e.get("class") == "plot-mark"]
        tips = [e.findtext(f"{SVG}title") or "" for e in marks_]
        tips = [tip for tip in tips if tip != "Seq. Classifier"]  # the legend's marker names its group
        assert len(tips) == 15 and all(
            re.match(r"org/model-\d\d \(Seq\. Classifier\): Score \d", t) for t in tips
        )
        labels = [e.text or "" for e in root.iter(f"{SVG}text") if "plot-label" in (e.get("class") or "")]
        assert sorted(labels) == [f"model-{i:02d}" for i in range(14, 14 - LABELLED, -1)][::-1]
        texts = [e.text or "" for e in root.iter(f"{SVG}text")]
        assert "Score (%)" in texts
        headings = [e for e in root.iter(f"{SVG}text") if "plot-heading" in (e.get("class") or "")]
        assert len(headings) == 1 and root.get("width") == str(width)


def test_plot_pages_print_one_title_and_units(client: TestClient, seeded: None) -> None:
    soup = BeautifulSoup(client.get("/plots/versus").text, "html.parser")
    assert soup.h1 is not None
    svg = soup.select_one(".plot-wide svg")
    assert svg is not None and svg.select_one("text.plot-heading") is not None  # hidden by the page's CSS
    assert soup.select_one(".plot-narrow svg") is not None
    headers = [th.get_text(strip=True) for th in soup.select("#plot-table thead th")]
    assert headers[2:] == ["xstest-should-respond (%)", "xstest-should-refuse (%)"]
