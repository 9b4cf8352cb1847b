"""Composite pages: they show several aggregates at once (the dashboards, the grant page)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("pages", __name__)
