"""Survey emails as MIME messages, standard library only: stable Message-IDs, UTF-8 headers, text and HTML parts."""
from __future__ import annotations

import hashlib
import re
from email.header import Header, decode_header, make_header
from email.headerregistry import Address, AddressHeader, BaseHeader, UnstructuredHeader
from email.message import EmailMessage, Message
from email.policy import EmailPolicy
from email.utils import format_datetime, localtime, make_msgid, parseaddr

from bots.channel import OutboundMessage

MAX_LINE = 998  # RFC 5322 2.1.1, without the CRLF
FOLD_WIDTH = 78


class _SurveyPolicy(EmailPolicy):
    """SMTP's policy with two folding fixes, for the headers in `verbatim` and for non-ASCII text."""

    # The stdlib folds a long ASCII value it cannot break at a space (a List-Unsubscribe URL) into
    # RFC 2047 encoded words, which mail clients do not decode back into a URL.
    verbatim: frozenset[str] = frozenset()

    def fold(self, name: str, value: str) -> str:
        """The header as text."""
        return self._own_fold(name, value) or super().fold(name, value)

    def fold_binary(self, name: str, value: str) -> bytes:
        """The header as bytes."""
        folded = self._own_fold(name, value)
        return folded.encode("ascii") if folded else super().fold_binary(name, value)

    def _own_fold(self, name: str, value: str) -> str | None:
        text = str(value)
        if name.lower() in self.verbatim and text.isascii():
            folded = _fold_at_spaces(name, text, self.linesep)
            return folded if all(len(line) <= MAX_LINE for line in folded.split(self.linesep)) else None
        if self.utf8 or text.isascii():
            return None
        # Python's folder (3.11 at least) writes the space between two encoded words as bare
        # whitespace, which RFC 2047 decoders drop: "بودید؟ نظر" came back as "بودید؟نظر".
        # The legacy Header encoder keeps spaces inside the encoded words.
        if isinstance(value, AddressHeader):
            addresses = [_address(a, name, self.linesep) for a in value.addresses]
            return f"{name}: " + f",{self.linesep} ".join(addresses) + self.linesep
        if isinstance(value, UnstructuredHeader):
            return f"{name}: " + Header(text, "utf-8", header_name=name).encode(linesep=self.linesep) + self.linesep
        return None


def _address(address: Address, name: str, linesep: str) -> str:
    """One address with its display name in encoded words when it is not ASCII."""
    if address.display_name.isascii():
        return str(address)
    encoded = Header(address.display_name, "utf-8", header_name=name).encode(linesep=linesep)
    return f"{encoded} <{address.addr_spec}>"


# cte_type 7bit makes the stdlib pick quoted-printable or base64 for non-ASCII and long-lined
# bodies instead of raw 8bit, which a relay without 8BITMIME would have to reject.
_POLICY = _SurveyPolicy(linesep="\r\n", cte_type="7bit")


def _fold_at_spaces(name: str, text: str, linesep: str) -> str:
    """`Name: value`, a line break put before a space wherever a line would pass FOLD_WIDTH."""
    lines, line = [], f"{name}:"
    for word in text.split(" "):
        if word and len(line) + 1 + len(word) > FOLD_WIDTH and line != f"{name}:":
            lines.append(line)
            line = ""
        line += " " + word
    return linesep.join([*lines, line]) + linesep


def message_id(dispatch_id: int | None, reference: str | None, domain: str) -> str:
    """The Message-ID for a dispatch, the same on every resend so receivers can drop duplicates."""
    if dispatch_id is None:
        return make_msgid(domain=domain)
    digest = hashlib.sha256((reference or "").encode("utf-8")).hexdigest()[:16]
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        pass  # leave a domain idna cannot encode as it is; the id stays stable either way
    return f"<surveyd.{dispatch_id}.{digest}@{domain}>"


def sender_domain(sender: str) -> str:
    """The domain of a sender address, display name or not; "localhost" when it has none."""
    _, address = parseaddr(sender)
    domain = address.rpartition("@")[2].strip() if "@" in address else ""
    return domain or "localhost"


def build_email(message: OutboundMessage, sender: str, message_id: str) -> EmailMessage:
    """The MIME message: text/plain alone, or multipart/alternative with text first and HTML second."""
    extra_headers = dict(message.extra.get("headers") or {})
    # Non-ASCII addresses cannot be written as encoded words; they need raw UTF-8 headers (SMTPUTF8).
    utf8 = not (parseaddr(message.to)[1].isascii() and parseaddr(sender)[1].isascii())
    policy = _POLICY.clone(utf8=utf8, verbatim=frozenset(name.lower() for name in extra_headers))
    msg = EmailMessage(policy=policy)
    msg["From"] = sender
    msg["To"] = message.to
    if message.subject is not None:
        msg["Subject"] = message.subject
    msg["Date"] = format_datetime(localtime())
    msg["Message-ID"] = message_id
    msg["MIME-Version"] = "1.0"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(message.text, charset="utf-8")
    if message.html:
        msg.add_alternative(message.html, subtype="html", charset="utf-8")
        for part in msg.iter_parts():
            del part["MIME-Version"]  # add_alternative stamps the HTML part too; it belongs on the top level only
    # Only now: set_content drops, and add_alternative moves into the first part, every Content-* header.
    msg["Content-Language"] = message.locale
    for name, value in extra_headers.items():
        msg[name] = value
    return msg


def header_list(msg: Message) -> list[tuple[str, str]]:
    """The message's headers in order as (name, decoded value), for showing in the sandbox."""
    pairs = []
    for name, value in msg.items():
        if not isinstance(value, BaseHeader):
            # compat32 messages hand back the raw text, encoded words and folds included.
            value = re.sub(r"\r?\n(?=[ \t])", "", str(make_header(decode_header(value))))
        pairs.append((name, str(value)))
    return pairs
