"""A longer coverage-guided fuzz run of the frame decoder and the amount parser (atheris).

Not part of the suite (the suite runs the short hypothesis versions in
``tests/realtime/test_fuzz.py``). Run it by hand, bounded:

    pip install atheris
    python tests/fuzz/atheris_parsers.py -runs=2000000 -max_total_time=300

A crash prints the input that caused it (atheris writes it to ``crash-*``).
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from realtime import codec
    from rfq.platform import money

CURRENCIES = sorted(money.DECIMALS)


def one_input(data: bytes) -> None:
    """Whatever the bytes, the decoder returns a map or raises BadFrame, and the amount
    parser returns an int that formats back to itself or raises ValueError."""
    fuzz = atheris.FuzzedDataProvider(data)
    raw = fuzz.ConsumeBytes(fuzz.ConsumeIntInRange(0, 20_000))
    for frame_data in (raw, raw.decode("utf-8", "replace")):
        try:
            frame = codec.decode(frame_data)
        except codec.BadFrame:
            continue
        if not isinstance(frame, dict):
            raise AssertionError(f"decode returned {type(frame).__name__}")
    currency = CURRENCIES[fuzz.ConsumeIntInRange(0, len(CURRENCIES) - 1)]
    text = fuzz.ConsumeUnicodeNoSurrogates(60)
    try:
        amount = money.parse_major(text, currency)
    except ValueError:
        return
    if money.parse_major(money.format_major(amount, currency), currency) != amount:
        raise AssertionError(f"{text!r} {currency}: {amount} does not round-trip")


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
