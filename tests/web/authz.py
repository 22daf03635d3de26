"""The authorization matrices' one harness: the roles, the people behind them, and one
check of one row (every role calls the endpoint; each gets the status the table says).

A table maps a row name to ``(method, path, body, expected)``: ``path`` takes the
world's ids (``{draft}``), ``body`` is a value or a name the table's own ``body``
function turns into one, ``expected`` one status per role in :data:`ROLES` order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support import (
    LiveServer,
    bearer,
    certified_supplier,
    operator_token,
    pending_supplier,
    register,
)

ROLES = ("anon", "buyer", "other_buyer", "sup_pending", "sup_approved", "sup_deposit", "operator")
"""Anonymous, the owning buyer, another buyer, a supplier with a pending certification,
an approved supplier without deposit, an approved supplier with a held deposit (the one
bidding and holding the contract), and an operator."""

Row = tuple[str, str, Any, tuple[int, ...]]


@dataclass
class World:
    """Each role's bearer token, its people, and the ids the table's paths name."""

    tokens: dict[str, str | None]
    people: dict[str, dict[str, Any]]
    ids: dict[str, Any]


def people(client: httpx.Client, live: LiveServer, category: str) -> World:
    """One of each role, suppliers certified in ``category`` (no ids yet)."""
    operator = operator_token(live)
    found = {
        "buyer": register(client, "buyer"),
        "other_buyer": register(client, "buyer"),
        "sup_pending": pending_supplier(client, [category]),
        "sup_approved": certified_supplier(client, operator, [category], deposit=None),
        "sup_deposit": certified_supplier(client, operator, [category]),
    }
    tokens: dict[str, str | None] = {role: who["token"] for role, who in found.items()}
    tokens.update(anon=None, operator=operator)
    return World(tokens, found, {})


def check(base_url: str, row: Row, world: World, body: Callable[[Any, World], Any]) -> None:
    """Every role calls the row's endpoint on a fresh client (no cookies between roles);
    each gets the row's status, and every refusal is an error document."""
    method, path, spec, expected = row
    url = path.format(**world.ids)
    got = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for role in ROLES:
            token = world.tokens[role]
            headers = bearer(token) if token else {}
            response = client.request(method, url, json=body(spec, world), headers=headers)
            got.append(response.status_code)
            if response.status_code >= 400:
                assert "error" in response.json(), response.text
    assert tuple(got) == expected, dict(zip(ROLES, got, strict=True))


def uncovered(
    specs: list[Any], tables: list[Mapping[str, Row]], exempt: Mapping[tuple[str, str], str]
) -> list[str]:
    """The declared endpoints that no table has a row for and that are not exempt."""
    covered = {(m, p) for table in tables for m, p, _, _ in table.values()}
    missing = []
    for spec in specs:
        plain = spec.path.replace(":int}", "}")
        hit = (
            any(m == spec.method and _same_shape(p, plain) for m, p in covered)
            or (spec.method, plain) in exempt
        )
        if not hit:
            missing.append(f"{spec.method} {plain}")
    return missing


def _same_shape(concrete: str, template: str) -> bool:
    """``/api/x/{a}/y`` matches ``/api/x/{b}/y`` and ``/api/x/999/y``."""
    a, b = concrete.split("/"), template.split("/")
    return len(a) == len(b) and all(x == y or y.startswith("{") for x, y in zip(a, b, strict=True))
