"""Fixtures for the real-browser tests: Debian's Chromium driven by Playwright, against `rewardboard up`.

- ``chromium_executable``: the ``chromium`` on PATH; without one the tests are skipped, except under CI
  (``CI=true``), where its absence is a failure (CI installs it).
- ``browser_hub``: a Hub stand-in (tests/support/hub_server.py) serving one tiny classifier, ``GOOD``, a tiny
  DPO policy whose card names its reference, that reference, and a judge that always answers "[[A]]".
- ``board``: `rewardboard up` on the embedded default (SQLite + the SQLite broker) in a temporary DATA_DIR,
  with the database migrated, seeded with the published results and given one model whose display name is
  a script tag, before the service starts. Stopped with SIGINT, as Ctrl-C would.
- ``visitor``: a fresh browser page per test that records every JavaScript dialog it is shown, and every
  console message about the Content-Security-Policy.
- ``screenshots``: where tests keep their screenshots: the folder named by ``BROWSER_SCREENSHOTS`` when set
  (CI keeps it as an artifact), else a pytest temporary folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Dialog, Page, sync_playwright

from app.commands.database import upgrade
from app.db.models import ResultSource, RewardModel
from app.db.session import make_engine, session_scope
from app.services.results.seed import seed_if_empty
from tests.submissions.conftest import (
    DPO_POLICY,
    DPO_SFT,
    GOOD,
    JUDGE_A,
    Process,
    free_port,
    make_settings,
    start_process,
    wait_until,
    worker_env,
)
from tests.support.hub_server import HubServer
from tests.web.factories import accuracies_of, make_result, sample_pairs, scores_for

CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
NO_CHROMIUM = "chromium not installed (apt-get install chromium)"

XSS_MODEL = "xss-org/script-rm"
XSS_NAME = "<script>alert(1)</script>"
# Two models evaluated on the sample with their per-example scores and texts stored: they can be compared.
COMPARED = ("compare-org/alpha-rm", "compare-org/beta-rm")
SCREENSHOTS_ENV = "BROWSER_SCREENSHOTS"


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(NO_CHROMIUM)
        pytest.skip(NO_CHROMIUM)
    return path


@pytest.fixture(scope="module")
def browser(chromium_executable: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_executable, args=list(CHROMIUM_ARGS))
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def browser_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    from tests.support.tiny_models import (
        build_tiny_causal_lm,
        build_tiny_classifier,
        build_tiny_judge,
        build_tokenizer,
    )

    root = tmp_path_factory.mktemp("browser-tiny-model")
    model_dir = build_tiny_classifier(root / "good")
    tokenizer = build_tokenizer()
    server = HubServer().start()
    server.add_repo_from_dir(GOOD, model_dir)
    policy = build_tiny_causal_lm(root / "policy", seed=1, tokenizer=tokenizer, base_model=DPO_SFT)
    server.add_repo_from_dir(DPO_POLICY, policy)
    server.add_repo_from_dir(DPO_SFT, build_tiny_causal_lm(root / "sft", seed=2, tokenizer=tokenizer))
    server.add_repo_from_dir(JUDGE_A, build_tiny_judge(root / "judge", ["[[A]]"]))
    yield server
    server.stop()


@dataclass
class Board:
    url: str
    process: Process

    def log(self, lines: int = 120) -> str:
        return self.process.tail(lines)


def prepare_database(data_dir: Path) -> None:
    """Migrate, seed the published results, add a model whose display name is a script tag and two models
    with per-example scores (on the committed sample) that disagree on some examples."""
    engine = make_engine(f"sqlite:///{(data_dir / 'rewardboard.db').as_posix()}")
    try:
        upgrade(engine)
        with session_scope(engine) as session:
            assert seed_if_empty(session), "the published seed results were not imported"
            result = make_result(session, XSS_MODEL, 0.55, source=ResultSource.IMPORTED)
            model = session.get(RewardModel, result.reward_model_id)
            assert model is not None
            model.display_name = XSS_NAME
            pairs = sample_pairs()
            for name, wrong_every, parameters in zip(
                COMPARED, (4, 3), (7_000_000_000, 2_000_000_000), strict=True
            ):
                scored = scores_for(pairs, wrong_every=wrong_every)
                compared = make_result(session, name, accuracies_of(scored), scored=scored, examples=pairs)
                model = session.get(RewardModel, compared.reward_model_id)
                assert model is not None
                model.parameter_count = parameters
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory, browser_hub: HubServer) -> Iterator[Board]:
    home = tmp_path_factory.mktemp("browser-board")
    data_dir = home / "data"
    prepare_database(data_dir)
    env = worker_env(make_settings("unused", data_dir), browser_hub, home)
    for name in ("DATABASE_URL", "BROKER_URL"):  # the embedded defaults under DATA_DIR
        env.pop(name)
    port = free_port()
    command = [sys.executable, "-m", "app.cli", "up", "--port", str(port)]
    up = start_process(command, env, home / "up.log")
    url = f"http://127.0.0.1:{port}"

    def serving() -> bool:
        if up.popen.poll() is not None:
            raise AssertionError(f"rewardboard up exited early:\n{up.tail()}")
        try:
            return httpx.get(f"{url}/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(serving, timeout=120, what="rewardboard up to serve /")
        yield Board(url, up)
    finally:
        if up.popen.poll() is None:
            up.popen.send_signal(signal.SIGINT)
            try:
                up.popen.wait(timeout=60)
            except subprocess.TimeoutExpired:
                up.kill()
        up.kill()  # anything left in its process group


@dataclass
class Visitor:
    page: Page
    base: str
    dialogs: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)

    def open(self, path: str) -> None:
        self.page.goto(self.base + path)


def open_visitor(browser: Browser, board: Board, **context_options: Any) -> tuple[BrowserContext, Visitor]:
    """A fresh context and page (desktop size unless told otherwise) that records dialogs and CSP reports."""
    options: dict[str, Any] = {"viewport": {"width": 1400, "height": 1000}, **context_options}
    context = browser.new_context(**options)
    context.set_default_timeout(30_000)
    page = context.new_page()
    seen = Visitor(page, board.url)

    def on_dialog(dialog: Dialog) -> None:
        seen.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            seen.csp_violations.append(message.text)

    page.on("dialog", on_dialog)
    page.on("console", on_console)
    return context, seen


@pytest.fixture
def visitor(browser: Browser, board: Board) -> Iterator[Visitor]:
    context, seen = open_visitor(browser, board)
    try:
        yield seen
    finally:
        context.close()


@pytest.fixture
def phone(browser: Browser, board: Board) -> Iterator[Visitor]:
    """A 390 x 844 touch screen (an iPhone's CSS size)."""
    context, seen = open_visitor(
        browser, board, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    try:
        yield seen
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots are kept: $BROWSER_SCREENSHOTS (kept by CI), else a temporary folder."""
    named = os.environ.get(SCREENSHOTS_ENV)
    folder = Path(named) if named else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
