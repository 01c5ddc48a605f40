"""The idle screen's big clock and date, per `phone.time_format` and `phone.timezone`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Digits, Static

from tuiphone.i18n import t


def zone_for(name: str) -> dt.tzinfo | None:
    """The tzinfo for "system" (None: local time), an IANA name, or a POSIX TZ string."""
    if name == "system":
        return None
    import zoneinfo  # here: the default ("system") needs none, and its import is ~2 ms of every start

    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        pass
    from dateutil.tz import tzstr  # POSIX TZ rules such as MTZ-8MDT-8,M3.2.0,M11.1.0

    try:
        return tzstr(name)
    except ValueError:
        return None


def clock_face(now: float, time_format: str, zone: dt.tzinfo | None) -> tuple[str, str, str]:
    """(digits, am/pm mark or "", date line) for the epoch time `now`."""
    moment = dt.datetime.fromtimestamp(now, tz=zone) if zone else dt.datetime.fromtimestamp(now)
    if time_format == "12h":
        hour = moment.hour % 12 or 12
        mark = t("clock.am") if moment.hour < 12 else t("clock.pm")
        digits = f"{hour}:{moment.minute:02d}"
    else:
        mark, digits = "", f"{moment.hour:02d}:{moment.minute:02d}"
    date = f"{moment:%Y-%m-%d} {t(f'weekday.{moment.weekday()}')}"
    return digits, mark, date


class BigClock(Vertical):
    """Digits for the time, a line for the date; redrawn every second."""

    DEFAULT_CSS = """
    BigClock { height: auto; width: 100%; align-horizontal: center; }
    BigClock #clock-row { height: auto; width: auto; }
    BigClock Digits { width: auto; text-style: bold; }
    BigClock #clock-mark { width: auto; padding: 2 0 0 1; }
    BigClock #clock-date { width: auto; }
    """

    def __init__(self, clock: Callable[[], float], time_format: str, timezone: str) -> None:
        super().__init__(id="clock")
        self.clock = clock
        self.time_format = time_format
        self.zone = zone_for(timezone)
        self.face: tuple[str, str, str] | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="clock-row"):
            yield Digits("", id="clock-digits")
            yield Static("", id="clock-mark")
        yield Static("", id="clock-date")

    def on_mount(self) -> None:
        self.tick()
        self.set_interval(1.0, self.tick)
        # Preferences › Date & Time changes the format or zone: show it at once
        self.app.status_changed.subscribe(self, lambda _: self.follow_settings())

    def follow_settings(self) -> None:
        phone = self.app.config.phone
        zone = zone_for(phone.timezone)
        if (phone.time_format, zone) != (self.time_format, self.zone):
            self.time_format, self.zone = phone.time_format, zone
            self.tick()

    def tick(self) -> None:
        face = clock_face(self.clock(), self.time_format, self.zone)
        if face == self.face:
            return
        self.face = face
        digits, mark, date = face
        self.query_one(Digits).update(digits)
        self.query_one("#clock-mark", Static).update(mark)
        self.query_one("#clock-date", Static).update(date)
