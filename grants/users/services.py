"""Users: accounts of the five roles, mentor assignments, passwords."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from grants import audit
from grants.auth import hash_password
from grants.cities.models import City
from grants.errors import AlreadyTaken, Unprocessable
from grants.extensions import db
from grants.users.models import User
from workflows.grant import MENTOR


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
    audit.record(
        db.session,
        actor=actor,
        action="user_created",
        subject_type="user",
        subject_id=user.id,
        data={
            "email": user.email,
            "role": user.role,
            "city_id": user.city_id,
            "mentor_city_ids": user.mentor_city_ids,
        },
    )
    return user


def update_user(user: User, data: dict[str, Any], *, actor: User) -> User:
    changed: dict[str, Any] = {}
    if "password" in data:
        user.password_hash = hash_password(data["password"])
        changed["password_changed"] = True
    if "is_active" in data and data["is_active"] != user.is_active:
        user.is_active = data["is_active"]
        changed["is_active"] = user.is_active
    if "mentor_city_ids" in data:
        if user.role != MENTOR:
            raise Unprocessable.field("mentor_city_ids", "Only mentors are assigned cities.")
        before = user.mentor_city_ids
        user.mentor_cities = _cities(data["mentor_city_ids"], "mentor_city_ids")
        changed["mentor_city_ids"] = {"from": before, "to": user.mentor_city_ids}
    db.session.flush()
    audit.record(
        db.session,
        actor=actor,
        action="user_updated",
        subject_type="user",
        subject_id=user.id,
        data=changed,
    )
    return user
