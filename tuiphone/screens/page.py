"""Page: send the microphone to a multicast group — typed as addr:port or picked from the paging keys
and listened groups — with a chosen codec; F1 starts and stops, and the screen says what is going on.
A page started here ends when the screen closes (a paging key's page goes on)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tuiphone.engine.pager import PagerError
from tuiphone.engine.phone_error import PhoneError
from tuiphone.i18n import t
from tuiphone.screens.base import PhoneScreen
from tuiphone.widgets.soft_keys import SoftKey, SoftKeyBar
from tuiphone.widgets.status_bar import StatusBar

CODECS = ("PCMU", "PCMA", "G722")


def paging_targets(config: Any) -> list[tuple[str, str]]:
    """(addr:port, label) of the paging keys, then of the listened groups, each address once."""
    seen: dict[str, str] = {}
    for key in config.keys:
        if key.mode == "paging" and key.value.strip():
            seen.setdefault(key.value.strip(), key.label)
    for group in config.paging.listen:
        seen.setdefault(group.address, group.label)
    return list(seen.items())


def who(address: str, label: str) -> str:
    return f"{label} ({address})" if label else address


class PageScreen(PhoneScreen):
    """Type or pick a group; F1 (or Enter) pages it, F1 again stops; F2 changes the codec."""

    BINDINGS = [
        Binding("escape", "back", "Back", show=False, id="back"),
    ]
    DEFAULT_CSS = """
    PageScreen #page { padding: 1 2; height: 1fr; }
    PageScreen #page-target { margin: 1 0 0 0; }
    PageScreen #page-groups { height: auto; max-height: 12; border: none; margin: 1 0 0 0; }
    PageScreen #page-codec, PageScreen #page-state, PageScreen #page-error { padding: 0 1; }
    PageScreen #page-state { margin: 1 0 0 0; text-style: bold; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.error = ""
        self.codec = ""
        self.targets: list[tuple[str, str]] = []
        self.started = ""             # the page this screen started; it ends when the screen closes

    @property
    def pager(self) -> Any:
        return getattr(self.app.phone, "pager", None)

    def compose(self) -> ComposeResult:
        self.codec = self.codec or self.app.config.paging.codec
        self.targets = paging_targets(self.app.config)
        yield StatusBar()
        yield Static(t("page.title"), classes="screen-title")
        with Vertical(id="page"):
            yield Static(t("page.help"), classes="hint")
            yield Input(placeholder="224.1.1.1:4009", id="page-target", max_length=60)
            yield Static("", id="page-codec")
            yield Static(t("page.groups") if self.targets else t("page.no_groups"), classes="hint")
            if self.targets:
                yield OptionList(*[Option(who(address, label), id=address) for address, label in self.targets],
                                 id="page-groups")
            yield Static("", id="page-state", markup=False)
            yield Static("", id="page-error", classes="message -error", markup=False)
        yield SoftKeyBar()

    def on_mount(self) -> None:
        super().on_mount()
        self.app.status_changed.subscribe(self, lambda _: self.redraw())
        self.query_one("#page-target", Input).focus()
        self.redraw()

    async def relabel(self) -> None:
        target = self.query_one("#page-target", Input).value
        await super().relabel()
        self.query_one("#page-target", Input).value = target
        self.redraw()

    def soft_keys(self) -> Sequence[SoftKey | None]:
        sending = self.pager is not None and self.pager.sending
        return (SoftKey("page.stop", "stop") if sending else SoftKey("page.start", "start"),
                None if sending else SoftKey("page.codec_key", "codec"), None, SoftKey("key.back", "back"))

    def redraw(self) -> None:
        pager = self.pager
        self.query_one("#page-codec", Static).update(t("page.codec", codec=self.codec))
        if pager is None:
            state = t("page.not_available")
        elif pager.sending:
            state = t("page.sending", who=who(pager.sending, dict(self.targets).get(pager.sending, "")))
        elif getattr(pager, "page", None) is not None:
            state = t("page.playing", who=who(pager.page.address, pager.page.label))
        elif getattr(pager, "problem", None):
            state = t("page.not_listening", problem=pager.problem)
        else:
            state = t("page.idle")
        self.query_one("#page-state", Static).update(state)
        self.query_one("#page-error", Static).update(self.error)
        self.refresh_soft_keys()

    # ----- choosing what to page

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        if message.option.id is not None:
            self.query_one("#page-target", Input).value = message.option.id
            self.action_start()

    def on_input_submitted(self, message: Input.Submitted) -> None:
        message.stop()
        self.action_start()

    def on_input_changed(self, _: Input.Changed) -> None:
        if self.error:
            self.error = ""
            self.redraw()

    def action_codec(self) -> None:
        """The next codec: PCMU, PCMA, G.722, then round again."""
        at = CODECS.index(self.codec) if self.codec in CODECS else -1
        self.codec = CODECS[(at + 1) % len(CODECS)]
        self.redraw()

    # ----- paging

    def action_start(self) -> None:
        pager = self.pager
        target = self.query_one("#page-target", Input).value.strip()
        if pager is None:
            self.error = t("page.not_available")
        elif not target:
            self.error = t("page.need_target")
        else:
            try:
                pager.start_sending(target, self.codec)
                self.started, self.error = target, ""
            except (PagerError, PhoneError) as exc:   # a sentence: bad group, port in use, no free microphone
                self.error = str(exc)
        self.redraw()

    def action_stop(self) -> None:
        if self.pager is not None:
            self.pager.stop_sending()
        self.redraw()

    def action_back(self) -> None:
        pager = self.pager
        if pager is not None and self.started and pager.sending == self.started:
            pager.stop_sending()
        self.dismiss()
