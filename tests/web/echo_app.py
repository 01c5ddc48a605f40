"""A small Textual app for the web terminal's tests (before the TUI attaches): a fixed line, then every key
typed, and its PID so that a test can check the process is gone. `python -m tests.web.echo_app`."""

from __future__ import annotations

import os

from textual.app import App, ComposeResult
from textual.widgets import Static


class EchoApp(App):
    def compose(self) -> ComposeResult:
        yield Static(f"ECHO APP READY pid={os.getpid()}", id="ready")
        yield Static("typed: ", id="typed")

    def on_key(self, event) -> None:
        typed = self.query_one("#typed", Static)
        text = str(typed.render()) + (event.character if event.character and event.character.isprintable()
                                      else f"<{event.key}>")
        typed.update(text)


if __name__ == "__main__":
    EchoApp().run()
