"""When a task a rule makes is due: N hours after the event, or N working hours — counted
only while the line is open (its working hours in the routing rules, `routing.rules.Hours`;
a line without hours is always open).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from routing.rules import Hours

STEP = timedelta(minutes=1)
MAX_DAYS = 60  # beyond this a closed line's due time is the plain hours


def due_at(start: datetime, hours: float, *, working: bool, line: Hours | None) -> datetime:
    if not working or line is None:
        return start + timedelta(hours=hours)
    left = timedelta(hours=hours)
    at = start
    limit = start + timedelta(days=MAX_DAYS)
    while at < limit:
        opened = line.next_open(at)
        if opened is None:
            break
        at = opened
        # walk the open stretch minute by minute up to its end or to what is left
        while left > timedelta(0) and line.is_open(at):
            step = min(STEP, left)
            at += step
            left -= step
        if left <= timedelta(0):
            return at
    return start + timedelta(hours=hours)
