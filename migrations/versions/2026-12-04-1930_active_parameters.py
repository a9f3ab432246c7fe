"""active parameters: a mixture of experts' parameters used per token, beside its total

Revision ID: 5b8c1e9f2a47
Revises: 9d4e2b7a61c3
Create Date: 2026-12-04 19:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '5b8c1e9f2a47'
down_revision: Union[str, Sequence[str], None] = '9d4e2b7a61c3'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('reward_model') as batch_op:
        batch_op.add_column(sa.Column('active_parameter_count', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('reward_model') as batch_op:
        batch_op.drop_column('active_parameter_count')
