"""One SSRF-guarded HTTP POST for outgoing webhooks and Slack: check the URL, resolve, pin the checked IP.

Built on httpx (already here through python-telegram-bot) rather than http.client with a hand-made socket:
httpx connects to the IP we put in the URL, keeps the Host header we give it, and its "sni_hostname"
request extension makes TLS send and verify the original name, so pinning costs no TLS code of ours.
A fresh client per post: its pool is keyed by IP, and a kept-alive connection verified for one name
must never carry a request for another name on the same IP.
"""
from __future__ import annotations

import ipaddress
import math
import re
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Callable, Collection, Mapping
from urllib.parse import SplitResult, urlsplit

import httpx

from bots.channel import PermanentChannelError, TransientChannelError

BODY_LIMIT = 2000
RETRY_AFTER_CAP = 3600.0
RETRY_AFTER_STATUSES = frozenset({429, 502, 503, 504})
# What allow_private opens up (a receiver on the same host or LAN); metadata, link-local, multicast
# and reserved addresses stay refused whatever the setting.
PRIVATE_CLASSES = frozenset({"loopback", "private"})
# Cloud metadata services: AWS/GCP/Azure/OpenStack, AWS over IPv6, Alibaba, Azure's wire server.
METADATA = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "fd00:ec2::254", "100.100.100.200", "168.63.129.16"))
# Checked in this order: ::1 is loopback before ::/8 (IPv4-compatible and other old forms) is reserved.
_NETS = {
    "loopback": ("127.0.0.0/8", "::1/128"),
    "link_local": ("169.254.0.0/16", "fe80::/10"),
    "multicast": ("224.0.0.0/4", "ff00::/8"),
    "private": ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7", "fec0::/10"),
    "reserved": ("0.0.0.0/8", "240.0.0.0/4", "192.0.0.0/24", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24",
                 "198.18.0.0/15", "192.88.99.0/24", "::/8", "100::/64", "2001::/23", "2001:db8::/32",
                 "64:ff9b:1::/48", "3fff::/20", "5f00::/16"),
}
NETWORKS = [(code, ipaddress.ip_network(net)) for code, nets in _NETS.items() for net in nets]
GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# inet_aton's spellings (2130706433, 0x7f.1, 0177.0.0.1, 127.1): caught at input time, not only after resolution.
LOOSE_IPV4 = re.compile(r"^(0x[0-9a-f]*|\d+)(\.(0x[0-9a-f]*|\d+)){0,3}$", re.IGNORECASE)

Resolver = Callable[..., list]


class OutboundRefused(PermanentChannelError):
    """We will not send there: code is scheme, https_required, credentials, unresolvable or an address class."""


@dataclass(frozen=True)
class HttpAnswer:
    """What the receiver answered: status, lower-cased headers, the start of the body, how long it took."""

    status: int
    headers: Mapping[str, str]
    body: str
    elapsed_ms: int


def address_class(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """The refusal code of an address, unwrapped from IPv4-mapped, NAT64 and 6to4 forms first; or "public"."""
    ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
    if ip in METADATA:
        return "metadata"
    for code, network in NETWORKS:
        if ip.version == network.version and ip in network:
            return code
    if not ip.is_global or (ip.version == 6 and ip not in GLOBAL_UNICAST_V6):
        return "reserved"
    return "public"


def _refuse_address(address: str, allow_private: bool, host: str) -> None:
    """Raise OutboundRefused unless the address may be reached under this setting."""
    kind = address_class(address)
    if kind == "public" or (allow_private and kind in PRIVATE_CLASSES):
        return
    raise OutboundRefused(f"{host} is at {address}, a {kind.replace('_', '-')} address", code=kind)


def _literal_ip(host: str) -> str | None:
    """The address a host written as an IP literal stands for, in any spelling inet_aton accepts; else None."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if LOOSE_IPV4.match(host):
        try:
            return socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _split(url: str) -> tuple[SplitResult, str, int]:
    """The URL's parts, its host in ASCII (IDNA) and its port; OutboundRefused when malformed."""
    url = url.strip()
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in url):
        # urlsplit quietly drops tabs and newlines, and httpx refuses the rest: neither is what was typed.
        raise OutboundRefused("the URL holds control characters", code="unresolvable")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise OutboundRefused(f"only http and https URLs, not {parts.scheme or 'none'!r}", code="scheme")
    if parts.username is not None or parts.password is not None:
        raise OutboundRefused("the URL carries user credentials", code="credentials")
    # Messages never quote the URL: a Slack webhook URL is itself the credential.
    try:
        port = parts.port if parts.port is not None else (443 if parts.scheme.lower() == "https" else 80)
        host = (parts.hostname or "").encode("idna").decode("ascii")
    except (ValueError, UnicodeError) as exc:
        raise OutboundRefused(f"malformed host or port in the URL: {exc}", code="unresolvable") from exc
    if not host or port == 0:
        raise OutboundRefused("the URL names no host or port to reach", code="unresolvable")
    return parts, host, port


def _names_this_machine(host: str) -> bool:
    """localhost and every name under .localhost, which RFC 6761 reserves for loopback: refused before any lookup."""
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")


def check_url(url: str, allow_private: bool) -> None:
    """Refuse a URL at input time: scheme, credentials, an IP literal's class, http without allow_private."""
    parts, host, _ = _split(url)
    literal = _literal_ip(host)
    if literal is not None:
        _refuse_address(literal, allow_private, host)
    elif not allow_private and _names_this_machine(host):
        raise OutboundRefused(f"{host} is this machine", code="loopback")
    if parts.scheme.lower() == "http" and not allow_private:
        raise OutboundRefused("webhooks must use https", code="https_required")


def resolve_checked(host: str, port: int, allow_private: bool, resolver: Resolver = socket.getaddrinfo) -> list[str]:
    """Every address the host resolves to, in the resolver's order; refused if any one of them is refused."""
    name = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        infos = resolver(name, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        if exc.errno == socket.EAI_AGAIN:  # the DNS server failed to answer, which may pass
            raise TransientChannelError(f"could not resolve {name}: {exc}") from exc
        raise OutboundRefused(f"could not resolve {name}: {exc}", code="unresolvable") from exc
    except (OSError, UnicodeError) as exc:
        raise OutboundRefused(f"could not resolve {name}: {exc}", code="unresolvable") from exc
    addresses = list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))
    if not addresses:
        raise OutboundRefused(f"{name} resolves to no address", code="unresolvable")
    for address in addresses:
        _refuse_address(address, allow_private, name)
    return addresses


def post(url: str, body: bytes, headers: Mapping[str, str], *, timeout: float, allow_private: bool,
         resolver: Resolver = socket.getaddrinfo, ca_file: str | None = None) -> HttpAnswer:
    """POST body to url through a checked, pinned address; never follows redirects; network trouble is transient."""
    check_url(url, allow_private)
    parts, host, port = _split(url)
    literal = _literal_ip(host)
    addresses = [literal] if literal is not None else resolve_checked(host, port, allow_private, resolver)
    shown = f"[{host}]" if ":" in host else host
    send_headers = {name: value for name, value in headers.items() if name.lower() != "host"}
    send_headers["Host"] = shown if parts.port is None else f"{shown}:{port}"
    # A name, not an IP, goes in SNI; for an IP literal the URL already carries it.
    extensions = {} if literal is not None else {"sni_hostname": host}
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
    refused: httpx.ConnectError | None = None
    # trust_env=False: an HTTP(S)_PROXY from the environment would make the proxy, not us, pick the address.
    with httpx.Client(verify=verify, trust_env=False, follow_redirects=False, timeout=timeout) as client:
        for address in addresses:
            target = f"[{address}]" if ":" in address else address
            request = client.build_request("POST", f"{parts.scheme.lower()}://{target}:{port}{path}",
                                           content=body, headers=send_headers, extensions=extensions)
            try:
                return _exchange(client, request)
            except httpx.ConnectError as exc:
                # Nothing was sent, so the next address is safe to try.
                refused = exc
            except httpx.TimeoutException as exc:
                raise TransientChannelError(f"{host} at {address} timed out ({type(exc).__name__})") from exc
            except httpx.HTTPError as exc:
                raise TransientChannelError(f"{host} at {address}: {type(exc).__name__}: {exc}") from exc
    raise TransientChannelError(f"could not connect to {host} at {', '.join(addresses)}: {refused}") from refused


def _exchange(client: httpx.Client, request: httpx.Request) -> HttpAnswer:
    """Send one request and read at most BODY_LIMIT bytes of the answer."""
    started = time.monotonic()
    response = client.send(request, stream=True)
    data = b""
    try:
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) >= BODY_LIMIT:
                break
    except httpx.DecodingError:
        # A body we cannot unzip must not turn a delivered 2xx into a retry (and a duplicate).
        data = b"(undecodable body)"
    finally:
        response.close()
    elapsed_ms = int((time.monotonic() - started) * 1000)
    headers = {name.lower(): value for name, value in response.headers.items()}
    return HttpAnswer(response.status_code, headers, data[:BODY_LIMIT].decode("utf-8", "replace"), elapsed_ms)


def classify(answer: HttpAnswer, permanent_statuses: Collection[int] = ()) -> None:
    """Raise the channel error for a non-2xx answer: 410 gone, permanent_statuses rejected, the rest transient."""
    if 200 <= answer.status < 300:
        return
    summary = f"HTTP {answer.status}: {answer.body[:200]}".rstrip(": ")
    if answer.status == 410:
        raise PermanentChannelError(summary, code="gone")
    if answer.status in permanent_statuses:
        raise PermanentChannelError(summary, code="rejected")
    if answer.status in RETRY_AFTER_STATUSES:
        raise TransientChannelError(summary, retry_after=retry_after_seconds(answer.headers.get("retry-after")))
    if 300 <= answer.status < 400:
        summary = f"HTTP {answer.status} redirect to {answer.headers.get('location', '?')} (not followed)"
    raise TransientChannelError(summary)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from now (a number or an HTTP-date), at most RETRY_AFTER_CAP; None if absent or bad."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if math.isnan(seconds):
        return None
    return min(RETRY_AFTER_CAP, max(0.0, seconds))
