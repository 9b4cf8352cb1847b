"""Users: accounts of the five roles, mentor assignments, passwords."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from grants import audit
from grants.audit import Action
from grants.cities.models import City
from grants.errors import AlreadyTaken, InvalidTransition, Unprocessable
from grants.extensions import db
from grants.users.credentials import end_sessions, hash_password
from grants.users.models import User
from workflows.grant import ADMIN, CITY_MEMBER, MENTOR


def _cities(ids: list[int], field: str) -> list[City]:
    cities = list(db.session.scalars(select(City).where(City.id.in_(ids))))
    missing = sorted(set(ids) - {c.id for c in cities})
    if missing:
        raise Unprocessable.field(field, f"Unknown city ids: {missing}.")
    return cities


def create_user(data: dict[str, Any], *, actor: User | None) -> User:
    email = data["email"].strip().lower()
    if db.session.scalar(select(func.count(User.id)).where(User.email == email)):
        raise AlreadyTaken("A user with this email exists already.")
    if data.get("city_id"):
        _cities([data["city_id"]], "city_id")
    user = User(
        email=email,
        password_hash=hash_password(data["password"]),
        role=data["role"],
        city_id=data.get("city_id"),
    )
    if data["role"] == MENTOR:
        user.mentor_cities = _cities(data.get("mentor_city_ids") or [], "mentor_city_ids")
    db.session.add(user)
    db.session.flush()
    audit.log(
        Action.USER_CREATED,
        user,
        actor=actor,
        data={
            "email": user.email,
            "role": user.role,
            "city_id": user.city_id,
            "mentor_city_ids": user.mentor_city_ids,
        },
    )
    return user


LAST_ADMIN = (
    "The last active admin cannot be deactivated or lose the admin role: "
    "make another user an admin first."
)


def _lock_active_admins() -> list[int]:
    """Lock the rows of every active admin, in id order (so two requests never deadlock).

    Two admins deactivating each other at once: the second waits here until the first has
    committed, then counts what is left (PostgreSQL re-reads the locked rows).
    """
    query = (
        select(User.id)
        .where(User.role == ADMIN, User.is_active.is_(True))
        .order_by(User.id)
        .with_for_update()
    )
    return list(db.session.scalars(query))


def update_user(user: User, data: dict[str, Any], *, actor: User) -> User:
    """Change a user's password, activity, role (and city) or a mentor's cities.

    Only what really changes is written and audited (``user_updated``); nothing changed,
    nothing recorded. A new password, a deactivation or reactivation, and a new role or city
    end every page session and API token of the user. The last active admin cannot be
    deactivated or demoted (409 ``invalid_transition``), also under concurrent requests.
    """
    if user.role == ADMIN and ("role" in data or "is_active" in data):
        admins = _lock_active_admins()
        db.session.refresh(user)  # what the lock protects, as committed now
    else:
        admins = None
    role = data.get("role", user.role)
    is_active = data.get("is_active", user.is_active)
    city_id = data.get("city_id", user.city_id if role == CITY_MEMBER else None)
    if role == CITY_MEMBER and not city_id:
        raise Unprocessable.field("city_id", "A city member needs a city_id.")
    if role != CITY_MEMBER and city_id:
        raise Unprocessable.field("city_id", "Only city members belong to a city.")
    if "mentor_city_ids" in data and role != MENTOR:
        raise Unprocessable.field("mentor_city_ids", "Only mentors are assigned cities.")
    if city_id and city_id != user.city_id:
        _cities([city_id], "city_id")
    mentor_cities = None
    if "mentor_city_ids" in data:
        mentor_cities = _cities(data["mentor_city_ids"], "mentor_city_ids")
    elif role != MENTOR and user.mentor_cities:
        mentor_cities = []
    loses_admin = user.role == ADMIN and user.is_active and (role != ADMIN or not is_active)
    if loses_admin and admins is not None and len(admins) <= 1:
        raise InvalidTransition(LAST_ADMIN)

    changed: dict[str, Any] = {}
    if "password" in data:
        user.password_hash = hash_password(data["password"])
        changed["password_changed"] = True
    if is_active != user.is_active:
        user.is_active = is_active
        changed["is_active"] = is_active
    if role != user.role:
        changed["role"] = {"from": user.role, "to": role}
        user.role = role
    if city_id != user.city_id:
        changed["city_id"] = {"from": user.city_id, "to": city_id}
        user.city_id = city_id
    if mentor_cities is not None:
        before = [c.id for c in user.mentor_cities]
        after = [c.id for c in mentor_cities]
        if before != after:
            user.mentor_cities = mentor_cities
            changed["mentor_city_ids"] = {"from": before, "to": after}
    if not changed:
        return user
    if changed.keys() & {"password_changed", "is_active", "role", "city_id"}:
        end_sessions(user)
        changed["sessions_ended"] = True
    db.session.flush()
    audit.log(Action.USER_UPDATED, user, actor=actor, data=changed)
    return user
