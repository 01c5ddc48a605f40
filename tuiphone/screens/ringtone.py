"""Preferences › Ringtone: per account ring1–ring3 or a WAV file (checked before it is kept); a sample plays."""

from __future__ import annotations

import os
from typing import Any

from textual.app import App

from tuiphone.audio.ringtones import BUILTIN_RINGTONES, load_ringtone
from tuiphone.engine.events import LineState
from tuiphone.i18n import t
from tuiphone.screens.menu_list import MenuEntry, MenuScreen
from tuiphone.widgets.status_bar import account_label

SAMPLE_SECONDS = 3.0


def ringtone_menu() -> MenuScreen:
    """Each account with its ringtone; choosing one lists the tones for it."""
    def entries(app: App) -> tuple[MenuEntry, ...]:
        return tuple(MenuEntry(t("ringtone.account", account=account_label(i, a), ringtone=shown(a.ringtone)),
                               lambda _, i=i: account_ringtones(i), literal=True)
                     for i, a in enumerate(app.config.accounts))

    menu = MenuScreen("menu.ringtone", lambda: entries(menu.app))
    return menu


def shown(ringtone: str) -> str:
    """ring1 as it is; a WAV by its file name."""
    return ringtone if ringtone in BUILTIN_RINGTONES else os.path.basename(ringtone)


def account_ringtones(index: int) -> MenuScreen:
    def entries(app: App) -> tuple[MenuEntry, ...]:
        current = app.config.accounts[index].ringtone
        custom = current not in BUILTIN_RINGTONES
        return (*(MenuEntry(("● " if name == current else "  ") + name,
                            lambda a, name=name: choose(a, index, name), literal=True) for name in BUILTIN_RINGTONES),
                MenuEntry(("● " if custom else "  ") + t("ringtone.custom", file=shown(current) if custom else "…"),
                          lambda a: ask_wav(a, index), literal=True))

    menu = MenuScreen("menu.ringtone", lambda: entries(menu.app))
    return menu


def wav_problem(path: str) -> str:
    """"" for a WAV file the phone can ring with, else a sentence saying what is wrong."""
    if not path.lower().endswith(".wav"):
        return t("ringtone.not_wav", ext=".wav")
    _, problem = load_ringtone(os.path.expanduser(path))
    return t("ringtone.bad_wav", problem=problem) if problem else ""


def ask_wav(app: App, index: int) -> None:
    from tuiphone.screens.prompt import TextPromptScreen

    current = app.config.accounts[index].ringtone
    typed = "" if current in BUILTIN_RINGTONES else current
    app.push_screen(TextPromptScreen(t("ringtone.ask_wav", ext=".wav"), value=typed,
                                     placeholder="/usr/share/sounds/ring.wav", check=wav_problem),
                    lambda path: choose(app, index, path) if path else None)


def choose(app: App, index: int, ringtone: str) -> None:
    """Keep the account's ringtone in the config, then let it ring a moment so the user hears it."""
    problem = app.change_setting(app.config.accounts[index], "ringtone", ringtone)
    if problem:
        app.show_error(problem)
        return
    play_sample(app, ringtone)


def play_sample(app: Any, ringtone: str) -> None:
    """Ring `ringtone` for a few seconds through the phone's speaker (or ringer); a sentence when there is none."""
    audio = getattr(app.phone, "local_audio", None)
    if audio is None:
        attached = getattr(app, "attached", False)       # the phone process's devices ring, not this one's
        app.notify(t("phone.not_here", what=t("ringtone.sample")) if attached else t("ringtone.no_audio"),
                   markup=False)
        return
    problem = audio.start_ring(os.path.expanduser(ringtone))
    if problem:
        app.show_error(problem)

    def stop() -> None:
        if not any(v.call.state == LineState.RINGING for v in app.lines.values()):    # a real call rings on
            audio.stop_ring()
    app.set_timer(SAMPLE_SECONDS, stop)
