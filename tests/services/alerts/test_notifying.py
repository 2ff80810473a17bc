"""The notification outbox: planned with the answer, handed over on commit, sent once, retried, logged."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bots.channel import PermanentChannelError, SendResult, TransientChannelError
from surveyd.extensions import db
from surveyd.models import (
    Alert,
    AlertActivity,
    Notification,
    NotificationAttempt,
    NotificationStatus,
    SandboxMessage,
    utcnow,
)
from surveyd.services.alerts import escalation, notifying, rendering
from surveyd.services.alerts import notifier as notifier_module
from surveyd.services.dispatch import channels
from tests.api.helpers import (
    create_survey,
    create_trigger,
    fire,
    page_path,
    web_dispatch,
)
from tests.live import wait_until

TARGETS = [{"channel": "email", "to": "agents@example.com"},
           {"channel": "telegram", "chat_id": "-100200300", "locale": "tr"},
           {"channel": "email", "to": "vip-desk@example.com", "when": {"attributes": {"tier": "gold"}}}]


class Recorder:
    """A notifier that only notes what it was handed."""

    def __init__(self):
        self.ids: list[int] = []
        self.handed: list[tuple[int, str | None, float]] = []

    def submit(self, notification_id: int, channel: str | None = None, delay: float = 0.0) -> None:
        self.ids.append(notification_id)
        self.handed.append((notification_id, channel, delay))


@pytest.fixture
def handed(app):
    recorder = Recorder()
    app.extensions["surveyd.notifier"] = recorder
    yield recorder
    app.extensions.pop("surveyd.notifier", None)


@pytest.fixture
def survey(api):
    survey = create_survey(api, kind="nps", locales=["en"], alert={"notify": TARGETS})
    create_trigger(api, survey["id"])
    return survey


def answer(api, client, score: int, external_id: str = "cust-1", **attributes) -> str:
    """Fire an event and answer its web survey with a score; the page's path."""
    path = page_path(web_dispatch(fire(api, external_id=external_id, attributes=attributes))["url"])
    assert client.post(path, data={"score": str(score)}).status_code == 200
    return path


def rows() -> list[Notification]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Notification).order_by(Notification.id)))


def test_a_detractor_plans_one_row_per_matching_target_and_hands_them_over_on_commit(api, client, survey, handed,
                                                                                   app):
    answer(api, client, 2)
    with app.app_context():
        planned = rows()
        assert [(n.channel, n.target_key, n.status) for n in planned] == [
            ("email", "email:agents@example.com", NotificationStatus.SCHEDULED),
            ("telegram", "telegram:-100200300", NotificationStatus.SCHEDULED)]  # the gold-tier filter left one out
        assert handed.handed == [(n.id, n.channel, 0.0) for n in planned]  # each to its channel's sender, now


def test_a_promoter_and_a_passive_plan_nothing(api, client, survey, handed, app):
    answer(api, client, 10, external_id="happy")
    answer(api, client, 7, external_id="passive")
    with app.app_context():
        assert rows() == [] and handed.ids == []


def test_the_filter_lets_a_gold_customer_reach_the_vip_desk(api, client, survey, handed, app):
    answer(api, client, 1, tier="gold")
    with app.app_context():
        assert {n.target_key for n in rows()} == {"email:agents@example.com", "telegram:-100200300",
                                                  "email:vip-desk@example.com"}


def test_a_repeated_answer_and_a_later_comment_plan_nothing_more(api, client, survey, handed, app):
    path = answer(api, client, 2)
    assert client.post(path, data={"score": "2"}).status_code == 200  # a double submit
    client.post(path, data={"improve": "It arrived broken"})
    with app.app_context():
        assert len(rows()) == 2 and len(handed.ids) == 2


def test_a_keyword_in_a_later_comment_brings_in_the_targets_that_wait_for_it(api, client, handed, app):
    survey = create_survey(api, kind="nps", locales=["en"], alert={"keywords": ["refund"], "notify": [
        {"channel": "email", "to": "agents@example.com"},
        {"channel": "email", "to": "billing@example.com", "when": {"keywords": ["refund"]}}]})
    create_trigger(api, survey["id"])
    path = answer(api, client, 3)
    with app.app_context():
        assert [n.target_key for n in rows()] == ["email:agents@example.com"]
    client.post(path, data={"improve": "I want a refund"})
    with app.app_context():
        assert [n.target_key for n in rows()] == ["email:agents@example.com", "email:billing@example.com"]
    assert len(handed.ids) == 2


def test_a_comment_brings_in_a_target_whose_words_are_not_alert_keywords(api, client, handed, app):
    survey = create_survey(api, kind="nps", locales=["en"], alert={"notify": [
        {"channel": "email", "to": "logistics@example.com", "when": {"keywords": ["late"]}}]})
    create_trigger(api, survey["id"])
    path = answer(api, client, 4)
    with app.app_context():
        assert rows() == []
    client.post(path, data={"improve": "It came two days late"})
    with app.app_context():
        assert [n.target_key for n in rows()] == ["email:logistics@example.com"]


def test_nothing_is_handed_over_from_a_transaction_that_rolled_back(app, handed, api, client, survey):
    answer(api, client, 2)
    handed.ids.clear()
    with app.app_context():
        alert = db.session.scalar(sa.select(Alert))
        notifying.plan(alert, "escalated", [{"channel": "email", "to": "boss@example.com"}], None)
        db.session.rollback()
        db.session.commit()
        assert handed.ids == [] and len(rows()) == 2


def test_sending_delivers_each_row_once_to_the_sandbox(api, client, survey, handed, app):
    answer(api, client, 2)
    with app.app_context():
        for notification_id in handed.ids:
            assert notifying.send_one(notification_id, "test") == NotificationStatus.SENT
            assert notifying.send_one(notification_id, "test") is None  # already sent: nothing to claim
        assert notifying.sweep() == 0
        emails = list(db.session.scalars(sa.select(SandboxMessage).where(SandboxMessage.recipient ==
                                                                          "agents@example.com")))
        assert len(emails) == 1 and emails[0].extra["audience"] == "agent"
        assert "2/10" in emails[0].subject
        (chat,) = db.session.scalars(sa.select(SandboxMessage).where(SandboxMessage.recipient == "-100200300"))
        assert chat.extra["parse_mode"] == "HTML"
        actions = [a.action for a in db.session.scalars(sa.select(AlertActivity).order_by(AlertActivity.id))]
        assert actions == ["raised", "notified", "notified"]
        assert {n.status for n in rows()} == {NotificationStatus.SENT}


class Flaky:
    """A target that answers with the given outcomes in turn, then succeeds."""

    name = "email"

    def __init__(self, *outcomes):
        self.outcomes, self.sent = list(outcomes), []

    def rate_limits(self, message):
        return []

    def send(self, message):
        if self.outcomes:
            raise self.outcomes.pop(0)
        self.sent.append(message)
        return SendResult(provider_message_id=f"m{len(self.sent)}")


@pytest.fixture
def flaky(monkeypatch):
    def install(*outcomes) -> Flaky:
        adapter = Flaky(*outcomes)
        monkeypatch.setattr(channels, "notification_adapter", lambda channel: adapter)
        return adapter
    return install


def one_email(api, client, app) -> int:
    create = create_survey(api, kind="nps", locales=["en"], alert={"notify": [TARGETS[0]]})
    create_trigger(api, create["id"])
    answer(api, client, 2)
    with app.app_context():
        (row,) = rows()
        return row.id


def test_a_target_down_for_a_while_gets_exactly_one_message(api, client, app, flaky):
    adapter = flaky(TransientChannelError("421 try later"), TransientChannelError("connection refused"))
    notification_id = one_email(api, client, app)
    with app.app_context():
        assert notifying.send_one(notification_id) == NotificationStatus.SCHEDULED
        later = rows()[0].due_at
        assert later > utcnow()
        assert notifying.send_one(notification_id) is None  # not due yet: nobody may claim it
        for _ in range(2):
            db.session.execute(sa.update(Notification).values(due_at=utcnow() - timedelta(seconds=1)))
            db.session.commit()
            notifying.sweep()
        (row,) = rows()
        assert row.status == NotificationStatus.SENT and row.attempts == 3 and len(adapter.sent) == 1
        outcomes = [a.outcome for a in db.session.scalars(sa.select(NotificationAttempt).order_by(NotificationAttempt.id))]
        assert outcomes == ["retrying", "retrying", "sent"]


def test_a_refused_target_fails_for_good_and_says_so_in_the_activity(api, client, app, flaky):
    flaky(PermanentChannelError("550 no such mailbox", "undeliverable"))
    notification_id = one_email(api, client, app)
    with app.app_context():
        assert notifying.send_one(notification_id) == NotificationStatus.FAILED
        (row,) = rows()
        assert "550" in row.last_error
        assert "notification_failed" in [a.action for a in row.alert.activity]


def test_retries_run_out(api, client, app, flaky):
    flaky(*[TransientChannelError("down")] * notifying.MAX_ATTEMPTS)
    notification_id = one_email(api, client, app)
    with app.app_context():
        for _ in range(notifying.MAX_ATTEMPTS):
            db.session.execute(sa.update(Notification).values(due_at=utcnow() - timedelta(seconds=1)))
            db.session.commit()
            notifying.send_one(notification_id)
        (row,) = rows()
        assert row.status == NotificationStatus.FAILED and row.attempts == notifying.MAX_ATTEMPTS


def test_a_lost_answer_is_sent_again_and_flagged(api, client, app, flaky):
    adapter = flaky(TimeoutError("read timed out after the body went out"))
    notification_id = one_email(api, client, app)
    with app.app_context():
        assert notifying.send_one(notification_id) == NotificationStatus.SCHEDULED
        db.session.execute(sa.update(Notification).values(due_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        assert notifying.send_one(notification_id) == NotificationStatus.SENT
        (row,) = rows()
        assert row.possible_duplicate is True and len(adapter.sent) == 1


def test_a_send_whose_worker_died_is_handed_out_again_flagged(api, client, app, flaky, handed):
    adapter = flaky()
    notification_id = one_email(api, client, app)
    with app.app_context():
        db.session.execute(sa.update(Notification).values(
            status=NotificationStatus.SENDING, lease_owner="gone", lease_expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        handed.ids.clear()
        assert notifying.sweep() == 1 and handed.ids == [notification_id]
        assert notifying.sweep() == 0  # handed out: not again while its hand-out lease runs
        assert notifying.send_one(notification_id) == NotificationStatus.SENT
        (row,) = rows()
        assert row.possible_duplicate and len(adapter.sent) == 1
        assert [a.outcome for a in row.log] == ["lease_expired", "sent"]


def test_an_overdue_alert_is_escalated_exactly_once(api, client, app, handed):
    survey = create_survey(api, kind="nps", locales=["en"], alert={
        "sla_minutes": 30, "notify": [TARGETS[0]], "escalate": [{"channel": "email", "to": "lead@example.com"}]})
    create_trigger(api, survey["id"])
    answer(api, client, 2)
    answer(api, client, 1, external_id="resolved-one")
    answer(api, client, 10, external_id="happy")
    with app.app_context():
        first, second = db.session.scalars(sa.select(Alert).order_by(Alert.id))
        assert first.due_at == first.created_at + timedelta(minutes=30)
        second.status = second.status.RESOLVED
        db.session.commit()
        assert escalation.escalate_overdue(utcnow() + timedelta(minutes=29)) == 0
        assert escalation.escalate_overdue(utcnow() + timedelta(minutes=31)) == 1
        assert escalation.escalate_overdue(utcnow() + timedelta(minutes=60)) == 0
        escalated = [n for n in rows() if n.event == "escalated"]
        assert [(n.alert_id, n.target_key) for n in escalated] == [(first.id, "email:lead@example.com")]
        db.session.refresh(first)
        assert first.escalated_at is not None and "escalated" in [a.action for a in first.activity]


def test_an_alert_without_an_sla_is_never_escalated(api, client, survey, app, handed):
    answer(api, client, 2)
    with app.app_context():
        assert db.session.scalar(sa.select(Alert)).due_at is None
        assert escalation.escalate_overdue(utcnow() + timedelta(days=365)) == 0


class Limits:
    """A rate limiter whose answer the test sets: 0 (take a token) or a wait in seconds."""

    def __init__(self):
        self.wait = 0.0

    def acquire(self, limits):
        return self.wait

    def pause(self, key, seconds):
        pass


def test_a_burst_beyond_a_group_limit_is_folded_into_one_digest_never_dropped(api, client, app, monkeypatch):
    survey = create_survey(api, kind="nps", locales=["en"], alert={"notify": [
        {"channel": "telegram", "chat_id": "-100200300", "locale": "tr"}]})
    create_trigger(api, survey["id"])
    for n in range(3):
        answer(api, client, n, external_id=f"burst-{n}")
    adapter, limits = Flaky(), Limits()
    monkeypatch.setattr(channels, "notification_adapter", lambda channel: adapter)
    monkeypatch.setattr(channels, "limiter", lambda: limits)
    with app.app_context():
        first, second, third = rows()
        assert notifying.send_one(first.id) == NotificationStatus.SENT
        limits.wait = 3.0  # the group's 20 a minute are spent
        assert notifying.send_one(second.id) == NotificationStatus.FOLDED
        assert notifying.send_one(third.id) is None  # it was waiting too: the new digest took it along
        second_id, second_alert, third_alert = second.id, second.alert_id, third.alert_id
    answer(api, client, 3, external_id="burst-3")
    with app.app_context():
        (fourth,) = [n for n in rows() if n.status == NotificationStatus.SCHEDULED and n.event == "created"]
        limits.wait = 0.0  # even with a token free, a later alert joins the waiting digest: the order holds
        assert notifying.send_one(fourth.id) == NotificationStatus.FOLDED
        (digest,) = [n for n in rows() if n.event == "digest"]
        assert digest.status == NotificationStatus.SCHEDULED and digest.due_at > utcnow()
        assert digest.target["alert_ids"] == [second_alert, third_alert, fourth.alert_id]
        assert notifying.sweep() == 0  # not due yet
        db.session.execute(sa.update(Notification).where(Notification.id == digest.id)
                           .values(due_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        assert notifying.sweep() == 1
        assert [(n.event, n.status) for n in rows()] == [
            ("created", NotificationStatus.SENT), ("created", NotificationStatus.FOLDED),
            ("created", NotificationStatus.FOLDED), ("digest", NotificationStatus.SENT),
            ("created", NotificationStatus.FOLDED)]
        assert len(adapter.sent) == 2
        text = adapter.sent[1].text
        assert text.startswith("<b>Aynı anda 3 olumsuz yanıt geldi</b>")
        for alert_id in (second_alert, third_alert, fourth.alert_id):
            assert f"/console/alerts/{alert_id}" in text
            told = [a for a in db.session.get(Alert, alert_id).activity if a.action == "notified"]
            assert [a.detail["event"] for a in told] == ["digest"]
        assert [a.outcome for a in db.session.get(Notification, second_id).log] == ["folded"]


def test_an_email_target_is_never_folded(api, client, app, monkeypatch):
    notification_id = one_email(api, client, app)
    limits = Limits()
    limits.wait = 30.0
    monkeypatch.setattr(channels, "limiter", lambda: limits)
    with app.app_context():
        assert notifying.send_one(notification_id) == NotificationStatus.SCHEDULED  # waits its turn instead
        assert [n.event for n in rows()] == ["created"]


def test_two_workers_handed_the_same_row_send_it_once(api, client, app, monkeypatch):
    notification_id = one_email(api, client, app)
    started, go = threading.Barrier(2), threading.Event()

    class Slow(Flaky):
        def send(self, message):
            go.wait(10)  # both workers are past their claim attempt before anything is sent
            return super().send(message)

    adapter = Slow()
    monkeypatch.setattr(channels, "notification_adapter", lambda channel: adapter)
    outcomes: list = []

    def worker():
        with app.app_context():
            started.wait(10)
            outcomes.append(notifying.send_one(notification_id, threading.current_thread().name))
            db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    # One claims and waits in send(); the other finds nothing to claim and returns None.
    wait_until(lambda: None in outcomes, what="the second worker giving up its claim")
    go.set()
    for thread in threads:
        thread.join(10)
    assert sorted(outcomes, key=lambda o: o is None) == [NotificationStatus.SENT, None] and len(adapter.sent) == 1


def test_a_short_wait_with_others_queued_behind_folds_but_a_lone_alert_just_waits(api, client, app, monkeypatch):
    survey = create_survey(api, kind="nps", locales=["en"], alert={"notify": [
        {"channel": "slack", "url": "https://hooks.slack.example/services/T/B/x"}]})
    create_trigger(api, survey["id"])
    for n in range(3):
        answer(api, client, n, external_id=f"slack-{n}")
    adapter, limits = Flaky(), Limits()
    monkeypatch.setattr(channels, "notification_adapter", lambda channel: adapter)
    monkeypatch.setattr(channels, "limiter", lambda: limits)
    with app.app_context():
        first, second, third = rows()
        limits.wait = 0.6  # Slack's one a second: the next token is under a second away
        assert notifying.send_one(first.id) == NotificationStatus.FOLDED  # two more wait behind it: a burst
        assert notifying.send_one(second.id) is None  # taken along into the same digest, in order
        assert notifying.send_one(third.id) is None
        (digest,) = [n for n in rows() if n.event == "digest"]
        assert digest.target["alert_ids"] == [first.alert_id, second.alert_id, third.alert_id]
        assert [n.status for n in rows()][:3] == [NotificationStatus.FOLDED] * 3
    answer(api, client, 1, external_id="lone")
    with app.app_context():
        (lone,) = [n for n in rows() if n.event == "created" and n.status == NotificationStatus.SCHEDULED]
        db.session.execute(sa.update(Notification).where(Notification.id == digest.id)
                           .values(status=NotificationStatus.SENT))
        db.session.commit()
        assert notifying.send_one(lone.id) == NotificationStatus.SCHEDULED  # nothing behind it: it waits its turn


def test_a_row_that_must_wait_is_not_rendered_and_goes_back_to_the_sender_for_its_due_time(api, client, app,
                                                                                         monkeypatch, handed):
    notification_id = one_email(api, client, app)
    handed.handed.clear()
    limits, rendered = Limits(), []
    limits.wait = 0.7
    monkeypatch.setattr(channels, "limiter", lambda: limits)
    monkeypatch.setattr(rendering, "message_for", lambda row: rendered.append(row.id))
    with app.app_context():
        assert notifying.send_one(notification_id) == NotificationStatus.SCHEDULED
        assert rendered == []  # no history read, no template rendered for a row that waits
        assert handed.handed == [(notification_id, "email", 0.7)]  # not left for the next sweep


def test_a_long_wait_is_left_to_the_sweep(api, client, app, monkeypatch, handed):
    notification_id = one_email(api, client, app)
    handed.handed.clear()
    limits = Limits()
    limits.wait = notifying.HAND_OFF_WITHIN_SECONDS + 20
    monkeypatch.setattr(channels, "limiter", lambda: limits)
    with app.app_context():
        assert notifying.send_one(notification_id) == NotificationStatus.SCHEDULED
        assert handed.handed == []


def test_a_new_digest_is_handed_to_the_sender_for_the_moment_the_limit_allows(api, client, app, monkeypatch, handed):
    survey = create_survey(api, kind="nps", locales=["en"], alert={"notify": [
        {"channel": "slack", "url": "https://hooks.slack.example/services/T/B/x"}]})
    create_trigger(api, survey["id"])
    for n in range(2):
        answer(api, client, n, external_id=f"slack-{n}")
    handed.handed.clear()
    limits = Limits()
    limits.wait = 0.8
    monkeypatch.setattr(channels, "notification_adapter", lambda channel: Flaky())
    monkeypatch.setattr(channels, "limiter", lambda: limits)
    with app.app_context():
        first, second = rows()
        assert notifying.send_one(first.id) == NotificationStatus.FOLDED
        (digest,) = [n for n in rows() if n.event == "digest"]
        assert digest.target["alert_ids"] == [first.alert_id, second.alert_id]
        assert handed.handed == [(digest.id, "slack", 0.8)]  # when made, for the moment the token is back


def test_the_sweep_hands_each_row_to_its_channels_sender(api, client, survey, handed, app):
    answer(api, client, 2)
    handed.handed.clear()
    with app.app_context():
        assert notifying.sweep() == 2
        assert sorted(channel for _, channel, _ in handed.handed) == ["email", "telegram"]


def test_a_blocked_channel_never_holds_up_another(app, monkeypatch):
    release, emailed = threading.Event(), threading.Event()

    def run(app_, notification_id, owner):
        if notification_id == 1:
            release.wait(30)  # Slack hangs
        else:
            emailed.set()

    monkeypatch.setattr(notifier_module, "run_notification", run)
    sender = notifier_module.ThreadNotifier(app, threads=1)
    try:
        sender.submit(1, "slack")
        sender.submit(2, "email")
        assert emailed.wait(10), "the email waited behind a hung Slack send"
    finally:
        release.set()
        sender.stop()
    assert sender.pending == 0


def test_later_runs_what_comes_due_in_time_order_and_drops_the_rest_on_stop():
    later = notifier_module.Later("test-later")
    ran, done = [], threading.Event()
    later.call(3600, lambda: ran.append("in an hour"))
    later.call(0.02, lambda: (ran.append("second"), done.set()))
    later.call(0.0, lambda: ran.append("first"))
    assert done.wait(10)
    assert ran == ["first", "second"] and len(later) == 1
    later.stop()
    assert len(later) == 0
    later.call(0.0, lambda: ran.append("after stop"))
    assert len(later) == 0 and ran == ["first", "second"]


def test_two_workers_folding_into_one_digest_at_once_lose_neither_alert(api, client, app, monkeypatch,
                                                                       database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: the claim that starts a fold already serialises it")
    survey = create_survey(api, kind="nps", locales=["en"], alert={"notify": [
        {"channel": "slack", "url": "https://hooks.slack.example/services/T/B/x"}]})
    create_trigger(api, survey["id"])
    for n in range(3):
        answer(api, client, n, external_id=f"race-{n}")
    limits = Limits()
    limits.wait = 5.0
    monkeypatch.setattr(channels, "notification_adapter", lambda channel: Flaky())
    monkeypatch.setattr(channels, "limiter", lambda: limits)
    with app.app_context():
        first, second, third = (n.id for n in rows())
        db.session.execute(sa.update(Notification).where(Notification.id.in_((second, third)))
                           .values(status=NotificationStatus.SENDING))  # held by senders for now
        db.session.commit()
        assert notifying.send_one(first) == NotificationStatus.FOLDED
        (digest_id,) = [n.id for n in rows() if n.event == "digest"]
        db.session.execute(sa.update(Notification).where(Notification.id.in_((second, third)))
                           .values(status=NotificationStatus.SCHEDULED))
        db.session.commit()
    # A third session holds the digest's row, so both workers are inside their fold, waiting, at the same moment.
    holder = sa.create_engine(database_url)
    outcomes: list = []

    def worker(notification_id: int) -> None:
        with app.app_context():
            outcomes.append(notifying.send_one(notification_id))
            db.session.remove()

    waiting_on_locks = sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                               "AND wait_event_type = 'Lock'")
    with holder.connect() as conn, holder.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
        conn.execute(sa.text("SELECT id FROM notifications WHERE id = :id FOR UPDATE"), {"id": digest_id})
        threads = [threading.Thread(target=worker, args=(i,)) for i in (second, third)]
        for thread in threads:
            thread.start()
        # Each look is its own transaction: within one, PostgreSQL would show the same snapshot of activity.
        wait_until(lambda: watcher.execute(waiting_on_locks).scalar() == 2, what="both workers waiting on the digest")
        conn.rollback()
    for thread in threads:
        thread.join(10)
    holder.dispose()
    assert outcomes == [NotificationStatus.FOLDED] * 2
    with app.app_context():
        digest = db.session.get(Notification, digest_id)
        alert_of = {n.id: n.alert_id for n in rows()}
        assert sorted(digest.target["alert_ids"]) == sorted(alert_of[i] for i in (first, second, third))
