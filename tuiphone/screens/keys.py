"""What pressing a programmable key does (alt+N or a click), by the key's mode.

A `line` key is the screen's own business (answer, resume, switch), so the screen passes `press_line`;
every other mode is the same on any screen: dial through the engine, toggle DND, open a screen, page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from tuiphone.engine.phone_error import PhoneError
from tuiphone.i18n import t
from tuiphone.widgets.line_keys import KeySpec, key_layout

log = logging.getLogger(__name__)


def press_key(app: Any, position: int, press_line: Callable[[int], None]) -> None:
    """Key `position` (1-based, as alt+N) was pressed; `press_line(line)` handles a line key."""
    specs = key_layout(app.config, app.phone.max_lines)
    if not 1 <= position <= len(specs):
        return
    spec = specs[position - 1]
    if spec.mode == "line":
        if spec.line is not None and spec.line <= app.phone.max_lines:
            press_line(spec.line)
        return
    if app.locked:
        return      # a locked phone answers calls but starts nothing
    _ACTIONS[spec.mode](app, spec)


def dial_key(app: Any, spec: KeySpec) -> None:
    """Speed dial, BLF (call, or pick up when the extension rings) and intercom: the engine knows how."""
    try:
        future = app.phone.dial_key(spec.index)
    except PhoneError as exc:
        app.show_error(str(exc))
        return
    app.command(future, done=lambda line: app.show_calls(line if isinstance(line, int) else None))


def page(app: Any, spec: KeySpec) -> None:
    """A paging key sends its page, or stops it when that page is already going out."""
    pager = getattr(app.phone, "pager", None)
    if pager is None:
        app.show_error(t("keys.no_paging"))
        return
    try:
        result = pager.stop_sending() if pager.sending == spec.value else pager.start_sending(spec.value)
    except Exception as exc:  # noqa: BLE001 - PagerError and the like are sentences (no mic, a call has it)
        log.info("page to %s refused: %s", spec.value, exc)
        app.show_error(t("keys.paging_failed", error=str(exc).rstrip(".")))
        return
    if isinstance(result, Future):
        app.command(result, done=lambda _: app.status_changed.publish(None))
    else:
        app.status_changed.publish(None)


def open_forwarding(app: Any, spec: KeySpec | None = None) -> None:
    from tuiphone.screens.features import forward_menu

    app.push_screen(forward_menu())


def _history(app: Any, spec: KeySpec) -> None:
    from tuiphone.screens.history import HistoryScreen

    app.push_screen(HistoryScreen())


def _menu(app: Any, spec: KeySpec) -> None:
    from tuiphone.screens.menu import main_menu

    app.push_screen(main_menu())


def _info(app: Any, spec: KeySpec) -> None:
    from tuiphone.screens.menu import status_menu

    app.push_screen(status_menu())


_ACTIONS: dict[str, Callable[[Any, KeySpec], None]] = {
    "speed_dial": dial_key,
    "blf": dial_key,
    "intercom": dial_key,
    "voicemail": lambda app, spec: app.dial_voicemail(spec.account),
    "dnd": lambda app, spec: app.action_toggle_dnd(),
    "forward": open_forwarding,
    "call_log": _history,
    "menu": _menu,
    "info": _info,
    "paging": page,
}


def ask_forward_call(app: Any, line: int) -> None:
    """Ask where a ringing call should go, then send it there (302)."""
    from tuiphone.screens.prompt import TextPromptScreen, check_target

    if not app.can_forward():
        app.show_error(t("keys.no_forward"))
        return
    features = app.features_now()
    app.push_screen(TextPromptScreen(t("ring.forward_to"), value=features.forward_no_answer or features.forward_busy,
                                     check=check_target),
                    lambda target: app.forward_call(line, target) if target else None)
