"""Direct IP entry and call targets: what the user types, what gets dialled, what is refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuiphone.engine.directip import (
    DirectIpError,
    display_form,
    is_direct_ip,
    keypad_to_uri,
    normalize_target,
)


@pytest.mark.parametrize(
    ("typed", "uri"),
    [
        ("192*168*1*60#5062", "sip:192.168.1.60:5062"),
        ("127*0*0*1", "sip:127.0.0.1"),
        ("192.168.1.60:5062", "sip:192.168.1.60:5062"),
        ("  10*0*0*255#5060 ", "sip:10.0.0.255:5060"),
        ("0*0*0*0#1", "sip:0.0.0.0:1"),
        ("[::1]:5070", "sip:[::1]:5070"),
        ("[::1]#5070", "sip:[::1]:5070"),
        ("[2001:db8:0:0::1]", "sip:[2001:db8::1]"),
    ],
)
def test_keypad_entry_becomes_sip_uri(typed: str, uri: str) -> None:
    assert keypad_to_uri(typed) == uri


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("", "Type an IP address"),
        ("192*168*1", "type four numbers 0-255"),
        ("192*168*1*1*1", "type four numbers 0-255"),
        ("192**1*1", "type four numbers 0-255"),
        ("256*1*1*1", "256 is more than 255"),
        ("192*168*001*60", "leading zero in 001: type 1, not 001"),
        ("1*1*1*1#", "no port after the colon"),
        ("1*1*1*1#0", "a port must be 1-65535"),
        ("1*1*1*1#65536", "a port must be 1-65535"),
        ("1*1*1*1#05060", "type 5060, not 05060"),
        ("1*1*1*1#50#60", "use only digits, * and #"),
        ("pbx*example*com", "use only digits, * and #"),
        ("[::g]:5070", "is not an IPv6 address"),
        ("[fe80::1%eth0]", "has a zone"),
        ("[::1", "is not an IPv6 address"),
    ],
)
def test_bad_keypad_entry_is_refused_with_a_sentence(typed: str, says: str) -> None:
    with pytest.raises(DirectIpError) as refused:
        keypad_to_uri(typed)
    message = str(refused.value)
    assert says in message
    assert message.endswith(".") and "Traceback" not in message


def test_screen_shows_star_as_dot_and_pound_as_colon() -> None:
    assert display_form("192*168*1*60#5062") == "192.168.1.60:5062"
    assert display_form("12") == "12"


@pytest.mark.parametrize(
    ("typed", "looks_like_ip"),
    [
        ("192*168*1*60#5062", True),
        ("127.0.0.1", True),
        ("999*1*1*1", True),  # refused later with a clear message, never dialled as a number
        ("1*1*1*1#", True),
        ("[::1]:5070", True),
        ("1001", False),
        ("*43", False),
        ("*72*5551234", False),
        ("1*2*3", False),
        ("1234*1*1*1", False),
        ("sip:127.0.0.1", False),
        ("", False),
    ],
)
def test_is_direct_ip_spots_direct_ip_entries(typed: str, looks_like_ip: bool) -> None:
    assert is_direct_ip(typed) is looks_like_ip


@pytest.mark.parametrize(
    ("typed", "domain", "uri"),
    [
        ("sip:alice@example.com", None, "sip:alice@example.com"),
        ("SIP:bob@10.0.0.1:5080;transport=tcp", None, "sip:bob@10.0.0.1:5080;transport=tcp"),
        ("sips:[::1]:5061", None, "sips:[::1]:5061"),
        ("sip:1001@pbx.example.com?subject=hi", None, "sip:1001@pbx.example.com?subject=hi"),
        ("sip:+1617;phone-context=x@gw.example.com;user=phone", None,
         "sip:+1617;phone-context=x@gw.example.com;user=phone"),
        ("alice@pbx.example.com", None, "sip:alice@pbx.example.com"),
        ("127*0*0*1#5070", None, "sip:127.0.0.1:5070"),
        ("127*0*0*1#5070", "pbx.example.com", "sip:127.0.0.1:5070"),
        ("1001", "pbx.example.com", "sip:1001@pbx.example.com"),
        ("+15551234", "pbx.example.com:5080", "sip:+15551234@pbx.example.com:5080"),
        ("*97", "pbx.example.com", "sip:*97@pbx.example.com"),
        ("123#", "pbx.example.com", "sip:123%23@pbx.example.com"),
    ],
)
def test_call_target_becomes_sip_uri(typed: str, domain: str | None, uri: str) -> None:
    assert normalize_target(typed, default_domain=domain) == uri


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("1001", "has no account to dial through: give a SIP URI or a direct IP"),
        ("", "Nothing to call"),
        ("sip:al ice@example.com", "spaces or control characters"),
        ("sip:alice@exa\x07mple.com", "spaces or control characters"),
        ("sip:alice@", "has no host"),
        ("sip:1001", "has no host"),
        ("sip:alice@-pbx-.example.com", "bad host"),
        ("sip:alice@pbx.example.com:99999", "a port must be 1-65535"),
        ("sip:alice@300.1.1.1", "300 is more than 255"),
        ("sip:@pbx.example.com", "bad user part"),
        ("sip:alice@pbx.example.com;=x", "bad parameter"),
        ("tel:+15551234", "only sip: and sips: URIs can be called"),
        ("pbx.example.com:5060", "not a number, a SIP URI or an IP address"),
        ("300*1*1*1", "300 is more than 255"),
        ("\u0661\u0662\u0667*0*0*1", "not a number, a SIP URI or an IP address"),  # Arabic-Indic digits
        ("mailto:alice@example.com", "only sip: and sips: URIs can be called"),
    ],
)
def test_bad_call_target_is_refused_with_a_sentence(typed: str, says: str) -> None:
    with pytest.raises(DirectIpError) as refused:
        normalize_target(typed, default_domain=None)
    assert says in str(refused.value)


@given(st.ip_addresses(v=4), st.integers(1, 65535))
def test_every_ipv4_and_port_round_trips_through_the_keypad(address, port: int) -> None:
    typed = str(address).replace(".", "*") + f"#{port}"
    assert is_direct_ip(typed)
    assert keypad_to_uri(typed) == f"sip:{address}:{port}"
    assert normalize_target(f"{address}:{port}", default_domain=None) == f"sip:{address}:{port}"


_KEYPADDY = st.text(alphabet="0123456789*#.:[]@abf% \t\x00", max_size=30)


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=40), _KEYPADDY), st.sampled_from([None, "pbx.example.com"]))
def test_any_text_is_either_a_uri_or_a_direct_ip_error(text: str, domain: str | None) -> None:
    is_direct_ip(text)  # never raises at all
    display_form(text)
    for convert in (keypad_to_uri, lambda t: normalize_target(t, default_domain=domain)):
        try:
            uri = convert(text)
        except DirectIpError as refused:
            assert str(refused).strip()
        else:
            assert uri.startswith(("sip:", "sips:"))
            # A target we accept is accepted again unchanged: nothing is dialled half-parsed.
            assert normalize_target(uri, default_domain=None) == uri


def test_a_port_that_is_not_a_number_is_refused_with_a_sentence():
    for text in ("0@A::", "1001@pbx:x1", "1001@pbx:²"):
        with pytest.raises(DirectIpError, match="a port is a number"):
            normalize_target(text, default_domain=None)
