"""submission limits: client address on submissions, per-key limit locks

Revision ID: 3f1c9a7e5d21
Revises: 7c1e0b8a9d42
Create Date: 2026-12-01 12:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '3f1c9a7e5d21'
down_revision: Union[str, Sequence[str], None] = '7c1e0b8a9d42'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('submission_limit_lock',
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.add_column('submission', sa.Column('client_address', sa.String(length=64), nullable=True))
    op.create_index('ix_submission_client_address_created_at', 'submission', ['client_address', 'created_at'], unique=False)
    op.create_index('ix_submission_submitter_created_at', 'submission', ['submitter', 'created_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_submission_submitter_created_at', table_name='submission')
    op.drop_index('ix_submission_client_address_created_at', table_name='submission')
    with op.batch_alter_table('submission') as batch_op:
        batch_op.drop_column('client_address')
    op.drop_table('submission_limit_lock')
