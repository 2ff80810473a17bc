"""The SSRF-guarded POST: address classes through fake resolvers, odd literals through the real one, and real
requests (plain and TLS) to a local receiver."""
from __future__ import annotations

import socket
import sys
from datetime import datetime, timezone

import pytest
import trustme

from bots.channel import PermanentChannelError, TransientChannelError
from bots.outbound_http import (
    HttpAnswer,
    OutboundRefused,
    address_class,
    check_url,
    classify,
    post,
    resolve_checked,
    retry_after_seconds,
)
from tests.fakes.http_receiver import HttpReceiver

HOST = "hooks.example.test"
PUBLIC_V4, PUBLIC_V6 = "93.184.216.34", "2606:4700:4700::1111"


def resolver_for(*addresses: str, calls: list | None = None):
    """A getaddrinfo stand-in that answers every name with these addresses (and notes each lookup)."""
    def resolve(host, port, family=0, type=0, proto=0, flags=0):
        if calls is not None:
            calls.append(host)
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0)) if ":" in a
                else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]
    return resolve


def failing_resolver(errno: int):
    def resolve(host, port, family=0, type=0, proto=0, flags=0):
        raise socket.gaierror(errno, "scripted failure")
    return resolve


def refusal(call, *args, **kwargs) -> str:
    """The code of the OutboundRefused that call raises."""
    with pytest.raises(OutboundRefused) as caught:
        call(*args, **kwargs)
    assert isinstance(caught.value, PermanentChannelError)
    return caught.value.code


def answer(status: int, headers: dict[str, str] | None = None, body: str = "") -> HttpAnswer:
    return HttpAnswer(status=status, headers=headers or {}, body=body, elapsed_ms=1)


@pytest.fixture
def receiver():
    with HttpReceiver() as server:
        yield server


REFUSED = [
    ("127.0.0.1", "loopback"), ("10.0.0.1", "private"), ("172.16.5.4", "private"), ("192.168.1.1", "private"),
    ("100.64.0.1", "private"), ("169.254.169.254", "metadata"), ("::1", "loopback"), ("fc00::1", "private"),
    ("fe80::1", "link_local"), ("ff02::1", "multicast"), ("224.0.0.1", "multicast"), ("0.0.0.0", "reserved"),
    ("::ffff:127.0.0.1", "loopback"), ("169.254.1.1", "link_local"), ("fd00:ec2::254", "metadata"),
    ("100.100.100.200", "metadata"), ("240.0.0.1", "reserved"), ("255.255.255.255", "reserved"),
    ("::", "reserved"), ("192.0.2.1", "reserved"), ("2001:db8::1", "reserved"),
    # NAT64 and 6to4 carry an IPv4 address inside; it is the one that counts.
    ("64:ff9b::7f00:1", "loopback"), ("64:ff9b::a00:1", "private"), ("2002:a9fe:a9fe::1", "metadata"),
    ("::ffff:10.1.2.3", "private"), ("fe80::1%eth0", "link_local"), ("fec0::1", "private"),
    ("198.18.0.1", "reserved"), ("4000::1", "reserved"),
]


@pytest.mark.parametrize(("address", "code"), REFUSED)
def test_a_name_resolving_to_a_refused_address_is_refused(address, code):
    assert refusal(resolve_checked, HOST, 443, False, resolver=resolver_for(address)) == code
    assert refusal(post, f"https://{HOST}/hook", b"{}", {}, timeout=5, allow_private=False,
                   resolver=resolver_for(address)) == code


@pytest.mark.parametrize("addresses", [(PUBLIC_V4, "10.0.0.1"), ("10.0.0.1", PUBLIC_V4), (PUBLIC_V6, "::1")])
def test_one_refused_address_among_public_ones_refuses_the_name(addresses):
    assert refusal(resolve_checked, HOST, 443, False, resolver=resolver_for(*addresses)) in ("private", "loopback")


def test_public_addresses_pass_in_the_resolvers_order():
    resolver = resolver_for(PUBLIC_V6, PUBLIC_V4, PUBLIC_V4)
    assert resolve_checked(HOST, 443, False, resolver=resolver) == [PUBLIC_V6, PUBLIC_V4]
    assert address_class(PUBLIC_V4) == address_class(PUBLIC_V6) == "public"


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.1", "100.64.0.1", "fc00::1", "::ffff:192.168.1.1"])
def test_allow_private_opens_loopback_and_private_ranges(address):
    assert resolve_checked(HOST, 443, True, resolver=resolver_for(address)) == [address]


@pytest.mark.parametrize(("address", "code"), [
    ("169.254.169.254", "metadata"), ("fd00:ec2::254", "metadata"), ("fe80::1", "link_local"),
    ("224.0.0.1", "multicast"), ("0.0.0.0", "reserved"), ("240.0.0.1", "reserved"),
])
def test_allow_private_never_opens_metadata_link_local_multicast_or_reserved(address, code):
    assert refusal(resolve_checked, HOST, 443, True, resolver=resolver_for(address)) == code


@pytest.mark.parametrize("url", ["https://2130706433/", "https://127.1/", "https://0x7f.1/", "https://0177.0.0.1/",
                                 "https://[::1]/", "https://[::ffff:127.0.0.1]/", "http://2130706433/",
                                 "http://127.1/", "http://[::1]/"])
def test_odd_loopback_literals_are_refused_at_input_time(url):
    assert refusal(check_url, url, False) == "loopback"


@pytest.mark.parametrize("host", ["2130706433", "127.1", "0x7f.1"])
def test_odd_literals_are_refused_on_the_addresses_the_real_resolver_gives(host):
    assert refusal(resolve_checked, host, 443, False) == "loopback"


def test_post_refuses_odd_literals_before_any_connection(receiver):
    for url in (f"https://2130706433:{receiver.port}/", f"https://127.1:{receiver.port}/",
                f"https://[::1]:{receiver.port}/"):
        assert refusal(post, url, b"{}", {}, timeout=5, allow_private=False) == "loopback"
    assert receiver.requests == []


def test_check_url_does_not_resolve_names(monkeypatch):
    def no_lookups(*args, **kwargs):
        raise AssertionError("check_url resolved a name")
    monkeypatch.setattr(socket, "getaddrinfo", no_lookups)
    check_url(f"https://{HOST}/hook?x=1", allow_private=False)


@pytest.mark.parametrize(("url", "code"), [
    ("ftp://hooks.example.test/", "scheme"), ("file:///etc/passwd", "scheme"), ("gopher://x/", "scheme"),
    ("hooks.example.test/hook", "scheme"), ("https://user:pw@hooks.example.test/", "credentials"),
    ("https://user@hooks.example.test/", "credentials"), ("https://:pw@hooks.example.test/", "credentials"),
    ("http://hooks.example.test/", "https_required"), ("https:///hook", "unresolvable"),
    ("https://hooks.example.test:99999/", "unresolvable"), ("https://hooks.example.test:0/", "unresolvable"),
    ("https://hooks.example.test/a\x00b", "unresolvable"), ("https://hooks.exa\tmple.test/", "unresolvable"),
])
def test_check_url_refusals(url, code):
    assert refusal(check_url, url, False) == code


def test_http_is_fine_with_allow_private():
    check_url(f"http://{HOST}:8080/hook", allow_private=True)
    check_url("http://10.1.2.3/hook", allow_private=True)


def test_unresolvable_names():
    assert refusal(resolve_checked, HOST, 443, False, resolver=failing_resolver(socket.EAI_NONAME)) == "unresolvable"
    assert refusal(resolve_checked, HOST, 443, False, resolver=resolver_for()) == "unresolvable"
    # A DNS server that failed to answer may answer later.
    with pytest.raises(TransientChannelError):
        resolve_checked(HOST, 443, False, resolver=failing_resolver(socket.EAI_AGAIN))


def test_allow_private_reaches_the_real_local_receiver(receiver):
    receiver.answer(201, {"X-Receipt": "r-1"}, "stored")
    got = post(receiver.base_url + "/hook?x=1", b'{"a": 1}', {"content-type": "application/json"},
               timeout=5, allow_private=True)
    assert (got.status, got.body, got.headers["x-receipt"]) == (201, "stored", "r-1")
    (request,) = receiver.requests
    assert (request.method, request.path, request.body) == ("POST", "/hook?x=1", b'{"a": 1}')
    assert request.headers["content-type"] == "application/json"


def test_without_allow_private_the_local_receiver_is_never_reached(receiver):
    assert refusal(post, receiver.base_url + "/hook", b"{}", {}, timeout=5, allow_private=False) == "loopback"
    assert refusal(post, f"https://{HOST}:{receiver.port}/", b"{}", {}, timeout=5, allow_private=False,
                   resolver=resolver_for("127.0.0.1")) == "loopback"
    assert receiver.requests == []


def test_a_redirect_is_answered_not_followed(receiver):
    with HttpReceiver() as target:
        receiver.redirect(target.base_url + "/stolen")
        got = post(receiver.base_url + "/hook", b"{}", {}, timeout=5, allow_private=True)
        assert got.status == 302 and got.headers["location"] == target.base_url + "/stolen"
        assert len(receiver.requests) == 1
        assert target.requests == []
    with pytest.raises(TransientChannelError, match="not followed"):
        classify(got)


def test_the_checked_ip_is_pinned_and_the_name_kept_in_host(receiver, monkeypatch):
    calls: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def only_localhost(host, *args, **kwargs):
        # Any lookup of the name besides our resolver's would be a second, unchecked answer.
        assert host != HOST, "the name was looked up again"
        return real_getaddrinfo(host, *args, **kwargs)
    monkeypatch.setattr(socket, "getaddrinfo", only_localhost)
    got = post(f"http://{HOST}:{receiver.port}/alerts", b"{}", {}, timeout=5, allow_private=True,
               resolver=resolver_for("127.0.0.1", calls=calls))
    assert got.status == 200
    assert calls == [HOST]
    assert receiver.requests[0].headers["host"] == f"{HOST}:{receiver.port}"


def test_tls_uses_the_original_name_for_sni_and_the_certificate(tmp_path):
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with HttpReceiver(tls_cert=ca.issue_cert(HOST)) as receiver:
        options = dict(timeout=5, allow_private=True, resolver=resolver_for("127.0.0.1"))
        got = post(f"https://{HOST}:{receiver.port}/hook", b"{}", {}, ca_file=str(ca_file), **options)
        assert got.status == 200
        assert receiver.server_names == [HOST]
        assert receiver.requests[0].headers["host"] == f"{HOST}:{receiver.port}"
        # Same IP, another name: the certificate is checked against the name, so it fails.
        with pytest.raises(TransientChannelError, match="not valid for 'other.example.test'"):
            post(f"https://other.example.test:{receiver.port}/", b"{}", {}, ca_file=str(ca_file), **options)
        with pytest.raises(TransientChannelError, match="CERTIFICATE_VERIFY_FAILED"):
            post(f"https://{HOST}:{receiver.port}/", b"{}", {}, **options)  # the system CAs do not know trustme's
        assert len(receiver.requests) == 1


def test_a_stalled_receiver_times_out_as_transient(receiver):
    receiver.stall()
    try:
        with pytest.raises(TransientChannelError, match="timed out"):
            post(receiver.base_url + "/hook", b"{}", {}, timeout=0.2, allow_private=True)
        assert receiver.wait_for_requests(1)
    finally:
        receiver.release()


def test_connection_refused_is_transient():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(TransientChannelError, match="could not connect"):
        post(f"http://127.0.0.1:{port}/", b"{}", {}, timeout=5, allow_private=True)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux answers all of 127/8 on loopback")
def test_an_address_that_refuses_the_connection_gives_way_to_the_next(receiver):
    got = post(f"http://{HOST}:{receiver.port}/", b"{}", {}, timeout=5, allow_private=True,
               resolver=resolver_for("127.0.0.2", "127.0.0.1"))
    assert got.status == 200 and len(receiver.requests) == 1


def test_the_answer_keeps_2000_bytes_of_body_and_lower_cased_headers(receiver):
    receiver.answer(500, {"X-Trace-Id": "abc"}, "é" * 3000)
    receiver.answer(200, {}, "a" + "é" * 1500)
    got = post(receiver.base_url, b"{}", {}, timeout=5, allow_private=True)
    assert got.status == 500 and got.headers["x-trace-id"] == "abc"
    assert got.body == "é" * 1000 and got.elapsed_ms >= 0
    # Cut inside a character: the half left over is decoded leniently, not an error.
    assert post(receiver.base_url, b"{}", {}, timeout=5, allow_private=True).body == "a" + "é" * 999 + "\ufffd"


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_classify_passes_2xx(status):
    classify(answer(status))


def test_classify_410_is_gone():
    with pytest.raises(PermanentChannelError) as caught:
        classify(answer(410, body="channel_is_archived"))
    assert caught.value.code == "gone" and "channel_is_archived" in str(caught.value)


@pytest.mark.parametrize(("status", "header", "expected"), [
    (429, "7", 7), (503, "120", 120), (502, "99999", 3600), (504, None, None), (429, "soon", None),
    (503, "-5", 0),
])
def test_classify_throttling_and_gateway_errors_carry_retry_after(status, header, expected):
    with pytest.raises(TransientChannelError) as caught:
        classify(answer(status, {"retry-after": header} if header else {}))
    assert caught.value.retry_after == expected


@pytest.mark.parametrize("status", [500, 501, 408, 301, 302, 307, 400, 401, 403, 404, 409, 422, 100])
def test_classify_every_other_failure_is_transient_by_default(status):
    with pytest.raises(TransientChannelError) as caught:
        classify(answer(status, {"retry-after": "7"}))
    assert not isinstance(caught.value, PermanentChannelError)


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_classify_permanent_statuses_are_rejected(status):
    with pytest.raises(PermanentChannelError) as caught:
        classify(answer(status, body="no_service"), permanent_statuses={400, 401, 403, 404})
    assert caught.value.code == "rejected" and "no_service" in str(caught.value)
    with pytest.raises(TransientChannelError):
        classify(answer(429), permanent_statuses={400, 401, 403, 404})


def test_retry_after_as_an_http_date():
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert retry_after_seconds("Sun, 01 Mar 2026 12:01:30 GMT", now=now) == 90
    assert retry_after_seconds("Sun, 01 Mar 2026 11:00:00 GMT", now=now) == 0
    assert retry_after_seconds("Mon, 02 Mar 2026 12:00:00 GMT", now=now) == 3600
    assert retry_after_seconds(None) is None and retry_after_seconds("nan") is None


@pytest.mark.parametrize("url", ["https://localhost/", "https://LOCALHOST.:6379/", "https://api.localhost/hook"])
def test_names_of_this_machine_are_refused_before_any_lookup(url):
    with pytest.raises(OutboundRefused) as refused:
        check_url(url, allow_private=False)
    assert refused.value.code == "loopback"
    check_url(url, allow_private=True)  # tests and intranets may
