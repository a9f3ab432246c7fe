"""benchmarks as data: narrow section, subset and example rows; run settings on the submission

Section scores move from four fixed columns (chat, chat_hard, safety, reasoning, prior_sets) to
``section_score`` rows; ``subset_result`` becomes ``subset_score`` (accuracy -> value); ``pair_result``
becomes ``example_result`` with a list of scores per example; ``benchmark_example`` stores a conversation
and a list of candidates; example ids become strings (RewardBench 2's are). ``model_type`` is always a kind
key (results that held upstream labels are mapped). A result gets ``complete`` (a run over part of the data
is never ranked), ``published_score`` and ``published_formula``; the current result is kept per (model,
benchmark, model type). A submission keeps every setting that changes its result in ``run_config`` (and
``config_key`` is its hash). The model row loses ``model_type`` (a model may be evaluated as several kinds)
and gains ``hub_repo``.

Downgrade restores the previous schema with RewardBench v1 data: values of sections, examples with other
than two candidates, and benchmark texts that the old columns cannot hold are dropped.

Revision ID: 7c1e0b8a9d42
Revises: 6b8d5f233cad
Create Date: 2026-12-01 12:00:00
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "7c1e0b8a9d42"
down_revision: str | Sequence[str] | None = "6b8d5f233cad"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of what this revision needs, so the migration does not change when the code does.
_SECTION_COLUMNS = {
    "chat": "Chat",
    "chat_hard": "Chat Hard",
    "safety": "Safety",
    "reasoning": "Reasoning",
    "prior_sets": "Prior Sets",
}
_LABEL_TO_KIND = {
    "Seq. Classifier": "classifier",
    "Custom Classifier": "custom-classifier",
    "DPO": "dpo",
    "DPO Ref. Free": "dpo-ref-free",
    "Generative": "generative",
    "Generative RM": "generative",
    "Generative RM PoLL": "generative",
}
_KIND_TO_LABEL = {
    "classifier": "Seq. Classifier",
    "custom-classifier": "Custom Classifier",
    "dpo": "DPO",
    "dpo-ref-free": "DPO Ref. Free",
    "generative": "Generative",
}
_V1_ROWS = {
    "alpacaeval-easy": 100, "alpacaeval-length": 95, "alpacaeval-hard": 95, "mt-bench-easy": 28,
    "mt-bench-med": 40, "mt-bench-hard": 37, "llmbar-natural": 100, "llmbar-adver-neighbor": 134,
    "llmbar-adver-GPTInst": 92, "llmbar-adver-GPTOut": 47, "llmbar-adver-manual": 46,
    "refusals-dangerous": 100, "refusals-offensive": 100, "xstest-should-refuse": 154,
    "xstest-should-respond": 250, "donotanswer": 136, "math-prm": 447, "hep-cpp": 164, "hep-go": 164,
    "hep-java": 164, "hep-js": 164, "hep-python": 164, "hep-rust": 164,
}  # fmt: skip


def _kind(label: str) -> str:
    return _LABEL_TO_KIND.get(label, label if label in _KIND_TO_LABEL else "classifier")


def _canonical_hash(document: dict[str, Any], *, compact: bool) -> str:
    separators = (",", ":") if compact else (", ", ": ")
    return hashlib.sha256(json.dumps(document, sort_keys=True, separators=separators).encode()).hexdigest()


def _json(value: Any) -> Any:
    if isinstance(value, str):
        return json.loads(value)
    return value


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    _create_narrow_tables()
    _copy_sections_up(bind)
    _copy_subsets_up(dialect)
    _copy_examples_up(dialect)
    _benchmark_example_up(bind, dialect)
    _results_up(bind)
    _reward_model_up()
    _submission_up(bind)


def downgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    _submission_down(bind)
    _reward_model_down(bind)
    _results_down(bind)
    _benchmark_example_down(bind, dialect)
    _copy_examples_down(dialect)
    _copy_subsets_down()
    op.drop_table("example_result")
    op.drop_table("section_score")
    with op.batch_alter_table("subset_score", schema=None) as batch_op:
        batch_op.drop_index("ix_subset_score_subset_value")
    op.drop_table("subset_score")


# Upgrade steps -------------------------------------------------------------------------------------------


def _create_narrow_tables() -> None:
    op.create_table(
        "section_score",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("section", sa.String(length=50), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["result_id"],
            ["evaluation_result.id"],
            name=op.f("fk_section_score_result_id_evaluation_result"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_section_score")),
        sa.UniqueConstraint("result_id", "section", name=op.f("uq_section_score_result_id_section")),
    )
    op.create_table(
        "subset_score",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("subset", sa.String(length=50), nullable=False),
        sa.Column("n", sa.Integer(), nullable=True),
        sa.Column("correct", sa.Float(), nullable=True),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["result_id"],
            ["evaluation_result.id"],
            name=op.f("fk_subset_score_result_id_evaluation_result"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subset_score")),
        sa.UniqueConstraint("result_id", "subset", name=op.f("uq_subset_score_result_id_subset")),
    )
    with op.batch_alter_table("subset_score", schema=None) as batch_op:
        batch_op.create_index("ix_subset_score_subset_value", ["subset", "value"], unique=False)
    op.create_table(
        "example_result",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("subset", sa.String(length=50), nullable=False),
        sa.Column("example_id", sa.String(length=100), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("num_correct", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.Float(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["result_id"],
            ["evaluation_result.id"],
            name=op.f("fk_example_result_result_id_evaluation_result"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_example_result")),
        sa.UniqueConstraint(
            "result_id", "subset", "example_id", name=op.f("uq_example_result_result_id_subset_example_id")
        ),
    )


def _copy_sections_up(bind: sa.Connection) -> None:
    for column, section in _SECTION_COLUMNS.items():
        bind.execute(
            sa.text(
                f"INSERT INTO section_score (result_id, section, value) "  # noqa: S608 - fixed names
                f"SELECT id, :section, {column} FROM evaluation_result WHERE {column} IS NOT NULL"
            ),
            {"section": section},
        )


def _copy_subsets_up(dialect: str) -> None:
    op.execute(
        "INSERT INTO subset_score (result_id, subset, n, correct, value) "
        "SELECT result_id, subset, n, correct, accuracy FROM subset_result"
    )
    with op.batch_alter_table("subset_result", schema=None) as batch_op:
        batch_op.drop_index("ix_subset_result_subset_accuracy")
    op.drop_table("subset_result")


def _copy_examples_up(dialect: str) -> None:
    pair = "json_build_array(score_chosen, score_rejected)" if dialect == "postgresql" else (
        "json_array(score_chosen, score_rejected)"
    )
    text_type = "VARCHAR" if dialect == "postgresql" else "TEXT"
    op.execute(
        "INSERT INTO example_result (result_id, subset, example_id, scores, num_correct, outcome) "  # noqa: S608
        f"SELECT result_id, subset, CAST(example_id AS {text_type}), {pair}, 1, result FROM pair_result"
    )
    op.drop_table("pair_result")


def _benchmark_example_up(bind: sa.Connection, dialect: str) -> None:
    with op.batch_alter_table("benchmark_example", schema=None) as batch_op:
        batch_op.add_column(sa.Column("conversation", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("candidates", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("num_correct", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("candidate_models", sa.JSON(), nullable=True))
    table = sa.table(
        "benchmark_example",
        sa.column("id", sa.Integer()),
        sa.column("prompt", sa.Text()),
        sa.column("chosen", sa.Text()),
        sa.column("rejected", sa.Text()),
        sa.column("chosen_model", sa.String()),
        sa.column("rejected_model", sa.String()),
        sa.column("conversation", sa.JSON()),
        sa.column("candidates", sa.JSON()),
        sa.column("num_correct", sa.Integer()),
        sa.column("candidate_models", sa.JSON()),
    )
    rows = bind.execute(
        sa.select(
            table.c.id, table.c.prompt, table.c.chosen, table.c.rejected, table.c.chosen_model,
            table.c.rejected_model,
        )  # fmt: skip
    ).all()
    for row in rows:
        bind.execute(
            table.update()
            .where(table.c.id == row.id)
            .values(
                conversation=[["user", row.prompt]],
                candidates=[row.chosen, row.rejected],
                num_correct=1,
                candidate_models=[row.chosen_model, row.rejected_model],
            )
        )
    with op.batch_alter_table("benchmark_example", schema=None) as batch_op:
        batch_op.alter_column("conversation", existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column("candidates", existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column("num_correct", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("candidate_models", existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column(
            "example_id",
            existing_type=sa.Integer(),
            type_=sa.String(length=100),
            existing_nullable=False,
            postgresql_using="example_id::varchar",
        )
        batch_op.drop_column("chosen")
        batch_op.drop_column("rejected")
        batch_op.drop_column("chosen_model")
        batch_op.drop_column("rejected_model")


_RESULTS = sa.table(
    "evaluation_result",
    sa.column("id", sa.Integer()),
    sa.column("reward_model_id", sa.Integer()),
    sa.column("benchmark", sa.String()),
    sa.column("model_type", sa.String()),
    sa.column("source", sa.String()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("config", sa.JSON()),
    sa.column("reproducibility", sa.JSON()),
    sa.column("complete", sa.Boolean()),
    sa.column("is_current", sa.Boolean()),
)
_SUBSETS = sa.table(
    "subset_score",
    sa.column("result_id", sa.Integer()),
    sa.column("subset", sa.String()),
    sa.column("n", sa.Integer()),
)


def _covers_v1(subsets: dict[str, int | None], reproducibility: dict[str, Any]) -> bool:
    for name, rows in _V1_ROWS.items():
        if name not in subsets or subsets[name] not in (None, rows):
            return False
    dataset = reproducibility.get("dataset") if isinstance(reproducibility, dict) else None
    if isinstance(dataset, dict) and (
        dataset.get("subsets") or dataset.get("limit_per_subset") or dataset.get("complete") is False
    ):
        return False
    return True


def _scrub_paths(config: dict[str, Any]) -> dict[str, Any]:
    dataset = config.get("dataset")
    if isinstance(dataset, str) and "/" in dataset:
        return {**config, "dataset": dataset.rstrip("/").rsplit("/", 1)[-1]}
    return config


def _results_up(bind: sa.Connection) -> None:
    with op.batch_alter_table("evaluation_result", schema=None) as batch_op:
        batch_op.add_column(sa.Column("complete", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("published_score", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("published_formula", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("source_digest", sa.String(length=64), nullable=True))
    subsets: dict[int, dict[str, int | None]] = {}
    for row in bind.execute(sa.select(_SUBSETS.c.result_id, _SUBSETS.c.subset, _SUBSETS.c.n)):
        subsets.setdefault(row.result_id, {})[row.subset] = row.n
    results = bind.execute(
        sa.select(_RESULTS.c.id, _RESULTS.c.model_type, _RESULTS.c.config, _RESULTS.c.reproducibility)
    ).all()
    for row in results:
        reproducibility = _json(row.reproducibility) or {}
        bind.execute(
            _RESULTS.update()
            .where(_RESULTS.c.id == row.id)
            .values(
                model_type=_kind(row.model_type),
                complete=_covers_v1(subsets.get(row.id, {}), reproducibility),
                config=_scrub_paths(_json(row.config) or {}),
            )
        )
    _mark_current(bind)
    with op.batch_alter_table("evaluation_result", schema=None) as batch_op:
        batch_op.alter_column("complete", existing_type=sa.Boolean(), nullable=False)
        batch_op.drop_index("ix_evaluation_result_current_score")
        batch_op.create_index("ix_evaluation_result_board", ["benchmark", "is_current", "score"], unique=False)
        for column in _SECTION_COLUMNS:
            batch_op.drop_column(column)


def _mark_current(bind: sa.Connection) -> None:
    """One current result per (model, benchmark, model type): complete first, evaluated first, newest."""
    rows = bind.execute(
        sa.select(
            _RESULTS.c.id, _RESULTS.c.reward_model_id, _RESULTS.c.benchmark, _RESULTS.c.model_type,
            _RESULTS.c.complete, _RESULTS.c.source, _RESULTS.c.created_at,
        )  # fmt: skip
    ).all()
    best: dict[tuple[int, str, str], Any] = {}
    for row in rows:
        key = (row.reward_model_id, row.benchmark, row.model_type)
        rank = (bool(row.complete), row.source == "evaluated", row.created_at, row.id)
        if key not in best or rank > best[key][0]:
            best[key] = (rank, row.id)
    current = {entry[1] for entry in best.values()}
    bind.execute(_RESULTS.update().values(is_current=False))
    for result_id in current:
        bind.execute(_RESULTS.update().where(_RESULTS.c.id == result_id).values(is_current=True))


def _reward_model_up() -> None:
    with op.batch_alter_table("reward_model", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hub_repo", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.drop_column("model_type")
    with op.batch_alter_table("reward_model", schema=None) as batch_op:
        batch_op.alter_column("hub_repo", existing_type=sa.Boolean(), server_default=None)


_SUBMISSIONS_OLD = sa.table(
    "submission",
    sa.column("id", sa.Integer()),
    sa.column("model_type", sa.String()),
    sa.column("benchmark", sa.String()),
    sa.column("reference_model", sa.String()),
    sa.column("chat_template", sa.String()),
    sa.column("max_length", sa.Integer()),
    sa.column("dtype", sa.String()),
    sa.column("run_config", sa.JSON()),
    sa.column("config_key", sa.String()),
)


def _run_config(row: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {"chat_template": row.chat_template}
    if row.reference_model:
        settings["reference_model"] = row.reference_model
    return {
        "benchmark": row.benchmark,
        "model_type": row.model_type,
        "kind_settings": settings,
        "max_length": row.max_length,
        "dataset": None,
        "limit_per_subset": None,
        "extra_parts": [],
    }


def _submission_up(bind: sa.Connection) -> None:
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.add_column(sa.Column("run_config", sa.JSON(), nullable=True))
    table = _SUBMISSIONS_OLD
    rows = bind.execute(
        sa.select(
            table.c.id, table.c.model_type, table.c.benchmark, table.c.reference_model,
            table.c.chat_template, table.c.max_length,
        )  # fmt: skip
    ).all()
    for row in rows:
        run_config = _run_config(row)
        bind.execute(
            table.update()
            .where(table.c.id == row.id)
            .values(run_config=run_config, config_key=_canonical_hash(run_config, compact=True))
        )
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.alter_column("run_config", existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column("benchmark", existing_type=sa.String(length=50), server_default=None)
        for column in ("reference_model", "chat_template", "max_length", "dtype"):
            batch_op.drop_column(column)


# Downgrade steps -----------------------------------------------------------------------------------------


def _submission_down(bind: sa.Connection) -> None:
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reference_model", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("chat_template", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("max_length", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("dtype", sa.String(length=20), nullable=True))
    table = _SUBMISSIONS_OLD
    for row in bind.execute(sa.select(table.c.id, table.c.run_config, table.c.benchmark, table.c.model_type)):
        run_config = _json(row.run_config) or {}
        settings = run_config.get("kind_settings") or {}
        old = {
            "benchmark": row.benchmark,
            "model_type": row.model_type,
            "reference_model": settings.get("reference_model"),
            "chat_template": settings.get("chat_template", "auto"),
            "max_length": run_config.get("max_length", 2048),
        }
        bind.execute(
            table.update()
            .where(table.c.id == row.id)
            .values(
                reference_model=old["reference_model"],
                chat_template=old["chat_template"],
                max_length=old["max_length"],
                dtype="auto",
                config_key=_canonical_hash(old, compact=False),
            )
        )
    with op.batch_alter_table("submission", schema=None) as batch_op:
        for column, kind in (("chat_template", sa.String(50)), ("max_length", sa.Integer()), ("dtype", sa.String(20))):
            batch_op.alter_column(column, existing_type=kind, nullable=False)
        batch_op.drop_column("run_config")


def _reward_model_down(bind: sa.Connection) -> None:
    with op.batch_alter_table("reward_model", schema=None) as batch_op:
        batch_op.add_column(sa.Column("model_type", sa.String(length=50), nullable=True))
    bind.execute(
        sa.text(
            "UPDATE reward_model SET model_type = COALESCE((SELECT r.model_type FROM evaluation_result r "
            "WHERE r.reward_model_id = reward_model.id AND r.is_current ORDER BY r.id DESC LIMIT 1), "
            "'classifier')"
        )
    )
    for kind, label in _KIND_TO_LABEL.items():
        bind.execute(
            sa.text("UPDATE reward_model SET model_type = :label WHERE model_type = :kind"),
            {"label": label, "kind": kind},
        )
    with op.batch_alter_table("reward_model", schema=None) as batch_op:
        batch_op.alter_column("model_type", existing_type=sa.String(length=50), nullable=False)
        batch_op.drop_column("hub_repo")


def _results_down(bind: sa.Connection) -> None:
    # The old schema knew one benchmark: results of the others go (their rows cascade).
    bind.execute(sa.text("DELETE FROM evaluation_result WHERE benchmark <> 'rewardbench-v1'"))
    with op.batch_alter_table("evaluation_result", schema=None) as batch_op:
        for column in _SECTION_COLUMNS:
            batch_op.add_column(sa.Column(column, sa.Float(), nullable=True))
    for column, section in _SECTION_COLUMNS.items():
        bind.execute(
            sa.text(
                f"UPDATE evaluation_result SET {column} = (SELECT s.value FROM section_score s "  # noqa: S608
                "WHERE s.result_id = evaluation_result.id AND s.section = :section)"
            ),
            {"section": section},
        )
    for kind, label in _KIND_TO_LABEL.items():
        bind.execute(
            sa.text("UPDATE evaluation_result SET model_type = :label WHERE model_type = :kind"),
            {"label": label, "kind": kind},
        )
    # The old schema kept one current result per model.
    rows = bind.execute(
        sa.select(_RESULTS.c.id, _RESULTS.c.reward_model_id, _RESULTS.c.source, _RESULTS.c.created_at)
        .where(_RESULTS.c.is_current.is_(True))
    ).all()
    best: dict[int, Any] = {}
    for row in rows:
        rank = (row.source == "evaluated", row.created_at, row.id)
        if row.reward_model_id not in best or rank > best[row.reward_model_id][0]:
            best[row.reward_model_id] = (rank, row.id)
    bind.execute(_RESULTS.update().values(is_current=False))
    for _, result_id in best.values():
        bind.execute(_RESULTS.update().where(_RESULTS.c.id == result_id).values(is_current=True))
    with op.batch_alter_table("evaluation_result", schema=None) as batch_op:
        batch_op.drop_index("ix_evaluation_result_board")
        batch_op.create_index("ix_evaluation_result_current_score", ["is_current", "score"], unique=False)
        batch_op.drop_column("source_digest")
        batch_op.drop_column("published_formula")
        batch_op.drop_column("published_score")
        batch_op.drop_column("complete")


def _benchmark_example_down(bind: sa.Connection, dialect: str) -> None:
    with op.batch_alter_table("benchmark_example", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chosen", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("rejected", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("chosen_model", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("rejected_model", sa.String(length=200), nullable=True))
    table = sa.table(
        "benchmark_example",
        sa.column("id", sa.Integer()),
        sa.column("example_id", sa.String()),
        sa.column("candidates", sa.JSON()),
        sa.column("candidate_models", sa.JSON()),
        sa.column("conversation", sa.JSON()),
        sa.column("chosen", sa.Text()),
        sa.column("rejected", sa.Text()),
        sa.column("chosen_model", sa.String()),
        sa.column("rejected_model", sa.String()),
    )
    rows = bind.execute(
        sa.select(
            table.c.id, table.c.example_id, table.c.candidates, table.c.candidate_models,
            table.c.conversation,
        )  # fmt: skip
    ).all()
    for row in rows:
        candidates = _json(row.candidates) or []
        conversation = _json(row.conversation) or []
        if len(candidates) != 2 or len(conversation) != 1 or not row.example_id.isdigit():
            bind.execute(table.delete().where(table.c.id == row.id))
            continue
        models = (_json(row.candidate_models) or []) + ["", ""]
        bind.execute(
            table.update()
            .where(table.c.id == row.id)
            .values(
                chosen=candidates[0], rejected=candidates[1], chosen_model=models[0], rejected_model=models[1]
            )
        )
    with op.batch_alter_table("benchmark_example", schema=None) as batch_op:
        for column, kind in (
            ("chosen", sa.Text()),
            ("rejected", sa.Text()),
            ("chosen_model", sa.String(length=200)),
            ("rejected_model", sa.String(length=200)),
        ):
            batch_op.alter_column(column, existing_type=kind, nullable=False)
        batch_op.alter_column(
            "example_id",
            existing_type=sa.String(length=100),
            type_=sa.Integer(),
            existing_nullable=False,
            postgresql_using="example_id::integer",
        )
        batch_op.drop_column("candidate_models")
        batch_op.drop_column("num_correct")
        batch_op.drop_column("candidates")
        batch_op.drop_column("conversation")


def _copy_examples_down(dialect: str) -> None:
    op.create_table(
        "pair_result",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("subset", sa.String(length=50), nullable=False),
        sa.Column("example_id", sa.Integer(), nullable=False),
        sa.Column("score_chosen", sa.Float(), nullable=True),
        sa.Column("score_rejected", sa.Float(), nullable=True),
        sa.Column("result", sa.Float(), nullable=False),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["result_id"],
            ["evaluation_result.id"],
            name=op.f("fk_pair_result_result_id_evaluation_result"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pair_result")),
        sa.UniqueConstraint(
            "result_id", "subset", "example_id", name=op.f("uq_pair_result_result_id_subset_example_id")
        ),
    )
    if dialect == "postgresql":
        first, second = "CAST(scores->>0 AS FLOAT)", "CAST(scores->>1 AS FLOAT)"
        two = "json_array_length(scores) = 2 AND example_id ~ '^[0-9]+$'"
        integer = "CAST(example_id AS INTEGER)"
    else:
        first, second = "json_extract(scores, '$[0]')", "json_extract(scores, '$[1]')"
        two = "json_array_length(scores) = 2 AND example_id NOT GLOB '*[^0-9]*'"
        integer = "CAST(example_id AS INTEGER)"
    op.execute(
        "INSERT INTO pair_result "  # noqa: S608 - fixed expressions
        "(result_id, subset, example_id, score_chosen, score_rejected, result, correct) "
        f"SELECT result_id, subset, {integer}, {first}, {second}, COALESCE(outcome, 0), "
        f"COALESCE(outcome, 0) = 1 FROM example_result WHERE {two}"
    )


def _copy_subsets_down() -> None:
    op.create_table(
        "subset_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("subset", sa.String(length=50), nullable=False),
        sa.Column("n", sa.Integer(), nullable=True),
        sa.Column("correct", sa.Float(), nullable=True),
        sa.Column("accuracy", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["result_id"],
            ["evaluation_result.id"],
            name=op.f("fk_subset_result_result_id_evaluation_result"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subset_result")),
        sa.UniqueConstraint("result_id", "subset", name=op.f("uq_subset_result_result_id_subset")),
    )
    with op.batch_alter_table("subset_result", schema=None) as batch_op:
        batch_op.create_index("ix_subset_result_subset_accuracy", ["subset", "accuracy"], unique=False)
    op.execute(
        "INSERT INTO subset_result (result_id, subset, n, correct, accuracy) "
        "SELECT result_id, subset, n, correct, value FROM subset_score"
    )
