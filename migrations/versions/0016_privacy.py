"""privacy: the consent ledger (every change, with its evidence) and the suppression list of erased opt-outs

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
CHANNEL = sa.Enum('sms', 'email', 'telegram', 'web', name='channel', native_enum=False, length=24)
STATE = sa.Enum('opted_in', 'opted_out', 'undeliverable', name='consentstate', native_enum=False, length=24)


def upgrade():
    op.create_table('consent_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('channel', CHANNEL, nullable=False),
    sa.Column('state', STATE, nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('evidence', JSON, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_consent_changes_contact_id_contacts'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_changes'))
    )
    with op.batch_alter_table('consent_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_changes_contact_id'), ['contact_id'], unique=False)
    # The ledger starts with what was known: each contact's latest decision, marked as carried over.
    op.execute("INSERT INTO consent_changes (contact_id, channel, state, source, evidence, at) "
               "SELECT contact_id, channel, state, source, '{\"carried_over\": true}', changed_at FROM consents")

    op.create_table('suppressions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', CHANNEL, nullable=False),
    sa.Column('address_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suppressions')),
    sa.UniqueConstraint('channel', 'address_hash', name=op.f('uq_suppressions_channel_address_hash'))
    )


def downgrade():
    op.drop_table('suppressions')
    op.drop_table('consent_changes')
