"""What a config value may be: the checks behind each key, the types built on them, and how a key is declared.

Each check returns the value (maybe normalised) or raises ValueError with the sentence the user reads.
"""

from __future__ import annotations

import ipaddress
import re
import zoneinfo
from functools import lru_cache
from inspect import isclass
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from tuiphone.addresses import parse_listen_address, parse_multicast, split_host_port


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


def _codec(text: str) -> str:
    try:
        return _CODEC_BY_LOWER[text.lower()]
    except KeyError:
        raise ValueError(f"must be one of {', '.join(_CODECS)}") from None


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
