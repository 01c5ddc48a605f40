"""Start-up in one place: the run options, the config (provisioned) and the running phone.

The command line, the TUI run (tui_run.py) and the daemon (daemon.py) all start the phone through
`running_phone()`. It yields a `RunningPhone`: the phone and what was built beside it (the event queue of a
headless run, the pager, the services thread). Nothing here imports click, textual or rich: a start that
cannot go on raises `StartError` with a sentence and its exit code, and the command line prints it.

Exit codes (SPEC §6): 0 success, 1 the call/registration/check failed, 2 usage or config error.
"""

from __future__ import annotations

import queue
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class StartError(Exception):
    """The phone cannot start: `str()` is the sentence for the user, `code` the exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class RunOptions:
    """The options every run shares (`--config`, `--port`, ... before or after the command)."""
    config: str | None
    data_dir: str | None
    port: int | None
    bind: str | None
    log_level: str
    sip_trace: str | None
    pcap: str | None = None
    pcap_full: str | None = None    # dumpcap: the phone's SIP and RTP packets
    local_audio: bool = False       # the TUI and the daemon use the sound devices; scripts use files/tones
    rtp_timeout: int | None = None  # --rtp-timeout of call/answer: features.rtp_timeout for this run
    web_forced: bool = False        # `tuiphone web`: the web admin on whatever web.enabled says


@dataclass(frozen=True)
class RunningPhone:
    """A started phone and what runs beside it until `running_phone()` stops them all."""
    phone: Any
    events: queue.Queue[Any] | None = None   # headless runs: subscribed before the SIP port opened
    pager: Any = None                          # engine.pager.Pager of the TUI and the daemon, else None
    services: Any = None                       # services.runner.ServicesThread, or None (TUI, daemon)
    unsubscribe: Any = None                    # ends the `subscriber` given to running_phone, if one was


def tell(text: str) -> None:
    """A line for the user on stderr (stdout is kept for the one JSON object of --json)."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def read_config(options: RunOptions) -> Any:
    """The config file the options point at, as written (a default one is written on the first run)."""
    from tuiphone.config import ConfigError, load_or_create
    from tuiphone.paths import config_path

    path = config_path(options.config)
    try:
        cfg, created = load_or_create(path)
    except ConfigError as exc:
        raise StartError(str(exc)) from None
    if created:
        tell(f"tuiphone: wrote a default config to {path}")
    return cfg


def load_config(options: RunOptions, read: Any = None) -> Any:
    """The config the options point at (or `read`, the file as read_config has just read it), provisioned:
    what the phone runs with."""
    from tuiphone.services.provisioning import provision_at_start

    return provision_at_start(read if read is not None else read_config(options))


@contextmanager
def running_phone(options: RunOptions, services: bool = True, echo_service: bool = True, *,
                  config: Any = None, signals: bool = True,
                  subscriber: Callable[[Any], None] | None = None) -> Iterator[RunningPhone]:
    """Build the phone from the config and the options, start it, and always stop it.

    With `services` the Action URLs, syslog, CTI and phonebook download run beside it on their own
    thread; the TUI and the daemon run them on their own asyncio loop and pass False. Without
    `echo_service` calls to sip:echo@ are not answered by the built-in echo test (`answer` takes them).
    `config`: the file as the caller has just read it (read_config), else it is read here; either way it is
    provisioned. Without `signals` the caller's own loop already handles SIGTERM and a closed terminal
    (the standalone TUI, which starts the phone under its running App). `subscriber` hears the phone's
    events from before its SIP port opens (a call that comes at once is not lost)."""
    from tuiphone.config import Config, save_config
    from tuiphone.engine.phone import Phone, PhoneError
    from tuiphone.engine.sip import PjsuaBackend
    from tuiphone.engine.sip_trace import SipTraceWriter
    from tuiphone.engine.sipports import EXPLAINED
    from tuiphone.paths import config_path, data_dir

    cfg = load_config(options, config)
    if options.rtp_timeout is not None:
        cfg.features.rtp_timeout = options.rtp_timeout
    path = config_path(options.config)
    local = None
    if options.local_audio:
        from tuiphone.audio.local import LocalAudio
        local = LocalAudio.from_config(cfg.audio)
    phone = Phone(cfg, PjsuaBackend(log_level=5 if options.log_level == "debug" else 0),
                  port=options.port, bind=options.bind, save_config=lambda c: save_config(cast(Config, c), path),
                  local_audio=local, data_dir=str(data_dir(options.data_dir)), echo_service=echo_service)
    unsubscribe = phone.subscribe(subscriber) if subscriber is not None else None
    events: queue.Queue[Any] | None = None
    if not options.local_audio:         # headless modes drain it; the TUI and daemon subscribe their own
        events = queue.Queue()          # subscribed before the port opens: a call arriving at once is not lost
        phone.subscribe(events.put)
    trace = None
    if options.sip_trace:
        try:
            trace = SipTraceWriter(options.sip_trace)
        except OSError as exc:
            raise StartError(f"cannot write the SIP trace to {options.sip_trace}: {exc.strerror}") from None
        phone.subscribe(trace)
    pcap = None
    if options.pcap:
        from tuiphone.services.pcap import SipPcapWriter
        try:
            pcap = SipPcapWriter(options.pcap, phone.backend.local_address)
        except OSError as exc:
            raise StartError(f"cannot write the capture to {options.pcap}: {exc.strerror}") from None
        phone.subscribe(pcap)
    try:
        phone.start()
    except PhoneError as exc:       # a port in use or an address the host lacks is a config error: exit 2
        raise StartError(str(exc), EXIT_USAGE if exc.result == EXPLAINED else EXIT_FAILED) from None
    full = _start_full_capture(options, phone) if options.pcap_full else None
    runner = None
    if services:
        from tuiphone.services.runner import ServiceError, ServicesThread
        runner = ServicesThread(phone, cfg, data_dir(options.data_dir))
        try:
            runner.start()
        except ServiceError as exc:
            phone.stop()
            raise StartError(str(exc)) from None
    pager = None
    if options.local_audio:             # the TUI and the daemon take part in paging; scripts do not
        from tuiphone.engine.pager import attach_pager
        pager = attach_pager(phone)
    if signals and options.local_audio:   # the TUI and the daemon: SIGTERM and a closed terminal stop them as Ctrl-C
        from tuiphone.terminal_closed import stop_on_terminal_closed

        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        stop_on_terminal_closed(lambda: (_ for _ in ()).throw(KeyboardInterrupt()))
    elif signals:                       # headless commands: SIGTERM, SIGHUP or Ctrl-C end the run, saying which
        from tuiphone.stop_signals import raise_on_stop_signals

        raise_on_stop_signals()
    try:
        yield RunningPhone(phone, events=events, pager=pager, services=runner, unsubscribe=unsubscribe)
    finally:
        if runner is not None:
            runner.stop()
        if pager is not None:
            pager.stop()
        phone.stop()
        if full is not None:
            full.stop()
        if trace is not None:
            trace.close()
        if pcap is not None:
            pcap.close()


def _start_full_capture(options: RunOptions, phone: Any) -> Any:
    """`--pcap-full FILE`: dumpcap records the phone's SIP and RTP packets; a capture that cannot start stops
    the phone with a sentence saying why (not installed, no permission)."""
    from tuiphone.services.pcap import CaptureError, DumpcapCapture

    assert options.pcap_full is not None    # run() starts a capture only for --pcap-full
    capture = DumpcapCapture.of_phone(options.pcap_full, phone)
    try:
        capture.start()
    except CaptureError as exc:
        phone.stop()
        raise StartError(f"cannot capture to {options.pcap_full}: {exc}") from None
    return capture
