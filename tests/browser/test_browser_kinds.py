"""Submitting the new kinds in a real browser: the form shows only the chosen type's settings (a small
same-origin script), a DPO model with its reference from its model card and a judge judging both orders are
checked, queued, evaluated by the worker of `rewardboard up`, and listed under their own types; so are a
rubric judge and a reference-free DPO model on RewardBench 2."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Board, Visitor
from tests.submissions.conftest import DPO_POLICY, DPO_SFT, JUDGE_A, wait_until

pytestmark = pytest.mark.slow


def wait_for_success(page: Page, board: Board) -> None:
    status = page.locator("dd.status")

    def finished() -> bool:
        page.reload()
        return status.inner_text().strip() in ("succeeded", "failed", "cancelled")

    try:
        wait_until(finished, timeout=300, interval=1.0, what="the submission page to show it finished")
    except AssertionError:
        raise AssertionError(board.log()) from None
    expect(status).to_have_text("succeeded")


def test_submit_a_dpo_model_and_a_judge(visitor: Visitor, board: Board) -> None:
    page = visitor.page
    visitor.open("/submit")
    dpo_settings = page.locator("#settings-dpo")
    classifier_settings = page.locator("#settings-classifier")
    expect(classifier_settings).to_be_visible()
    expect(dpo_settings).to_be_hidden()
    page.get_by_label("Model type").select_option("dpo")
    expect(dpo_settings).to_be_visible()
    expect(classifier_settings).to_be_hidden()
    expect(page.locator("#settings-judge-pairwise")).to_be_hidden()

    page.get_by_label("Model ID").fill(DPO_POLICY)
    dpo_settings.get_by_label("Reference from the model card").check()
    page.get_by_role("button", name="Check only").click()
    expect(page.get_by_role("heading", name="All checks passed")).to_be_visible()
    first_cell = page.locator("td:first-child", has_text=re.compile(r"^reference model$"))
    reference = page.locator("table.checks tbody tr").filter(has=first_cell)
    expect(reference).to_contain_text(DPO_SFT)
    # The page came back with DPO still chosen and only its settings shown.
    expect(page.get_by_label("Model type")).to_have_value("dpo")
    expect(dpo_settings).to_be_visible()
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page).to_have_url(re.compile(r"/submissions/\d+$"))
    wait_for_success(page, board)

    visitor.open("/submit")
    page.get_by_label("Model type").select_option("judge-pairwise")
    page.get_by_label("Model ID").fill(JUDGE_A)
    judge = page.locator("#settings-judge-pairwise")
    judge.get_by_label("Judge both orders").check()
    judge.get_by_label("Max new tokens").fill("8")
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page).to_have_url(re.compile(r"/submissions/\d+$"))
    wait_for_success(page, board)

    visitor.open("/?partial=true")
    rows = page.locator("#leaderboard tbody tr")
    dpo_row = rows.filter(has=page.get_by_role("link", name=DPO_POLICY, exact=True))
    expect(dpo_row.locator("td.col-type")).to_have_text("DPO")
    judge_row = rows.filter(has=page.get_by_role("link", name=JUDGE_A, exact=True))
    expect(judge_row.locator("td.col-type")).to_have_text("Pairwise judge")
    judge_row.get_by_role("link", name=JUDGE_A, exact=True).click()
    diagnostics = page.locator("#judge-diagnostics")
    expect(diagnostics).to_contain_text("Position bias")
    expect(diagnostics).to_contain_text("100.0%")
    expect(page.locator("p.judge-verdicts").first).to_contain_text("→ A")
    assert visitor.dialogs == []


def test_submit_a_rubric_judge_and_a_reference_free_dpo_model_on_rewardbench_2(
    visitor: Visitor, board: Board
) -> None:
    page = visitor.page
    for model, kind in ((JUDGE_A, "judge-rubric"), (DPO_POLICY, "dpo-ref-free")):
        visitor.open("/submit")
        page.get_by_label("Model type").select_option(kind)
        expect(page.locator(f"#settings-{kind}")).to_be_visible()
        page.get_by_label("Benchmark").select_option("rewardbench-v2")
        page.get_by_label("Model ID").fill(model)
        if kind == "judge-rubric":
            page.locator("#settings-judge-rubric").get_by_label("Max new tokens").fill("8")
        page.get_by_role("button", name="Submit", exact=True).click()
        expect(page).to_have_url(re.compile(r"/submissions/\d+$"))
        wait_for_success(page, board)

    for kind, model, label in (
        ("judge-rubric", JUDGE_A, "Rubric judge"),
        ("dpo-ref-free", DPO_POLICY, "DPO Ref. Free"),
    ):
        visitor.open(f"/?benchmark=rewardbench-v2&partial=true&model_type={kind}")
        row = page.locator("#leaderboard tbody tr").filter(
            has=page.get_by_role("link", name=model, exact=True)
        )
        expect(row.locator("td.col-type")).to_have_text(label)
    assert visitor.dialogs == []
