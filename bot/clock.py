"""The one source of "now". Production reads the system clock; tests set it.

"Today" is a day in the configured time zone (Asia/Shanghai), never the server's local zone.
"""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock:
    """The system clock seen from one time zone."""

    def __init__(self, tz: ZoneInfo = SHANGHAI) -> None:
        self.tz = tz

    def now(self) -> datetime:
        return datetime.now(self.tz)

    def today(self) -> date:
        return self.now().date()

    def timestamp(self) -> float:
        return self.now().timestamp()


class SettableClock(Clock):
    """A clock that stands still until a test sets or advances it."""

    def __init__(self, at: datetime, tz: ZoneInfo = SHANGHAI) -> None:
        super().__init__(tz)
        self._lock = threading.Lock()
        self._now = at if at.tzinfo else at.replace(tzinfo=tz)

    def now(self) -> datetime:
        with self._lock:
            return self._now.astimezone(self.tz)

    def set(self, at: datetime) -> None:
        with self._lock:
            self._now = at if at.tzinfo else at.replace(tzinfo=self.tz)

    def advance(self, **delta: float) -> None:
        with self._lock:
            self._now += timedelta(**delta)
