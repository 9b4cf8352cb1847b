"""JSON bodies checked before they are parsed (api.md, "Conventions").

A body larger than ``MAX_JSON_KB`` is refused with 413 before it is read into a parser, one
nested deeper than :data:`MAX_DEPTH` with 400 before the (recursive) parser sees it, and a
number literal longer than :data:`MAX_NUMBER_DIGITS` digits with 400: nothing the service
accepts needs more, and Python would otherwise spend seconds on a 100,000-digit integer. NaN and
Infinity are not JSON and are refused too. Uploads (multipart) keep their own, larger limit
(``MAX_UPLOAD_MB``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask, current_app, request
from flask.json.provider import DefaultJSONProvider

from grants.errors import AppError, PayloadTooLarge

MAX_DEPTH = 32
#: 19 digits hold any 64-bit integer; money and rates are strings anyway.
MAX_NUMBER_DIGITS = 20
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")

#: One left-to-right pass: a string (closed, or running to the end), a bracket, or digits.
#: Possessive, so that it never backtracks: linear in the body whatever it holds.
_TOKEN = re.compile(r'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)|[\[\]{}]|[0-9]++', re.DOTALL)


class BadJSON(AppError):
    code = 400
    message = "The request body is not valid JSON."


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def loads(text: str | bytes) -> Any:
    """``json.loads`` for a body that :func:`check_shape` has passed (no NaN, no Infinity)."""
    return json.loads(text, parse_constant=_refuse_constant)


def check_shape(text: str) -> None:
    """400 if the JSON text nests deeper than MAX_DEPTH or holds an over-long number."""
    depth = 0
    for found in _TOKEN.finditer(text):
        token = found.group()
        if token[0] == '"':
            continue
        if token in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                raise BadJSON(f"The JSON body is nested deeper than {MAX_DEPTH} levels.")
        elif token in ("]", "}"):
            depth -= 1
        elif len(token) > MAX_NUMBER_DIGITS:
            raise BadJSON(f"A number in the JSON body has more than {MAX_NUMBER_DIGITS} digits.")


def check_json_body() -> None:
    """Before any API view: the size, depth and numbers of a JSON body, then one strict parse."""
    if request.method not in BODY_METHODS or not request.path.startswith("/api/"):
        return
    if not request.is_json:
        return
    limit = current_app.config["MAX_JSON_KB"] * 1024
    too_large = PayloadTooLarge(
        f"The JSON body is larger than {current_app.config['MAX_JSON_KB']} KB."
    )
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    raw = request.get_data(cache=True)
    if len(raw) > limit:
        raise too_large
    if not raw.strip():
        return
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadJSON("The request body is not valid UTF-8.") from exc
    check_shape(text)
    try:
        loads(text)
    except (ValueError, RecursionError) as exc:
        raise BadJSON() from exc


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing NaN and Infinity when it parses (``request.get_json``)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("parse_constant", _refuse_constant)
        return super().loads(s, **kwargs)


def register_body_checks(app: Flask) -> None:
    app.json_provider_class = StrictJSONProvider
    app.json = StrictJSONProvider(app)
    app.before_request(check_json_body)
