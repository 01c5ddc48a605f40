"""`tuiphone` with no command: the TUI attached to the phone process for its config.

The phone (`tuiphone daemon`) keeps running when the TUI goes; when none runs for the config, one is
started in the background (its own session, no terminal, logging to the data dir) and the TUI attaches to
it over the control socket through a RemotePhone. `tuiphone --standalone` is tui_run.run_app instead.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tuiphone.runtime import EXIT_FAILED, EXIT_USAGE, RunOptions, StartError, read_config

log = logging.getLogger("tuiphone.app")

START_TIMEOUT_S = 30.0         # the phone process: start to its control socket answering
POLL_S = 0.05
DETACHED = "detached: the phone keeps running; `tuiphone stop` to stop it"
START_ERRORS = "daemon-start.err"      # the started phone's stderr (its own error sentence, if it fails)


def daemon_argv(options: RunOptions) -> list[str]:
    """The command line of the phone process for these options (the same config, data dir, port, ...)."""
    argv = [sys.executable, "-m", "tuiphone"]
    for flag, value in (("--config", options.config), ("--data-dir", options.data_dir),
                        ("--port", options.port), ("--bind", options.bind), ("--log-level", options.log_level),
                        ("--sip-trace", options.sip_trace), ("--pcap", options.pcap),
                        ("--pcap-full", options.pcap_full)):
        if value is not None:
            argv += [flag, str(value)]
    return [*argv, "daemon"]


def start_phone(options: RunOptions, timeout: float = START_TIMEOUT_S) -> Any:
    """Start the phone process in the background and attach to it: a RemotePhone. StartError with the
    phone's own sentence (and its exit code) when it ends before it answers."""
    from tuiphone.control.client import ControlError, NoPhone, RemotePhone
    from tuiphone.paths import config_path, data_dir, ensure_dir, log_dir

    config = config_path(options.config)
    errors = ensure_dir(log_dir(data_dir(options.data_dir))) / START_ERRORS
    with open(errors, "wb") as err:
        proc = subprocess.Popen(daemon_argv(options), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err, start_new_session=True, close_fds=True)
    log.info("started the phone process (pid %d) for %s", proc.pid, config)
    deadline = time.monotonic() + timeout
    while True:
        code = proc.poll()
        try:
            return RemotePhone.attach(config, timeout=2.0)
        except (ControlError, OSError) as exc:     # not up yet, or it went again while we connected
            problem = str(exc) if not isinstance(exc, NoPhone) else ""
        if code is not None:
            sentence = _last_sentence(errors)
            if "already running" in sentence:       # another front-end started it a moment before us
                return RemotePhone.attach(config)
            raise StartError(sentence or f"the phone process ended at once (exit {code}); "
                             f"see {errors}", EXIT_USAGE if code == EXIT_USAGE else EXIT_FAILED)
        if time.monotonic() > deadline:
            raise StartError(f"the phone process (pid {proc.pid}) did not answer in {timeout:g} s"
                             f"{': ' + problem if problem else ''}; see {errors} and the log in {errors.parent}",
                             EXIT_FAILED)
        time.sleep(POLL_S)


def _last_sentence(path: Path) -> str:
    """The phone's own error sentence from its stderr: the last `tuiphone: ...` line, else the last line."""
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    said = [line for line in lines if line.startswith("tuiphone:") or line.startswith("Error:")]
    last = (said or lines or [""])[-1]
    return last.removeprefix("tuiphone: ")        # the group says "tuiphone: " itself


def attach_or_start(options: RunOptions) -> tuple[Any, Any]:
    """A RemotePhone on the phone for the options' config, starting the phone when none runs, and the config
    the screens show and edit. A phone that runs sends the file as it reads it now, as plain data (a
    config.view.ConfigView: the attaching TUI needs no pydantic); before starting one, the file is read here
    (runtime.read_config: its mistakes are said before anything starts, a first run writes the default one)."""
    from tuiphone.control.client import ControlError, NoPhone, RemotePhone
    from tuiphone.paths import config_path

    try:
        phone = RemotePhone.attach(config_path(options.config))
    except NoPhone:
        config = read_config(options)
        return start_phone(options), config
    except ControlError as exc:
        raise StartError(str(exc), EXIT_FAILED) from None
    except OSError as exc:            # it went while we connected: start one
        log.info("the phone went while we attached (%s): starting one", exc)
        config = read_config(options)
        return start_phone(options), config
    try:
        return phone, phone_config(phone)
    except BaseException:
        phone.detach()
        raise


def phone_config(phone: Any) -> Any:
    """The config file as the running phone reads it, a ConfigView; StartError with its sentence when the
    file is wrong now (exit 2) or the phone does not say (exit 1)."""
    from tuiphone.config.view import ConfigView
    from tuiphone.control.client import ControlError, PhoneRefused
    from tuiphone.runtime import tell

    try:
        answer = phone.config_data()
    except PhoneRefused as exc:                    # the file is wrong now: its problems, as read_config says them
        raise StartError(str(exc), EXIT_USAGE) from None
    except (ControlError, TimeoutError) as exc:
        raise StartError(str(exc) or "the phone did not say its config in time", EXIT_FAILED) from None
    if answer.get("created"):
        tell(f"tuiphone: wrote a default config to {answer.get('path')}")
    return ConfigView(answer["config"])


def run_attached(options: RunOptions) -> int:
    """Run the TUI attached to the phone process; returns the exit code."""
    from tuiphone import i18n
    from tuiphone.app import make_app
    from tuiphone.i18n import t
    from tuiphone.paths import config_path, data_dir, database_path, log_dir
    from tuiphone.runtime import tell
    from tuiphone.store import Store, StoreError
    from tuiphone.tui_run import log_to_file

    phone, config = attach_or_start(options)      # the screens show and edit the file the phone process reads
    data = data_dir(options.data_dir)
    app = None
    try:
        with log_to_file(log_dir(data) / "tui", options.log_level):
            log.info("tuiphone attached to the phone process (pid %d) for %s", phone.pid,
                     config_path(options.config))
            i18n.set_language(config.phone.language)
            store, problem = None, ""
            try:
                store = Store(database_path(data))        # read here; the phone process writes the history
            except StoreError as exc:
                problem = t("error.no_store", error=exc)
            try:
                app = make_app(phone, config, config_path=config_path(options.config), handle_sigterm=True,
                               store=store, store_problem=problem)
                app.restart_phone = lambda: start_phone(options)
                app.tuned = True
                app.run()
            finally:
                if store is not None:
                    store.close()
    finally:
        current = app.phone if app is not None else phone
        current.detach()
    if app.detached:
        tell(DETACHED)
    return app.return_code or 0
