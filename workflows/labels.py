"""Reading the labels of every workflow by name: one lookup, no second copy of any label.

The labels themselves are defined next to their tables (``STATE_LABELS`` and ``EVENT_LABELS`` of
``workflows.grant``, ``workflows.payout`` and ``workflows.report``, ``ROLE_LABELS`` next to the
roles); this module only finds the one that applies. A state name shared by two workflows
(``draft``, ``submitted``) has the same label in both, so a state alone is enough to name it.
"""

from __future__ import annotations

from workflows import agreement, bank_account, grant, payout, report
from workflows.table import Workflow

#: Every workflow, by its name.
WORKFLOWS: dict[str, Workflow] = {
    wf.name: wf
    for wf in (
        grant.GRANT,
        report.REPORT,
        payout.PAYOUT,
        agreement.AGREEMENT,
        bank_account.BANK_ACCOUNT,
    )
}


def _words(name: str) -> str:
    return name.replace("_", " ").capitalize()


def workflow(which: str | Workflow) -> Workflow:
    return which if isinstance(which, Workflow) else WORKFLOWS[which]


def state_label(state: str | None) -> str:
    """The label of a state of any workflow ("—" for none; the words of an unknown name)."""
    if not state:
        return "—"
    for wf in WORKFLOWS.values():
        if state in wf.state_labels:
            return wf.state_label(state)
    return _words(state)


def event_label(event: str, which: str | Workflow) -> str:
    """What the button of ``event`` of the workflow ``which`` (a name or a Workflow) says."""
    labels = workflow(which).event_labels
    return labels[event] if event in labels else _words(event)


def role_label(role: str | None) -> str:
    """The English name of a role ("—" for none; the words of an unknown name)."""
    if not role:
        return "—"
    return grant.ROLE_LABELS[role] if role in grant.ROLE_LABELS else _words(role)
