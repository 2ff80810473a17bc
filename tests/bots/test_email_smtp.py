"""The SMTP email adapter through the real smtplib, against a real local SMTP server (aiosmtpd)."""
from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import trustme

from bots.channel import (
    AmbiguousChannelError,
    LookupUnsupported,
    OutboundMessage,
    PermanentChannelError,
    RateLimit,
    TransientChannelError,
)
from bots.email_smtp import SmtpEmailChannel
from tests.fakes.smtp_server import FakeSmtp

SENDER = "Acme Müşteri Deneyimi <cx@acme.example>"
TO = "ayse@example.com"


def _message(to: str = TO, dispatch_id: int = 7, **overrides) -> OutboundMessage:
    fields = dict(channel="email", to=to, text="Merhaba Ayşe, nasıldı?\n", html="<p>Merhaba <b>Ayşe</b></p>\n",
                  subject="Hizmetimizden memnun kaldınız mı?", locale="tr", dispatch_id=dispatch_id,
                  reference=f"https://surveyd.test/s/{dispatch_id}",
                  extra={"headers": {"List-Unsubscribe": "<https://surveyd.test/u/7>"}})
    fields.update(overrides)
    return OutboundMessage(**fields)


def _channel(fake: FakeSmtp, **options) -> SmtpEmailChannel:
    options.setdefault("starttls", False)
    return SmtpEmailChannel(fake.host, fake.port, SENDER, timeout=2.0, **options)


@pytest.fixture
def fake():
    with FakeSmtp() as server:
        yield server


@pytest.fixture
def channel(fake):
    channel = _channel(fake)
    yield channel
    channel.close()


def _still_works(channel: SmtpEmailChannel, fake: FakeSmtp) -> None:
    """A normal send after a failure goes through: the failure left no half-done transaction behind."""
    before = len(fake.messages)
    channel.send(_message(dispatch_id=99))
    assert len(fake.messages) == before + 1
    assert fake.messages[-1].rcpt_tos == [TO]


def test_a_send_arrives_with_its_envelope_headers_and_both_parts(channel, fake):
    result = channel.send(_message())
    (mail,) = fake.messages
    assert mail.mail_from == "cx@acme.example"
    assert mail.rcpt_tos == [TO]
    parsed = mail.message
    assert parsed["To"] == TO and parsed["Subject"] == "Hizmetimizden memnun kaldınız mı?"
    assert parsed["From"].addresses[0].display_name == "Acme Müşteri Deneyimi"
    assert parsed["List-Unsubscribe"] == "<https://surveyd.test/u/7>"
    assert parsed["Content-Language"] == "tr"
    text, html = parsed.iter_parts()
    assert "Merhaba Ayşe" in text.get_content() and "<b>Ayşe</b>" in html.get_content()
    assert result.provider_message_id == parsed["Message-ID"]
    assert result.status == "sent" and result.detail["reply"].startswith("250 ")


def test_a_resend_carries_the_same_message_id(channel, fake):
    first, second = channel.send(_message()), channel.send(_message())
    assert first.provider_message_id == second.provider_message_id
    assert [m.message["Message-ID"] for m in fake.messages] == [first.provider_message_id] * 2


def test_a_line_starting_with_a_dot_is_not_taken_for_the_end(channel, fake):
    channel.send(_message(text="first\n.\n.. two dots\nlast\n", html=None))
    body = fake.messages[0].message.get_content().replace("\r\n", "\n")
    assert body == "first\n.\n.. two dots\nlast\n"


def test_sends_share_one_connection(channel, fake):
    channel.send(_message(dispatch_id=1))
    channel.send(_message(dispatch_id=2))
    assert fake.connections == 1
    for n in range(10):
        channel.send(_message(dispatch_id=10 + n))
    assert len(fake.messages) == 12 and fake.connections == 1


@pytest.mark.parametrize("pool_size", [2, 4])
def test_threads_send_at_once_over_at_most_pool_size_connections(fake, pool_size):
    channel = _channel(fake, pool_size=pool_size)
    # More threads than connections allowed: without the cap each thread would open its own.
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda n: channel.send(_message(to=f"c{n}@example.com", dispatch_id=n)), range(24)))
    channel.close()
    arrived = fake.wait_for(24)
    assert sorted(r for m in arrived for r in m.rcpt_tos) == sorted(f"c{n}@example.com" for n in range(24))
    assert len({r.provider_message_id for r in results}) == 24
    assert 1 <= fake.connections <= pool_size


def test_a_connection_the_server_dropped_is_replaced_and_the_mail_sent_once(channel, fake):
    channel.send(_message(dispatch_id=1))
    fake.close_connections()
    channel.send(_message(dispatch_id=2))
    assert [m.message["Message-ID"].split(".")[1] for m in fake.messages] == ["1", "2"]
    assert fake.connections == 2


def test_a_connection_idle_too_long_is_quit_not_reused(fake):
    channel = _channel(fake, idle_seconds=0.05)
    channel.send(_message(dispatch_id=1))
    time.sleep(0.2)  # longer than idle_seconds, so the pooled connection has expired
    channel.send(_message(dispatch_id=2))
    assert fake.connections == 2 and fake.quits == 1
    channel.close()
    assert fake.quits == 2  # close() quits what is still pooled


def test_starttls_with_the_servers_ca_succeeds():
    with FakeSmtp(tls=True) as fake:
        channel = _channel(fake, starttls=True, ca_file=fake.ca_file)
        channel.send(_message())
        channel.send(_message())
        channel.close()
        assert [m.tls for m in fake.messages] == [True, True]
        assert fake.connections == 1


def test_starttls_with_a_certificate_from_another_ca_is_refused(tmp_path):
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    with FakeSmtp(tls=True) as fake:
        channel = _channel(fake, starttls=True, ca_file=str(other))
        with pytest.raises(TransientChannelError, match="(?i)certificate"):
            channel.send(_message())
        assert fake.messages == []


def test_a_server_without_starttls_gets_nothing_in_clear_text(fake):
    channel = _channel(fake, starttls=True)
    with pytest.raises(TransientChannelError, match="STARTTLS; not sending in clear text"):
        channel.send(_message())
    assert fake.messages == []


def test_implicit_tls_smtps():
    with FakeSmtp(implicit_tls=True) as fake:
        channel = _channel(fake, ssl=True, ca_file=fake.ca_file)
        channel.send(_message())
        channel.close()
        assert [m.tls for m in fake.messages] == [True]


def test_smtps_with_an_unknown_ca_is_refused():
    with FakeSmtp(implicit_tls=True) as fake:
        channel = _channel(fake, ssl=True)  # the system CAs do not know trustme's
        with pytest.raises(TransientChannelError, match="(?i)certificate"):
            channel.send(_message())
        assert fake.messages == []


def test_auth_with_the_right_password():
    with FakeSmtp(username="surveyd", password="s3cret") as fake:
        channel = _channel(fake, username="surveyd", password="s3cret")
        channel.send(_message())
        channel.send(_message())
        channel.close()
        assert [m.auth_user for m in fake.messages] == ["surveyd", "surveyd"]
        assert fake.auth_attempts == 1  # once per connection, not per message


def test_auth_after_starttls():
    with FakeSmtp(tls=True, username="surveyd", password="s3cret") as fake:
        channel = _channel(fake, starttls=True, ca_file=fake.ca_file, username="surveyd", password="s3cret")
        channel.send(_message())
        channel.close()
        assert [(m.tls, m.auth_user) for m in fake.messages] == [(True, "surveyd")]


def test_a_bad_password_is_transient_and_names_the_credentials():
    with FakeSmtp(username="surveyd", password="s3cret") as fake:
        channel = _channel(fake, username="surveyd", password="wrong")
        with pytest.raises(TransientChannelError, match="credentials") as failed:
            channel.send(_message())
        assert "535" in str(failed.value)
        assert fake.auth_attempts >= 1 and fake.messages == []


def test_without_credentials_an_auth_server_refuses_mail_from(fake):
    fake.username, fake.password = "surveyd", "s3cret"
    channel = _channel(fake)
    with pytest.raises(PermanentChannelError, match="530"):
        channel.send(_message())
    channel.close()


@pytest.mark.parametrize("reply, code", [
    ("550 5.1.1 <ayse@example.com>: Recipient address rejected: User unknown", "undeliverable"),
    ("550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", "undeliverable"),
    ("550 Requested action not taken: mailbox unavailable", "undeliverable"),
    ("553 mailbox name not allowed", "undeliverable"),
    ("550 5.7.1 Message rejected as spam by Content Filtering", "rejected"),
    ("552 5.2.2 Mailbox full", "rejected"),
], ids=["5.1.1", "5.1.10", "550-bare", "553-bare", "5.7.1", "552-full"])
def test_a_refused_recipient_is_permanent(channel, fake, reply, code):
    fake.reject_rcpt[TO] = reply
    with pytest.raises(PermanentChannelError) as refused:
        channel.send(_message())
    assert refused.value.code == code
    assert reply.split(" ", 1)[0] in str(refused.value) and reply.split(" ", 2)[2] in str(refused.value)
    assert fake.messages == []
    del fake.reject_rcpt[TO]
    _still_works(channel, fake)
    assert fake.connections == 1  # RSET, and the same connection carried on


def test_a_busy_recipient_is_transient(channel, fake):
    fake.rcpt_reply_next.append("451 4.3.0 Mailbox temporarily unavailable, try later")
    with pytest.raises(TransientChannelError, match="451 4.3.0"):
        channel.send(_message())
    _still_works(channel, fake)
    assert fake.connections == 1


def test_421_drops_the_connection(channel, fake):
    fake.rcpt_reply_next.append("421 4.7.0 Too many errors, closing")
    with pytest.raises(TransientChannelError, match="421"):
        channel.send(_message())
    _still_works(channel, fake)
    assert fake.connections == 2


@pytest.mark.parametrize("knob", ["data_reply_next", "data_command_reply_next"])
def test_451_at_data_is_transient(channel, fake, knob):
    getattr(fake, knob).append("451 4.7.1 Greylisted, try again later")
    with pytest.raises(TransientChannelError, match="451 4.7.1 Greylisted"):
        channel.send(_message())
    assert fake.messages == []
    _still_works(channel, fake)


@pytest.mark.parametrize("knob", ["data_reply_next", "data_command_reply_next"])
def test_554_at_data_is_rejected(channel, fake, knob):
    getattr(fake, knob).append("554 5.7.1 Message looks like spam")
    with pytest.raises(PermanentChannelError, match="554 5.7.1") as refused:
        channel.send(_message())
    assert refused.value.code == "rejected"
    assert fake.messages == []
    _still_works(channel, fake)


def test_no_reply_after_the_message_is_ambiguous_and_never_resent(channel, fake):
    fake.hang_up_after_data_next = 1
    with pytest.raises(AmbiguousChannelError):
        channel.send(_message())
    assert len(fake.messages) == 1  # the server had it although we never heard back
    _still_works(channel, fake)
    assert len(fake.messages) == 2  # the adapter did not quietly send the first one again
    assert fake.connections == 2


def test_a_closed_port_is_transient():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    channel = SmtpEmailChannel("127.0.0.1", port, SENDER, starttls=False, timeout=1.0)
    with pytest.raises(TransientChannelError, match="unreachable"):
        channel.send(_message())


def test_a_busy_greeting_is_transient():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def greet() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.sendall(b"421 4.3.2 Service not available, closing channel\r\n")

        thread = threading.Thread(target=greet, daemon=True)
        thread.start()
        channel = SmtpEmailChannel("127.0.0.1", listener.getsockname()[1], SENDER, starttls=False, timeout=2.0)
        with pytest.raises(TransientChannelError, match="421 4.3.2 Service not available"):
            channel.send(_message())
        thread.join(timeout=2.0)


def test_a_non_ascii_address_goes_out_with_smtputf8(channel, fake):
    channel.send(_message(to="kullanıcı@örnek.example"))
    (mail,) = fake.messages
    assert mail.rcpt_tos == ["kullanıcı@örnek.example"]
    assert mail.message["To"] == "kullanıcı@örnek.example"


def test_rate_limit_is_per_relay_and_lookup_unsupported(channel):
    assert channel.rate_limits(_message()) == [RateLimit("smtp:127.0.0.1", 10.0, burst=10)]
    slow = SmtpEmailChannel("relay.example", 587, SENDER, rate_per_second=0.5)
    assert slow.rate_limits(_message()) == [RateLimit("smtp:relay.example", 0.5, burst=1)]
    with pytest.raises(LookupUnsupported):
        channel.lookup(_message(), since=None)


def test_close_leaves_no_session_open(fake):
    channel = _channel(fake)
    barrier = threading.Barrier(3)

    def send(n: int) -> None:
        barrier.wait()
        channel.send(_message(dispatch_id=n))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    channel.close()
    assert fake.quits == fake.connections >= 1
