"""Pure state machines of the programme: states, transition tables and roles.

Nothing here imports Flask or SQLAlchemy; the services in ``grants`` drive these machines.
"""

from workflows.errors import RoleNotAllowed, TransitionNotAllowed, WorkflowError

__all__ = ["RoleNotAllowed", "TransitionNotAllowed", "WorkflowError"]
