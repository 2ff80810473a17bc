"""insight indexes: the figures read one covering index of responses instead of the table

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    # Metrics, trends, breakdowns and the drill-down count: survey and time range first, then every column they
    # group or join on, so the database never visits the table's rows.
    op.create_index('ix_responses_insight', 'responses',
                    ['survey_id', 'created_at', 'score', 'touchpoint_id', 'channel', 'locale', 'event_id',
                     'contact_id'], unique=False)
    # The journey: every survey over a time range, by touchpoint.
    op.create_index('ix_responses_journey', 'responses',
                    ['created_at', 'touchpoint_id', 'survey_id', 'score'], unique=False)
    # group_by=sentiment: each response's labelled comments.
    op.create_index('ix_answers_response_id_sentiment', 'answers', ['response_id', 'sentiment'], unique=False)


def downgrade():
    op.drop_index('ix_answers_response_id_sentiment', table_name='answers')
    op.drop_index('ix_responses_journey', table_name='responses')
    op.drop_index('ix_responses_insight', table_name='responses')
