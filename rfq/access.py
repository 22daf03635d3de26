"""Authorization: who may touch which object.

Every endpoint that reads or changes an object calls one of these with the caller and
the object's owning company, so that no endpoint can forget the check. Objects of
another company read as *not found* (404) rather than *forbidden*, so their existence
does not leak; a role that may never do a thing gets 403.
"""

from __future__ import annotations

from rfq.accounts import Principal, Role
from rfq.platform.errors import Forbidden, NotFound, Unauthorized


def require_login(principal: Principal | None) -> Principal:
    """The caller, or ``Unauthorized`` for an anonymous request."""
    if principal is None:
        raise Unauthorized("Log in or send an Authorization: Bearer token.", code="login_required")
    return principal


def require_role(principal: Principal | None, *roles: Role) -> Principal:
    """The caller if its role is one of ``roles``; 401 for anonymous, 403 otherwise."""
    caller = require_login(principal)
    if caller.role not in roles:
        names = " or ".join(("an " if r.value[0] in "aeiou" else "a ") + r.value for r in roles)
        raise Forbidden(f"Only {names} may do this.", code="wrong_role")
    return caller


def require_operator(principal: Principal | None) -> Principal:
    """The caller if it is a platform operator."""
    return require_role(principal, Role.operator)


def require_member(principal: Principal | None, company_id: int | None, what: str) -> Principal:
    """The caller if it belongs to ``company_id`` or is an operator; else ``what`` is not found."""
    caller = require_login(principal)
    if caller.is_operator:
        return caller
    if company_id is None or caller.company_id != company_id:
        raise NotFound(f"No such {what}.")
    return caller


def may_see(principal: Principal | None, company_id: int | None) -> bool:
    """True if the caller is an operator or a member of ``company_id``."""
    if principal is None:
        return False
    return principal.is_operator or (company_id is not None and principal.company_id == company_id)
