"""The check list after "Check only" or a refused submission: the checks that ran in the table, the ones
that did not in one line with the reason, so both list the same checks."""

from __future__ import annotations

from bs4 import BeautifulSoup

from app.services.intake.validation import Check
from app.templating import templates


def test_checks_not_run_are_one_line_under_the_table() -> None:
    checks = [
        Check("model_id", True, "A valid Hub model id."),
        Check("exists", False, "No model org/nope on the Hub."),
        Check("safetensors", False, "not checked: the model does not exist.", skipped=True),
        Check("tokenizer", False, "not checked: the model does not exist.", skipped=True),
        Check("rate_limit", False, "not checked: the Hub took too long.", skipped=True),
    ]
    html = templates.get_template("submit.html").render(checks=checks, checked=True, all_ok=False, values={})
    soup = BeautifulSoup(html, "html.parser")
    rows = [
        [td.get_text(strip=True) for td in tr.select("td")] for tr in soup.select("table.checks tbody tr")
    ]
    assert [row[:2] for row in rows] == [["model id", "passed"], ["exists", "failed"]]
    line = soup.select_one("p.checks-not-run")
    assert line is not None
    assert " ".join(line.get_text().split()) == (
        "Not run: rate limit (not checked: the Hub took too long); "
        "safetensors, tokenizer (not checked: the model does not exist)."
    )
