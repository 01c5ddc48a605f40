"""Direct IP calls and call targets: keypad strings, SIP URIs and bare numbers (SPEC 2.5).

On the keypad `*` stands for `.` and `#` for `:`, so `192*168*1*60#5062` calls
`sip:192.168.1.60:5062`. IPv4 octets with a leading zero (`192*168*001*60`) are refused:
some stacks read them as octal, so the address the user meant is ambiguous.
Every refusal is a `DirectIpError` whose text is a sentence for the screen; nothing here
sends SIP, so a bad string never becomes a request.
"""

from __future__ import annotations

import ipaddress
import re

__all__ = [
    "DirectIpError",
    "display_form",
    "is_direct_ip",
    "keypad_to_uri",
    "normalize_target",
]

KEYPAD_EXAMPLE = "192*168*1*60#5062"

_KEYPAD_TO_TEXT = str.maketrans({"*": ".", "#": ":"})
_IPV4_LIKE = re.compile(r"[0-9]{1,3}(?:[*.][0-9]{1,3}){3}(?:[#:][0-9]*)?")
_IPV6_LIKE = re.compile(r"\[[^\]]*\](?:[#:][0-9]*)?")
_IPV4_PORT = re.compile(r"(?P<host>[0-9.]+)(?::(?P<port>[0-9]*))?")
_IPV6_PORT = re.compile(r"\[(?P<host>[^\]]*)\](?::(?P<port>[0-9]*))?")
_OTHER_SCHEMES = frozenset({"tel", "http", "https", "mailto", "h323", "xmpp", "im", "pres", "urn"})
_SCHEME = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*):(?P<rest>.*)", re.S)
# RFC 3261 user part: unreserved, escaped and user-unreserved characters.
_USER = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+")
_PASSWORD = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()&=+$,]|%[0-9A-Fa-f]{2})*")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")
_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_PARAM_VALUE = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()\[\]/:&+$]|%[0-9A-Fa-f]{2})+")
_HEADER_PART = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()\[\]/?:+$]|%[0-9A-Fa-f]{2})*")


class DirectIpError(ValueError):
    """A call target that cannot be dialled; str() is a sentence for the user."""


def _shown(text: str) -> str:
    """The user's text, safe to put in a message: no control characters, not too long."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in text)
    return clean if len(clean) <= 60 else clean[:57] + "..."


def display_form(text: str) -> str:
    """What the Direct IP screen shows for keypad input: `*` as `.`, `#` as `:`."""
    return text.translate(_KEYPAD_TO_TEXT)


def is_direct_ip(text: str) -> bool:
    """True when text looks like a direct-IP entry (four digit groups, or a bracketed IPv6).

    It only looks: `999*1*1*1` counts, so the caller routes it to `keypad_to_uri`, which
    refuses it with a clear message instead of dialling it as a number.
    """
    text = text.strip()
    return bool(_IPV4_LIKE.fullmatch(text) or _IPV6_LIKE.fullmatch(text))


def _port(port: str | None, shown: str) -> int | None:
    if port is None:
        return None
    if port == "":
        raise DirectIpError(f"{shown} has no port after the colon (#): type one, 1-65535.")
    if not (port.isascii() and port.isdigit()):
        raise DirectIpError(f"The port in {shown} is \"{_shown(port)}\": a port is a number, 1-65535.")
    if len(port) > 1 and port.startswith("0"):
        raise DirectIpError(f"The port in {shown} has a leading zero: type {int(port)}, not {port}.")
    if len(port) > 5 or not 1 <= int(port) <= 65535:
        raise DirectIpError(f"The port in {shown} is {port}: a port must be 1-65535.")
    return int(port)


def _ipv4(host: str, shown: str) -> str:
    octets = host.split(".")
    if len(octets) != 4 or not all(octets):
        raise DirectIpError(
            f"{shown} is not an IP address: type four numbers 0-255 separated by * "
            f"(for example {KEYPAD_EXAMPLE})."
        )
    for octet in octets:
        if len(octet) > 3 or int(octet) > 255:
            raise DirectIpError(f"{shown} is not an IP address: {octet} is more than 255.")
        if len(octet) > 1 and octet.startswith("0"):
            raise DirectIpError(
                f"{shown} has a leading zero in {octet}: type {int(octet)}, not {octet}."
            )
    return host


def _ipv6(host: str, shown: str) -> str:
    if "%" in host:
        raise DirectIpError(f"{shown} has a zone (%): call a global or unique-local IPv6 address.")
    try:
        return ipaddress.IPv6Address(host).compressed
    except ValueError:
        raise DirectIpError(f"{shown} is not an IPv6 address: type it in brackets, like [::1]:5070.") from None


def keypad_to_uri(text: str) -> str:
    """Turn a Direct IP entry into a SIP URI, or raise DirectIpError.

    Accepts keypad form (`192*168*1*60#5062`), dotted form (`192.168.1.60:5062`) and a
    bracketed IPv6 address (`[::1]:5070`); the port is optional.
    """
    entry = display_form(text.strip())
    shown = _shown(entry)
    if not entry:
        raise DirectIpError(f"Type an IP address, like {KEYPAD_EXAMPLE} (* is a dot, # a colon).")
    if entry.startswith("["):
        match = _IPV6_PORT.fullmatch(entry)
        if match is None:
            raise DirectIpError(f"{shown} is not an IPv6 address: type it in brackets, like [::1]:5070.")
        host = f"[{_ipv6(match['host'], shown)}]"
    else:
        match = _IPV4_PORT.fullmatch(entry)
        if match is None:
            raise DirectIpError(
                f"{shown} is not an IP address: use only digits, * and # "
                f"(for example {KEYPAD_EXAMPLE})."
            )
        host = _ipv4(match["host"], shown)
    port = _port(match["port"], shown)
    return f"sip:{host}" if port is None else f"sip:{host}:{port}"


def _hostport(hostport: str, shown: str) -> str:
    """Validate `host[:port]` of a SIP URI (hostname, IPv4 or [IPv6]); return it normalised."""
    if hostport.startswith("["):
        match = _IPV6_PORT.fullmatch(hostport)
        if match is None:
            raise DirectIpError(f"{shown} has a bad IPv6 host: write it in brackets, like [::1]:5070.")
        host, port_text = f"[{_ipv6(match['host'], shown)}]", match["port"]
    else:
        host, colon, port_text = hostport.partition(":")
        port_text = port_text if colon else None
        if not host:
            raise DirectIpError(f"{shown} has no host: add one after @, like sip:1001@pbx.example.com.")
        if re.fullmatch(r"[0-9]+(?:\.[0-9]+){3}", host):
            host = _ipv4(host, shown)
        elif not _is_hostname(host):
            raise DirectIpError(f"{shown} has a bad host {_shown(host)}: use a domain name or an IP address.")
    port = _port(port_text, shown)
    return host if port is None else f"{host}:{port}"


def _is_hostname(host: str) -> bool:
    """RFC 3261 hostname: dot-separated labels, the last one starting with a letter."""
    labels = (host[:-1] if host.endswith(".") else host).split(".")
    return all(_LABEL.fullmatch(label) for label in labels) and labels[-1][0].isalpha()


def _params(params: str, shown: str) -> None:
    for param in params.split(";"):
        name, eq, value = param.partition("=")
        if not _TOKEN.fullmatch(name) or (eq and not _PARAM_VALUE.fullmatch(value)):
            raise DirectIpError(f"{shown} has a bad parameter ;{_shown(param)}.")


def _sip_uri(text: str) -> str:
    """Validate a sip:/sips: URI; return it with the scheme in lower case."""
    shown = _shown(text)
    scheme, _, rest = text.partition(":")
    userinfo, at, after = rest.rpartition("@")  # '?' may appear in a user part, '@' not in headers
    hostpart, _, headers = (after if at else rest).partition("?")
    if at:
        user, _, password = userinfo.partition(":")
        if not _USER.fullmatch(user) or not _PASSWORD.fullmatch(password):
            raise DirectIpError(f"{shown} has a bad user part: use letters, digits and - _ . + * only.")
    hostport, semi, params = hostpart.partition(";")
    if not at and hostport.isdigit():
        raise DirectIpError(f"{shown} has no host: add one after @, like sip:{hostport}@pbx.example.com.")
    normalised = _hostport(hostport, shown)
    if semi:
        _params(params, shown)
    if headers and not all(
        _HEADER_PART.fullmatch(name) and name and _HEADER_PART.fullmatch(value)
        for name, _, value in (h.partition("=") for h in headers.split("&"))
    ):
        raise DirectIpError(f"{shown} has bad headers after '?'.")
    userpart = f"{userinfo}@" if at else ""
    tail = (f";{params}" if semi else "") + (f"?{headers}" if headers else "")
    return f"{scheme.lower()}:{userpart}{normalised}{tail}"


def normalize_target(text: str, *, default_domain: str | None) -> str:
    """Turn what the user typed into the SIP URI to call, or raise DirectIpError.

    `sip:`/`sips:` URIs are checked and returned; a direct-IP string becomes its URI;
    `user@host` gets `sip:`; a bare number or user goes to `default_domain` (`#` escaped).
    """
    target = text.strip()
    shown = _shown(target)
    if not target:
        raise DirectIpError("Nothing to call: type a number, a SIP URI or an IP address.")
    if any(not ch.isprintable() or ch.isspace() for ch in target):
        raise DirectIpError(f"{shown} has spaces or control characters: remove them and try again.")
    scheme = _SCHEME.fullmatch(target)
    if scheme and scheme["scheme"].lower() in ("sip", "sips"):
        return _sip_uri(target)
    if is_direct_ip(target):
        return keypad_to_uri(target)
    if scheme and not re.fullmatch(r"[0-9]+", scheme["rest"]) and (
        "@" not in target or scheme["scheme"].lower() in _OTHER_SCHEMES
    ):
        raise DirectIpError(
            f"{shown} is a {scheme['scheme']}: address: only sip: and sips: URIs can be called."
        )
    if "@" in target:
        return _sip_uri(f"sip:{target}")
    user = target.replace("#", "%23")  # '#' is not allowed in a SIP user part
    if not _USER.fullmatch(user):
        raise DirectIpError(f"{shown} is not a number, a SIP URI or an IP address.")
    if not default_domain:
        raise DirectIpError(
            f"{shown} has no account to dial through: give a SIP URI or a direct IP "
            f"(for example {KEYPAD_EXAMPLE})."
        )
    return _sip_uri(f"sip:{user}@{default_domain}")
