"""Loaders of the API's ``endpoint(load=...)``: the object of the URL, in the caller's scope."""

from __future__ import annotations

from typing import Any

from flask import request

from grants import scope
from grants.users.models import User


def load_grant(user: User, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The grant of the URL, in the caller's scope (404 outside it); locked for writes."""
    grant_id = kwargs.pop("grant_id")
    kwargs["grant"] = scope.get_grant(user, grant_id, for_update=request.method != "GET")
    return kwargs


def load_grant_out(user: User, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The grant of the URL for reading, with its figures, in one statement (404 outside)."""
    kwargs["grant"] = scope.get_grant(user, kwargs.pop("grant_id"), figures=True)
    return kwargs
