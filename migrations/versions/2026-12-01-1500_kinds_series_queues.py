"""model kinds: submissions routed to memory queues, models as iterations of others (series)

Revision ID: 9d4e2b7a61c3
Revises: 9e4b2d7c1a60
Create Date: 2026-12-01 15:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '9d4e2b7a61c3'
down_revision: Union[str, Sequence[str], None] = '9e4b2d7c1a60'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('reward_model') as batch_op:
        batch_op.add_column(sa.Column('iteration_of_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            'fk_reward_model_iteration_of_id_reward_model', 'reward_model', ['iteration_of_id'], ['id'],
            ondelete='SET NULL',
        )
        batch_op.create_index('ix_reward_model_iteration_of_id', ['iteration_of_id'], unique=False)
    with op.batch_alter_table('submission') as batch_op:
        batch_op.add_column(sa.Column('queue', sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column('memory_bytes', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('iteration_of', sa.String(length=200), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('submission') as batch_op:
        batch_op.drop_column('iteration_of')
        batch_op.drop_column('memory_bytes')
        batch_op.drop_column('queue')
    with op.batch_alter_table('reward_model') as batch_op:
        batch_op.drop_index('ix_reward_model_iteration_of_id')
        batch_op.drop_constraint('fk_reward_model_iteration_of_id_reward_model', type_='foreignkey')
        batch_op.drop_column('iteration_of_id')
