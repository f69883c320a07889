"""Is the team inside business hours, and when does it open next?"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from yoosr.models.workspace import BusinessHours

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _intervals(hours: BusinessHours, day: date) -> list[tuple[time, time]]:
    if day.isoformat() in hours.holidays:
        return []
    return [
        (time.fromisoformat(a), time.max if b == "24:00" else time.fromisoformat(b))
        for a, b in hours.weekly.get(DAYS[day.weekday()], [])
    ]


def status(hours: BusinessHours | None, moment: datetime) -> tuple[bool, datetime | None]:
    """(open now, next opening) — with no hours configured the team counts as always open."""
    if hours is None:
        return True, None
    zone = ZoneInfo(hours.timezone)
    local = moment.astimezone(zone)
    for start, end in _intervals(hours, local.date()):
        if start <= local.time() < end:
            return True, None
    for offset in range(15):  # two weeks covers any weekly schedule plus holidays
        day = local.date() + timedelta(days=offset)
        for start, _ in sorted(_intervals(hours, day)):
            opening = datetime.combine(day, start, tzinfo=zone)
            if opening > local:
                return False, opening
    return False, None
