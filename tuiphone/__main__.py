"""`tuiphone` and `python -m tuiphone`: the collector held off while the process starts, then the CLI."""

from tuiphone.collector import hold_for_start


def main() -> None:
    hold_for_start()        # before the CLI, textual or pjsua2 is imported (collector says why)
    from tuiphone.cli import main as cli

    cli()


if __name__ == "__main__":
    main()
