"""Errors raised by the workflow tables; the application maps them to HTTP answers."""


class WorkflowError(Exception):
    """Base class of every refusal a workflow table can give."""


class TransitionNotAllowed(WorkflowError):
    """The event cannot be fired from the object's current state."""

    def __init__(self, event: str, state: str) -> None:
        super().__init__(f"The event '{event}' cannot be fired in state '{state}'.")
        self.event = event
        self.state = state


class RoleNotAllowed(WorkflowError):
    """The role of the caller may not fire this event in any state."""

    def __init__(self, event: str, role: str) -> None:
        super().__init__(f"The role '{role}' may not fire the event '{event}'.")
        self.event = event
        self.role = role
