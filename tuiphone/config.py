"""The config file (SPEC §5): schema, loading with clear errors, commented rendering, atomic save.

Every key has a pydantic field with its default and a one-line description; the description is
the comment written next to the key in `config.toml.example` and in saved files.

Key paths in error messages use 0-based list indexes in file order: `accounts[0]` is the first
`[[accounts]]` block, `accounts[1].srtp` the `srtp` key of the second one.
"""

from __future__ import annotations

import difflib
import errno
import ipaddress
import os
import re
import shutil
import tempfile
import tomllib
import warnings
import zoneinfo
from contextlib import suppress
from functools import lru_cache
from inspect import isclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin
from urllib.parse import urlsplit

import annotated_types
import tomli_w
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from tuiphone import paths
from tuiphone.web.settings import WebConfig, web_problems

MAX_PROBLEMS_SHOWN = 30
MAX_PAGING_LISTEN = 10


class ConfigError(Exception):
    """A config that cannot be used. `str()` is the message for the user, one line per problem."""

    def __init__(self, source: str, problems: list[str], line: int | None = None) -> None:
        self.source = source
        self.problems = problems
        self.line = line  # of a TOML syntax error, when known
        super().__init__("\n".join(f"{source}: {problem}" for problem in problems))


class _Problems(ValueError):
    """Cross-field problems found by a model validator, each at a key path below that model."""

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{_key_path(loc)}: {message}" for loc, message in problems))


def _raise_problems(problems: list[tuple[tuple[str | int, ...], str]]) -> None:
    if problems:
        raise _Problems(problems)


# ---------------------------------------------------------------- value checks


_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_HOST_PORT_HELP = "like pbx.example.com, pbx.example.com:5060, 192.0.2.10 or [2001:db8::1]:5060"


def _check_port_text(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError("the port must be a number from 1 to 65535")
    return int(text)


def _check_hostname(host: str) -> None:
    if re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise ValueError(f"{host!r} is not a valid IPv4 address") from None
        return
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"{host!r} is not a valid host name")


def split_host_port(text: str) -> tuple[str, int | None]:
    """Split `host[:port]` (a host name, an IPv4 address or `[IPv6]`) into host and port.

    Raises ValueError with a sentence for the user when `text` is not of that form.
    """
    if text.lower().startswith(("sip:", "sips:")):
        raise ValueError("write only host[:port], without the 'sip:' prefix")
    if any(ch.isspace() for ch in text) or "/" in text or ";" in text or "@" in text:
        raise ValueError(f"must be host[:port], {_HOST_PORT_HELP}")
    if text.startswith("["):
        match = re.fullmatch(r"\[([^\]]*)\](?::(.*))?", text)
        if not match:
            raise ValueError(f"must be host[:port], {_HOST_PORT_HELP}")
        try:
            ipaddress.IPv6Address(match[1])
        except ValueError:
            raise ValueError(f"{match[1]!r} is not a valid IPv6 address") from None
        return match[1], None if match[2] is None else _check_port_text(match[2])
    if text.count(":") > 1:
        raise ValueError("an IPv6 address needs brackets, like [2001:db8::1]:5060")
    host, colon, port = text.partition(":")
    if not host:
        raise ValueError(f"the host is missing; must be host[:port], {_HOST_PORT_HELP}")
    _check_hostname(host)
    return host, _check_port_text(port) if colon else None


def parse_multicast(text: str) -> tuple[str, int]:
    """Parse a paging group `addr:port`: IPv4 multicast in 224.0.1.0–238.255.255.255, port 1–65535."""
    help_text = "must be a multicast address and port, like 224.1.1.1:4009"
    host, colon, port = text.partition(":")
    if not colon or not port:
        raise ValueError(f"{help_text}; the port is missing")
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError:
        raise ValueError(f"{help_text}; {host!r} is not an IPv4 address") from None
    if not ipaddress.IPv4Address("224.0.1.0") <= address <= ipaddress.IPv4Address("238.255.255.255"):
        raise ValueError(f"{help_text}; {host} is outside the paging range 224.0.1.0–238.255.255.255")
    try:
        return str(address), _check_port_text(port)
    except ValueError as exc:
        raise ValueError(f"{help_text}; {exc}") from None


def parse_listen_address(text: str) -> tuple[str, int]:
    """Parse a local `address:port` to listen on (IPv4 or `[IPv6]`), e.g. the CTI server's."""
    help_text = "must be an address and port to listen on, like 127.0.0.1:8088 or [::1]:8088"
    try:
        host, port = split_host_port(text)
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(help_text) from None
    if port is None:
        raise ValueError(f"{help_text}; the port is missing")
    return host, port


def _host_port_or_empty(text: str) -> str:
    if text:
        split_host_port(text)
    return text


def _ip_or_empty(text: str) -> str:
    if text:
        try:
            ipaddress.ip_address(text)
        except ValueError:
            raise ValueError(
                'must be an IP address of this machine, like 192.168.1.10 or ::1, or "" for all'
            ) from None
    return text


def _listen_address(text: str) -> str:
    parse_listen_address(text)
    return text


def _multicast(text: str) -> str:
    parse_multicast(text)
    return text


_POSIX_TZ = re.compile(
    r"""(?P<std>[A-Za-z]{3,}|<[A-Za-z0-9+-]{3,}>)
        [+-]?\d{1,2}(:\d{2}){0,2}
        (?:(?:[A-Za-z]{3,}|<[A-Za-z0-9+-]{3,}>)
           (?:[+-]?\d{1,2}(:\d{2}){0,2})?
           (?:,(?:J\d{1,3}|\d{1,3}|M(?:1[0-2]|[1-9])\.[1-5]\.[0-6])(?:/[+-]?\d{1,3}(:\d{2}){0,2})?
              ,(?:J\d{1,3}|\d{1,3}|M(?:1[0-2]|[1-9])\.[1-5]\.[0-6])(?:/[+-]?\d{1,3}(:\d{2}){0,2})?)?
        )?""",
    re.VERBOSE,
)


@lru_cache(maxsize=1)
def _have_tz_database() -> bool:
    return bool(zoneinfo.available_timezones())


def _is_iana_zone(name: str) -> bool:
    if not _have_tz_database():
        # No tz database on this box: accept what looks like an IANA name rather than refuse it.
        return re.fullmatch(r"[A-Za-z_]+(?:/[A-Za-z0-9_+-]+)*", name) is not None
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _timezone(text: str) -> str:
    if text == "system" or _is_iana_zone(text) or _POSIX_TZ.fullmatch(text):
        return text
    raise ValueError(
        'must be "system", a time zone name like "Asia/Shanghai", '
        'or a POSIX TZ string like "MTZ-8MDT-8,M3.2.0,M11.1.0"'
    )


_CODECS = ("G722", "PCMU", "PCMA", "speex", "iLBC", "GSM")
_CODEC_BY_LOWER = {name.lower(): name for name in _CODECS}
_PAGING_CODECS = ("PCMU", "PCMA", "G722")


def _codec(text: str) -> str:
    try:
        return _CODEC_BY_LOWER[text.lower()]
    except KeyError:
        raise ValueError(f"must be one of {', '.join(_CODECS)}") from None


def _paging_codec_name(value: Any) -> Any:
    # Case-insensitive like the CLI's --codec pcmu; the Literal check then lists the choices.
    if isinstance(value, str) and value.upper() in _PAGING_CODECS:
        return value.upper()
    return value


def _unique(items: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    for item in items:
        if item in seen:
            raise ValueError(f"lists {item!r} more than once")
        seen.add(item)
    return items


def _device(value: Any) -> Any:
    # A sounddevice index may be written as a number; it is kept as text like every device.
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError("a device index must be 0 or more")
        return str(value)
    return value


def _device_name(text: str) -> str:
    if text.startswith("file:") and not text[5:].lower().endswith(".wav"):
        raise ValueError('a file device must name a WAV file, like "file:/tmp/in.wav"')
    if not text.strip():
        raise ValueError('must not be empty; use "default", "null", a device name or index')
    return text


def _optional_device_name(text: str) -> str:
    return _device_name(text) if text else text


_BUILTIN_RINGTONES = ("ring1", "ring2", "ring3")


def _ringtone(text: str) -> str:
    if text in _BUILTIN_RINGTONES or (text.lower().endswith(".wav") and len(text) > 4):
        return text
    raise ValueError("must be ring1, ring2, ring3 or the path of a .wav file")


def _no_spaces(text: str) -> str:
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise ValueError("must be a number or SIP URI without spaces")
    return text


def _sip_user(text: str) -> str:
    if "@" in text or text.lower().startswith(("sip:", "sips:")):
        raise ValueError("write only the user part, like 1001; the server goes in sip_server")
    return _no_spaces(text)


def _digits(text: str) -> str:
    if text and not text.isdigit():
        raise ValueError("must be digits only (it is typed on the keypad)")
    return text


def _url(schemes: tuple[str, ...]) -> Any:
    def check(text: str) -> str:
        if not text:
            return text
        parts = urlsplit(text)
        if any(ch.isspace() for ch in text) or parts.scheme not in schemes:
            raise ValueError(f"must be a URL starting with {' or '.join(s + '://' for s in schemes)}")
        if parts.scheme != "file" and not parts.netloc:
            raise ValueError("the URL has no host")
        return text

    return check


def _url_template(text: str) -> str:
    if any(ch.isspace() for ch in text):
        raise ValueError("must be a URL without spaces (write variables as $name)")
    if "://" in text and urlsplit(text).scheme.lower() not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL (or host/path, which means http://)")
    return text


def _f(default: Any, description: str, **constraints: Any) -> Any:
    """A config field: its default, the one-line comment shown in the file, and any bounds."""
    if isinstance(default, list):
        items = list(default)
        return Field(default_factory=lambda: list(items), description=description, **constraints)
    if isclass(default) and issubclass(default, BaseModel):
        return Field(default_factory=default, description=description, **constraints)
    return Field(default, description=description, **constraints)


Port = Annotated[int, Field(ge=0, le=65535)]
HostPort = Annotated[str, AfterValidator(_host_port_or_empty)]
DialTarget = Annotated[str, AfterValidator(_no_spaces)]
Ringtone = Annotated[str, AfterValidator(_ringtone)]
Codec = Annotated[str, AfterValidator(_codec)]
Device = Annotated[str, BeforeValidator(_device), AfterValidator(_device_name)]
OptionalDevice = Annotated[str, BeforeValidator(_device), AfterValidator(_optional_device_name)]
UrlTemplate = Annotated[str, AfterValidator(_url_template)]

Language = Literal["en", "zh_CN"]
Transport = Literal["udp", "tcp", "tls"]
Srtp = Literal["off", "optional", "mandatory"]
KeyMode = Literal[
    "line", "speed_dial", "blf", "paging", "call_log", "menu",
    "info", "voicemail", "dnd", "forward", "intercom",
]  # fmt: skip
DEFAULT_DIAL_PLAN = r"{ x+ | \+x+ | *x+ | *xx*x+ }"


class _Section(BaseModel):
    # strict: TOML has real types, so "6" for a number or 1 for true is a mistake worth naming.
    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=True)


# ---------------------------------------------------------------- the schema


class PhoneConfig(_Section):
    """[phone] The phone as a whole."""

    language: Language = _f("en", 'Display language: "en" or "zh_CN"')
    lines: int = _f(6, "Call appearances (lines), 1-24", ge=1, le=24)
    time_format: Literal["12h", "24h"] = _f("24h", 'Clock: "12h" or "24h"')
    timezone: Annotated[str, AfterValidator(_timezone)] = _f(
        "system", '"system", an IANA name like "Asia/Shanghai", or a POSIX TZ string'
    )
    admin_password: str = _f("", "Protects the Settings screens; the default CTI passcode")
    idle_text: str = _f("", "Text on the idle screen ($variables as in Action URLs)")


class TlsConfig(_Section):
    """[sip.tls] The TLS transport (used when sip.transports has "tls")."""

    verify_server: bool = _f(True, "Check the server's certificate (turn off only for tests)")
    ca_file: str = _f("", 'CA bundle (PEM) to verify servers; "" = the system CAs')
    cert_file: str = _f("", 'Client certificate (PEM); "" = none')
    key_file: str = _f("", 'Private key of the client certificate (PEM); "" = none')
    port: Port = _f(5061, "Local TLS port; 0 = any free port")


class SipConfig(_Section):
    """[sip] SIP transports, shared by all accounts."""

    port: Port = _f(5060, "Local SIP port for UDP and TCP; 0 = any free port")
    random_port: bool = _f(False, "Use a random local port at each start (seed 3.13)")
    bind_address: Annotated[str, AfterValidator(_ip_or_empty)] = _f(
        "", 'IP address to bind SIP to; "" = all interfaces'
    )
    transports: Annotated[list[Transport], AfterValidator(_unique)] = _f(
        ["udp", "tcp"], 'Transports to open: "udp", "tcp", "tls"', min_length=1
    )
    stun_server: HostPort = _f("", 'STUN server host[:port] for NAT discovery; "" = none')
    rtp_port_min: Port = _f(0, "First local port for call audio (RTP); 0 = any free port")
    rtp_port_max: Port = _f(0, "Last local port for call audio (RTP); 0 when rtp_port_min is 0")
    tls: TlsConfig = _f(TlsConfig, "TLS settings")

    @model_validator(mode="after")
    def _tls_port_free(self) -> SipConfig:
        clash = self.port != 0 and self.port == self.tls.port
        if clash and "tls" in self.transports and "tcp" in self.transports:
            why = f"is the same as sip.port ({self.port}); TCP and TLS need different ports"
            _raise_problems([(("tls", "port"), why)])
        _raise_problems(self._rtp_range_problems())
        return self

    def _rtp_range_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        low, high = self.rtp_port_min, self.rtp_port_max
        if not low and not high:
            return []
        if not low or not high:
            return [(("rtp_port_min" if not low else "rtp_port_max",),
                     "is 0; set both rtp_port_min and rtp_port_max, or both to 0 for any free port")]
        if high < low + 1:
            return [(("rtp_port_max",), f"must be above rtp_port_min ({low}): each call needs two ports "
                     "(RTP and RTCP)")]
        sip_ports = {("sip.port", self.port)}
        if "tls" in self.transports:
            sip_ports.add(("sip.tls.port", self.tls.port))
        return [(("rtp_port_min",), f"the range {low}-{high} includes {key} ({port}); pick ports apart from SIP")
                for key, port in sorted(sip_ports) if port and low <= port <= high]


class AudioConfig(_Section):
    """[audio] Sound devices."""

    input_device: Device = _f("default", 'Microphone: a device name or index, "null", or "file:PATH.wav"')
    output_device: Device = _f("default", 'Speaker: a device name or index, "null", or "file:PATH.wav"')
    ringer_device: OptionalDevice = _f("", 'Device that rings; "" = the output device')
    sample_rate: Literal[8000, 16000, 32000, 44100, 48000] = _f(16000, "Device sample rate in Hz")
    tone_region: Literal["us", "cn", "uk"] = _f("us", 'Dial, ringback and busy tones: "us", "cn" or "uk"')
    speaker_volume: int = _f(100, "Speaker volume for calls and tones at start, 0-100 %", ge=0, le=100)
    ring_volume: int = _f(100, "Ringtone volume, 0-100 %", ge=0, le=100)


# `register` is a SPEC key; it shadows only ABCMeta.register on the class, never the instance value.
warnings.filterwarnings("ignore", message='Field name "register" in "AccountConfig"', category=UserWarning)


class AccountConfig(_Section):
    """[[accounts]] One SIP account (the GXP1760W has 3); list order = account 1, 2, 3..."""

    enabled: bool = _f(True, "Use this account")
    name: str = _f("", "Label on screen")
    sip_server: HostPort = _f("", "Registrar host[:port]; needed when register = true")
    secondary_sip_server: HostPort = _f("", 'Failover registrar host[:port]; "" = none')
    outbound_proxy: HostPort = _f("", 'Send all requests through this host[:port]; "" = none')
    backup_outbound_proxy: HostPort = _f("", 'Failover outbound proxy host[:port]; "" = none')
    user_id: Annotated[str, AfterValidator(_sip_user)] = _f("", "SIP user ID (the user part, like 1001)")
    auth_id: str = _f("", 'Authentication ID; "" = user_id')
    password: str = _f("", "Authentication password")
    display_name: str = _f("", "Name sent in the From header")
    voicemail: DialTarget = _f("*97", "Voicemail access code")
    transport: Transport = _f("udp", "udp | tcp | tls")
    srtp: Srtp = _f("off", "Media encryption: off | optional | mandatory")
    register: bool = _f(True, "Register with sip_server; false = calls only, no registration")
    reg_expires: int = _f(60, "Registration expiry in seconds (re-registers 5 s before), 30-86400", ge=30, le=86400)
    options_keepalive: bool = _f(True, "Send SIP OPTIONS to the server to detect drops and restarts")
    options_interval: int = _f(20, "Seconds between OPTIONS keep-alives, 1-3600", ge=1, le=3600)
    options_max_lost: int = _f(2, "Lost OPTIONS before showing not registered / failing over, 1-10", ge=1, le=10)
    dial_plan: str = _f(DEFAULT_DIAL_PLAN, "Grandstream dial plan (SPEC §9)")
    dial_plan_prefix: str = _f("", "Prefix added to every number the dial plan allows")
    no_key_timeout: int = _f(4, "Send the number after this many seconds without a key; 0 = off", ge=0, le=60)
    pound_sends: bool = _f(True, "# sends the number")
    anonymous: bool = _f(False, "Hide the caller ID on every call")
    reject_anonymous: bool = _f(False, "Reject calls with no caller ID")
    accept_only_from_server: bool = _f(False, "Accept INVITEs only from the SIP server / outbound proxy")
    check_user_id: bool = _f(True, "Reject INVITEs whose Request-URI user is no account's user_id (404)")
    auto_answer: Literal["off", "on", "intercom"] = _f(
        "off", "off | on | intercom (when Call-Info / Alert-Info asks)"
    )
    local_call_features: bool = _f(True, "Handle feature codes (*72, *78...) on the phone")
    mwi: bool = _f(True, "Subscribe to message-waiting (voicemail) notifications")
    ringtone: Ringtone = _f("ring1", "ring1 | ring2 | ring3 | path to a WAV file")
    call_log: Literal["all", "answered", "off"] = _f("all", "Calls kept in history: all | answered | off")
    codecs: Annotated[list[Codec], AfterValidator(_unique)] = _f(
        ["G722", "PCMU", "PCMA"], "In order of preference: G722 PCMU PCMA speex iLBC GSM", min_length=1
    )
    dtmf: Literal["rfc2833", "info"] = _f("rfc2833", "DTMF method: rfc2833 | info")

    @property
    def effective_auth_id(self) -> str:
        """The ID used for digest authentication: `auth_id`, or `user_id` when that is empty."""
        return self.auth_id or self.user_id

    @model_validator(mode="after")
    def _registration_needs_server(self) -> AccountConfig:
        if self.enabled and self.register:
            fix = "set it, or set register = false to make direct calls only"
            missing = [name for name in ("sip_server", "user_id") if not getattr(self, name)]
            _raise_problems([((name,), f"is empty; {fix}") for name in missing])
        return self


class RingRule(_Section):
    """[[features.ring_rules]] Distinctive ring: first rule whose pattern matches the caller wins."""

    match: Annotated[str, AfterValidator(_no_spaces), Field(min_length=1)] = Field(
        description="Caller number pattern in dial-plan syntax, like 1617x+"
    )
    ringtone: Ringtone = Field(description="ring1 | ring2 | ring3 | path to a WAV file")


class FeaturesConfig(_Section):
    """[features] Call features."""

    dnd: bool = _f(False, "Do not disturb: incoming calls get busy (486)")
    call_waiting: bool = _f(True, "Allow a second call while talking")
    call_waiting_tone: bool = _f(True, "Play a tone for a waiting call")
    auto_attended_transfer: bool = _f(False, "TRANSFER in a call starts an attended transfer")
    forward_always: DialTarget = _f("", 'Forward every call to this number; "" = off')
    forward_busy: DialTarget = _f("", 'Forward when busy to this number; "" = off')
    forward_no_answer: DialTarget = _f("", 'Forward unanswered calls to this number; "" = off')
    forward_no_answer_delay: int = _f(
        20, "Seconds of ringing before no-answer forwarding, 1-120", ge=1, le=120
    )
    record: Literal["off", "manual", "auto"] = _f("manual", "Call recording: off | manual | auto")
    record_dir: str = _f("", 'Folder for recordings; "" = <data dir>/recordings')
    record_stereo: bool = _f(False, "Record local and remote on separate channels")
    conference_max: int = _f(5, "Most parties in a local conference, 2-10", ge=2, le=10)
    star_key_lock: bool = _f(False, "Holding * on the idle screen locks the phone")
    lock_password: Annotated[str, AfterValidator(_digits)] = _f(
        "", 'Digits that unlock; "" = confirm unlocks'
    )
    lock_hold_seconds: int = _f(4, "Seconds to hold * to lock, 1-30", ge=1, le=30)
    rtp_timeout: int = _f(30, "End a call after this many seconds with no RTP/RTCP from the far end; 0 = off",
                          ge=0, le=3600)
    ring_rules: list[RingRule] = _f([], "Distinctive ring rules")


class PagingListen(_Section):
    """[[paging.listen]] A multicast group to listen to; list order = priority 1 (highest) to 10."""

    address: Annotated[str, AfterValidator(_multicast)] = Field(
        description="Multicast addr:port in 224.0.1.0-238.255.255.255"
    )
    label: str = _f("", "Name shown when a page arrives")


def _interface_address(text: str) -> str:
    """"" or the IPv4 address of a local interface (multicast joins and sends name interfaces by address)."""
    if text:
        try:
            ipaddress.IPv4Address(text)
        except ValueError:
            raise ValueError("must be the IPv4 address of one of this machine's interfaces, like 192.168.1.20") \
                from None
    return text


class PagingConfig(_Section):
    """[paging] Multicast paging (seed 3.5)."""

    codec: Annotated[Literal["PCMU", "PCMA", "G722"], BeforeValidator(_paging_codec_name)] = _f(
        "PCMU", "Codec of pages sent: PCMU | PCMA | G722"
    )
    ptime: Literal[10, 20, 30, 40, 50, 60, 70, 80] = _f(20, "Milliseconds of audio per packet sent")
    barge: int = _f(0, "0 = pages never interrupt a call; N = priorities 1..N-1 barge in", ge=0, le=11)
    barge_action: Literal["hold", "hangup"] = _f(
        "hold", "What a barging page does to the call: hold | hangup"
    )
    priority_active: bool = _f(True, "A higher-priority page replaces a lower one being played")
    interface: Annotated[str, AfterValidator(_interface_address)] = _f(
        "", "IPv4 address of the network interface pages are sent and heard on; \"\" = the default route's"
    )
    listen: list[PagingListen] = _f([], "Groups to listen to (at most 10)", max_length=MAX_PAGING_LISTEN)

    @model_validator(mode="after")
    def _groups_once(self) -> PagingConfig:
        seen: dict[str, int] = {}
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for index, group in enumerate(self.listen):
            if group.address in seen:
                first = seen[group.address]
                problems.append((("listen", index, "address"), f"repeats paging.listen[{first}]"))
            seen.setdefault(group.address, index)
        _raise_problems(problems)
        return self


class KeyConfig(_Section):
    """[[keys]] A programmable (multi-purpose) key."""

    mode: KeyMode = Field(
        description="line|speed_dial|blf|paging|call_log|menu|info|voicemail|dnd|forward|intercom"
    )
    account: int = _f(1, "Account it uses: 1 = the first [[accounts]] block", ge=1)
    label: str = _f("", "Label on screen")
    value: str = _f("", "Number (speed_dial, blf, intercom) or addr:port (paging)")
    pickup_code: DialTarget = _f(
        "**", "The server's call pickup prefix, dialed before value when a BLF key is pressed while its extension "
        'rings; "" = just call it'
    )

    @model_validator(mode="after")
    def _value_fits_mode(self) -> KeyConfig:
        if self.mode in ("speed_dial", "blf", "intercom"):
            if not self.value:
                _raise_problems([(("value",), f"is empty; a {self.mode} key needs a number")])
            try:
                _no_spaces(self.value)
            except ValueError as exc:
                _raise_problems([(("value",), f"{exc} (got {self.value!r})")])
        elif self.mode == "paging":
            try:
                parse_multicast(self.value)
            except ValueError as exc:
                _raise_problems([(("value",), f"{exc} (got {self.value!r})")])
        return self


class KeymapConfig(_Section):
    """[keymap] Keys by binding id, like hold = "H" or send = "enter,ctrl+j"; an id left out keeps its key."""

    model_config = ConfigDict(extra="allow", strict=True, validate_assignment=True)

    @model_validator(mode="after")
    def _known_ids_and_keys(self) -> KeymapConfig:
        from tuiphone.keymap import clash_problems, id_problem, key_problem

        problems: list[tuple[tuple[str | int, ...], str]] = []
        for binding_id, keys in (self.model_extra or {}).items():
            if not isinstance(keys, str):
                problems.append(((binding_id,), f'must be keys in quotes, like "H" (got {_shown(keys)})'))
            elif problem := id_problem(binding_id) or key_problem(keys):
                problems.append(((binding_id,), problem))
        if not problems:      # a key given to two bindings of one screen
            problems = [((binding_id,), problem) for binding_id, problem in clash_problems(self.model_extra or {})]
        _raise_problems(problems)
        return self


class CtiConfig(_Section):
    """[cti] The Grandstream-compatible HTTP API (SPEC §7)."""

    enabled: bool = _f(False, "Open the CTI HTTP API")
    listen: Annotated[str, AfterValidator(_listen_address)] = _f(
        "127.0.0.1:8088", "address:port the API listens on"
    )
    passcode: str = _f("", '"" = phone.admin_password; enabling with neither set is an error')


_ACTION_EVENTS = {
    "registered": "an account registers",
    "setup_completed": "the phone has started",
    "unregistered": "an account unregisters",
    "off_hook": "the phone goes off hook",
    "on_hook": "the phone goes on hook",
    "incoming_call": "a call comes in",
    "outgoing_call": "a call is placed",
    "missed_call": "a call is missed",
    "established": "a call is answered",
    "terminated": "a call ends",
    "dnd_on": "DND is turned on",
    "dnd_off": "DND is turned off",
    "forward_on": "forwarding is turned on",
    "forward_off": "forwarding is turned off",
    "blind_transfer": "a blind transfer is made",
    "attended_transfer": "an attended transfer is made",
    "hold": "a call is held",
    "unhold": "a call is resumed",
}


class ActionUrlConfig(_Section):
    """[action_url] URL templates fetched (HTTP GET) on events; "" = off (SPEC §8)."""

    registered: UrlTemplate = _f("", f"GET when {_ACTION_EVENTS['registered']}")
    setup_completed: UrlTemplate = _f("", f"GET when {_ACTION_EVENTS['setup_completed']}")
    unregistered: UrlTemplate = _f("", f"GET when {_ACTION_EVENTS['unregistered']}")
    off_hook: UrlTemplate = _f("", f"GET when {_ACTION_EVENTS['off_hook']}")
    on_hook: UrlTemplate = _f("", f"GET when {_ACTION_EVENTS['on_hook']}")
    incoming_call: UrlTemplate = _f("", f"GET when {_ACTION_EVENTS['incoming_call']}")
    outgoing_call: UrlTemplate = _f("", f"GET when {_ACTION_EVENTS['outgoing_call']}")
    missed_call: UrlTemplate = _f("", f"GET when {_ACTION_EVENTS['missed_call']}")
    established: UrlTemplate = _f("", f"GET when {_ACTION_EVENTS['established']}")
    terminated: UrlTemplate = _f("", f"GET when {_ACTION_EVENTS['terminated']}")
    dnd_on: UrlTemplate = _f("", f"GET when {_ACTION_EVENTS['dnd_on']}")
    dnd_off: UrlTemplate = _f("", f"GET when {_ACTION_EVENTS['dnd_off']}")
    forward_on: UrlTemplate = _f("", f"GET when {_ACTION_EVENTS['forward_on']}")
    forward_off: UrlTemplate = _f("", f"GET when {_ACTION_EVENTS['forward_off']}")
    blind_transfer: UrlTemplate = _f("", f"GET when {_ACTION_EVENTS['blind_transfer']}")
    attended_transfer: UrlTemplate = _f("", f"GET when {_ACTION_EVENTS['attended_transfer']}")
    hold: UrlTemplate = _f("", f"GET when {_ACTION_EVENTS['hold']}")
    unhold: UrlTemplate = _f("", f"GET when {_ACTION_EVENTS['unhold']}")


class SyslogConfig(_Section):
    """[syslog] Sending logs to a syslog server (a local log file is always kept)."""

    server: HostPort = _f("", 'Syslog server host[:port]; "" = none')
    protocol: Literal["udp", "tcp"] = _f("udp", "udp | tcp")
    level: Literal["off", "debug", "info", "warning", "error"] = _f(
        "off", "off | debug | info | warning | error"
    )
    sip_messages: bool = _f(False, "Also send every SIP message")


class PhonebookConfig(_Section):
    """[phonebook] Downloading a phonebook (phonebook.xml, CSV or vCard)."""

    download_url: Annotated[str, AfterValidator(_url(("http", "https")))] = _f(
        "", 'http(s) URL of a phonebook to download; "" = none'
    )
    download_interval: int = _f(0, "Minutes between downloads; 0 = at start only", ge=0, le=10080)
    remove_edited_on_download: bool = _f(True, "A download replaces entries edited by hand")


class ProvisioningConfig(_Section):
    """[provisioning] Config fetched at start (TOML, Grandstream config.txt or XML)."""

    config_url: Annotated[str, AfterValidator(_url(("http", "https", "file")))] = _f(
        "", 'URL of the config to fetch at start; "" = none'
    )


class Config(_Section):
    """The whole config file."""

    phone: PhoneConfig = _f(PhoneConfig, "The phone as a whole")
    sip: SipConfig = _f(SipConfig, "SIP transports")
    audio: AudioConfig = _f(AudioConfig, "Sound devices")
    accounts: list[AccountConfig] = _f([], "SIP accounts")
    features: FeaturesConfig = _f(FeaturesConfig, "Call features")
    paging: PagingConfig = _f(PagingConfig, "Multicast paging")
    keys: list[KeyConfig] = _f([], "Programmable keys")
    keymap: KeymapConfig = _f(KeymapConfig, "Key bindings by id")
    cti: CtiConfig = _f(CtiConfig, "CTI HTTP API")
    action_url: ActionUrlConfig = _f(ActionUrlConfig, "Action URLs")
    syslog: SyslogConfig = _f(SyslogConfig, "Syslog")
    phonebook: PhonebookConfig = _f(PhonebookConfig, "Phonebook download")
    provisioning: ProvisioningConfig = _f(ProvisioningConfig, "Provisioning")
    web: WebConfig = _f(WebConfig, "Web admin")

    @model_validator(mode="after")
    def _fits_together(self) -> Config:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.cti.enabled and not self.cti.passcode and not self.phone.admin_password:
            problems.append(
                (("cti", "passcode"), "is empty and so is phone.admin_password; set one of them, "
                 "or set cti.enabled = false")
            )  # fmt: skip
        for index, account in enumerate(self.accounts):
            if account.transport not in self.sip.transports:
                problems.append(
                    (("accounts", index, "transport"), f'is "{account.transport}" but sip.transports '
                     f'does not open it; add "{account.transport}" to sip.transports')
                )  # fmt: skip
        for index, key in enumerate(self.keys):
            if self.accounts and key.account > len(self.accounts):
                problems.append(
                    (("keys", index, "account"), f"is {key.account} but there "
                     f"{_count_blocks(len(self.accounts))} (numbered from 1)")
                )  # fmt: skip
        problems += self._paging_port_clashes() + web_problems(self)
        _raise_problems(problems)
        return self

    def _paging_port_clashes(self) -> list[tuple[tuple[str | int, ...], str]]:
        used = {}
        if self.sip.port:
            used[self.sip.port] = "sip.port"
        if self.sip.tls.port and "tls" in self.sip.transports:
            used.setdefault(self.sip.tls.port, "sip.tls.port")
        if self.cti.enabled:
            used.setdefault(parse_listen_address(self.cti.listen)[1], "cti.listen")
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for index, group in enumerate(self.paging.listen):
            port = parse_multicast(group.address)[1]
            if port in used:
                problems.append(
                    (("paging", "listen", index, "address"), f"uses port {port}, which {used[port]} "
                     "already uses; pick another port")
                )  # fmt: skip
        return problems


def _count_blocks(count: int) -> str:
    return "is only 1 [[accounts]] block" if count == 1 else f"are only {count} [[accounts]] blocks"


# ---------------------------------------------------------------- error messages


def _key_path(loc: tuple[str | int, ...]) -> str:
    """('accounts', 1, 'srtp') -> 'accounts[1].srtp' (quoting keys that are not bare TOML keys)."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else tomli_w.dumps({"k": part})[4:].strip()
            text += f".{name}" if text else name
    return text


def _unwrap(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _field_at(loc: tuple[str | int, ...]) -> tuple[FieldInfo | None, Any]:
    """The field and the (unwrapped) type found at a key path of the Config schema."""
    model: Any = Config
    info: FieldInfo | None = None
    annotation: Any = Config
    for part in loc:
        if isinstance(part, int):
            if get_origin(annotation) is not list:
                return None, None
            annotation = _unwrap(get_args(annotation)[0])
        else:
            if model is None or part not in model.model_fields:
                return None, None
            info = model.model_fields[part]
            annotation = _unwrap(info.annotation)
        model = annotation if isclass(annotation) and issubclass(annotation, BaseModel) else None
    return info, annotation


def _shown(value: Any) -> str:
    """A value as the user wrote it, briefly."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        text = "[" + ", ".join(_shown(item) for item in value) + "]"
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _choices(loc: tuple[str | int, ...], expected: str) -> str:
    _, annotation = _field_at(loc)
    if get_origin(annotation) is Literal:
        return ", ".join(str(choice) for choice in get_args(annotation))
    return ", ".join(re.findall(r"'([^']*)'", expected)) or expected


def _bounds(loc: tuple[str | int, ...], ctx: dict[str, Any]) -> str:
    info, _ = _field_at(loc)
    low = ctx.get("ge")
    high = ctx.get("le")
    for item in info.metadata if info else []:
        if isinstance(item, annotated_types.Ge):
            low = item.ge
        elif isinstance(item, annotated_types.Le):
            high = item.le
    if low is not None and high is not None:
        return f"must be between {low} and {high}"
    return f"must be at least {low}" if low is not None else f"must be at most {high}"


def _unknown_key(loc: tuple[str | int, ...]) -> str:
    _, owner = _field_at(loc[:-1])
    names = list(owner.model_fields) if isclass(owner) and issubclass(owner, BaseModel) else []
    close = difflib.get_close_matches(str(loc[-1]), names, n=1)
    return "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")


def _describe(error: dict[str, Any]) -> str:
    loc = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if kind == "extra_forbidden":
        return _unknown_key(loc)
    if kind == "missing":
        return "is required"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"must be a table (got {_shown(value)})"
    if kind == "too_short":
        return f"must not be empty (got {_shown(value)})"
    if kind == "too_long":
        return f"has {ctx.get('actual_length')} entries; at most {ctx.get('max_length')} are allowed"
    reasons = {
        "literal_error": lambda: f"must be one of {_choices(loc, str(ctx.get('expected', '')))}",
        "int_type": lambda: "must be a whole number",
        "int_from_float": lambda: "must be a whole number",
        "bool_type": lambda: "must be true or false",
        "string_type": lambda: "must be text in quotes",
        "list_type": lambda: "must be a list, like [ ... ]",
        "value_error": lambda: str(ctx.get("error", error["msg"])),
    }
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        reason = _bounds(loc, ctx)
    else:
        reason = reasons.get(kind, lambda: str(error["msg"]))()
    return f"{reason} (got {_shown(value)})"


def validation_problems(err: ValidationError, prefix: tuple[str | int, ...] = ()) -> list[str]:
    """One line per problem, `key.path: what is wrong (got value)`, for a schema ValidationError.

    `prefix` is the key path of the model that was validated, when it was not the whole Config.
    """
    lines: list[str] = []
    for error in err.errors(include_url=False):
        loc = prefix + tuple(error["loc"])
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, _Problems):
            lines += [f"{_key_path(loc + sub)}: {message}" for sub, message in cause.problems]
        else:
            lines.append(f"{_key_path(loc)}: {_describe({**error, 'loc': loc})}")
    if len(lines) > MAX_PROBLEMS_SHOWN:
        hidden = len(lines) - MAX_PROBLEMS_SHOWN
        lines = lines[:MAX_PROBLEMS_SHOWN] + [f"... and {hidden} more problems"]
    return lines


# ---------------------------------------------------------------- loading


def _syntax_problem(exc: tomllib.TOMLDecodeError) -> tuple[str, int | None]:
    text = str(exc)
    match = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", text, re.DOTALL)
    if match:
        return f"line {match[2]}, column {match[3]}: {match[1]}", int(match[2])
    match = re.fullmatch(r"(.*) \(at end of document\)", text, re.DOTALL)
    if match:
        return f"at the end of the file: {match[1]}", None
    return text, None


def parse_config_text(text: str, source: str = "<config>") -> Config:
    """Parse and validate config TOML; `source` names it in the ConfigError messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        problem, line = _syntax_problem(exc)
        raise ConfigError(source, [problem], line=line) from None
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, validation_problems(exc)) from None


def load_config(path: Path) -> Config:
    """Read and validate the config file at `path`; the file is only read, never changed.

    Raises ConfigError (a missing, unreadable, non-UTF-8, malformed or invalid file) whose
    `str()` names the file and each problem; key paths count list entries from 0.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(path), ["no such config file; check the path"]) from None
    except IsADirectoryError:
        raise ConfigError(str(path), ["is a directory, not a config file"]) from None
    except PermissionError:
        raise ConfigError(str(path), ["cannot be read (permission denied); check its permissions"]) from None
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot be read: {exc.strerror or exc}"]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problem = f"line {line}: is not UTF-8 text; save the file as UTF-8"
        raise ConfigError(str(path), [problem], line=line) from None
    return parse_config_text(text, str(path))


def config_to_dict(cfg: Config) -> dict[str, Any]:
    """Every key of `cfg` as plain TOML-ready values (nothing dropped, defaults included)."""
    return cfg.model_dump(mode="python")


# ---------------------------------------------------------------- rendering


HEADER = """\
# tuiphone configuration (TOML). Every key is listed with a one-line comment;
# "(default ...)" marks values that differ from the default.
# Check this file with: tuiphone config check
# In error messages list entries count from 0: accounts[0] is the first [[accounts]] block."""

EXAMPLE_HEADER = """\
# tuiphone example configuration: every key, its default and what it does.
# Copy it to ~/.config/tuiphone/config.toml (or pass --config) and edit.
# Generated from tuiphone/config.py: python -m tuiphone.config > config.toml.example
# In error messages list entries count from 0: accounts[0] is the first [[accounts]] block."""

_COMMENT_COLUMN = 34


def _toml_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return tomli_w.dumps({"v": value})[4:].rstrip("\n")


def _kind(annotation: Any) -> str:
    annotation = _unwrap(annotation)
    if isclass(annotation) and issubclass(annotation, BaseModel):
        return "table"
    if get_origin(annotation) is list:
        item = _unwrap(get_args(annotation)[0])
        if isclass(item) and issubclass(item, BaseModel):
            return "array"
    return "value"


def _key_line(name: str, value: Any, info: FieldInfo) -> str:
    comment = info.description or ""
    default = info.get_default(call_default_factory=True)
    if default is not PydanticUndefined and value != default:
        comment += f" (default {_toml_value(default)})"
    line = f"{name} = {_toml_value(value)}"
    return f"{line.ljust(_COMMENT_COLUMN - 2)}  # {comment}" if comment else line


def _first_doc_line(model: type[BaseModel]) -> str:
    return (model.__doc__ or "").strip().splitlines()[0]


def _render(
    model: BaseModel, path: tuple[str, ...], out: list[str], *, array: bool = False, doc: bool = True
) -> None:
    fields = type(model).model_fields
    if path:
        out.append("")
        if doc:
            out.append(f"# {_first_doc_line(type(model))}")
        out.append(f"[[{'.'.join(path)}]]" if array else f"[{'.'.join(path)}]")
    nested: list[str] = []
    for name, info in fields.items():
        if _kind(info.annotation) == "value":
            out.append(_key_line(name, getattr(model, name), info))
        else:
            nested.append(name)
    # a free-form table ([keymap]) keeps what the user wrote
    out += [f"{_key_path((name,))} = {_toml_value(value)}" for name, value in (model.model_extra or {}).items()]
    for name in nested:
        value = getattr(model, name)
        if _kind(fields[name].annotation) == "table":
            _render(value, (*path, name), out)
        elif value:
            for index, item in enumerate(value):
                _render(item, (*path, name), out, array=True, doc=index == 0)
        else:
            _render_template(_unwrap(get_args(_unwrap(fields[name].annotation))[0]), (*path, name), out)


def _render_template(model: type[BaseModel], path: tuple[str, ...], out: list[str]) -> None:
    """An empty array of tables: a commented-out example block the user can copy."""
    block: list[str] = []
    _render(_TEMPLATES[model](), path, block, array=True, doc=False)
    out += ["", f"# {_first_doc_line(model)}"]
    out += ["# None yet. To add one, copy this block and remove the leading '# ':"]
    out += ["# " + line for line in block[1:]]


_TEMPLATES: dict[type[BaseModel], Any] = {
    AccountConfig: lambda: AccountConfig(name="Office", sip_server="pbx.example.com", user_id="1001"),
    RingRule: lambda: RingRule(match="1617x+", ringtone="ring2"),
    PagingListen: lambda: PagingListen(address="224.1.1.1:4009", label="All staff"),
    KeyConfig: lambda: KeyConfig(mode="speed_dial", account=1, label="Reception", value="200"),
}


def render_config(cfg: Config, header: str = HEADER) -> str:
    """`cfg` as commented TOML: every key with its comment; empty lists as commented-out examples."""
    out = [header] if header else []
    _render(cfg, (), out)
    return "\n".join(out).lstrip("\n") + "\n"


def default_config_text() -> str:
    """The file written on first run: every default, commented, with no accounts."""
    return render_config(Config())


def example_config() -> Config:
    """The config of `config.toml.example`: 3 accounts like the GXP1760W, one of each list entry."""
    spare = {"enabled": False, "register": True}
    return Config(
        accounts=[
            AccountConfig(
                name="Office", sip_server="pbx.example.com", user_id="1001", display_name="Reception desk"
            ),
            AccountConfig(name="Account 2", **spare),
            AccountConfig(name="Account 3", **spare),
        ],
        features=FeaturesConfig(ring_rules=[RingRule(match="1617x+", ringtone="ring2")]),
        paging=PagingConfig(listen=[PagingListen(address="224.1.1.1:4009", label="All staff")]),
        keys=[KeyConfig(mode="speed_dial", account=1, label="Reception", value="200")],
    )


def example_config_text() -> str:
    """The text of `config.toml.example`."""
    return render_config(example_config(), EXAMPLE_HEADER)


# ---------------------------------------------------------------- writing


def _fsync_dir(directory: Path) -> None:
    with suppress(OSError):  # not every filesystem lets a directory be opened and synced
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_atomically(path: Path, text: str, mode: int, replace: bool) -> None:
    """Write `text` to a temp file beside `path`, fsync, then move it into place.

    With `replace=False` an existing `path` is never overwritten (FileExistsError).
    """
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, mode)
        if replace:
            os.replace(temp_name, path)
        else:
            _move_no_clobber(temp_name, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    _fsync_dir(path.parent)


def _move_no_clobber(temp_name: str, path: Path) -> None:
    try:
        os.link(temp_name, path)  # fails with EEXIST instead of replacing a file written meanwhile
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
            raise
        if path.exists():
            raise FileExistsError(errno.EEXIST, "file exists", str(path)) from None
        os.replace(temp_name, path)
        return
    os.unlink(temp_name)


def load_or_create(path: Path) -> tuple[Config, bool]:
    """Load the config at `path`; when there is no file, write the default one first.

    Returns (config, created). An existing file is only read. The new file is private (0600)
    because accounts will hold passwords.
    """
    path = Path(path)
    if path.exists() or path.is_symlink():
        return load_config(path), False
    created = True
    try:
        paths.ensure_dir(path.parent)
        _write_atomically(path, default_config_text(), mode=0o600, replace=False)
    except FileExistsError:
        created = False  # another tuiphone wrote it first; use theirs
    except OSError as exc:
        problem = f"cannot create the default config file: {exc.strerror or exc}"
        raise ConfigError(str(path), [problem]) from None
    return load_config(path), created


def save_config(cfg: Config, path: Path) -> None:
    """Write `cfg` to `path` atomically, keeping the previous file as `<name>.bak.1` (up to `.bak.5`).

    The config is validated first, so a file that `load_config` would refuse is never written.
    An existing file is edited in place (config_edit): only the keys that changed are rewritten, and
    its comments, order and formatting stay; a new file (or one that cannot be edited) is written whole,
    every key commented. When nothing changed the file is left as it is.
    The file keeps its permissions (0600 when new); a symlinked config is written through.
    """
    from tuiphone.config_edit import edit_config_text, rotate_backups

    path = Path(os.path.realpath(path))
    try:
        checked = Config.model_validate(config_to_dict(cfg))
    except ValidationError as exc:
        raise ConfigError(str(path), validation_problems(exc)) from None
    try:
        mode = 0o600
        text = None
        if path.exists():
            mode = path.stat().st_mode & 0o777
            current = path.read_bytes().decode("utf-8-sig", errors="replace")
            text = edit_config_text(current, checked)
            if text == current:
                return
            _copy_atomically(path, rotate_backups(path))
        else:
            paths.ensure_dir(path.parent)
        _write_atomically(path, render_config(checked) if text is None else text, mode=mode, replace=True)
    except OSError as exc:
        problem = f"cannot be saved: {exc.strerror or exc}; nothing was changed"
        raise ConfigError(str(path), [problem]) from None


def _copy_atomically(source: Path, target: Path) -> None:
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        shutil.copy2(source, temp_name)
        os.replace(temp_name, target)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise


# ---------------------------------------------------------------- `tuiphone config check`


def _summary(cfg: Config) -> str:
    enabled = [account for account in cfg.accounts if account.enabled]
    registering = sum(1 for account in enabled if account.register)
    accounts = f"{len(cfg.accounts)} account{'s' if len(cfg.accounts) != 1 else ''}"
    if cfg.accounts:
        accounts += f" ({len(enabled)} enabled, {registering} registering)"
    else:
        accounts += " (direct calls only)"
    port = "any free port" if cfg.sip.port == 0 else f"port {cfg.sip.port}"
    return (
        f"{accounts}, {cfg.phone.lines} lines, SIP on {port} over {'/'.join(cfg.sip.transports)}, "
        f"CTI {'on at ' + cfg.cti.listen if cfg.cti.enabled else 'off'}"
    )


def check_config_cli(path: str | os.PathLike[str] | None = None) -> tuple[int, str]:
    """`tuiphone config check [PATH]`: (0, "OK: <path>: summary") or (2, the problems).

    With no PATH the usual config file is checked ($TUIPHONE_CONFIG or the platform default);
    nothing is created or changed.
    """
    target = paths.config_path(path)
    if not target.exists() and not target.is_symlink() and target == paths.config_path():
        return 2, f"{target}: no config file yet; tuiphone writes this default one when it first starts"
    try:
        cfg = load_config(target)
    except ConfigError as exc:
        return 2, str(exc)
    return 0, f"OK: {target}: {_summary(cfg)}"


if __name__ == "__main__":  # regenerate the example: python -m tuiphone.config > config.toml.example
    print(example_config_text(), end="")
