"""dispatches by survey and time: the funnel reads a period's invitations, not every dispatch of the survey

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_dispatches_survey_id_created_at', 'dispatches', ['survey_id', 'created_at'], unique=False)


def downgrade():
    op.drop_index('ix_dispatches_survey_id_created_at', table_name='dispatches')
