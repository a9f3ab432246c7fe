"""Atom feeds read from the public audit log: per model, per organisation and per board (a result published,
a run failed, a result flagged, hidden or superseded) and the whole changelog (every line).

Entries are built with feedgen from ``audit.changelog`` entries, newest first. An entry's id is a tag URI
made from the audit line's id, so it never changes; its time is the line's; its title says what happened
in words; its link goes to the result on its model page, or to the submission for a failed run. Only the
line's own public fields are shown (a failure message, a maintainer's reason and link), never a detail
that is not named here, so no secret or webhook URL can reach a feed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from feedgen.feed import FeedGenerator
from sqlalchemy.orm import Session

from app.services.operations.audit import ChangelogEntry, changelog
from app.templating import format_score, model_path
from worker.engine.benchmarks import BENCHMARKS

# The events of a result that model, organisation and board feeds carry.
RESULT_ACTIONS = ("result_published", "result_failed", "result_flagged", "result_hidden", "result_superseded")
FEED_LENGTH = 50
ATOM_TYPE = "application/atom+xml"
# A tag URI's date: the year this board's ids were first minted; it never changes.
TAG_DATE = "2026"
# A feed with no entry yet is dated here (a fixed time keeps its body, and so its ETag, stable).
EMPTY_FEED_UPDATED = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One feed: what it is called, where it lives (``path``) and the page it describes."""

    title: str
    subtitle: str
    path: str
    page: str


@dataclass(frozen=True, slots=True)
class Site:
    """The site's address as links should show it (``base``, no trailing slash) and the authority of ids."""

    base: str

    @property
    def authority(self) -> str:
        return urlsplit(self.base).hostname or "localhost"

    def url(self, path: str) -> str:
        return self.base + path


def model_feed(session: Session, site: Site, hub_id: str) -> bytes:
    spec = FeedSpec(
        title=f"{hub_id} on RewardBoard",
        subtitle=f"Results of {hub_id}: published, failed, flagged, hidden or superseded.",
        path=f"/models/{model_path(hub_id)}/feed.atom",
        page=f"/models/{model_path(hub_id)}",
    )
    entries = changelog(session, limit=FEED_LENGTH, model=hub_id, actions=RESULT_ACTIONS)
    return build_feed(spec, entries, site)


def organisation_feed(session: Session, site: Site, organisation: str) -> bytes:
    spec = FeedSpec(
        title=f"{organisation} on RewardBoard",
        subtitle=f"Results of models of {organisation}: published, failed, flagged, hidden or superseded.",
        path=f"/orgs/{model_path(organisation)}/feed.atom",
        page=f"/changelog?org={model_path(organisation)}",
    )
    entries = changelog(session, limit=FEED_LENGTH, organisation=organisation, actions=RESULT_ACTIONS)
    return build_feed(spec, entries, site)


def board_feed(session: Session, site: Site, benchmark: str) -> bytes:
    label = _benchmark_label(benchmark)
    spec = FeedSpec(
        title=f"{label} leaderboard on RewardBoard",
        subtitle=f"Results on {label}: published, failed, flagged, hidden or superseded.",
        path=f"/feed.atom?benchmark={benchmark}",
        page=f"/?benchmark={benchmark}",
    )
    entries = [
        entry
        for entry in changelog(session, limit=FEED_LENGTH, benchmark=benchmark, actions=RESULT_ACTIONS)
        if entry.benchmark == benchmark
    ]
    return build_feed(spec, entries, site)


def changelog_feed(session: Session, site: Site) -> bytes:
    spec = FeedSpec(
        title="RewardBoard changelog",
        subtitle="Every maintainer action and every change of a result's state: who, what, when and why.",
        path="/changelog.atom",
        page="/changelog",
    )
    return build_feed(spec, changelog(session, limit=FEED_LENGTH), site)


def build_feed(spec: FeedSpec, entries: Sequence[ChangelogEntry], site: Site) -> bytes:
    """The Atom document of ``entries`` (newest first), as UTF-8 bytes."""
    feed = FeedGenerator()
    feed.id(f"tag:{site.authority},{TAG_DATE}:feed{spec.path}")
    feed.title(spec.title)
    feed.subtitle(spec.subtitle)
    feed.author({"name": "RewardBoard"})
    feed.link(href=site.url(spec.path), rel="self", type=ATOM_TYPE)
    feed.link(href=site.url(spec.page), rel="alternate", type="text/html")
    feed.language("en")
    feed.updated(entries[0].at if entries else EMPTY_FEED_UPDATED)
    for entry in entries:
        item = feed.add_entry(order="append")
        item.id(entry_id(site, entry))
        item.title(entry_title(entry))
        item.updated(entry.at)
        item.published(entry.at)
        item.author({"name": entry.actor})
        item.link(href=site.url(entry_path(entry)), rel="alternate", type="text/html")
        item.summary(entry_summary(entry))
        item.category(term=entry.action, label=entry.summary)
    document: bytes = feed.atom_str(pretty=True)
    return document


def entry_id(site: Site, entry: ChangelogEntry) -> str:
    return f"tag:{site.authority},{TAG_DATE}:audit-event/{entry.id}"


def entry_path(entry: ChangelogEntry) -> str:
    """Where an entry leads: the result on its model page, the submission, or the model page."""
    if entry.subject == "submission" and entry.subject_id:
        return f"/submissions/{entry.subject_id}"
    if entry.model:
        page = f"/models/{model_path(entry.model)}"
        return f"{page}?result={entry.subject_id}" if entry.subject == "result" and entry.subject_id else page
    return "/changelog"


def entry_title(entry: ChangelogEntry) -> str:
    """What happened, in words: "org/name: result published on RewardBench v1 (Score 73.4)"."""
    what = entry.summary
    if entry.benchmark:
        what += f" on {_benchmark_label(entry.benchmark)}"
    if entry.action == "result_published" and isinstance(entry.detail.get("score"), int | float):
        what += f" (Score {format_score(float(entry.detail['score']))})"
    if entry.action == "result_failed" and entry.detail.get("failure_kind"):
        what += f" ({str(entry.detail['failure_kind']).replace('_', ' ')})"
    if entry.model:
        return f"{entry.model}: {what}"
    subject = f"{entry.subject} {entry.subject_id}" if entry.subject_id else entry.subject
    return f"{what[:1].upper()}{what[1:]} ({subject})"


def entry_summary(entry: ChangelogEntry) -> str:
    """The entry's text: which result or submission, the reason (a failure message or a maintainer's
    public reason), the maintainer's link, and who did it."""
    parts: list[str] = []
    model_type = entry.detail.get("model_type")
    kind = f" ({model_type})" if isinstance(model_type, str) else ""
    if entry.subject == "result" and entry.subject_id:
        parts.append(f"Result {entry.subject_id}{kind}.")
    elif entry.subject_id:
        parts.append(f"{entry.subject.capitalize()} {entry.subject_id}{kind}.")
    if entry.action == "result_published" and isinstance(entry.detail.get("score"), int | float):
        standing = "now on the board" if entry.detail.get("current") else "not the one the board shows"
        parts.append(f"Score {format_score(float(entry.detail['score']))}, {standing}.")
    by_result = entry.detail.get("by_result_id")
    if entry.action == "result_superseded" and by_result is not None:
        parts.append(f"Superseded by result {by_result}.")
    if entry.reason:
        label = "Failure" if entry.action == "result_failed" else "Reason"
        parts.append(f"{label}: {entry.reason}")
    if entry.link:
        parts.append(f"See {entry.link}")
    parts.append(f"By {entry.actor}, {entry.at.strftime('%Y-%m-%d %H:%M UTC')}.")
    return " ".join(parts)


def _benchmark_label(benchmark: str) -> str:
    definition = BENCHMARKS.get(benchmark)
    return definition.label if definition else benchmark
