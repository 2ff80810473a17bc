"""A real SMTP server on 127.0.0.1 (aiosmtpd), with STARTTLS or SMTPS from a trustme CA, AUTH and scripted faults."""
from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
import tempfile
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Session

SERVER_NAME = "fake-smtp.test"  # given so aiosmtpd does not look up our FQDN on every connection


@dataclass(frozen=True)
class ReceivedMail:
    """One message the fake took: its envelope, the bytes after DATA, and how the session was secured."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool
    auth_user: str | None

    @property
    def message(self) -> EmailMessage:
        """The data parsed with the modern email policy."""
        return email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore[return-value]


class _QuietSession(Session):
    """aiosmtpd's Session without the deprecation warning it logs itself on every successful AUTH."""

    login_data = property(lambda self: self._login_data, lambda self, value: setattr(self, "_login_data", value))


class _Session(SMTP):
    """aiosmtpd's SMTP protocol, one per connection, telling its fake when it opens and closes."""

    def __init__(self, fake: FakeSmtp, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fake = fake
        self.hang_up = False

    def _create_session(self) -> Session:
        return _QuietSession(self.loop)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        upgrading = self._original_transport is not None  # called again once STARTTLS has shaken hands
        super().connection_made(transport)
        if not upgrading:
            self.fake._opened(self)

    def connection_lost(self, error: Exception | None) -> None:
        self.fake._closed(self)
        super().connection_lost(error)

    async def push(self, status: Any) -> None:
        """Send a reply, unless the handler asked to hang up instead of giving it."""
        if self.hang_up and self.transport is not None:
            self.hang_up = False
            self.transport.close()
            return
        await super().push(status)

    async def smtp_DATA(self, arg: str) -> None:
        """DATA, or a scripted refusal of the DATA command itself (before 354)."""
        ready = self.envelope is not None and bool(self.envelope.rcpt_tos)
        scripted = self.fake._next(self.fake.data_command_reply_next) if ready else None
        if scripted is not None:
            await self.push(scripted)
            return
        await super().smtp_DATA(arg)


class _Handler:
    """The aiosmtpd hooks: AUTH enforcement, scripted RCPT and DATA replies, and storing mail."""

    def __init__(self, fake: FakeSmtp):
        self.fake = fake

    async def handle_MAIL(self, server: _Session, session: Any, envelope: Any, address: str,
                          mail_options: list[str]) -> str:
        """Take the sender, once authenticated when the fake wants credentials."""
        # Enforced here rather than with auth_required, which warns when TLS is not required too.
        if self.fake.username and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: _Session, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        """Take the recipient, or give the scripted or configured refusal."""
        reply = self.fake._next(self.fake.rcpt_reply_next) or self.fake.reject_rcpt.get(address) or "250 OK"
        if reply.startswith("2"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server: _Session, session: Any, envelope: Any) -> str:
        """Store the message, give the scripted reply, or take it and hang up without a word."""
        fake = self.fake
        with fake._lock:
            hang_up = fake.hang_up_after_data_next > 0
            if hang_up:
                fake.hang_up_after_data_next -= 1
        reply = None if hang_up else fake._next(fake.data_reply_next)
        # Stored on a hang-up too: a server whose reply was lost may well deliver what it took.
        if reply is None or reply.startswith("2"):
            tls = server.transport is not None and server.transport.get_extra_info("ssl_object") is not None
            user = session.auth_data if session.authenticated else None
            fake._store(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content, tls,
                                     user))
        server.hang_up = hang_up
        return reply or f"250 2.0.0 Ok: queued as {len(fake.messages)}"

    async def handle_QUIT(self, server: _Session, session: Any, envelope: Any) -> str:
        """Count the goodbye, so tests can see pooled connections being closed politely."""
        with self.fake._lock:
            self.fake.quits += 1
        return "221 2.0.0 Bye"


class _Controller(Controller):
    """aiosmtpd's threaded Controller, bound to a free port and making our _Session per connection."""

    def __init__(self, fake: FakeSmtp, **kwargs: Any):
        self.fake = fake
        super().__init__(_Handler(fake), hostname="127.0.0.1", port=0, ready_timeout=10.0,
                         server_hostname=SERVER_NAME, **kwargs)

    def factory(self) -> SMTP:
        """The protocol object for one new connection."""
        return _Session(self.fake, self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        # start() connects to hostname:port to make aiosmtpd build its first session; with port 0
        # that needs the port the OS picked, which is known only once the server is listening.
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class FakeSmtp:
    """`with FakeSmtp() as smtp:` serves SMTP on smtp.host:smtp.port until the block ends."""

    host = "127.0.0.1"

    def __init__(self, username: str | None = None, password: str | None = None, tls: bool = False,
                 implicit_tls: bool = False):
        self.username, self.password = username, password
        self.tls, self.implicit_tls = tls, implicit_tls
        self.ca_file: str | None = None
        self.messages: list[ReceivedMail] = []
        self.connections = 0  # TCP sessions opened by clients (not the Controller's own probe)
        self.auth_attempts = 0
        self.quits = 0
        # Knobs: address -> full reply line; replies for the next RCPTs / end-of-DATAs / DATA commands.
        self.reject_rcpt: dict[str, str] = {}
        self.rcpt_reply_next: list[str] = []
        self.data_reply_next: list[str] = []
        self.data_command_reply_next: list[str] = []
        self.hang_up_after_data_next = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._sessions: set[_Session] = set()
        self._controller: _Controller | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._controller is None:
            raise RuntimeError("FakeSmtp is not started")
        return self._controller.port

    def start(self) -> FakeSmtp:
        """Listen on a free port of 127.0.0.1, serving from aiosmtpd's thread."""
        kwargs: dict[str, Any] = {"authenticator": self._authenticate}
        if self.tls or self.implicit_tls:
            context = self._server_context()
            if self.implicit_tls:
                kwargs["ssl_context"] = context
            else:
                kwargs["tls_context"] = context
        # aiosmtpd only counts STARTTLS as TLS; over SMTPS (or plain text) AUTH must be allowed explicitly.
        kwargs["auth_require_tls"] = self.tls and not self.implicit_tls
        self._controller = _Controller(self, **kwargs)
        self._controller.start()
        with self._lock:
            self.connections = 0  # forget the Controller's own probe connection
        return self

    def stop(self) -> None:
        """Drop every session, stop the server and remove the CA file."""
        try:
            if self._controller is not None:
                self.close_connections()
                self._controller.stop()
        finally:
            self._controller = None
            if self._tmp is not None:
                self._tmp.cleanup()
                self._tmp = None

    def __enter__(self) -> FakeSmtp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def close_connections(self, timeout: float = 5.0) -> None:
        """Cut every open session from the server's side (a TCP reset), as a relay does with idle clients."""
        controller = self._controller
        if controller is None:
            return
        with self._lock:
            sessions = list(self._sessions)

        async def cut() -> None:
            for session in sessions:
                # The socket's own transport: after a TLS handshake that failed late (TLS 1.3 finishes the
                # server's side first) aiosmtpd's TLS transport may never report the loss to the session.
                raw = session._original_transport or session.transport
                if raw is not None:
                    raw.abort()
            # abort() closes the socket from a callback it schedules; let those run before returning.
            for _ in range(3):
                await asyncio.sleep(0)

        asyncio.run_coroutine_threadsafe(cut(), controller.loop).result(timeout)

    def wait_for(self, n: int, timeout: float = 5.0) -> list[ReceivedMail]:
        """The messages once at least n have arrived; TimeoutError if they do not in time."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.messages) >= n, timeout):
                raise TimeoutError(f"{len(self.messages)} of {n} messages arrived")
            return list(self.messages)

    def _server_context(self) -> ssl.SSLContext:
        ca = trustme.CA()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self._tmp = tempfile.TemporaryDirectory(prefix="fake-smtp-")
        path = Path(self._tmp.name) / "ca.pem"
        ca.cert_pem.write_to_path(str(path))
        self.ca_file = str(path)
        return context

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        with self._lock:
            self.auth_attempts += 1
        login, password = auth_data.login.decode(), auth_data.password.decode()
        if self.username is not None and (login, password) == (self.username, self.password):
            return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)

    def _next(self, replies: list[str]) -> str | None:
        with self._lock:
            return replies.pop(0) if replies else None

    def _store(self, mail: ReceivedMail) -> None:
        with self._changed:
            self.messages.append(mail)
            self._changed.notify_all()

    def _opened(self, session: _Session) -> None:
        with self._changed:
            self.connections += 1
            self._sessions.add(session)

    def _closed(self, session: _Session) -> None:
        with self._changed:
            self._sessions.discard(session)
            self._changed.notify_all()
