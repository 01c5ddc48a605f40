"""The plain `tuiphone` (the TUI, with only the common options) read without click.

Opening the phone is what `tuiphone` is run for most, and importing click and building the command group was
~13 ms of the attaching TUI's ~260 ms start (bench/attach.py). A command line that does nothing but open the
TUI (`tuiphone`, `tuiphone --config work.toml --port 5062 --standalone`) is read here; anything else (a command,
`--help`, `--version`, a value click would refuse or read differently) is left to click (tuiphone.cli), which
reads every command line the same either way (tests/test_tui_args.py compares the two).
"""

from __future__ import annotations

import logging
import os
import re
import sys

from tuiphone.runtime import EXIT_FAILED, RunOptions, StartError

# the group's options (tuiphone.cli.main) -> their RunOptions field; the values are checked as click checks them
VALUES = {"--config": "config", "--data-dir": "data_dir", "--port": "port", "--bind": "bind",
          "--log-level": "log_level", "--sip-trace": "sip_trace", "--pcap": "pcap", "--pcap-full": "pcap_full"}
FILES = ("sip_trace", "pcap", "pcap_full")     # click.Path(dir_okay=False): a folder is refused
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_PORT = re.compile(r"[0-9]{1,5}")


def plain_tui(argv: list[str]) -> tuple[RunOptions, bool] | None:
    """(the run options, --standalone) when `argv` only opens the TUI with options whose values are plainly
    valid; None for anything else."""
    given: dict[str, str] = {}
    standalone = False
    words = iter(argv)
    for word in words:
        if word == "--standalone":
            standalone = True
            continue
        name, eq, value = word.partition("=")
        if name not in VALUES:
            return None
        if not eq:
            value = next(words, "")
        if not value or value.startswith("-"):
            return None
        given[VALUES[name]] = value
    if "config" not in given and "TUIPHONE_CONFIG" in os.environ:
        if not os.environ["TUIPHONE_CONFIG"]:
            return None
        given["config"] = os.environ["TUIPHONE_CONFIG"]
    port = given.get("port")
    if port is not None and not (_PORT.fullmatch(port) and int(port) <= 65535):
        return None
    if given.get("log_level", "warning") not in LOG_LEVELS:
        return None
    if any(os.path.isdir(given[name]) for name in FILES if name in given):
        return None
    options = RunOptions(given.get("config"), given.get("data_dir"), int(port) if port is not None else None,
                         given.get("bind"), given.get("log_level", "warning"), given.get("sip_trace"),
                         given.get("pcap"), given.get("pcap_full"))
    return options, standalone


def run_tui(options: RunOptions, standalone: bool) -> int:
    """What the group does with no command (tuiphone.cli.main): the TUI, attached or standalone; its exit code.
    A phone that cannot start is said as a sentence, with its exit code; a Ctrl-C before the TUI is up as click
    says it (exit 1), never as a traceback."""
    logging.basicConfig(level=getattr(logging, options.log_level.upper()), stream=sys.stderr, format=LOG_FORMAT)
    try:
        if not standalone:
            from tuiphone.attach import run_attached

            return run_attached(options)
        from tuiphone.tui_run import run_app

        options.local_audio = True
        return run_app(options)
    except StartError as exc:
        print(f"tuiphone: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:           # Ctrl-C before the TUI has the terminal (a phone starting): as click says it
        print("Aborted!", file=sys.stderr)
        return EXIT_FAILED
