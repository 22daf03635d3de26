"""Validating unified social credit codes (GB 32100-2015)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rfq.uscc import CHARSET, InvalidUscc, check_character, validate

VALID = [
    "91350100M000100Y43",
    "91110000600037341L",
    "91440300708461136T",
    " 91440300708461136t ",
]

INVALID = [
    ("", "18 characters"),
    ("9135010M000100Y43", "18 characters"),
    ("91350100M000100Y433", "18 characters"),
    ("91350100M000100Y44", "check character"),
    ("91350100M0001O0Y43", "Character 14"),
    ("91350100I000100Y43", "Character 9"),
    ("X1350100M000100Y43", "registration authority"),
    ("913501A0M000100Y43", "administrative division"),
]


@pytest.mark.parametrize("code", VALID)
def test_valid_codes_pass(code: str) -> None:
    """Real-format codes pass and come back upper-cased and stripped."""
    assert validate(code) == code.strip().upper()


@pytest.mark.parametrize(("code", "problem"), INVALID)
def test_invalid_codes_name_the_problem(code: str, problem: str) -> None:
    """Each invalid code raises InvalidUscc whose sentence names what is wrong."""
    with pytest.raises(InvalidUscc, match=problem):
        validate(code)


@given(st.text(alphabet=CHARSET, min_size=17, max_size=17), st.sampled_from(CHARSET))
def test_exactly_one_check_character_fits(body: str, last: str) -> None:
    """For any 17 leading characters, only the computed check character validates."""
    code = "9" + body[1:2] + "440300" + body[8:]
    expected = check_character(code[:17])
    if last == expected:
        assert validate(code + last) == code + last
    else:
        with pytest.raises(InvalidUscc):
            validate(code + last)
