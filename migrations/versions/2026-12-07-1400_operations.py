"""operations: moderation of results, the public audit log, reports, namespace policies, webhooks, worker
heartbeats, data snapshots and a submission's priority

Revision ID: a18c0e5d7b31
Revises: 5b8c1e9f2a47
Create Date: 2026-12-07 14:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'a18c0e5d7b31'
down_revision: Union[str, Sequence[str], None] = '5b8c1e9f2a47'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

VISIBILITY = sa.Enum('visible', 'flagged', 'hidden', name='resultvisibility', native_enum=False, length=20)
REPORT_STATUS = sa.Enum('open', 'resolved', 'dismissed', name='reportstatus', native_enum=False, length=20)
DELIVERY_STATUS = sa.Enum('pending', 'delivered', 'failed', name='deliverystatus', native_enum=False, length=20)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('submission') as batch_op:
        batch_op.add_column(sa.Column('priority', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('webhook_url', sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column('webhook_secret', sa.String(length=100), nullable=True))
    with op.batch_alter_table('evaluation_result') as batch_op:
        batch_op.add_column(sa.Column('visibility', VISIBILITY, nullable=False, server_default='visible'))
        batch_op.add_column(sa.Column('visibility_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('visibility_link', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('visibility_changed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('superseded_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            'fk_evaluation_result_superseded_by_id', 'evaluation_result', ['superseded_by_id'], ['id'],
            ondelete='SET NULL',
        )
    op.create_table(
        'audit_event',
        sa.Column('id', BIG_ID, nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor', sa.String(length=200), nullable=False),
        sa.Column('action', sa.String(length=50), nullable=False),
        sa.Column('subject', sa.String(length=30), nullable=False),
        sa.Column('subject_id', sa.String(length=200), nullable=True),
        sa.Column('model', sa.String(length=200), nullable=True),
        sa.Column('benchmark', sa.String(length=50), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('link', sa.String(length=500), nullable=True),
        sa.Column('detail', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_audit_event_created_at', 'audit_event', ['created_at'], unique=False)
    op.create_index('ix_audit_event_model_created_at', 'audit_event', ['model', 'created_at'], unique=False)
    op.create_table(
        'result_report',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('result_id', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=30), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('reporter', sa.String(length=200), nullable=True),
        sa.Column('client_address', sa.String(length=64), nullable=True),
        sa.Column('status', REPORT_STATUS, nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('resolved_by', sa.String(length=200), nullable=True),
        sa.Column('resolution', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['result_id'], ['evaluation_result.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_result_report_status_created_at', 'result_report', ['status', 'created_at'], unique=False)
    op.create_index(
        'ix_result_report_client_address_created_at', 'result_report', ['client_address', 'created_at'],
        unique=False,
    )
    op.create_table(
        'namespace_policy',
        sa.Column('namespace', sa.String(length=200), nullable=False),
        sa.Column('opted_out', sa.Boolean(), nullable=False),
        sa.Column('submission_quota', sa.Integer(), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('updated_by', sa.String(length=200), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('namespace'),
    )
    op.create_table(
        'webhook_delivery',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('submission_id', sa.Integer(), nullable=False),
        sa.Column('event', sa.String(length=30), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('status', DELIVERY_STATUS, nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('response_status', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['submission_id'], ['submission.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('submission_id', 'event'),
    )
    op.create_index(
        'ix_webhook_delivery_status_next_attempt_at', 'webhook_delivery', ['status', 'next_attempt_at'],
        unique=False,
    )
    op.create_table(
        'worker_heartbeat',
        sa.Column('worker', sa.String(length=200), nullable=False),
        sa.Column('queues', sa.String(length=500), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('worker'),
    )
    op.create_table(
        'data_snapshot',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('benchmark', sa.String(length=50), nullable=False),
        sa.Column('snapshot_date', sa.String(length=10), nullable=False),
        sa.Column('scoring_version', sa.String(length=50), nullable=False),
        sa.Column('manifest', sa.JSON(), nullable=False),
        sa.Column('created_by', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('benchmark', 'snapshot_date'),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('data_snapshot')
    op.drop_table('worker_heartbeat')
    op.drop_index('ix_webhook_delivery_status_next_attempt_at', table_name='webhook_delivery')
    op.drop_table('webhook_delivery')
    op.drop_table('namespace_policy')
    op.drop_index('ix_result_report_client_address_created_at', table_name='result_report')
    op.drop_index('ix_result_report_status_created_at', table_name='result_report')
    op.drop_table('result_report')
    op.drop_index('ix_audit_event_model_created_at', table_name='audit_event')
    op.drop_index('ix_audit_event_created_at', table_name='audit_event')
    op.drop_table('audit_event')
    with op.batch_alter_table('evaluation_result') as batch_op:
        batch_op.drop_constraint('fk_evaluation_result_superseded_by_id', type_='foreignkey')
        batch_op.drop_column('superseded_by_id')
        batch_op.drop_column('visibility_changed_at')
        batch_op.drop_column('visibility_link')
        batch_op.drop_column('visibility_reason')
        batch_op.drop_column('visibility')
    with op.batch_alter_table('submission') as batch_op:
        batch_op.drop_column('webhook_secret')
        batch_op.drop_column('webhook_url')
        batch_op.drop_column('priority')
