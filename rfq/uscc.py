"""China's unified social credit code (统一社会信用代码, GB 32100-2015).

Eighteen characters from ``0-9`` and ``A-Y`` without ``I O S V Z``:

| position | meaning                                                    |
| -------- | ---------------------------------------------------------- |
| 1        | registration authority (1-9, A-G, N, Y)                    |
| 2        | organisation category within that authority               |
| 3-8      | administrative division code (six digits)                  |
| 9-17     | organisation code (GB 11714)                               |
| 18       | check character: weights 3^i mod 31 over positions 1-17    |

:func:`validate` returns the normalised code or raises :class:`InvalidUscc` with a
sentence that names the problem.
"""

from __future__ import annotations

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(CHARSET)}
_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_AUTHORITIES = frozenset("123456789ABCDEFGNY")


class InvalidUscc(ValueError):
    """The text is not a valid unified social credit code; the message says why."""

    code = "invalid_uscc"


def check_character(first17: str) -> str:
    """The GB 32100-2015 check character for the first seventeen characters."""
    total = sum(_VALUE[c] * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def validate(text: str) -> str:
    """The code upper-cased and stripped, if valid; else ``InvalidUscc`` naming the problem."""
    code = text.strip().upper()
    if len(code) != 18:
        raise InvalidUscc(
            f"A unified social credit code has 18 characters, this one has {len(code)}."
        )
    for position, char in enumerate(code, start=1):
        if char not in _VALUE:
            raise InvalidUscc(
                f"Character {position} ({char!r}) is not allowed; codes use 0-9 and A-Y "
                "without I, O, S, V and Z."
            )
    if code[0] not in _AUTHORITIES:
        raise InvalidUscc(
            f"The first character ({code[0]!r}) is not a registration authority code."
        )
    if not code[2:8].isdigit():
        raise InvalidUscc("Characters 3 to 8 must be the six digits of an administrative division.")
    expected = check_character(code[:17])
    if code[17] != expected:
        raise InvalidUscc(
            f"The check character is {code[17]!r} but the first 17 characters require "
            f"{expected!r}; the code has a typo."
        )
    return code
