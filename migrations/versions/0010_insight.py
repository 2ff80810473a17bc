"""insight: goals, report runs, when a dispatch was first opened, the sentiment of free-text answers

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('goals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('touchpoint_id', sa.Integer(), nullable=True),
    sa.Column('target', sa.Double(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_goals_survey_id_surveys')),
    sa.ForeignKeyConstraint(['touchpoint_id'], ['touchpoints.id'], name=op.f('fk_goals_touchpoint_id_touchpoints')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_goals'))
    )
    with op.batch_alter_table('goals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_goals_survey_id'), ['survey_id'], unique=False)

    op.create_table('report_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cadence', sa.String(length=8), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_runs')),
    sa.UniqueConstraint('cadence', 'period_start', name=op.f('uq_report_runs_cadence_period_start'))
    )

    with op.batch_alter_table('dispatches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sentiment', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('sentiment_score', sa.Double(), nullable=True))
        batch_op.create_index('ix_answers_sentiment_pending', ['response_id'], unique=False,
                              sqlite_where=sa.text("sentiment = 'pending'"),
                              postgresql_where=sa.text("sentiment = 'pending'"))


def downgrade():
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.drop_index('ix_answers_sentiment_pending')
        batch_op.drop_column('sentiment_score')
        batch_op.drop_column('sentiment')

    with op.batch_alter_table('dispatches', schema=None) as batch_op:
        batch_op.drop_column('opened_at')

    op.drop_table('report_runs')
    with op.batch_alter_table('goals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_goals_survey_id'))

    op.drop_table('goals')
