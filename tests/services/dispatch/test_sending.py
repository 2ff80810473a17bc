"""The task's side of the outbox: claim, send once, retry, fall back, reconcile, remind."""
from datetime import timedelta

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from bots.channel import (
    AmbiguousChannelError,
    ChannelAdapter,
    InboundEvent,
    LookupUnsupported,
    PermanentChannelError,
    RateLimit,
    SendResult,
    TransientChannelError,
)
from surveyd.extensions import db
from surveyd.models import (
    Channel,
    ConsentState,
    Dispatch,
    DispatchPurpose,
    SandboxMessage,
    utcnow,
)
from surveyd.services.answers.responding import record_answer
from surveyd.services.audience import suppressions
from surveyd.services.dispatch import channels, outbox
from surveyd.services.dispatch.rate_limits import MemoryLimiter
from surveyd.services.dispatch.sending import (
    retry_delay,
    send_batch,
    send_due,
    send_one,
)
from tests import factories, sql_trace


@pytest.fixture
def sms_dispatch(ctx):
    survey = factories.survey()
    factories.trigger(survey.id, channels=["sms", "web"])
    factories.contact(locale="tr")
    return factories.event()["dispatches"][0]["id"]


def _get(dispatch_id) -> Dispatch:
    dispatch = db.session.get(Dispatch, dispatch_id)
    db.session.refresh(dispatch)
    return dispatch


def _history(dispatch_id):
    return [(step.status.value, step.reason) for step in _get(dispatch_id).history]


class Scripted(ChannelAdapter):
    """An SMS adapter that answers each send from a script of outcomes, then succeeds."""

    name = "sms"

    def __init__(self, *outcomes, found=None, lookup_supported=True, limits=()):
        self.outcomes = list(outcomes)
        self.sent = []
        self.lookups = 0
        self.found = found
        self.lookup_supported = lookup_supported
        self.limits = list(limits)

    def send(self, message):
        self.sent.append(message)
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if isinstance(outcome, Exception):
            raise outcome
        return SendResult(provider_message_id=f"SM{len(self.sent)}")

    def lookup(self, message, since):
        self.lookups += 1
        if not self.lookup_supported:
            raise LookupUnsupported("no lookup here")
        return self.found

    def rate_limits(self, message):
        return self.limits


@pytest.fixture
def swap(app):
    """Replace one channel's adapter (and the limiter) for a test."""
    cache = app.extensions.setdefault("surveyd.channels", {})
    with app.app_context():
        original = dict(channels.adapters())
    saved_limiter = cache.get("limiter")

    def _swap(adapter, channel=Channel.SMS):
        cache["adapters"] = {**cache["adapters"], channel: adapter}
        return adapter

    yield _swap
    cache["adapters"] = original
    cache["limiter"] = saved_limiter or MemoryLimiter()


def test_sandbox_delivery_renders_the_locale_and_records_each_step(sms_dispatch):
    assert send_due() == 1
    message = db.session.scalar(sa.select(SandboxMessage))
    assert message.channel == Channel.SMS and message.recipient == "+447700900123"
    assert "tavsiye" in message.text and "/s/" in message.text
    assert _history(sms_dispatch) == [("scheduled", None), ("sending", None), ("sent", None), ("delivered", None)]
    assert send_due() == 0  # nothing twice


def test_a_claim_is_exclusive_and_needs_a_lease(sms_dispatch, swap):
    adapter = swap(Scripted())
    assert send_one(sms_dispatch) is None  # scheduled, not leased: not ours to send
    assert outbox.lease_due("relay-a", 10, 60) == [sms_dispatch]
    assert outbox.lease_due("relay-b", 10, 60) == []  # leased already
    assert send_one(sms_dispatch, "task-1").value == "sent"
    assert send_one(sms_dispatch, "task-2") is None  # a redelivered task message changes nothing
    assert len(adapter.sent) == 1


def test_transient_failure_retries_later_with_backoff(sms_dispatch, swap):
    adapter = swap(Scripted(TransientChannelError("503 from provider")))
    before = utcnow()
    assert send_due() == 0
    dispatch = _get(sms_dispatch)
    assert (dispatch.status.value, dispatch.reason, dispatch.attempts) == ("scheduled", "retrying", 1)
    # attempt 1 with the default 10 s base: between half a step and a whole one
    assert before + timedelta(seconds=5) <= dispatch.due_at <= utcnow() + timedelta(seconds=10)
    assert send_due() == 0  # not due yet: the provider is not asked again at once
    assert send_due(now=utcnow() + timedelta(seconds=11)) == 1
    assert len(adapter.sent) == 2 and _get(sms_dispatch).status.value == "sent"


def test_retry_after_is_honoured_and_pauses_the_shared_bucket(sms_dispatch, swap, app):
    swap(Scripted(TransientChannelError("429", retry_after=45), limits=[RateLimit("twilio:test", 5.0, 5)]))
    app.extensions["surveyd.channels"]["limiter"] = limiter = MemoryLimiter()
    send_due()
    dispatch = _get(sms_dispatch)
    assert dispatch.due_at >= utcnow() + timedelta(seconds=44)
    assert dispatch.history[-1].detail["retry_after"] == 45
    assert limiter.acquire([RateLimit("twilio:test", 5.0, 5)]) > 40  # every sender slows down


def test_retries_run_out_into_a_failure(sms_dispatch, swap, app):
    swap(Scripted(*[TransientChannelError("503")] * 10))
    settings = app.config["SURVEYD"]
    for _ in range(settings.max_attempts):
        send_due(now=utcnow() + timedelta(days=1))
    dispatch = _get(sms_dispatch)
    assert (dispatch.status.value, dispatch.reason) == ("failed", "retries_exhausted")
    assert dispatch.attempts == settings.max_attempts


def test_permanent_failure_without_a_fallback_fails_with_its_code(sms_dispatch, swap):
    swap(Scripted(PermanentChannelError("21211 invalid number", code="invalid_address")))
    send_due()
    dispatch = _get(sms_dispatch)
    assert (dispatch.status.value, dispatch.reason, dispatch.channel) == ("failed", "invalid_address", Channel.SMS)


def test_permanent_failure_falls_back_to_the_next_channel(ctx, swap):
    survey = factories.survey()
    factories.trigger(survey.id, channels=["sms", "email", "telegram"])
    factories.contact()
    dispatch_id = factories.event()["dispatches"][0]["id"]
    swap(Scripted(PermanentChannelError("21610 unsubscribed", code="opted_out")))
    send_due()
    dispatch = _get(dispatch_id)
    assert (dispatch.status.value, dispatch.reason, dispatch.channel) == ("scheduled", "fallback", Channel.EMAIL)
    assert dispatch.contact.opted_out(Channel.SMS)  # the provider's opt-out is mirrored
    assert send_due() == 1
    steps = [(s.status.value, s.reason, s.channel.value) for s in _get(dispatch_id).history]
    assert steps == [("scheduled", None, "sms"), ("sending", None, "sms"), ("failed", "opted_out", "sms"),
                     ("scheduled", "fallback", "email"), ("sending", None, "email"), ("sent", None, "email"),
                     ("delivered", None, "email")]
    assert db.session.scalar(sa.select(SandboxMessage.channel)) == Channel.EMAIL


def test_a_channel_opted_out_after_planning_falls_back_at_claim(ctx, swap):
    from surveyd.services.audience.contacts import set_consent

    survey = factories.survey()
    factories.trigger(survey.id, channels=["sms", "email"])
    contact = factories.contact()
    dispatch_id = factories.event()["dispatches"][0]["id"]
    set_consent(contact, Channel.SMS, ConsentState.OPTED_OUT, "test")
    db.session.commit()
    adapter = swap(Scripted())
    assert send_due() == 0 and adapter.sent == []
    assert send_due() == 1
    assert _get(dispatch_id).channel == Channel.EMAIL


def test_an_ambiguous_failure_is_reconciled_not_resent(sms_dispatch, swap):
    adapter = swap(Scripted(AmbiguousChannelError("read timeout"), found=SendResult("SM-found")))
    send_due()
    dispatch = _get(sms_dispatch)
    assert (dispatch.status.value, dispatch.reason, dispatch.reconcile) == ("unknown", "ambiguous", True)
    assert send_due() == 0  # reconciliation waits a little: providers list new messages late
    send_due(now=utcnow() + timedelta(minutes=1))
    dispatch = _get(sms_dispatch)
    assert (dispatch.status.value, dispatch.provider_message_id) == ("sent", "SM-found")
    assert dispatch.history[-1].detail["reconciled"] is True
    assert len(adapter.sent) == 1 and adapter.lookups == 1 and not dispatch.possible_duplicate


def test_an_ambiguous_failure_the_provider_never_got_is_sent_once_more(sms_dispatch, swap):
    adapter = swap(Scripted(AmbiguousChannelError("read timeout"), found=None))
    send_due()
    send_due(now=utcnow() + timedelta(minutes=1))
    dispatch = _get(sms_dispatch)
    assert dispatch.status.value == "sent" and len(adapter.sent) == 2 and not dispatch.possible_duplicate


def test_without_lookup_a_resend_is_flagged_as_a_possible_duplicate(sms_dispatch, swap):
    adapter = swap(Scripted(RuntimeError("connection reset mid-response"), lookup_supported=False))
    send_due()
    assert _get(sms_dispatch).status.value == "unknown"  # an error we do not understand is ambiguous
    send_due(now=utcnow() + timedelta(minutes=1))
    dispatch = _get(sms_dispatch)
    assert dispatch.status.value == "sent" and dispatch.possible_duplicate and len(adapter.sent) == 2
    assert ("sending", "resent_unconfirmed") in _history(sms_dispatch)


def test_a_send_whose_worker_vanished_is_recovered_and_reconciled(sms_dispatch, swap):
    adapter = swap(Scripted(found=SendResult("SM-before-crash")))
    outbox.lease_due("relay", 10, 60)
    # A worker claimed the row, called the provider, and died: the row is left in sending.
    db.session.execute(sa.update(Dispatch).values(status="sending", lease_owner="dead:1",
                                                  lease_expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert outbox.recover_stuck() == 1
    assert _get(sms_dispatch).status.value == "unknown"
    assert send_due() == 1
    dispatch = _get(sms_dispatch)
    assert dispatch.provider_message_id == "SM-before-crash" and adapter.sent == []
    assert ("unknown", "lease_expired") in _history(sms_dispatch)


def test_a_queued_row_whose_task_was_lost_is_handed_out_again(sms_dispatch):
    assert outbox.lease_due("relay-a", 10, lease_seconds=30) == [sms_dispatch]
    assert outbox.lease_due("relay-a", 10, 30, now=utcnow() + timedelta(seconds=10)) == []
    assert outbox.lease_due("relay-b", 10, 30, now=utcnow() + timedelta(seconds=31)) == [sms_dispatch]
    assert send_one(sms_dispatch, "task").value == "delivered"


def test_an_answer_during_the_send_stands(sms_dispatch, swap):
    class AnswersWhileSending(Scripted):
        def send(self, message):
            result = super().send(message)
            # The customer answers from the link before the provider's reply is recorded.
            record_answer(db.session.get(Dispatch, sms_dispatch), InboundEvent(kind="answer", channel="web", score=9))
            return result

    swap(AnswersWhileSending())
    send_due()
    dispatch = _get(sms_dispatch)
    assert dispatch.status.value == "answered" and ("sent", "after_answer") in _history(sms_dispatch)


def test_a_failure_after_the_answer_changes_nothing_but_the_history(sms_dispatch, swap):
    class AnswersThenFails(Scripted):
        def send(self, message):
            record_answer(db.session.get(Dispatch, sms_dispatch), InboundEvent(kind="answer", channel="web", score=3))
            raise PermanentChannelError("30005 unknown destination", code="invalid_address")

    swap(AnswersThenFails())
    send_due()
    dispatch = _get(sms_dispatch)
    assert dispatch.status.value == "answered" and ("failed", "after_answer") in _history(sms_dispatch)


def test_a_long_rate_limit_wait_goes_back_to_the_database(ctx, swap, app):
    survey = factories.survey()
    factories.trigger(survey.id, channels=["sms"])
    for n in range(2):
        factories.contact(f"c{n}", phone=f"+44770090012{n}")
        factories.event(external_id=f"c{n}")
    adapter = swap(Scripted(limits=[RateLimit("twilio:test", 0.5, 1)]))
    app.extensions["surveyd.channels"]["limiter"] = MemoryLimiter()
    assert send_due() == 1
    waiting = db.session.scalar(sa.select(Dispatch).where(Dispatch.status == "scheduled"))
    assert waiting.reason is None and waiting.attempts == 0  # a token wait is not a failed try
    assert waiting.due_at > utcnow() + timedelta(seconds=1)
    assert len(adapter.sent) == 1


def test_quiet_hours_hold_a_due_send_at_claim(ctx, swap):
    from zoneinfo import ZoneInfo

    local = utcnow().astimezone(ZoneInfo("Asia/Tehran"))
    start, end = (local - timedelta(hours=1)).strftime("%H:%M"), (local + timedelta(hours=2)).strftime("%H:%M")
    survey = factories.survey()
    factories.trigger(survey.id, channels=["sms"], quiet_hours={"start": start, "end": end})
    factories.contact(timezone="Asia/Tehran")
    dispatch_id = factories.event()["dispatches"][0]["id"]
    assert _get(dispatch_id).reason == "quiet_hours"  # held when planned
    db.session.execute(sa.update(Dispatch).values(due_at=utcnow() - timedelta(seconds=1)))  # as if due now
    db.session.commit()
    adapter = swap(Scripted())
    assert send_due() == 0 and adapter.sent == []
    assert (_get(dispatch_id).status.value, _get(dispatch_id).reason) == ("scheduled", "quiet_hours")


def test_one_reminder_after_the_invitation_and_an_answer_cancels_it(ctx):
    survey = factories.survey()
    factories.trigger(survey.id, channels=["sms"], reminder={"after_seconds": 3600, "channel": "email"})
    factories.contact("a")
    factories.contact("b", email="b@example.com", phone="+447700900999")
    first = factories.event(external_id="a")["dispatches"][0]["id"]
    second = factories.event(external_id="b")["dispatches"][0]["id"]
    assert send_due() == 2
    reminders = {d.parent_id: d for d in db.session.scalars(
        sa.select(Dispatch).where(Dispatch.purpose == DispatchPurpose.REMINDER))}
    assert set(reminders) == {first, second}
    assert reminders[first].channel == Channel.EMAIL and reminders[first].reason == "reminder"
    assert reminders[first].due_at >= utcnow() + timedelta(minutes=59)
    record_answer(_get(first), InboundEvent(kind="answer", channel="sms", score=10))
    assert send_due() == 0  # not due yet
    assert send_due(now=utcnow() + timedelta(hours=2)) == 1  # only the unanswered one
    assert (_get(reminders[first].id).status.value, _get(reminders[first].id).reason) == ("suppressed", "answered")
    sent = db.session.scalar(sa.select(SandboxMessage).where(SandboxMessage.dispatch_id == reminders[second].id))
    assert sent.channel == Channel.EMAIL and sent.subject.startswith("Reminder:")
    # The reminder links to the invitation's own page, so answering it answers the one survey.
    invitation_link = db.session.scalar(
        sa.select(SandboxMessage.text).where(SandboxMessage.dispatch_id == second)).split()[-1]
    assert invitation_link in sent.text
    assert send_due(now=utcnow() + timedelta(days=3)) == 0  # at most one reminder


def test_not_due_yet_is_not_sent(ctx):
    survey = factories.survey()
    factories.trigger(survey.id, channels=["email"], delay_seconds=3600)
    factories.contact()
    factories.event()
    assert send_due() == 0
    assert send_due(now=utcnow() + timedelta(hours=2)) == 1


def test_expired_before_sending_is_expired_not_sent(sms_dispatch):
    db.session.execute(sa.update(Dispatch).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert send_due() == 0
    assert _history(sms_dispatch)[-1] == ("expired", "expired_before_send")
    assert db.session.scalar(sa.select(sa.func.count(SandboxMessage.id))) == 0


def test_lapsed_unanswered_links_expire_and_answered_ones_do_not(ctx):
    survey = factories.survey()
    factories.trigger(survey.id, channels=["web"], expire_after_seconds=3600)
    factories.contact("a")
    factories.contact("b")
    first = factories.event(external_id="a")["dispatches"][0]["id"]
    second = factories.event(external_id="b")["dispatches"][0]["id"]
    record_answer(db.session.get(Dispatch, second), InboundEvent(kind="answer", channel="web", score=9))
    assert outbox.expire_overdue() == 0
    assert outbox.expire_overdue(now=utcnow() + timedelta(hours=2)) == 1
    statuses = dict(db.session.execute(sa.select(Dispatch.id, Dispatch.status)).all())
    assert (statuses[first].value, statuses[second].value) == ("expired", "answered")
    assert outbox.expire_overdue(now=utcnow() + timedelta(hours=3)) == 0


@given(st.integers(1, 30), st.floats(0.01, 60), st.floats(1, 7200), st.floats(0, 1, exclude_max=True))
def test_backoff_grows_exponentially_within_its_cap_with_jitter(attempt, base, cap, draw):
    step = min(cap, base * 2 ** (attempt - 1))
    delay = retry_delay(attempt, base, cap, rng=lambda: draw)
    assert step / 2 <= delay <= step
    if base * 2 ** attempt <= cap:
        assert retry_delay(attempt + 1, base, cap, rng=lambda: 0.0) == pytest.approx(2 * retry_delay(attempt, base, cap, rng=lambda: 0.0))


def test_a_web_invitation_gets_its_reminder_by_email_when_planned(ctx):
    survey = factories.survey()
    factories.trigger(survey.id, channels=["web"], reminder={"after_seconds": 600, "channel": "email"})
    factories.contact()
    web = factories.event()["dispatches"][0]
    assert web["status"] == "sent"
    reminder = db.session.scalar(sa.select(Dispatch).where(Dispatch.parent_id == web["id"]))
    assert (reminder.channel, reminder.status.value, reminder.reason) == (Channel.EMAIL, "scheduled", "reminder")
    assert send_due(now=utcnow() + timedelta(minutes=11)) == 1
    text = db.session.scalar(sa.select(SandboxMessage.text))
    assert web["url"] in text  # the reminder links to the page the integrator was handed


def test_a_mailbox_that_does_not_exist_stops_email_to_that_contact_until_the_address_changes(ctx, swap):
    survey = factories.survey()
    factories.trigger(survey.id, channels=["email", "sms"])
    factories.contact()
    first = factories.event(key="first")["dispatches"][0]["id"]
    email = swap(Scripted(PermanentChannelError("550 5.1.1 <ada@example.com>: no such user", code="undeliverable")),
                 channel=Channel.EMAIL)
    send_due()
    dispatch = _get(first)
    assert (dispatch.channel, [(s.status.value, s.reason) for s in dispatch.history][2]) == (Channel.SMS, ("failed", "undeliverable"))
    assert dispatch.contact.undeliverable(Channel.EMAIL) and not dispatch.contact.opted_out(Channel.EMAIL)

    second = factories.event(key="second")["dispatches"][0]
    assert second["channel"] == "sms"  # the bounced address is skipped at planning
    factories.trigger(survey.id, touchpoint="ticket.closed", channels=["email"])
    skipped = factories.event(touchpoint="ticket.closed", key="third")["dispatches"][0]
    assert (skipped["status"], skipped["reason"]) == ("suppressed", "undeliverable")
    assert len(email.sent) == 1

    factories.contact(email="ada.new@example.com")  # a new address is worth a try
    contact = _get(first).contact
    assert not contact.undeliverable(Channel.EMAIL)
    assert [(c.state.value, c.source) for c in contact.consents] == [("opted_in", "address_changed")]
    fresh = factories.event(touchpoint="ticket.closed", key="fourth")["dispatches"][0]
    assert (fresh["channel"], fresh["status"]) == ("email", "scheduled")


def test_the_same_address_again_keeps_the_bounce(ctx, swap):
    survey = factories.survey()
    factories.trigger(survey.id, channels=["email"])
    factories.contact()
    dispatch_id = factories.event(key="a")["dispatches"][0]["id"]
    swap(Scripted(PermanentChannelError("550 no such user", code="undeliverable")), channel=Channel.EMAIL)
    send_due()
    assert (_get(dispatch_id).status.value, _get(dispatch_id).reason) == ("failed", "undeliverable")
    factories.contact(email="ada@example.com", name="Ada L.")  # the integrator re-sends the same address
    assert _get(dispatch_id).contact.undeliverable(Channel.EMAIL)
    assert factories.event(key="b")["dispatches"][0]["reason"] == "undeliverable"


def _sms_dispatches(count: int) -> list[int]:
    survey = factories.survey()
    factories.trigger(survey.id, channels=["sms"])
    for n in range(count):
        factories.contact(f"b{n}", phone=f"+4477009002{n:02d}")
        factories.event(external_id=f"b{n}")
    return list(db.session.scalars(sa.select(Dispatch.id).order_by(Dispatch.id)))


def test_a_batch_commits_every_sending_step_before_the_first_call_and_skips_what_is_not_its_own(ctx, swap):
    mine = _sms_dispatches(4)
    taken = mine.pop()
    assert sorted(outbox.lease_due("relay", 10, 60)) == sorted([*mine, taken])
    swap(Scripted())
    assert send_one(taken, "another-task").value == "sent"  # another task had this one
    seen_at_first_call = []

    class Watching(Scripted):
        def send(self, message):
            if not self.sent:  # what any other connection sees when the first provider call starts
                with db.engine.connect() as other:
                    seen_at_first_call.extend(other.execute(
                        sa.select(Dispatch.status).where(Dispatch.id.in_(mine))).scalars())
            return super().send(message)

    adapter = swap(Watching())
    statuses = send_batch([*mine, taken, 987654321], "batch-task")
    assert [s.value for s in seen_at_first_call] == ["sending"] * 3
    assert {dispatch_id: status.value for dispatch_id, status in statuses.items()} == dict.fromkeys(mine, "sent")
    assert len(adapter.sent) == 3  # the taken one and the unknown id were left alone
    for dispatch_id in mine:
        assert _history(dispatch_id) == [("scheduled", None), ("sending", None), ("sent", None)]
    assert send_batch(mine, "redelivered") == {} and len(adapter.sent) == 3


def test_an_outcome_that_cannot_be_stored_costs_the_rest_of_its_batch_nothing(ctx, swap, monkeypatch):
    from surveyd.services.dispatch import sending

    ids = _sms_dispatches(3)
    troubled = ids[1]
    original = sending._sent

    def _sent(dispatch, result, reconciled):
        if dispatch.id == troubled:
            raise RuntimeError("a bug while recording this one")
        original(dispatch, result, reconciled)

    monkeypatch.setattr(sending, "_sent", _sent)
    adapter = swap(Scripted())
    assert sorted(outbox.lease_due("relay", 10, 60)) == ids
    statuses = send_batch(ids, "task")
    assert {k: v.value for k, v in statuses.items()} == {ids[0]: "sent", ids[2]: "sent"}
    assert len(adapter.sent) == 3
    # Its lease lapses and it is reconciled with the provider, never resent blindly.
    assert _get(troubled).status.value == "sending"
    assert outbox.recover_stuck(now=utcnow() + timedelta(seconds=_batch_lease(3) + 1)) == 1
    assert _get(troubled).status.value == "unknown" and _get(troubled).reconcile is True


def test_the_lease_of_a_batch_covers_its_last_send(ctx, swap):
    ids = _sms_dispatches(3)
    outbox.lease_due("relay", 10, 60)
    leases = []

    class Reading(Scripted):
        def send(self, message):
            if not self.sent:
                with db.engine.connect() as other:
                    leases.extend(other.execute(sa.select(Dispatch.lease_expires_at).where(Dispatch.id.in_(ids))))
            return super().send(message)

    before = utcnow()
    swap(Reading())
    send_batch(ids, "task")
    lease = timedelta(seconds=_batch_lease(3))  # each of the three may take a whole send timeout
    assert len(leases) == 3 and all(before + lease <= expires <= utcnow() + lease for (expires,) in leases)


def _batch_lease(size: int) -> float:
    from surveyd.services.runtime import settings

    return settings().send_lease_seconds + (size - 1) * settings().send_timeout_seconds


def test_a_batch_writes_its_rows_with_one_statement_per_kind_and_no_flush(ctx, swap):
    ids = _sms_dispatches(4)
    outbox.lease_due("relay", 10, 60)
    swap(Scripted())
    with sql_trace.statements(db.engine, words=2) as seen, sql_trace.flushes() as flushes:
        statuses = send_batch(ids, "task")
    assert {status.value for status in statuses.values()} == {"sent"}
    # Claim: the claim, the rows with what a send reads, their consents and one suppression lookup for all, then
    # every row's attempt and status in one UPDATE and every `sending` step in one INSERT. Outcome: the rows again,
    # one UPDATE, one INSERT.
    writes = [statement for statement in seen if statement.split()[0] in ("UPDATE", "INSERT")]
    assert writes == ["UPDATE DISPATCHES", "UPDATE DISPATCHES", "INSERT INTO", "UPDATE DISPATCHES", "INSERT INTO"]
    assert seen.count("SELECT SUPPRESSIONS.CHANNEL,") == 1 and flushes == []
    for dispatch_id in ids:
        dispatch = _get(dispatch_id)
        assert (dispatch.attempts, dispatch.lease_owner, dispatch.lease_expires_at) == (1, None, None)
        assert dispatch.provider_message_id and dispatch.sent_at is not None and dispatch.reconcile is False
        assert _history(dispatch_id) == [("scheduled", None), ("sending", None), ("sent", None)]


def test_an_address_suppressed_after_planning_is_held_at_claim_and_the_rest_of_the_batch_goes(ctx, swap):
    ids = _sms_dispatches(3)
    suppressions.suppress(Channel.SMS, "+447700900201")  # an erased person's opt-out, for the second one's phone
    db.session.commit()
    outbox.lease_due("relay", 10, 60)
    adapter = swap(Scripted())
    statuses = send_batch(ids, "task")
    assert {k: v.value for k, v in statuses.items()} == {ids[0]: "sent", ids[1]: "suppressed", ids[2]: "sent"}
    assert [message.to for message in adapter.sent] == ["+447700900200", "+447700900202"]
    assert _history(ids[1])[-1] == ("suppressed", "opted_out") and _get(ids[1]).lease_owner is None


def test_a_claimed_row_the_session_already_held_reads_as_claimed(ctx):
    from surveyd.services.dispatch.sending import _claim

    (dispatch_id,) = _sms_dispatches(1)
    outbox.lease_due("relay", 10, 60)
    held = _get(dispatch_id)  # loaded in this transaction, before the claim changes the row behind its back
    assert held.status.value == "queued" and held.lease_owner == "relay"
    (claimed,) = _claim([dispatch_id], "task", utcnow())
    assert claimed is held and (claimed.status.value, claimed.lease_owner) == ("sending", "task")
    db.session.rollback()
