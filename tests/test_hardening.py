"""No secret, token or password ever reaches a log line."""

from __future__ import annotations

import logging

from tests.factories import PASSWORD


def test_no_secret_token_or_password_in_any_log_line(make, client, app, caplog):
    caplog.set_level(logging.DEBUG)
    admin = make.as_role("admin")
    user = make.user("auditor")
    new_password = "a brand new password 42"
    r = client.post("/api/v1/auth/tokens", json={"email": user.email, "password": PASSWORD})
    token = r.get_json()["token"]
    client.post("/api/v1/auth/tokens", json={"email": user.email, "password": "wrong " + PASSWORD})
    client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    client.get("/api/v1/grants/1", headers={"Authorization": "Bearer not-a-real-token"})
    admin.post("/users", {"email": "new@test.example", "password": new_password, "role": "mentor"})
    admin.post("/users", {"email": "bad", "password": new_password, "role": "nobody"})
    text = "\n".join(
        f"{record.getMessage()} {record.exc_text or ''} {record.args!r}"
        for record in caplog.records
    )
    for secret in (PASSWORD, new_password, token, admin.token, app.config["SECRET_KEY"]):
        assert secret not in text
