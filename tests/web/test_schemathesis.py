"""schemathesis over the app's own OpenAPI document, as each role, against a live app.

Every operation gets generated requests (schemathesis's examples, coverage and fuzzing
phases; a few examples each, to stay fast in the suite) as an anonymous caller, a
buyer, a certified supplier with a deposit and an operator. Every response must be a
non-5xx that conforms to the documented schema, with the documented status codes,
headers and content types; an operation that needs authentication must refuse the
anonymous caller (``ignored_auth``); a request that breaks the schema must be refused.
The stateful phase then runs sequences as each logged-in role, feeding ids from one
response into the next request along the links schemathesis infers from the document.

One check is left out: ``positive_data_acceptance`` (a schema-valid request must be
accepted). The API refuses, by design, some requests JSON Schema cannot tell apart:
``1.0`` where an integer is due (money is never a float), unknown category codes,
a USCC with a wrong check character, cross-field rules (ends after starts).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from rfq import __version__
from tests.support import LiveServer, bearer, certified_supplier, operator_token, register
from web import app as _app  # noqa: F401  (importing it declares every route)
from web.routing import openapi

schema = schemathesis.openapi.from_dict(openapi("RFQ Arena", __version__))


@pytest.fixture(scope="module")
def tokens(live: LiveServer) -> dict[str, str | None]:
    with httpx.Client(base_url=live.url, timeout=30) as client:
        operator = operator_token(live)
        buyer = register(client, "buyer")
        supplier = certified_supplier(client, operator, ["fasteners"])
    return {
        "anonymous": None,
        "buyer": buyer["token"],
        "supplier": supplier["token"],
        "operator": operator,
    }


@pytest.mark.parametrize("live", ["sqlite"], indirect=True)
@pytest.mark.parametrize("role", ["anonymous", "buyer", "supplier", "operator"])
@schema.parametrize()
@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_as_every_role(
    case: Any, role: str, tokens: dict[str, str | None], live: LiveServer
) -> None:
    token = tokens[role]
    case.call_and_validate(
        base_url=live.url,
        headers=bearer(token) if token else {},
        excluded_checks=[positive_data_acceptance],
    )


@pytest.mark.parametrize("live", ["sqlite"], indirect=True)
@pytest.mark.parametrize("role", ["buyer", "supplier", "operator"])
def test_stateful_sequences_as_every_role(
    role: str, tokens: dict[str, str | None], live: LiveServer
) -> None:
    """schemathesis's stateful phase: sequences of calls that feed one response's ids
    into the next request (links it infers from the document), with the same checks."""
    token = tokens[role]
    assert token is not None

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": live.url, "headers": bearer(token)}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, excluded_checks=[positive_data_acceptance])

    Workflow.run(
        settings=settings(
            max_examples=8,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )
