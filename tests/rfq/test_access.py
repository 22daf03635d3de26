"""The authorization helpers every endpoint uses."""

from __future__ import annotations

import pytest

from rfq.access import may_see, require_member, require_operator, require_role
from rfq.accounts import Principal, Role, Via
from rfq.platform.errors import Forbidden, NotFound, Unauthorized

BUYER = Principal(1, "b@example.com", Role.buyer, 10, 1, Via.bearer)
SUPPLIER = Principal(2, "s@example.com", Role.supplier, 20, 2, Via.cookie)
OPERATOR = Principal(3, "o@example.com", Role.operator, None, 3, Via.bearer)


def test_anonymous_is_unauthorized() -> None:
    """Every helper refuses an anonymous caller with Unauthorized."""
    with pytest.raises(Unauthorized):
        require_role(None, Role.buyer)
    with pytest.raises(Unauthorized):
        require_member(None, 10, "rfq")


def test_wrong_role_is_forbidden() -> None:
    """A supplier calling a buyer-only action gets Forbidden with code wrong_role."""
    assert require_role(BUYER, Role.buyer) is BUYER
    with pytest.raises(Forbidden) as caught:
        require_role(SUPPLIER, Role.buyer)
    assert caught.value.code == "wrong_role"
    with pytest.raises(Forbidden):
        require_operator(BUYER)
    assert require_operator(OPERATOR) is OPERATOR


def test_other_companies_objects_are_not_found() -> None:
    """Another company's object reads as NotFound; operators see everything."""
    assert require_member(BUYER, 10, "rfq") is BUYER
    with pytest.raises(NotFound):
        require_member(BUYER, 20, "rfq")
    with pytest.raises(NotFound):
        require_member(BUYER, None, "rfq")
    assert require_member(OPERATOR, 20, "rfq") is OPERATOR
    assert may_see(SUPPLIER, 20) and not may_see(SUPPLIER, 10) and may_see(OPERATOR, 10)
    assert not may_see(None, 10)
