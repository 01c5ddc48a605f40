"""Sign-ins of the web admin: a random session id per sign-in (the cookie), its CSRF token, its expiry.

Sessions live in memory only: restarting the phone signs everybody out. The password check is constant-time
and wrong passwords count per client address in the CTI's FailureThrottle (slowed, then locked out).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from tuiphone.services.cti import FailureThrottle

COOKIE = "tuiphone_session"
MAX_SESSIONS = 64          # sign-ins kept at once; the oldest goes first


@dataclass
class Session:
    sid: str
    csrf: str
    expires: float          # clock() time


def password_matches(given: str, expected: str) -> bool:
    """Constant-time comparison; an empty expected password never matches."""
    if not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))


class Sessions:
    """The signed-in browsers of one web admin."""

    def __init__(self, minutes: int, clock: Callable[[], float] = time.monotonic,
                 throttle: FailureThrottle | None = None):
        self.minutes, self.clock = minutes, clock
        self.throttle = throttle or FailureThrottle()
        self._by_id: dict[str, Session] = {}

    @property
    def seconds(self) -> int:
        return self.minutes * 60

    def create(self) -> Session:
        self._expire()
        while len(self._by_id) >= MAX_SESSIONS:
            self._by_id.pop(next(iter(self._by_id)))
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), self.clock() + self.seconds)
        self._by_id[session.sid] = session
        return session

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        session = self._by_id.get(sid)
        if session is None:
            return None
        if session.expires <= self.clock():
            del self._by_id[sid]
            return None
        return session

    def end(self, sid: str | None) -> None:
        if sid:
            self._by_id.pop(sid, None)

    def end_all(self) -> None:
        self._by_id.clear()

    @staticmethod
    def csrf_ok(session: Session, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(str(given).encode(), session.csrf.encode())

    def _expire(self) -> None:
        now = self.clock()
        for sid in [sid for sid, s in self._by_id.items() if s.expires <= now]:
            del self._by_id[sid]
