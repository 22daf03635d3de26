"""CSV downloads are safe to open in a spreadsheet: a name that starts like a formula
is shown as text (OWASP's rule), numbers stay numbers."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from tests.support import (
    bearer,
    certified_supplier,
    live_auction,
    place_bid,
    register,
)
from web.csv_export import cell

FORMULAS = ['=HYPERLINK("http://x.test")', "+1+1", "-2+3", "@SUM(A1)", "\tTab", "\rCR"]


@pytest.mark.parametrize("text", FORMULAS)
def test_formula_cells_are_quoted(text: str) -> None:
    """Every text cell that starts with = + - @ tab or CR gets a leading quote."""
    assert cell(text) == "'" + text


def test_plain_cells_and_numbers_are_left_alone() -> None:
    """Ordinary text and numbers (negative ones too) are written as they are."""
    assert [cell("Ningbo Fastener Co."), cell(-5), cell(120), cell(None)] == [
        "Ningbo Fastener Co.",
        -5,
        120,
        None,
    ]


def _rows(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text)))


def test_a_company_name_formula_is_text_in_both_exports(
    client: httpx.Client, operator: str
) -> None:
    """A supplier named like a formula shows as text in the buyer's bids CSV and in its
    credit CSV."""
    name = '=HYPERLINK("http://evil.test","Open")'
    buyer = register(client, "buyer")
    supplier = certified_supplier(client, operator, ["fasteners"], company_name=name)
    auction_id = live_auction(client, buyer)
    assert place_bid(client, supplier, auction_id, 110, "csv-1").status_code == 201
    bids = _rows(client.get(f"/api/auctions/{auction_id}/bids.csv", headers=bearer(buyer["token"])))
    column = bids[0].index("supplier")
    assert bids[1][column] == "'" + name
    assert not any(c.startswith(("=", "+", "@")) for row in bids for c in row)
    company = supplier["company"]["id"]
    credit = _rows(
        client.get(f"/api/companies/{company}/credit.csv", headers=bearer(buyer["token"]))
    )
    assert credit[0][1] == "'" + name
