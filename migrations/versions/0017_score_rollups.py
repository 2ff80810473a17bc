"""score and funnel rollups: answers counted per survey, local day and group, invitations per day and stage;
triggers mark the days whose answers or invitations change

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

SENTIMENTS = "('negative', 'neutral', 'positive')"

# Mind: on SQLite a later migration that rebuilds responses, answers, events or contacts (batch_alter_table
# "move and copy") drops their triggers; such a migration must create them again (tests/services/insight/
# test_rollups.py checks every one marks).
# SQLite: one trigger per change. date() of the stored 'YYYY-MM-DD HH:MM:SS' UTC text is its UTC day.
SQLITE_TRIGGERS = [
    """CREATE TRIGGER rollup_mark_response_insert AFTER INSERT ON responses WHEN NEW.score IS NOT NULL
       BEGIN INSERT INTO rollup_marks (survey_id, day) VALUES (NEW.survey_id, date(NEW.created_at)); END""",
    """CREATE TRIGGER rollup_mark_response_update
       AFTER UPDATE OF score, survey_id, created_at, touchpoint_id, channel, locale, event_id ON responses
       BEGIN
         INSERT INTO rollup_marks (survey_id, day) SELECT OLD.survey_id, date(OLD.created_at) WHERE OLD.score IS NOT NULL;
         INSERT INTO rollup_marks (survey_id, day) SELECT NEW.survey_id, date(NEW.created_at) WHERE NEW.score IS NOT NULL;
       END""",
    """CREATE TRIGGER rollup_mark_response_delete AFTER DELETE ON responses WHEN OLD.score IS NOT NULL
       BEGIN INSERT INTO rollup_marks (survey_id, day) VALUES (OLD.survey_id, date(OLD.created_at)); END""",
    f"""CREATE TRIGGER rollup_mark_answer_insert AFTER INSERT ON answers WHEN NEW.sentiment IN {SENTIMENTS}
       BEGIN INSERT INTO rollup_marks (survey_id, day) SELECT survey_id, date(created_at) FROM responses
             WHERE id = NEW.response_id AND score IS NOT NULL; END""",
    """CREATE TRIGGER rollup_mark_answer_update AFTER UPDATE OF sentiment, response_id ON answers
       WHEN OLD.sentiment IS NOT NEW.sentiment OR OLD.response_id IS NOT NEW.response_id
       BEGIN INSERT INTO rollup_marks (survey_id, day) SELECT survey_id, date(created_at) FROM responses
             WHERE id IN (OLD.response_id, NEW.response_id) AND score IS NOT NULL; END""",
    f"""CREATE TRIGGER rollup_mark_answer_delete AFTER DELETE ON answers WHEN OLD.sentiment IN {SENTIMENTS}
       BEGIN INSERT INTO rollup_marks (survey_id, day) SELECT survey_id, date(created_at) FROM responses
             WHERE id = OLD.response_id AND score IS NOT NULL; END""",
    """CREATE TRIGGER rollup_mark_event_update AFTER UPDATE OF attributes ON events
       WHEN OLD.attributes IS NOT NEW.attributes
       BEGIN INSERT INTO rollup_marks (survey_id, day) SELECT survey_id, date(created_at) FROM responses
             WHERE event_id = NEW.id AND score IS NOT NULL; END""",
    """CREATE TRIGGER rollup_mark_contact_update AFTER UPDATE OF attributes ON contacts
       WHEN OLD.attributes IS NOT NEW.attributes
       BEGIN INSERT INTO rollup_marks (survey_id, day) SELECT DISTINCT survey_id, date(created_at) FROM responses
             WHERE contact_id = NEW.id AND score IS NOT NULL; END""",
]
# The funnel counts a family (an invitation and its reminders) on its invitation's day.
FAMILY_DAY = ("date(coalesce((SELECT p.created_at FROM dispatches p WHERE p.id = {row}.parent_id), "
              "{row}.created_at))")
DISPATCH_DAY = ("SELECT d.survey_id, date(coalesce(p.created_at, d.created_at)) FROM dispatches d "
                "LEFT JOIN dispatches p ON p.id = d.parent_id WHERE d.id = {dispatch}")
SQLITE_TRIGGERS += [
    f"""CREATE TRIGGER rollup_mark_dispatch_insert AFTER INSERT ON dispatches
       BEGIN INSERT INTO rollup_marks (survey_id, day) VALUES (NEW.survey_id, {FAMILY_DAY.format(row="NEW")}); END""",
    f"""CREATE TRIGGER rollup_mark_dispatch_update
       AFTER UPDATE OF status, reason, sent_at, opened_at, channel, created_at, parent_id, purpose, survey_id
       ON dispatches
       WHEN OLD.status IS NOT NEW.status OR OLD.reason IS NOT NEW.reason OR OLD.sent_at IS NOT NEW.sent_at
            OR OLD.opened_at IS NOT NEW.opened_at OR OLD.channel IS NOT NEW.channel
            OR OLD.created_at IS NOT NEW.created_at OR OLD.parent_id IS NOT NEW.parent_id
            OR OLD.purpose IS NOT NEW.purpose OR OLD.survey_id IS NOT NEW.survey_id
       BEGIN
         INSERT INTO rollup_marks (survey_id, day) VALUES (OLD.survey_id, {FAMILY_DAY.format(row="OLD")});
         INSERT INTO rollup_marks (survey_id, day) VALUES (NEW.survey_id, {FAMILY_DAY.format(row="NEW")});
       END""",
    f"""CREATE TRIGGER rollup_mark_dispatch_delete AFTER DELETE ON dispatches
       BEGIN INSERT INTO rollup_marks (survey_id, day) VALUES (OLD.survey_id, {FAMILY_DAY.format(row="OLD")}); END""",
    f"""CREATE TRIGGER rollup_mark_delivery_report AFTER INSERT ON dispatch_status_changes
       WHEN NEW.status = 'delivered'
       BEGIN INSERT INTO rollup_marks (survey_id, day) {DISPATCH_DAY.format(dispatch="NEW.dispatch_id")}; END""",
    f"""CREATE TRIGGER rollup_mark_response_family_insert AFTER INSERT ON responses
       BEGIN INSERT INTO rollup_marks (survey_id, day) {DISPATCH_DAY.format(dispatch="NEW.dispatch_id")}; END""",
    f"""CREATE TRIGGER rollup_mark_response_family_update
       AFTER UPDATE OF score, completed, created_at, dispatch_id ON responses
       WHEN OLD.score IS NOT NEW.score OR OLD.completed IS NOT NEW.completed
            OR OLD.created_at IS NOT NEW.created_at OR OLD.dispatch_id IS NOT NEW.dispatch_id
       BEGIN
         INSERT INTO rollup_marks (survey_id, day) {DISPATCH_DAY.format(dispatch="OLD.dispatch_id")};
         INSERT INTO rollup_marks (survey_id, day) {DISPATCH_DAY.format(dispatch="NEW.dispatch_id")};
       END""",
    f"""CREATE TRIGGER rollup_mark_response_family_delete AFTER DELETE ON responses
       BEGIN INSERT INTO rollup_marks (survey_id, day) {DISPATCH_DAY.format(dispatch="OLD.dispatch_id")}; END""",
]
SQLITE_DROP = ["rollup_mark_response_insert", "rollup_mark_response_update", "rollup_mark_response_delete",
               "rollup_mark_answer_insert", "rollup_mark_answer_update", "rollup_mark_answer_delete",
               "rollup_mark_event_update", "rollup_mark_contact_update", "rollup_mark_dispatch_insert",
               "rollup_mark_dispatch_update", "rollup_mark_dispatch_delete", "rollup_mark_delivery_report",
               "rollup_mark_response_family_insert", "rollup_mark_response_family_update",
               "rollup_mark_response_family_delete"]

# PostgreSQL: one function per table; the UTC day of a timestamptz.
POSTGRESQL_TRIGGERS = [
    """CREATE FUNCTION rollup_mark_response() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP <> 'INSERT' AND OLD.score IS NOT NULL THEN
           INSERT INTO rollup_marks (survey_id, day) VALUES (OLD.survey_id, (OLD.created_at AT TIME ZONE 'UTC')::date);
         END IF;
         IF TG_OP <> 'DELETE' AND NEW.score IS NOT NULL THEN
           INSERT INTO rollup_marks (survey_id, day) VALUES (NEW.survey_id, (NEW.created_at AT TIME ZONE 'UTC')::date);
         END IF;
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER rollup_mark_response
       AFTER INSERT OR DELETE OR UPDATE OF score, survey_id, created_at, touchpoint_id, channel, locale, event_id
       ON responses FOR EACH ROW EXECUTE FUNCTION rollup_mark_response()""",
    f"""CREATE FUNCTION rollup_mark_answer() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP <> 'INSERT' AND OLD.sentiment IN {SENTIMENTS}
            AND (TG_OP = 'DELETE' OR OLD.sentiment IS DISTINCT FROM NEW.sentiment
                 OR OLD.response_id IS DISTINCT FROM NEW.response_id) THEN
           INSERT INTO rollup_marks (survey_id, day) SELECT survey_id, (created_at AT TIME ZONE 'UTC')::date
             FROM responses WHERE id = OLD.response_id AND score IS NOT NULL;
         END IF;
         IF TG_OP <> 'DELETE' AND NEW.sentiment IN {SENTIMENTS}
            AND (TG_OP = 'INSERT' OR OLD.sentiment IS DISTINCT FROM NEW.sentiment
                 OR OLD.response_id IS DISTINCT FROM NEW.response_id) THEN
           INSERT INTO rollup_marks (survey_id, day) SELECT survey_id, (created_at AT TIME ZONE 'UTC')::date
             FROM responses WHERE id = NEW.response_id AND score IS NOT NULL;
         END IF;
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER rollup_mark_answer AFTER INSERT OR DELETE OR UPDATE OF sentiment, response_id ON answers
       FOR EACH ROW EXECUTE FUNCTION rollup_mark_answer()""",
    """CREATE FUNCTION rollup_mark_event() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF OLD.attributes IS DISTINCT FROM NEW.attributes THEN
           INSERT INTO rollup_marks (survey_id, day) SELECT survey_id, (created_at AT TIME ZONE 'UTC')::date
             FROM responses WHERE event_id = NEW.id AND score IS NOT NULL;
         END IF;
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER rollup_mark_event AFTER UPDATE OF attributes ON events
       FOR EACH ROW EXECUTE FUNCTION rollup_mark_event()""",
    """CREATE FUNCTION rollup_mark_contact() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF OLD.attributes IS DISTINCT FROM NEW.attributes THEN
           INSERT INTO rollup_marks (survey_id, day) SELECT DISTINCT survey_id, (created_at AT TIME ZONE 'UTC')::date
             FROM responses WHERE contact_id = NEW.id AND score IS NOT NULL;
         END IF;
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER rollup_mark_contact AFTER UPDATE OF attributes ON contacts
       FOR EACH ROW EXECUTE FUNCTION rollup_mark_contact()""",
]
PG_DISPATCH_DAY = ("SELECT d.survey_id, (coalesce(p.created_at, d.created_at) AT TIME ZONE 'UTC')::date "
                   "FROM dispatches d LEFT JOIN dispatches p ON p.id = d.parent_id WHERE d.id = {dispatch}")
PG_FAMILY_DAY = ("(coalesce((SELECT p.created_at FROM dispatches p WHERE p.id = {row}.parent_id), {row}.created_at)"
                 " AT TIME ZONE 'UTC')::date")
POSTGRESQL_TRIGGERS += [
    f"""CREATE FUNCTION rollup_mark_dispatch() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP = 'UPDATE' AND OLD.status IS NOT DISTINCT FROM NEW.status
            AND OLD.reason IS NOT DISTINCT FROM NEW.reason AND OLD.sent_at IS NOT DISTINCT FROM NEW.sent_at
            AND OLD.opened_at IS NOT DISTINCT FROM NEW.opened_at AND OLD.channel IS NOT DISTINCT FROM NEW.channel
            AND OLD.created_at IS NOT DISTINCT FROM NEW.created_at
            AND OLD.parent_id IS NOT DISTINCT FROM NEW.parent_id AND OLD.purpose IS NOT DISTINCT FROM NEW.purpose
            AND OLD.survey_id IS NOT DISTINCT FROM NEW.survey_id THEN
           RETURN NULL;
         END IF;
         IF TG_OP <> 'INSERT' THEN
           INSERT INTO rollup_marks (survey_id, day) VALUES (OLD.survey_id, {PG_FAMILY_DAY.format(row="OLD")});
         END IF;
         IF TG_OP <> 'DELETE' THEN
           INSERT INTO rollup_marks (survey_id, day) VALUES (NEW.survey_id, {PG_FAMILY_DAY.format(row="NEW")});
         END IF;
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER rollup_mark_dispatch AFTER INSERT OR DELETE
       OR UPDATE OF status, reason, sent_at, opened_at, channel, created_at, parent_id, purpose, survey_id
       ON dispatches FOR EACH ROW EXECUTE FUNCTION rollup_mark_dispatch()""",
    f"""CREATE FUNCTION rollup_mark_delivery_report() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF NEW.status = 'delivered' THEN
           INSERT INTO rollup_marks (survey_id, day) {PG_DISPATCH_DAY.format(dispatch="NEW.dispatch_id")};
         END IF;
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER rollup_mark_delivery_report AFTER INSERT ON dispatch_status_changes
       FOR EACH ROW EXECUTE FUNCTION rollup_mark_delivery_report()""",
    f"""CREATE FUNCTION rollup_mark_response_family() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP = 'UPDATE' AND OLD.score IS NOT DISTINCT FROM NEW.score
            AND OLD.completed IS NOT DISTINCT FROM NEW.completed
            AND OLD.created_at IS NOT DISTINCT FROM NEW.created_at
            AND OLD.dispatch_id IS NOT DISTINCT FROM NEW.dispatch_id THEN
           RETURN NULL;
         END IF;
         IF TG_OP <> 'INSERT' THEN
           INSERT INTO rollup_marks (survey_id, day) {PG_DISPATCH_DAY.format(dispatch="OLD.dispatch_id")};
         END IF;
         IF TG_OP <> 'DELETE' THEN
           INSERT INTO rollup_marks (survey_id, day) {PG_DISPATCH_DAY.format(dispatch="NEW.dispatch_id")};
         END IF;
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER rollup_mark_response_family
       AFTER INSERT OR DELETE OR UPDATE OF score, completed, created_at, dispatch_id
       ON responses FOR EACH ROW EXECUTE FUNCTION rollup_mark_response_family()""",
]
POSTGRESQL_DROP = ["DROP TRIGGER IF EXISTS rollup_mark_response_family ON responses",
                   "DROP TRIGGER IF EXISTS rollup_mark_delivery_report ON dispatch_status_changes",
                   "DROP TRIGGER IF EXISTS rollup_mark_dispatch ON dispatches",
                   "DROP FUNCTION IF EXISTS rollup_mark_response_family()",
                   "DROP FUNCTION IF EXISTS rollup_mark_delivery_report()",
                   "DROP FUNCTION IF EXISTS rollup_mark_dispatch()",
                   "DROP TRIGGER IF EXISTS rollup_mark_contact ON contacts",
                   "DROP TRIGGER IF EXISTS rollup_mark_event ON events",
                   "DROP TRIGGER IF EXISTS rollup_mark_answer ON answers",
                   "DROP TRIGGER IF EXISTS rollup_mark_response ON responses",
                   "DROP FUNCTION IF EXISTS rollup_mark_contact()",
                   "DROP FUNCTION IF EXISTS rollup_mark_event()",
                   "DROP FUNCTION IF EXISTS rollup_mark_answer()",
                   "DROP FUNCTION IF EXISTS rollup_mark_response()"]


def upgrade():
    op.create_table('score_rollups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('dimension', sa.String(length=80), nullable=False),
    sa.Column('value', sa.Text(), nullable=True),
    *[sa.Column(f'n{score}', sa.Integer(), nullable=False) for score in range(11)],
    sa.PrimaryKeyConstraint('id', name=op.f('pk_score_rollups'))
    )
    with op.batch_alter_table('score_rollups', schema=None) as batch_op:
        batch_op.create_index('ix_score_rollups_read', ['survey_id', 'dimension', 'day'], unique=False)
    op.create_table('funnel_rollups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('channel', sa.String(length=24), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=True),
    *[sa.Column(stage, sa.Integer(), nullable=False) for stage in
      ('planned', 'sent', 'delivered', 'delivery_reported', 'opened', 'answered', 'completed')],
    sa.Column('waits', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_funnel_rollups'))
    )
    with op.batch_alter_table('funnel_rollups', schema=None) as batch_op:
        batch_op.create_index('ix_funnel_rollups_read', ['survey_id', 'day'], unique=False)
    op.create_table('rollup_marks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('survey_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rollup_marks'))
    )
    with op.batch_alter_table('rollup_marks', schema=None) as batch_op:
        batch_op.create_index('ix_rollup_marks_survey_id_day', ['survey_id', 'day'], unique=False)
    op.create_table('rollup_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('zone', sa.String(length=64), nullable=True),
    sa.Column('groups', sa.Text(), nullable=True),
    sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rollup_state'))
    )
    # Nothing is rolled up yet (zone NULL): the first refresh marks every day that has answers and builds them.
    op.execute("INSERT INTO rollup_state (id, zone) VALUES (1, NULL)")
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_TRIGGERS if dialect == "sqlite" else POSTGRESQL_TRIGGERS:
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    for statement in ([f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_DROP] if dialect == "sqlite"
                      else POSTGRESQL_DROP):
        op.execute(statement)
    op.drop_table('rollup_state')
    with op.batch_alter_table('funnel_rollups', schema=None) as batch_op:
        batch_op.drop_index('ix_funnel_rollups_read')
    op.drop_table('funnel_rollups')
    with op.batch_alter_table('rollup_marks', schema=None) as batch_op:
        batch_op.drop_index('ix_rollup_marks_survey_id_day')
    op.drop_table('rollup_marks')
    with op.batch_alter_table('score_rollups', schema=None) as batch_op:
        batch_op.drop_index('ix_score_rollups_read')
    op.drop_table('score_rollups')
