"""Labels of states, events, roles, reasons and export kinds: defined once, next to their tables.

The sources are ``STATE_LABELS``/``EVENT_LABELS`` of each workflow (and ``ROLE_LABELS`` next to
the roles), the ``label`` of each refusal in ``grants.errors`` (``REASON_LABELS`` is built from
them) and ``KIND_LABELS``/``STATUS_LABELS`` of ``exports.models``. Every name has a label, no
other module or template holds a second copy, and a page shows what the source says.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import exports
import grants
import workflows
from exports import models as export_models
from grants import errors
from grants.http import history
from grants.http.reports import views as report_views
from workflows import agreement as agreement_wf
from workflows import bank_account as bank_account_wf
from workflows import grant as grant_wf
from workflows import labels
from workflows import payout as payout_wf
from workflows import report as report_wf
from workflows.grant import GRANT
from workflows.payout import PAYOUT
from workflows.report import REPORT
from workflows.table import SYSTEM, Transition, Workflow

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = (GRANT, REPORT, PAYOUT)

#: The one place each label mapping is defined: (module path, name) → the mapping itself.
SOURCES: dict[tuple[str, str], Mapping[str, str]] = {
    ("workflows/grant.py", "STATE_LABELS"): grant_wf.STATE_LABELS,
    ("workflows/grant.py", "EVENT_LABELS"): grant_wf.EVENT_LABELS,
    ("workflows/grant.py", "ROLE_LABELS"): grant_wf.ROLE_LABELS,
    ("workflows/report.py", "STATE_LABELS"): report_wf.STATE_LABELS,
    ("workflows/report.py", "EVENT_LABELS"): report_wf.EVENT_LABELS,
    ("workflows/payout.py", "STATE_LABELS"): payout_wf.STATE_LABELS,
    ("workflows/payout.py", "EVENT_LABELS"): payout_wf.EVENT_LABELS,
    ("workflows/agreement.py", "STATE_LABELS"): agreement_wf.STATE_LABELS,
    ("workflows/agreement.py", "EVENT_LABELS"): agreement_wf.EVENT_LABELS,
    ("workflows/bank_account.py", "STATE_LABELS"): bank_account_wf.STATE_LABELS,
    ("workflows/bank_account.py", "EVENT_LABELS"): bank_account_wf.EVENT_LABELS,
    ("grants/errors.py", "REASON_LABELS"): errors.REASON_LABELS,
    ("exports/models.py", "KIND_LABELS"): export_models.KIND_LABELS,
    ("exports/models.py", "STATUS_LABELS"): export_models.STATUS_LABELS,
    # The history's words for audit actions that are no workflow event, and for the fields
    # an event's data names (grants/http/history.py).
    ("grants/http/history.py", "ACTION_LABELS"): history.ACTION_LABELS,
    ("grants/http/history.py", "FIELD_LABELS"): history.FIELD_LABELS,
    # The expense form's field words, for its labels and its list of errors.
    ("grants/http/reports/views.py", "FIELD_LABELS"): report_views.FIELD_LABELS,
}
SOURCE_FILES = {path for path, _ in SOURCES}
#: Mappings whose name looks like labels but that name something else.
NOT_LABELS = {("grants/http/schemas.py", "_CONTROL_NAMES")}  # Unicode control characters


def python_files() -> Iterator[tuple[str, str]]:
    for package in ("grants", "exports", "workflows"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")


def template_files() -> Iterator[tuple[str, str]]:
    for path in sorted((ROOT / "templates").rglob("*.html")):
        yield path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")


def refusal_classes() -> list[type[errors.AppError]]:
    found, todo = [], [errors.AppError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def reasons_in_code() -> set[str]:
    """Every reason the code gives: ``reason = "…"`` on a class and ``reason="…"`` in a call."""
    pattern = re.compile(r"""\breason\s*=\s*["']([a-z_]+)["']""")
    return {m for _, text in python_files() for m in pattern.findall(text)}


def all_roles() -> set[str]:
    return set(grant_wf.ROLES) | {r for wf in WORKFLOWS for t in wf.transitions for r in t.roles}


def identifiers() -> set[str]:
    """Every name that has a label (the keys a second copy of a label mapping would have)."""
    names = set(all_roles()) | set(errors.REASON_LABELS)
    names |= set(export_models.KINDS) | set(export_models.STATUSES)
    for wf in WORKFLOWS:
        names |= set(wf.states) | set(wf.events)
    return names


# ---------------------------------------------------------------------------------------------
# Every name has a label


def is_label(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != "" and value == value.strip()


@pytest.mark.parametrize("wf", WORKFLOWS, ids=lambda wf: wf.name)
def test_every_state_and_event_of_each_workflow_has_a_label(wf):
    for state in wf.states:
        assert is_label(wf.state_label(state)), (wf.name, state)
        assert labels.state_label(state) == wf.state_label(state)
    for event in wf.events:
        assert is_label(wf.event_label(event)), (wf.name, event)
        assert labels.event_label(event, wf.name) == wf.event_label(event)
    assert set(wf.state_labels) == set(wf.states)
    assert set(wf.event_labels) == set(wf.events)


def test_a_state_shared_by_two_workflows_has_one_label():
    """A badge knows only the state's name, so ``draft`` must read the same everywhere."""
    for a in WORKFLOWS:
        for b in WORKFLOWS:
            for state in set(a.states) & set(b.states):
                assert a.state_label(state) == b.state_label(state), (a.name, b.name, state)


def test_a_workflow_without_a_label_for_each_state_and_event_is_refused():
    row = (Transition("go", ("a",), "b", ("admin",)),)
    Workflow(
        "t", ("a", "b"), "a", row, state_labels={"a": "A", "b": "B"}, event_labels={"go": "Go"}
    )
    for state_labels, event_labels in (
        ({"a": "A"}, {"go": "Go"}),  # a state without one
        ({"a": "A", "b": "B"}, {}),  # an event without one
        ({"a": "A", "b": ""}, {"go": "Go"}),  # an empty one
        ({"a": "A", "b": "B", "c": "C"}, {"go": "Go"}),  # one for a state that is not there
    ):
        with pytest.raises(ValueError):
            Workflow(
                "t", ("a", "b"), "a", row, state_labels=state_labels, event_labels=event_labels
            )


def test_every_role_has_a_label():
    assert SYSTEM in all_roles()
    for role in all_roles():
        assert is_label(grant_wf.ROLE_LABELS.get(role)), role
        assert labels.role_label(role) == grant_wf.ROLE_LABELS[role]


def test_every_refusal_with_a_reason_carries_its_own_label():
    """A class that gives a reason says it in words itself (not its parent's words)."""
    with_reason = [cls for cls in refusal_classes() if "reason" in vars(cls) and cls.reason]
    assert errors.Conflict in with_reason and errors.AlreadyTaken in with_reason
    for cls in with_reason:
        assert "label" in vars(cls) or cls.reason == cls.__mro__[1].reason, cls
        assert is_label(cls.label), cls
        assert errors.REASON_LABELS[cls.reason] == cls.label, cls


def test_every_reason_given_anywhere_has_a_label():
    found = reasons_in_code()
    # The handlers of grants.http.errors give these three by name, besides the classes.
    assert {"invalid_transition", "stale", "conflict", "idempotency_mismatch"} <= found
    assert {"idempotency_in_progress", "cap_exceeded", "four_eyes"} <= found
    for reason in found:
        assert is_label(errors.REASON_LABELS.get(reason)), reason


def test_every_export_kind_and_status_has_a_label():
    assert set(export_models.KIND_LABELS) == set(export_models.KINDS)
    assert set(export_models.STATUS_LABELS) == set(export_models.STATUSES)
    for value in (*export_models.KIND_LABELS.values(), *export_models.STATUS_LABELS.values()):
        assert is_label(value)


# ---------------------------------------------------------------------------------------------
# No second copy


def test_no_other_module_names_a_label_mapping():
    """No ``*_NAMES =`` / ``*_LABELS =`` / ``*_TITLES =`` outside the defining modules."""
    pattern = re.compile(r"^\s*(_?[A-Z][A-Z0-9_]*(?:NAMES|LABELS|TITLES))\s*(?::[^=\n]*)?=", re.M)
    found = {
        (path, name) for path, text in python_files() for name in pattern.findall(text)
    } - NOT_LABELS
    assert found == set(SOURCES)


def test_no_other_module_holds_a_mapping_of_names_to_words():
    """Whatever its name: no module-level mapping of labelled names to words but the sources."""
    names = identifiers()
    sources = {id(m) for m in SOURCES.values()}
    offenders = []
    for package in (grants, exports, workflows):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if ".migrations" in info.name:
                continue
            module = importlib.import_module(info.name)
            for attr, value in vars(module).items():
                if not isinstance(value, Mapping) or id(value) in sources or not value:
                    continue
                keys = {k for k in value if isinstance(k, str)}
                texts = [v for v in value.values() if type(v) is str]  # not an enum's member
                words = [v for v in texts if not re.fullmatch(r"[a-z0-9_]+", v)]
                if len(keys & names) >= 2 and len(texts) == len(value) and words:
                    offenders.append(f"{info.name}.{attr}")
    assert offenders == []


def test_no_code_spells_a_label_as_a_literal_pair():
    """No dict literal (at any depth, in a function too) maps a labelled name to a string."""
    names = "|".join(sorted(map(re.escape, identifiers()), key=len, reverse=True))
    pair = re.compile(rf"""["']({names})["']\s*:\s*f?["']""")
    found = [
        (path, m.group(0))
        for path, text in python_files()
        if path not in SOURCE_FILES
        for m in pair.finditer(text)
    ]
    assert found == []


def test_no_template_hard_codes_an_event_or_kind_label():
    """The buttons and headings read their words from the source, through the Jinja filters."""
    words = [
        *(label for wf in WORKFLOWS for label in wf.event_labels.values()),
        *export_models.KIND_LABELS.values(),
    ]
    found = [
        (path, w)
        for path, text in template_files()
        for w in words
        if re.search(rf">\s*(\w+ )?{re.escape(w)}\s*<", text, re.I)
    ]
    assert found == []
    for path, text in template_files():
        assert not re.search(r"\b[A-Z_]+_(NAMES|LABELS)\b", text), path


# ---------------------------------------------------------------------------------------------
# Pages show what the source says


def test_a_changed_state_event_and_role_label_changes_the_grant_page(make, pages, monkeypatch):
    city = make.city()
    grant = make.grant(city, state="submitted")
    officer = make.user("finance_officer")
    monkeypatch.setitem(grant_wf.STATE_LABELS, "submitted", "Waiting for the panel")
    monkeypatch.setitem(grant_wf.EVENT_LABELS, "approve", "Say yes to it")
    monkeypatch.setitem(grant_wf.ROLE_LABELS, "finance_officer", "Money keeper")
    html = pages(officer).get(f"/grants/{grant.id}").text
    assert ">Waiting for the panel</span>" in html  # the state's badge
    assert "this one is waiting for the panel" in html  # the diagram's title
    assert ">Say yes to it</button>" in html and ">Approve</button>" not in html
    assert '<span class="role">(Money keeper)</span>' in html


def test_a_changed_event_label_changes_the_button_and_the_message(make, pages, monkeypatch):
    city = make.city()
    member = make.user("city_member", city=city)
    grant = make.grant(city, author=member)
    monkeypatch.setitem(grant_wf.EVENT_LABELS, "submit", "Send it in")
    p = pages(member)
    assert ">Send it in</button>" in p.get(f"/grants/{grant.id}").text
    assert p.post(f"/grants/{grant.id}/events/submit").status_code == 302
    assert "Done: send it in." in p.get(f"/grants/{grant.id}").text


def test_a_changed_payout_event_label_changes_the_confirm_buttons(make, pages, monkeypatch):
    grant = make.grant(make.city(), state="approved")
    officer_a, officer_b = make.user("finance_officer"), make.user("finance_officer")
    a = pages(officer_a)
    a.get("/dashboard")
    assert a.post(f"/grants/{grant.id}/payouts", {"kind": "advance"}).status_code == 302
    monkeypatch.setitem(payout_wf.EVENT_LABELS, "confirm_paid", "Money has left")
    monkeypatch.setitem(payout_wf.EVENT_LABELS, "cancel", "Call it off")
    b = pages(officer_b)
    assert ">Money has left</button>" in b.get("/dashboard").text
    html = b.get(f"/grants/{grant.id}").text
    assert ">Money has left</button>" in html and ">Call it off</button>" in html
    assert "Confirm paid" not in html and "Cancel payout" not in html
    # Read when rendered, not folded into the compiled template: the old words come back.
    monkeypatch.undo()
    assert ">Confirm paid</button>" in b.get("/dashboard").text


def test_a_changed_reason_label_changes_the_error_page(make, pages, monkeypatch):
    city = make.city()
    member = make.user("city_member", city=city)
    grant = make.grant(city, author=member, state="submitted")
    monkeypatch.setitem(errors.REASON_LABELS, "invalid_transition", "Not at this step")
    response = pages(member).get(f"/grants/{grant.id}/edit")
    assert response.status_code == 409
    assert "<strong>Reason:</strong> Not at this step." in response.text


def test_a_changed_export_kind_label_changes_the_statements_page(make, pages, monkeypatch):
    monkeypatch.setitem(export_models.KIND_LABELS, "city_statement", "Town ledger")
    html = pages(make.user("auditor")).get("/statements").text
    assert ">Town ledger</h2>" in html and ">Request town ledger</button>" in html
    assert "City statement" not in html
    monkeypatch.undo()
    assert ">Request city statement</button>" in pages(make.user("auditor")).get("/statements").text
