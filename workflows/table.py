"""A declarative transition table driven by one shared ``transitions.Machine``.

Each lifecycle (a grant, a report, a payout) is one :class:`Workflow`: a list of states and a
table of :class:`Transition` rows (event, sources, destination, roles). The machine holds no
models: events are fired with ``machine.events[name].trigger(obj)``, which reads and writes the
object's state attribute, so one machine serves every row of a table without keeping references.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from transitions import Machine, MachineError

from workflows.errors import RoleNotAllowed, TransitionNotAllowed

#: The pseudo-role of events that the service fires itself as a consequence of another action.
SYSTEM = "system"


@dataclass(frozen=True)
class Transition:
    """One row of a transition table."""

    event: str
    sources: tuple[str, ...]
    dest: str
    roles: tuple[str, ...]
    comment_required: bool = False
    final: bool = False


@dataclass
class Workflow:
    """States and transitions of one lifecycle, and the shared machine that fires them.

    ``state_labels`` and ``event_labels`` are the English names shown for its states and events
    (a badge, a button); they are defined next to the table, and every state and event has one.
    """

    name: str
    states: tuple[str, ...]
    initial: str
    transitions: tuple[Transition, ...]
    state_labels: Mapping[str, str] = field(kw_only=True, repr=False)
    event_labels: Mapping[str, str] = field(kw_only=True, repr=False)
    attribute: str = "state"
    machine: Machine = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for kind, names, labels in (
            ("state", self.states, self.state_labels),
            ("event", self.events, self.event_labels),
        ):
            if set(labels) != set(names) or not all(labels.values()):
                raise ValueError(f"{self.name}: every {kind} needs one label, and only those")
        self.machine = Machine(
            model=None,
            states=list(self.states),
            initial=self.initial,
            transitions=[
                {"trigger": t.event, "source": list(t.sources), "dest": t.dest}
                for t in self.transitions
            ],
            auto_transitions=False,
            model_attribute=self.attribute,
            name=self.name,
        )

    @property
    def events(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.event for t in self.transitions))

    def state_label(self, state: str) -> str:
        """The English name of ``state`` (KeyError if it is not a state of this workflow)."""
        return self.state_labels[state]

    def event_label(self, event: str) -> str:
        """What the button of ``event`` says (KeyError if it is not an event of this workflow)."""
        return self.event_labels[event]

    def transition(self, event: str) -> Transition:
        for t in self.transitions:
            if t.event == event:
                return t
        raise KeyError(event)

    def check(self, event: str, state: str, role: str) -> Transition:
        """Return the row for ``event`` if ``role`` may fire it from ``state``.

        The role is checked before the state, so that a role that may never fire the event is
        told so (403) whatever the state is.
        """
        t = self.transition(event)
        if role not in t.roles:
            raise RoleNotAllowed(event, role)
        if state not in t.sources:
            raise TransitionNotAllowed(event, state)
        return t

    def available(self, state: str, roles: Iterable[str]) -> list[str]:
        """The events that a holder of any of ``roles`` may fire now, in table order."""
        roles = set(roles)
        return [
            t.event for t in self.transitions if state in t.sources and roles.intersection(t.roles)
        ]

    def fire(self, obj: Any, event: str) -> str:
        """Move ``obj`` along ``event`` and return its new state.

        The caller has checked roles and guards; the machine still refuses an event that the
        table does not allow from the current state, and that refusal is raised, never swallowed.
        """
        before = getattr(obj, self.attribute)
        try:
            ok = self.machine.events[event].trigger(obj)
        except MachineError as exc:
            raise TransitionNotAllowed(event, before) from exc
        if not ok:
            raise TransitionNotAllowed(event, before)
        return getattr(obj, self.attribute)

    def mermaid(self, current: str | None = None) -> str:
        """A Mermaid state diagram generated from the table, with ``current`` marked."""
        lines = ["stateDiagram-v2", f"    [*] --> {self.initial}"]
        for t in self.transitions:
            for source in t.sources:
                lines.append(f"    {source} --> {t.dest}: {t.event}")
        for state in self.states:
            if not any(state in t.sources for t in self.transitions):
                lines.append(f"    {state} --> [*]")
        if current:
            lines.append("    classDef current fill:#ffd54f,stroke:#333,stroke-width:2px")
            lines.append(f"    class {current} current")
        return "\n".join(lines)
