"""pipeline health: the problems surveyd finds in its own running, and refused webhook requests per minute

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-03

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0013'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade():
    op.create_table('health_issues',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('detail', JSON, nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notified', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_health_issues'))
    )
    with op.batch_alter_table('health_issues', schema=None) as batch_op:
        batch_op.create_index('ix_health_issues_open', ['kind', 'key', 'resolved_at'], unique=False)

    op.create_table('webhook_rejections',
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('minute', sa.DateTime(timezone=True), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('source', 'minute', name=op.f('pk_webhook_rejections'))
    )


def downgrade():
    op.drop_table('webhook_rejections')
    op.drop_table('health_issues')
