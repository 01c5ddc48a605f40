"""The schema: one pydantic model per section of the config file, each key with its default and comment.

Every key has a field with its default and a one-line description; the description is the comment
written next to the key in `config.toml.example` and in saved files. The sections of the services
(CTI, Action URLs, syslog, phonebook, provisioning) are in service_schema.py.
"""

from __future__ import annotations

import ipaddress
import warnings
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, model_validator

from tuiphone.addresses import parse_multicast, port_clash, used_ports
from tuiphone.config.problems import _raise_problems, _shown
from tuiphone.config.service_schema import (
    ActionUrlConfig,
    CtiConfig,
    PhonebookConfig,
    ProvisioningConfig,
    SyslogConfig,
    WebConfig,
)
from tuiphone.config.values import (
    DEFAULT_DIAL_PLAN,
    Codec,
    Device,
    DialTarget,
    HostPort,
    KeyMode,
    Language,
    OptionalDevice,
    Port,
    Ringtone,
    Srtp,
    Transport,
    _digits,
    _f,
    _ip_or_empty,
    _multicast,
    _no_spaces,
    _Section,
    _sip_user,
    _timezone,
    _unique,
)

MAX_PAGING_LISTEN = 10


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


_PAGING_CODECS = ("PCMU", "PCMA", "G722")


def _paging_codec_name(value: Any) -> Any:
    # Case-insensitive like the CLI's --codec pcmu; the Literal check then lists the choices.
    if isinstance(value, str) and value.upper() in _PAGING_CODECS:
        return value.upper()
    return value


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
        problems += paging_port_clashes(self) + web_problems(self)
        _raise_problems(problems)
        return self


def paging_port_clashes(cfg: Config) -> list[tuple[tuple[str | int, ...], str]]:
    """A problem for each `[[paging.listen]]` group on a port SIP or CTI takes (addresses.used_ports)."""
    used = used_ports(cfg)
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for index, group in enumerate(cfg.paging.listen):
        clash = port_clash(parse_multicast(group.address)[1], used)
        if clash:
            problems.append((("paging", "listen", index, "address"), clash))
    return problems


def web_problems(cfg: Config) -> list[tuple[tuple[str | int, ...], str]]:
    """The [web] problems that need the rest of the config: a password to ask for, a whole TLS pair."""
    web = cfg.web
    problems: list[tuple[tuple[str | int, ...], str]] = []
    if web.enabled and not web.password and not cfg.phone.admin_password:
        problems.append((("web", "password"), "is empty and so is phone.admin_password; set one of them, "
                         "or set web.enabled = false"))
    if bool(web.tls_cert) != bool(web.tls_key):
        problems.append((("web", "tls_key" if web.tls_cert else "tls_cert"),
                         "is empty but the other one is set; give both tls_cert and tls_key for https, "
                         "or neither for http"))
    return problems


def _count_blocks(count: int) -> str:
    return "is only 1 [[accounts]] block" if count == 1 else f"are only {count} [[accounts]] blocks"
