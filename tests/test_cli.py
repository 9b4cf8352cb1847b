"""The command line, the settings check at start-up, and the self-served API reference.

api.md, "Command line": ``flask --app wsgi db upgrade``, ``demo`` (prints the demo logins) and
``users create``. "Settings": ``SECRET_KEY`` is required outside debug. The OpenAPI document and
the interactive docs are served without a token, with local assets only (no internet needed).
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from grants.app import create_app
from grants.config import DEFAULTS, ConfigError
from grants.db import today
from grants.extensions import db

ROOT = Path(__file__).resolve().parent.parent


def cli_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a deployment: no leftovers of ours, the given settings only."""
    env = {k: v for k, v in os.environ.items() if k not in DEFAULTS and not k.startswith("FLASK_")}
    env.update(DATABASE_URL=database_url, SECRET_KEY="cli-test-secret", **extra)
    return env


def flask(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def sign_in(client: Any, email: str, password: str) -> Any:
    return client.post("/api/v1/auth/tokens", json={"email": email, "password": password})


class Demo:
    def __init__(self, url: str, env: dict[str, str], output: str, app: Flask) -> None:
        self.url, self.env, self.output, self.app = url, env, output, app

    @property
    def password(self) -> str:
        match = re.search(r"password for all: (\S+)\)", self.output)
        assert match, self.output
        return match.group(1)

    @property
    def logins(self) -> list[tuple[str, str]]:
        """(role, email) of every login the demo printed."""
        return re.findall(r"^\s+([a-z_]+)\s+(\S+@\S+)", self.output, flags=re.MULTILINE)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """A database made by ``db upgrade`` and loaded by ``demo``, both run as commands."""
    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'demo.sqlite'}"
    env = cli_env(url)
    upgrade = flask(env, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    loaded = flask(env, "demo")
    assert loaded.returncode == 0, loaded.stderr
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "cli-test-secret", "REDIS_URL": None})
    yield Demo(url, env, loaded.stdout, app)
    with app.app_context():
        db.engine.dispose()


def token_for(demo: Demo, role: str) -> dict[str, str]:
    email = next(e for r, e in demo.logins if r == role)
    response = sign_in(demo.app.test_client(), email, demo.password)
    assert response.status_code == 201, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


# ---------------------------------------------------------------------------------------------
# db upgrade and demo


def test_the_demo_prints_one_login_per_role(demo):
    roles = {role for role, _ in demo.logins}

    assert roles == {"city_member", "finance_officer", "mentor", "auditor", "admin"}
    assert len({email for _, email in demo.logins}) == len(demo.logins)


def test_the_upgraded_and_loaded_database_answers_healthz(demo):
    client = demo.app.test_client()

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"
    assert response.get_json()["database"] == "ok"


def test_every_printed_demo_login_signs_in_with_the_printed_password(demo):
    client = demo.app.test_client()

    for role, email in demo.logins:
        response = sign_in(client, email, demo.password)
        assert response.status_code == 201, (email, response.get_json())
        user = response.get_json()["user"]
        assert (user["email"], user["role"]) == (email, role)
        me = client.get(
            "/api/v1/users/me", headers={"Authorization": f"Bearer {response.get_json()['token']}"}
        )
        assert me.status_code == 200
        assert me.get_json()["email"] == email


def test_the_demo_has_grants_in_several_states(demo):
    client = demo.app.test_client()

    response = client.get("/api/v1/grants?page_size=100", headers=token_for(demo, "auditor"))

    assert response.status_code == 200
    grants = response.get_json()
    assert {"draft", "submitted", "approved"} <= {g["state"] for g in grants}
    for grant in grants:
        lines = sum(int(b["amount"].replace(".", "")) for b in grant["budget_lines"])
        assert int(grant["requested_amount"].replace(".", "")) == lines
    approved = [g for g in grants if g["state"] == "approved"]
    assert all(g["approved_amount"] for g in approved)


def test_the_demo_cities_are_the_real_pearls_and_may_propose_today(demo):
    pearls = (ROOT / "grants" / "demo_data" / "pearls.csv").read_text("utf-8")
    names = {row["city"] for row in csv.DictReader(pearls.splitlines())}
    client = demo.app.test_client()

    response = client.get("/api/v1/cities?page_size=100", headers=token_for(demo, "admin"))

    assert response.status_code == 200
    cities = response.get_json()
    assert {c["name"] for c in cities} == names
    now = today().isoformat()
    for city in cities:
        assert any(t["valid_from"] <= now <= t["valid_until"] for t in city["titles"]), city


def test_the_demo_members_can_propose_today(demo):
    client = demo.app.test_client()
    headers = token_for(demo, "city_member")
    start = today() + dt.timedelta(days=30)

    response = client.post(
        "/api/v1/grants",
        headers=headers,
        json={
            "title": "A test pilot",
            "start_date": start.isoformat(),
            "end_date": (start + dt.timedelta(days=30)).isoformat(),
            "budget_lines": [{"category": "fees", "description": "Fees", "amount": "10.00"}],
        },
    )

    assert response.status_code == 201, response.get_json()
    assert client.delete("/api/v1/auth/tokens/current", headers=headers).status_code == 204


def test_the_demo_runs_again_without_loading_twice(demo):
    again = flask(demo.env, "demo")

    assert again.returncode == 0, again.stderr
    assert "loaded already" in again.stdout
    logins = re.findall(r"^\s+([a-z_]+)\s+(\S+@\S+)", again.stdout, flags=re.MULTILINE)
    # The same users (and any created since): nothing was loaded twice.
    assert logins[: len(demo.logins)] == demo.logins
    assert len(logins) == len(set(logins))


# ---------------------------------------------------------------------------------------------
# users create


def test_users_create_makes_an_admin_who_can_sign_in(demo):
    created = flask(
        demo.env,
        "users",
        "create",
        "Ops@Pearl.Example",
        "--role",
        "admin",
        "--password",
        "a long admin password",
    )

    assert created.returncode == 0, created.stderr
    assert "ops@pearl.example" in created.stdout
    client = demo.app.test_client()
    response = sign_in(client, "ops@pearl.example", "a long admin password")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["user"]["role"] == "admin"


def test_users_create_prompts_for_the_password(demo):
    created = flask(
        demo.env,
        "users",
        "create",
        "prompted@pearl.example",
        "--role",
        "auditor",
        stdin="typed at the prompt\ntyped at the prompt\n",
    )

    assert created.returncode == 0, created.stderr
    response = sign_in(demo.app.test_client(), "prompted@pearl.example", "typed at the prompt")
    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["bad-role@pearl.example", "--role", "superuser"], id="bad-role"),
        pytest.param(["short@pearl.example", "--role", "admin", "--password", "short"], id="short"),
        pytest.param(["no-city@pearl.example", "--role", "city_member"], id="member-no-city"),
        pytest.param(["not-an-email", "--role", "admin"], id="bad-email"),
        pytest.param(["admin@pearl.example", "--role", "admin"], id="taken-email"),
    ],
)
def test_users_create_refuses_bad_input_with_a_non_zero_exit(demo, args):
    if "--password" not in args:
        args = [*args, "--password", "a long enough password"]

    refused = flask(demo.env, "users", "create", *args)

    assert refused.returncode != 0
    assert "Traceback" not in refused.stderr
    response = sign_in(demo.app.test_client(), args[0], "a long enough password")
    assert response.status_code == 401


# ---------------------------------------------------------------------------------------------
# SECRET_KEY


def test_create_app_refuses_to_start_without_a_secret_key(monkeypatch, tmp_path):
    for name in ("SECRET_KEY", "FLASK_DEBUG", "DEBUG", "TESTING"):
        monkeypatch.delenv(name, raising=False)

    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}"})


def test_the_command_line_refuses_to_start_without_a_secret_key(tmp_path):
    env = cli_env(f"sqlite:///{tmp_path / 'x.sqlite'}")
    del env["SECRET_KEY"]

    refused = flask(env, "db", "upgrade")
    allowed = flask({**env, "FLASK_DEBUG": "1"}, "db", "upgrade")

    assert refused.returncode != 0
    assert "SECRET_KEY" in refused.stdout + refused.stderr
    assert allowed.returncode == 0, allowed.stderr


# ---------------------------------------------------------------------------------------------
# The OpenAPI document

#: The endpoints of api.md ("Endpoints"), with ``{}`` for every path parameter.
API_MD_ENDPOINTS = [
    ("post", "/auth/tokens"),
    ("delete", "/auth/tokens/current"),
    ("get", "/users/me"),
    ("post", "/users"),
    ("get", "/users"),
    ("post", "/cities"),
    ("get", "/cities"),
    ("get", "/cities/{}"),
    ("post", "/cities/{}/titles"),
    ("put", "/exchange-rates/{}/{}"),
    ("get", "/exchange-rates"),
    ("post", "/grants"),
    ("get", "/grants"),
    ("get", "/grants/{}"),
    ("patch", "/grants/{}"),
    ("post", "/grants/{}/transitions"),
    ("get", "/grants/{}/history"),
    ("post", "/grants/{}/comments"),
    ("get", "/grants/{}/comments"),
    ("post", "/grants/{}/disbursements"),
    ("get", "/grants/{}/disbursements"),
    ("post", "/disbursements/{}/transitions"),
    ("post", "/grants/{}/reports"),
    ("get", "/grants/{}/reports"),
    ("get", "/reports/{}"),
    ("patch", "/reports/{}"),
    ("post", "/reports/{}/attachments"),
    ("get", "/attachments/{}"),
    ("post", "/reports/{}/transitions"),
    ("post", "/exports"),
    ("get", "/exports/{}"),
    ("get", "/exports/{}/file"),
]

#: Those that exist from the start and must always be documented.
CORE = API_MD_ENDPOINTS[:19]


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]*\}|<[^>]*>", "{}", path.removeprefix("/api/v1"))


def _served(app: Flask) -> set[tuple[str, str]]:
    return {
        (method.lower(), _shape(rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        for method in rule.methods or ()
    }


@pytest.fixture
def openapi(client: Any) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict), ref
        assert part in node, f"unresolved $ref {ref}"
        node = node[part]
    return node


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_the_openapi_document_is_served_without_a_token(client):
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    assert response.get_json()["openapi"].startswith("3.")


def test_the_openapi_document_lists_the_endpoints_of_api_md(app, openapi):
    documented = {
        (method, _shape(path))
        for path, item in openapi["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    served = _served(app)

    assert set(CORE) <= served
    for endpoint in API_MD_ENDPOINTS:
        if endpoint in served:
            assert endpoint in documented, endpoint
    assert documented <= served


def test_the_openapi_document_has_a_bearer_scheme_and_a_public_sign_in(openapi):
    schemes = openapi["components"]["securitySchemes"]
    bearer = [
        name for name, s in schemes.items() if (s["type"], s.get("scheme")) == ("http", "bearer")
    ]

    assert bearer
    assert any(set(requirement) & set(bearer) for requirement in openapi["security"])
    sign_in_operation = next(
        item["post"] for path, item in openapi["paths"].items() if _shape(path) == "/auth/tokens"
    )
    assert sign_in_operation["security"] == []


def test_the_openapi_document_is_well_formed(openapi):
    assert isinstance(openapi["info"]["title"], str)
    assert isinstance(openapi["info"]["version"], str)
    for node in _walk(openapi):
        if "$ref" in node:
            _resolve(openapi, node["$ref"])
        # A string with a numeric range is the invalid document of the Decimal+Range trap.
        if node.get("type") == "string":
            assert not {"minimum", "maximum", "exclusiveMinimum"} & set(node), node
    for path, item in openapi["paths"].items():
        assert path.startswith("/api/v1/")
        params = set(re.findall(r"\{([^}]+)\}", path))
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert method in {"get", "post", "put", "patch", "delete"}, (path, method)
            assert operation["responses"], (path, method)
            assert all(
                code == "default" or re.fullmatch(r"[1-5][0-9]{2}", code)
                for code in operation["responses"]
            )
            declared = {
                p["name"]
                for p in [*item.get("parameters", []), *operation.get("parameters", [])]
                if "$ref" not in p and p["in"] == "path"
            }
            assert declared == params, (path, method)


def test_money_is_documented_as_a_string(openapi):
    grant = openapi["components"]["schemas"]["Grant"]["properties"]

    for name in ("requested_amount", "approved_amount", "paid_amount", "recovered_amount"):
        assert grant[name]["type"] == "string", name
        assert grant[name]["pattern"] == r"^[0-9]{1,7}\.[0-9]{2}$", name


# ---------------------------------------------------------------------------------------------
# The interactive docs


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self.inline: list[str] = []
        self.handlers: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "data-spec-url") and value:
                self.urls.append(value)
            if name.startswith("on"):
                self.handlers.append(name)
        if tag == "script":
            self.scripts.append(dict(attrs))
            self._in_script = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data)


def test_the_docs_use_local_assets_and_no_inline_script(client):
    response = client.get("/api/v1/docs")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = _Page()
    page.feed(response.get_data(as_text=True))
    assert page.scripts
    assert all(s.get("src") for s in page.scripts)
    assert page.inline == []
    assert page.handlers == []
    assert page.urls
    for url in page.urls:
        assert not re.match(r"^(https?:)?//", url, flags=re.IGNORECASE), url
        with client.get(url) as asset:
            assert asset.status_code == 200, url
            assert asset.get_data()


def test_the_docs_initialiser_fetches_nothing_from_the_internet(client):
    page = _Page()
    page.feed(client.get("/api/v1/docs").get_data(as_text=True))
    initialiser = [s["src"] for s in page.scripts if "swagger-ui" not in (s["src"] or "")]
    assert initialiser

    for src in initialiser:
        with client.get(src) as response:
            assert response.status_code == 200
            script = response.get_data(as_text=True)
        assert not re.search(r"https?://", script)
        # Swagger UI asks validator.swagger.io about the document unless told not to.
        assert re.search(r"validatorUrl\s*:\s*null", script), src
