"""A browser-like user of the pages (cookie jar and CSRF token), shared by the page tests."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

from tests.factories import PASSWORD


def token_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field in the page"
    return match.group(1)


class Pages:
    """A browser-like user of the pages: a cookie jar, and the CSRF token of the last page."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.token = ""

    def get(self, path: str, **kw: Any) -> Any:
        response = self.client.get(path, **kw)
        if response.mimetype == "text/html" and "csrf_token" in response.text:
            self.token = token_of(response.text)
        return response

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True, **kw: Any) -> Any:
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf_token", self.token)
        return self.client.post(path, data=form, **kw)

    def sign_in(self, email: str, password: str = PASSWORD) -> Any:
        self.get("/login")
        return self.post("/login", {"email": email, "password": password})
