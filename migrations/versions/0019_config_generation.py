"""config generation: a counter that every change to a cached table moves, so each process knows when its cache is stale

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

# Kept here rather than imported: a migration must not change when the models do.
TABLES = ("api_keys", "touchpoints", "triggers", "surveys", "survey_versions")
BUMP = "UPDATE config_generation SET n = n + 1 WHERE id = 1"


def upgrade():
    op.create_table('config_generation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_config_generation'))
    )
    op.execute("INSERT INTO config_generation (id, n) VALUES (1, 0)")
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            for change in ("INSERT", "UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER config_generation_{table}_{change.lower()} AFTER {change} ON {table} "
                           f"BEGIN {BUMP}; END")
    else:
        op.execute(f"""CREATE FUNCTION config_generation_bump() RETURNS trigger LANGUAGE plpgsql AS $$
                       BEGIN {BUMP}; RETURN NULL; END $$""")
        for table in TABLES:
            op.execute(f"CREATE TRIGGER config_generation_{table} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                       f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION config_generation_bump()")


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            for change in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS config_generation_{table}_{change}")
    else:
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS config_generation_{table} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS config_generation_bump()")
    op.drop_table('config_generation')
