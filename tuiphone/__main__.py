"""`tuiphone` and `python -m tuiphone`: the collector held off while the process starts, then the TUI for a plain
`tuiphone` (read without click: tui_args) or the CLI for everything else."""

import sys

from tuiphone.collector import hold_for_start


def main() -> None:
    hold_for_start()        # before the CLI, textual or pjsua2 is imported (collector says why)
    from tuiphone.tui_args import plain_tui, run_tui

    plain = plain_tui(sys.argv[1:])
    if plain is not None:
        sys.exit(run_tui(*plain))
    from tuiphone.cli import main as cli

    cli()


if __name__ == "__main__":
    main()
