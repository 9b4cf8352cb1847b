"""A user's own settings: the time zone the pages show their times in.

A time zone is an IANA name known to ``zoneinfo`` (``Europe/Riga``); none means the browser's
zone. The change is recorded in the audit trail (``user_updated``, ``time_zone`` from → to).
"""

from __future__ import annotations

import functools
import zoneinfo

from grants import audit
from grants.audit import Action
from grants.errors import Unprocessable
from grants.extensions import db
from grants.users.models import User

#: Longer names are refused before they are looked up (the column holds 64 characters).
MAX_ZONE_NAME = 64


@functools.cache
def time_zone_names() -> tuple[str, ...]:
    """Every IANA zone name this host knows, sorted (read from the zone database once)."""
    return tuple(sorted(zoneinfo.available_timezones()))


def time_zone(name: str | None) -> zoneinfo.ZoneInfo | None:
    """The zone of ``name``, or None for no name and for a name that is no known zone."""
    if not name or len(name) > MAX_ZONE_NAME or name not in _known():
        return None
    return zoneinfo.ZoneInfo(name)


@functools.cache
def _known() -> frozenset[str]:
    return frozenset(time_zone_names())


def set_time_zone(user: User, name: str | None, *, actor: User) -> User:
    """Set ``user``'s time zone (blank: the browser's); an unknown name is refused (422).

    Only a real change is written and audited.
    """
    name = (name or "").strip() or None
    if name is not None and time_zone(name) is None:
        raise Unprocessable.field(
            "time_zone",
            "This is not a time zone we know. Choose one from the list, such as Europe/Riga, "
            "or leave it empty to use your browser's.",
        )
    if name == user.time_zone:
        return user
    before = user.time_zone
    user.time_zone = name
    db.session.flush()
    audit.log(
        Action.USER_UPDATED, user, actor=actor, data={"time_zone": {"from": before, "to": name}}
    )
    return user
