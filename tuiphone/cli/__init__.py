"""Command line: the TUI by default, headless commands for scripts and trunk tests (SPEC §6).

This module is the group `main` and its run options; each command lives in its own module (calls, daemon,
audio, paging, phonebook, config, ...), which imports cli.common and never this module. A command's module is
imported when that command runs or `--help` lists it (COMMANDS), so the plain `tuiphone` (the TUI) loads none.
Exit codes: 0 success, 1 the call/registration/check failed, 2 usage or config error. With --json exactly one
JSON object goes to stdout; everything else goes to stderr.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from tuiphone import __version__, collector
from tuiphone.cli.common import RunOptions, StartError, fail
from tuiphone.tui_args import LOG_FORMAT, run_tui

# every command: its name -> the module of tuiphone.cli that defines it (under the same name)
COMMANDS = {"register": "calls", "call": "calls", "answer": "calls", "options": "calls", "config": "config",
            "daemon": "daemon", "page": "paging", "listen": "paging", "audio": "audio", "phonebook": "phonebook",
            "ctl": "ctl", "stop": "ctl", "web": "web", "load": "load"}


class _Phone(click.Group):
    """The group: a phone that cannot start (runtime.StartError) ends the command with its sentence and exit
    code, whichever command started it. Its commands load on demand (click's lazy group: `list_commands`
    names them all, `get_command` imports the one asked for) and take the common options after them too."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        if command is None and cmd_name in COMMANDS:
            command = getattr(importlib.import_module(f"tuiphone.cli.{COMMANDS[cmd_name]}"), cmd_name)
            self.add_command(command, cmd_name)
        if command is not None:
            accept_common_options(command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except StartError as exc:
            fail(str(exc), exc.code)


@click.group(cls=_Phone, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config", envvar="TUIPHONE_CONFIG", help="Config file (default: the platform config dir).")
@click.option("--data-dir", help="Folder for history, phonebook, recordings and logs.")
@click.option("--port", type=click.IntRange(0, 65535), help="Local SIP port (0 = any free port).")
@click.option("--bind", help="Local address to bind SIP and RTP to.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="warning",
              show_default=True)
@click.option("--sip-trace", type=click.Path(dir_okay=False), help="Write every SIP message to this file.")
@click.option("--pcap", type=click.Path(dir_okay=False), help="Write every SIP message to this pcap file.")
@click.option("--pcap-full", type=click.Path(dir_okay=False),
              help="Record the phone's SIP and RTP packets with dumpcap into this pcapng file.")
@click.option("--standalone", is_flag=True,
              help="Run the phone inside this TUI (it stops when the TUI does) instead of attaching to the "
                   "phone process.")
@click.version_option(__version__, prog_name="tuiphone")
@click.pass_context
def main(ctx: click.Context, config, data_dir, port, bind, log_level, sip_trace, pcap, pcap_full,
         standalone) -> None:
    """tuiphone: a SIP phone for the terminal. With no command it opens the phone: it attaches to the phone
    process for the config, starting one in the background when none runs (`q` detaches, `tuiphone stop`
    stops it)."""
    logging.basicConfig(level=getattr(logging, log_level.upper()), stream=sys.stderr, format=LOG_FORMAT)
    ctx.obj = RunOptions(config, data_dir, port, bind, log_level, sip_trace, pcap, pcap_full)
    if ctx.invoked_subcommand is None:
        _run_tui(ctx.obj, standalone)       # it freezes what lives once it is up (collector)
    collector.as_usual()


def _run_tui(opts: RunOptions, standalone: bool = False) -> None:
    sys.exit(run_tui(opts, standalone))


_COMMON_FIELDS = ("config", "data_dir", "port", "bind", "log_level", "sip_trace", "pcap", "pcap_full")


def _set_common(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """A common option given after the command: it overrides the same option given before it."""
    if value is None or ctx.resilient_parsing or not isinstance(ctx.obj, RunOptions):
        return
    setattr(ctx.obj, param.name, value)
    if param.name == "log_level":
        logging.getLogger().setLevel(getattr(logging, value.upper()))


_WITH_COMMON: set[int] = set()        # the commands accept_common_options has given them (by id)


def accept_common_options(command: click.Command) -> None:
    """Give `command` (and each command under it) the common options too (`tuiphone call 1002 --pcap x.pcap`
    works as `tuiphone --pcap x.pcap call 1002` does). main's callback makes the RunOptions before a command
    parses its options, so these only change fields of it."""
    if id(command) in _WITH_COMMON:
        return
    _WITH_COMMON.add(id(command))
    common = [p for p in main.params if isinstance(p, click.Option) and p.name in _COMMON_FIELDS]
    taken = {name for p in command.params for name in p.opts}
    for option in common:
        if taken.intersection(option.opts):
            continue
        command.params.append(click.Option(option.opts, type=option.type, help=option.help, default=None,
                                           expose_value=False, callback=_set_common))
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            accept_common_options(sub)


if __name__ == "__main__":
    main()
