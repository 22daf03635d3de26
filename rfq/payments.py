"""The payment-provider interface for deposits and escrow funding and payouts.

No card processing happens here. The built-in :class:`ManualProvider` asks the payer
for a bank transfer with a reference; an operator confirms receipt in the console,
which is what moves the money in the ledgers. A real provider would implement the
same two calls and confirm through its webhook instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rfq.platform.money import format_major


@dataclass(frozen=True, slots=True)
class Intent:
    """What the payer is told: a reference to quote and how to pay."""

    reference: str
    instructions: str


class PaymentProvider(Protocol):
    """Collects money from a payer and pays money out."""

    name: str

    def start(self, reference: str, amount: int, currency: str) -> Intent:
        """Begin collecting ``amount``; the money counts only once confirmed."""
        ...

    def payout(self, reference: str, amount: int, currency: str) -> Intent:
        """Begin paying ``amount`` out; it counts as paid once confirmed."""
        ...


class ManualProvider:
    """Bank transfers, confirmed by an operator."""

    name = "manual"

    def start(self, reference: str, amount: int, currency: str) -> Intent:
        text = (
            f"Transfer {format_major(amount, currency)} {currency} to the platform's escrow "
            f"account quoting reference {reference}; an operator confirms receipt."
        )
        return Intent(reference, text)

    def payout(self, reference: str, amount: int, currency: str) -> Intent:
        text = (
            f"The platform transfers {format_major(amount, currency)} {currency} quoting "
            f"reference {reference}; an operator confirms the transfer."
        )
        return Intent(reference, text)


def provider() -> PaymentProvider:
    """The configured provider (only the manual one is built in)."""
    return ManualProvider()
