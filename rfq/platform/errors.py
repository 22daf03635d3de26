"""The procurement domain's exception tree.

Every error carries a stable machine-readable ``code`` and a sentence. The web layer
turns them into responses in exactly one place (``web/errors.py``), by their class::

    RfqError                      (code: error)
    ├── Invalid                   422  bad input a client can fix
    ├── Unauthorized              401  no or bad credentials
    ├── Forbidden                 403  authenticated, but not allowed
    │   └── CsrfFailed            403  cookie request without a valid CSRF token
    ├── NotFound                  404  missing, or hidden from this viewer
    ├── Conflict                  409  valid input that clashes with current state
    └── RateLimited               429  too many attempts; ``retry_after`` seconds
"""

from __future__ import annotations


class RfqError(Exception):
    """Base of every domain error: a ``code`` and a human sentence."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class Invalid(RfqError):
    """The input breaks a rule; ``field`` names the offending field when there is one."""

    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message, code=code)
        self.field = field


class Unauthorized(RfqError):
    """The request carries no credentials, or credentials that are not valid."""

    code = "unauthorized"


class Forbidden(RfqError):
    """The caller is known but may not do this."""

    code = "forbidden"


class CsrfFailed(Forbidden):
    """A cookie-authenticated state change came without a matching CSRF token."""

    code = "csrf_failed"


class NotFound(RfqError):
    """No such object, or the caller may not know it exists."""

    code = "not_found"


class Conflict(RfqError):
    """The request is well formed but clashes with the object's current state."""

    code = "conflict"


class RateLimited(RfqError):
    """Too many attempts; try again after ``retry_after`` seconds."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after
