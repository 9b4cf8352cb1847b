"""Audit actions are one enumeration, recorded through one helper.

The action names are stored in the hash chain and returned by the history API, so they are
written once (``grants.audit.Action``) and every event goes through ``audit.log``; these tests
fail when a free-text action name or a direct ``audit.record`` call appears again.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grants import audit
from grants.audit import Action
from grants.db import Base
from grants.payouts.services import PAYOUT_ACTIONS
from grants.reports.services import REPORT_ACTIONS
from workflows.grant import GRANT
from workflows.payout import PAYOUT
from workflows.report import REPORT

ROOT = Path(__file__).resolve().parent.parent
#: Where application code lives (``bench/`` has argparse's ``action="store_true"``).
APP_PACKAGES = ("grants", "workflows", "exports")
FREE_TEXT_ACTION = re.compile(r"""\baction\s*=\s*f?["']""")
LOW_LEVEL_CALL = re.compile(
    r"\baudit\.record\s*\(|\bfrom\s+grants\.audit\s+import\b[^\n]*\brecord\b"
)


def _sources(*tops: str) -> list[Path]:
    return sorted(p for top in tops for p in (ROOT / top).rglob("*.py"))


def _offences(paths: list[Path], pattern: re.Pattern[str]) -> list[str]:
    found = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return found


def test_no_free_text_action_name_in_the_application():
    assert _sources(*APP_PACKAGES), "the scan found no source at all"
    assert _offences(_sources(*APP_PACKAGES), FREE_TEXT_ACTION) == []


def test_events_are_recorded_only_through_the_helper():
    paths = [
        p
        for p in _sources(*APP_PACKAGES, "tests", "bench")
        if p != ROOT / "grants" / "audit.py" and p != Path(__file__).resolve()
    ]
    assert _offences(paths, LOW_LEVEL_CALL) == []


def test_the_scans_catch_what_they_forbid():
    assert FREE_TEXT_ACTION.search('    action="payout_paid",')
    assert FREE_TEXT_ACTION.search("action=f'report_{event}'")
    assert not FREE_TEXT_ACTION.search("action=Action.PAYOUT_PAID,")
    assert LOW_LEVEL_CALL.search("    audit.record(")
    assert not LOW_LEVEL_CALL.search("    audit.log(Action.RATE_SET, row, actor=actor)")


def _readme_action_names() -> set[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("- Audit `action` names")
    end = readme.index("\n- ", start + 1)
    return set(re.findall(r"`([a-z_]+)`", readme[start:end])) - {"action"}


def test_every_action_is_listed_in_the_readme():
    assert {a.value for a in Action} == _readme_action_names()


def test_every_workflow_event_has_its_action():
    assert {t.event for t in GRANT.transitions} <= {a.value for a in Action}
    assert set(REPORT_ACTIONS) == {t.event for t in REPORT.transitions}
    assert set(PAYOUT_ACTIONS) == {t.event for t in PAYOUT.transitions}


def test_action_values_are_plain_names():
    values = [a.value for a in Action]
    assert len(values) == len(set(values))
    assert all(re.fullmatch(r"[a-z][a-z_]*", v) and len(v) <= 64 for v in values)


def test_log_refuses_a_row_that_is_no_audited_subject():
    with pytest.raises(TypeError, match="not an audited subject"):
        audit.log(Action.UPDATE, object(), actor=None)  # type: ignore[arg-type]


def test_every_audited_subject_is_a_table(app):
    assert set(audit._SUBJECTS) <= set(Base.metadata.tables)
