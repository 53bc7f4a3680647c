"""The one base of the errors a person can cause: each service raises its own subclass, importable from
the module that raises it, and views show `message` (a form error or a 400)."""

from typing import Any


class DomainError(Exception):
    """A request that cannot be done as asked. `message` is fit to show; `extra` carries whatever else the
    caller may need to render it (empty when nothing)."""

    def __init__(self, message: str, extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.extra = extra or {}
