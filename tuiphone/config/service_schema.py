"""The sections of the services (tuiphone/services/, tuiphone/web/): the CTI API, Action URLs, syslog, phonebook,
provisioning, the web admin."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator

from tuiphone.config.values import HostPort, UrlTemplate, _f, _listen_address, _Section, _url


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


class WebConfig(_Section):
    """[web] The web admin: Status, Config, Phonebook, Captures, Recordings, Click-to-dial."""

    enabled: bool = _f(False, "Serve the web admin from the phone process")
    listen: Annotated[str, AfterValidator(_listen_address)] = _f(
        "127.0.0.1:8089", "address:port the web admin listens on"
    )
    password: str = _f("", '"" = phone.admin_password; enabling with neither set is an error')
    tls_cert: str = _f("", 'PEM certificate file: with tls_key the web admin is https; "" = http')
    tls_key: str = _f("", 'PEM private key file of tls_cert; "" = http')
    session_minutes: int = _f(60, "A sign-in lasts this many minutes, 1-10080", ge=1, le=10080)
