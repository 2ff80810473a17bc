"""Email through any SMTP relay with smtplib: TLS verified, connections pooled, replies mapped to channel errors."""
from __future__ import annotations

import re
import smtplib
import socket
import ssl as ssl_module
import threading
import time
from email.utils import parseaddr
from typing import Callable

from bots.channel import (
    AmbiguousChannelError,
    ChannelAdapter,
    ChannelError,
    OutboundMessage,
    PermanentChannelError,
    RateLimit,
    SendResult,
    TransientChannelError,
)
from bots.email_message import build_email, message_id, sender_domain

ENHANCED_CODE = re.compile(r"^[245]\.(\d{1,3})\.\d{1,3}(?!\d)")  # RFC 3463 class.subject.detail
# Without an enhanced code these mean "no such mailbox" (or a mailbox name not allowed) at RCPT.
NO_MAILBOX_CODES = frozenset({550, 551, 553})
QUIT_TIMEOUT = 2.0  # a server too slow to answer QUIT is simply cut off


class _Stale(Exception):
    """The connection was gone when MAIL FROM was sent, so the server accepted nothing."""


class SmtpEmailChannel(ChannelAdapter):
    """Sends each message as one SMTP transaction over a small pool of kept-open connections."""

    name = "email"

    def __init__(self, host: str, port: int, sender: str, username: str | None = None, password: str | None = None,
                 starttls: bool = True, ssl: bool = False, ca_file: str | None = None, timeout: float = 15.0,
                 rate_per_second: float = 10.0, pool_size: int = 4, idle_seconds: float = 30.0):
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.host, self.port, self.sender = host, port, sender
        self.envelope_from = parseaddr(sender)[1]
        if "@" not in self.envelope_from:
            raise ValueError(f"sender has no address: {sender!r}")
        self.username, self._password = username, password
        self.starttls, self.ssl, self.ca_file = starttls, ssl, ca_file
        self.timeout, self.rate_per_second = timeout, rate_per_second
        self.pool_size, self.idle_seconds = pool_size, idle_seconds
        self._where = f"smtp {host}:{port}"
        self._lock = threading.Lock()
        self._idle: list[tuple[smtplib.SMTP, float]] = []  # (connection, when it was last put back)
        # Caps open connections, not just idle ones: relays limit concurrent sessions per client.
        self._slots = threading.BoundedSemaphore(pool_size)
        self._hostname: str | None = None
        # Certificate and host name are both checked; made once, so a missing ca_file fails here.
        self._context = ssl_module.create_default_context(cafile=ca_file) if (ssl or starttls) else None

    def send(self, message: OutboundMessage) -> SendResult:
        """Deliver one message to message.to; raise Transient, Permanent or Ambiguous errors when that fails."""
        mid = message_id(message.dispatch_id, message.reference, sender_domain(self.sender))
        data = build_email(message, self.sender, mid).as_bytes()
        if not self._slots.acquire(timeout=self.timeout):
            raise TransientChannelError(f"{self._where}: all {self.pool_size} connections stayed busy")
        try:
            reply = self._send(parseaddr(message.to)[1] or message.to, data)
        finally:
            self._slots.release()
        return SendResult(provider_message_id=mid, status="sent", detail={"reply": reply})

    def rate_limits(self, message: OutboundMessage) -> list[RateLimit]:
        """One bucket per relay host, shared by every worker; none when rate_per_second <= 0."""
        if self.rate_per_second <= 0:
            return []
        return [RateLimit(f"smtp:{self.host}", self.rate_per_second, burst=max(1, int(self.rate_per_second)))]

    def close(self) -> None:
        """QUIT every idle pooled connection."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            _quit(conn)

    def _send(self, to: str, data: bytes) -> str:
        conn, reused = self._take()
        while True:
            try:
                return self._attempt(conn, to, data)
            except _Stale as stale:
                if not reused:
                    raise TransientChannelError(f"{self._where} hung up at MAIL FROM: {stale}") from stale
            # A pooled connection the server had closed meanwhile: nothing was accepted, one fresh try is safe.
            conn, reused = self._connect(), False

    def _attempt(self, conn: smtplib.SMTP, to: str, data: bytes) -> str:
        """One transaction on conn, which afterwards goes back to the pool (after RSET) or is closed."""
        try:
            reply = self._transaction(conn, to, data)
        except (_Stale, AmbiguousChannelError):
            # After an unanswered DATA the late reply may still arrive and would answer our next command.
            conn.close()
            raise
        except ChannelError:
            self._recycle(conn)
            raise
        except BaseException:
            conn.close()
            raise
        self._give(conn)
        return reply

    def _transaction(self, conn: smtplib.SMTP, to: str, data: bytes) -> str:
        """MAIL, RCPT and DATA; the final DATA reply as "code text"."""
        options: list[str] = []
        if not (to.isascii() and self.envelope_from.isascii()):
            if not conn.has_extn("smtputf8"):
                raise PermanentChannelError(f"{self._where} does not offer SMTPUTF8 for a non-ASCII address",
                                            code="rejected")
            options = ["SMTPUTF8", "BODY=8BITMIME"]
        try:
            code, text = _reply(conn.mail(self.envelope_from, options))
        except OSError as exc:
            raise _Stale(str(exc) or type(exc).__name__) from exc
        if code == 421:
            raise _Stale(f"{code} {text}")
        if code != 250:
            raise self._refused(conn, "MAIL FROM", code, text)
        code, text = self._step("RCPT TO", conn.rcpt, to)
        if code not in (250, 251):
            raise self._refused(conn, f"RCPT TO <{to}>", code, text)
        code, text = self._step("DATA", conn.docmd, "DATA")
        if code != 354:
            raise self._refused(conn, "DATA", code, text)
        try:
            # sendall raising means the final dot did not all leave us, so the server cannot have taken it.
            conn.send(_dot_stuffed(data))
        except OSError as exc:
            raise TransientChannelError(f"{self._where} connection lost while sending the message: {exc}") from exc
        try:
            code, text = _reply(conn.getreply())
        except OSError as exc:
            raise AmbiguousChannelError(f"{self._where} took the whole message but gave no reply: {exc}") from exc
        if code != 250:
            raise self._refused(conn, "end of DATA", code, text)
        return f"{code} {text}"

    def _step(self, stage: str, call: Callable[[str], tuple[int, bytes]], arg: str) -> tuple[int, str]:
        """One command after MAIL FROM; a lost connection there is transient."""
        try:
            return _reply(call(arg))
        except OSError as exc:
            raise TransientChannelError(f"{self._where} connection lost at {stage}: {exc}") from exc

    def _refused(self, conn: smtplib.SMTP, stage: str, code: int, text: str) -> ChannelError:
        """The error for a refusal; at RCPT TO a mailbox that does not exist is "undeliverable"."""
        summary = f"{self._where} refused {stage}: {code} {text}"
        if code == 421 or not 400 <= code < 600:
            conn.close()  # the server is closing, or we no longer agree on where the dialogue is
        if not 500 <= code < 600:
            return TransientChannelError(summary)
        enhanced = ENHANCED_CODE.match(text)
        # Subject 1 is addressing: 5.1.1 bad mailbox, 5.1.2 bad system, 5.1.10 null MX.
        no_mailbox = enhanced.group(1) == "1" if enhanced else code in NO_MAILBOX_CODES
        undeliverable = stage.startswith("RCPT") and no_mailbox
        return PermanentChannelError(summary, code="undeliverable" if undeliverable else "rejected")

    def _take(self) -> tuple[smtplib.SMTP, bool]:
        """A pooled connection idle for at most idle_seconds (True), or a new one (False)."""
        now = time.monotonic()
        with self._lock:
            expired = [conn for conn, since in self._idle if now - since > self.idle_seconds]
            self._idle = [(conn, since) for conn, since in self._idle if now - since <= self.idle_seconds]
            conn = self._idle.pop()[0] if self._idle else None
        for old in expired:
            _quit(old)
        return (conn, True) if conn is not None else (self._connect(), False)

    def _give(self, conn: smtplib.SMTP) -> None:
        with self._lock:
            if len(self._idle) < self.pool_size:
                self._idle.append((conn, time.monotonic()))
                return
        _quit(conn)

    def _recycle(self, conn: smtplib.SMTP) -> None:
        """Back to the pool after a refusal, once RSET has cleared the half-done transaction."""
        try:
            if conn.sock is not None and conn.rset()[0] == 250:
                self._give(conn)
                return
        except OSError:
            pass
        conn.close()

    def _connect(self) -> smtplib.SMTP:
        """A connection that has said EHLO, is encrypted as configured and has logged in."""
        if self._hostname is None:
            self._hostname = socket.getfqdn()  # once: smtplib would look it up on every connection
        conn: smtplib.SMTP | None = None
        try:
            if self.ssl:
                conn = smtplib.SMTP_SSL(self.host, self.port, local_hostname=self._hostname, timeout=self.timeout,
                                        context=self._context)
            else:
                conn = smtplib.SMTP(self.host, self.port, local_hostname=self._hostname, timeout=self.timeout)
            conn.ehlo_or_helo_if_needed()
            if self.starttls and not self.ssl:
                if not conn.has_extn("starttls"):
                    raise TransientChannelError(f"{self._where} does not offer STARTTLS; not sending in clear text")
                conn.starttls(context=self._context)
                conn.ehlo()
            if self.username:
                conn.login(self.username, self._password or "")
            return conn
        except Exception as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, ChannelError):
                raise
            raise self._setup_error(exc) from exc

    def _setup_error(self, exc: Exception) -> TransientChannelError:
        """Whatever stopped a session from opening: worth trying again once the server or the config is fixed."""
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return TransientChannelError(f"{self._where} rejected the credentials for {self.username!r} (bad "
                                         f"credentials?): {exc.smtp_code} {_text(exc.smtp_error)}")
        if isinstance(exc, smtplib.SMTPResponseException):  # the greeting, EHLO or STARTTLS refused
            return TransientChannelError(f"{self._where} refused the session: {exc.smtp_code} {_text(exc.smtp_error)}")
        if isinstance(exc, ssl_module.SSLError):  # certificate or host name not trusted, or no common protocol
            return TransientChannelError(f"{self._where} TLS handshake failed: {exc}")
        if isinstance(exc, smtplib.SMTPException) and not isinstance(exc, smtplib.SMTPServerDisconnected):
            return TransientChannelError(f"{self._where} session setup failed: {exc}")  # e.g. no common AUTH
        return TransientChannelError(f"{self._where} unreachable: {exc}")  # refused, DNS, timeout, hung up


def _text(raw: bytes | str) -> str:
    """A reply's text on one line."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return " ".join(text.split())


def _reply(answer: tuple[int, bytes]) -> tuple[int, str]:
    return answer[0], _text(answer[1])


def _dot_stuffed(data: bytes) -> bytes:
    """The DATA payload: leading dots doubled, CRLF-terminated, then the lone dot."""
    data = re.sub(rb"(?m)^\.", b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def _quit(conn: smtplib.SMTP) -> None:
    """Say QUIT without waiting long; a connection that is already dead is simply closed."""
    try:
        if conn.sock is not None:
            conn.sock.settimeout(QUIT_TIMEOUT)
            conn.quit()
    except OSError:
        pass
    finally:
        conn.close()
