"""Email unsubscribe: the List-Unsubscribe headers every invitation carries, and the opt-out they lead to."""
from __future__ import annotations

from email.utils import parseaddr
from urllib.parse import quote

from surveyd.extensions import db
from surveyd.models import Channel, ConsentState, Contact
from surveyd.services.audience.contacts import set_consent
from surveyd.services.runtime import public_url, settings
from surveyd.services.tokens import sign_unsubscribe, verify_unsubscribe

ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058: the body a mail client POSTs, and the header that promises it


def unsubscribe_url(contact: Contact) -> str:
    """The page that unsubscribes this contact from email: a GET asks, a POST acts."""
    return f"{public_url()}/u/{sign_unsubscribe(contact.id, Channel.EMAIL.value, settings().secret_key)}"


def list_unsubscribe_headers(contact: Contact) -> dict[str, str]:
    """RFC 2369 and RFC 8058 headers: an https URL a mail client may POST to, and a mailto: fallback."""
    url = unsubscribe_url(contact)
    targets = [f"<{url}>"]
    mailbox = settings().mail_unsubscribe or _address(settings().mail_from)
    if mailbox:  # the subject carries the token, so whoever reads that mailbox can act on it
        targets.append(f"<mailto:{mailbox}?subject={quote('unsubscribe ' + url.rsplit('/', 1)[-1])}>")
    return {"List-Unsubscribe": ", ".join(targets), "List-Unsubscribe-Post": ONE_CLICK}


def _address(sender: str | None) -> str | None:
    """The bare address of a From value that may carry a display name."""
    return (parseaddr(sender)[1] or None) if sender else None


def contact_for(token: str) -> Contact | None:
    """The contact a genuine email unsubscribe token names, or None."""
    contact_id = verify_unsubscribe(token, Channel.EMAIL.value, settings().secret_key)
    return db.session.get(Contact, contact_id) if contact_id is not None else None


def unsubscribe(token: str, source: str, evidence: dict | None = None) -> Contact | None:
    """Opt the token's contact out of email at once (commits; a repeat changes nothing); None for a bad token.
    `evidence` (the request id, how it came) goes to the consent ledger."""
    contact = contact_for(token)
    if contact is None:
        return None
    if not contact.opted_out(Channel.EMAIL):
        set_consent(contact, Channel.EMAIL, ConsentState.OPTED_OUT, source, evidence)
        db.session.commit()
    return contact
