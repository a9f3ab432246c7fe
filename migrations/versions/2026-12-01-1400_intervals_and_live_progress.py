"""intervals and live progress: 95% bootstrap intervals of the Score and sections; the subset a run scores

``evaluation_result`` gains ``score_low``/``score_high``, ``interval_status`` (computed, no_examples,
undefined; NULL until computed) and ``interval_version`` (the scoring version and method they follow);
``section_score`` gains ``low``/``high``; ``submission`` gains ``progress_subset``. Intervals of existing
results are computed by ``rewardboard db upgrade`` (and ``up``) after migrating, from the stored examples.

Revision ID: 9e4b2d7c1a60
Revises: 3f1c9a7e5d21
Create Date: 2026-12-01 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9e4b2d7c1a60"
down_revision: str | Sequence[str] | None = "3f1c9a7e5d21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("evaluation_result", sa.Column("score_low", sa.Float(), nullable=True))
    op.add_column("evaluation_result", sa.Column("score_high", sa.Float(), nullable=True))
    op.add_column("evaluation_result", sa.Column("interval_status", sa.String(length=20), nullable=True))
    op.add_column("evaluation_result", sa.Column("interval_version", sa.String(length=120), nullable=True))
    op.add_column("section_score", sa.Column("low", sa.Float(), nullable=True))
    op.add_column("section_score", sa.Column("high", sa.Float(), nullable=True))
    op.add_column("submission", sa.Column("progress_subset", sa.String(length=50), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("submission") as batch_op:
        batch_op.drop_column("progress_subset")
    with op.batch_alter_table("section_score") as batch_op:
        batch_op.drop_column("high")
        batch_op.drop_column("low")
    with op.batch_alter_table("evaluation_result") as batch_op:
        batch_op.drop_column("interval_version")
        batch_op.drop_column("interval_status")
        batch_op.drop_column("score_high")
        batch_op.drop_column("score_low")
