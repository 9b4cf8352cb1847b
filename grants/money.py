"""Money: integer cents inside, strings with exactly two decimals at the edges.

Floats never touch an amount. Every rounding is explicit and ROUND_HALF_UP (or ROUND_DOWN where
the programme says "rounded down").
"""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

MONEY_PATTERN = r"^[0-9]{1,7}\.[0-9]{2}$"
_MONEY_RE = re.compile(MONEY_PATTERN)
MAX_CENTS = 999_999_999
CENT = Decimal("0.01")


class MoneyFormatError(ValueError):
    """The text is not an amount in the API's money format."""


def parse_money(value: object, *, allow_zero: bool = False) -> int:
    """Turn ``"1234.50"`` into ``123450`` cents; refuse anything else (no rounding, no floats)."""
    if not isinstance(value, str):
        raise MoneyFormatError('Must be a string with exactly two decimals, like "1234.50".')
    if not _MONEY_RE.fullmatch(value):
        raise MoneyFormatError(
            'Must have the form "1234.50": digits, a dot and exactly two decimals, '
            "at most 9999999.99."
        )
    whole, fraction = value.split(".")
    cents = int(whole) * 100 + int(fraction)
    if cents == 0 and not allow_zero:
        raise MoneyFormatError("Must be greater than zero.")
    return cents


#: Spaces people put between thousands: plain, no-break, narrow no-break, thin; and apostrophes.
_GROUPING = str.maketrans("", "", " \u00a0\u202f\u2009'\u2019")
_TYPED_RE = re.compile(r"[0-9]+([.,][0-9]{1,2})?")


def typed_amount(text: str) -> str:
    """An amount as a person types it on a page, in the API's form (``"1900.00"``).

    ``1900``, ``1900.5``, ``1 900,00``, ``1.900,00``, ``1,900.00`` and ``1'900.50`` all read as
    the amount they mean: the last ``.`` or ``,`` followed by one or two digits is the decimal
    mark; spaces, and marks followed by groups of three digits, group thousands (so ``1.900``
    and ``1,900`` are 1,900.00: an amount has two decimals, never three). Anything else is
    returned as typed, for the schema to refuse in words. The JSON API stays strict: only pages
    call this.
    """
    raw = text.strip()
    compact = raw.translate(_GROUPING)
    if not compact:
        return raw
    head, mark, tail = compact, "", ""
    last = max(compact.rfind("."), compact.rfind(","))
    if last >= 0 and 1 <= len(compact) - last - 1 <= 2:
        head, mark, tail = compact[:last], ".", compact[last + 1 :]
    if re.fullmatch(r"[0-9]{1,3}([.,][0-9]{3})+", head):  # thousands grouped with a mark
        head = head.replace(".", "").replace(",", "")
    candidate = head + mark + tail
    if not _TYPED_RE.fullmatch(candidate) or not head:
        return raw
    cents = int(head) * 100 + (int(tail.ljust(2, "0")) if tail else 0)
    return format_money(cents) or raw


def format_money(cents: int | None) -> str | None:
    """``123450`` → ``"1234.50"``; negative amounts keep their sign."""
    if cents is None:
        return None
    sign = "-" if cents < 0 else ""
    whole, fraction = divmod(abs(int(cents)), 100)
    return f"{sign}{whole}.{fraction:02d}"


def shown_money(cents: int, currency: str = "EUR") -> str:
    """``123450`` → ``"1,234.50 EUR"`` as the pages show it (a no-break space keeps the unit
    with its figure; a true minus sign)."""
    sign = "−" if cents < 0 else ""
    whole, fraction = divmod(abs(int(cents)), 100)
    return f"{sign}{whole:,}.{fraction:02d}\u00a0{currency}"


def cents_to_decimal(cents: int) -> Decimal:
    return (Decimal(int(cents)) / 100).quantize(CENT)


def decimal_to_cents(amount: Decimal, rounding: str = ROUND_HALF_UP) -> int:
    """A Decimal amount of euros to whole cents with the given (explicit) rounding."""
    return int((amount * 100).quantize(Decimal(1), rounding=rounding))


def share_of(cents: int, share: Decimal) -> int:
    """``share`` of an amount, rounded down to the cent (the advance rule)."""
    return decimal_to_cents(cents_to_decimal(cents) * share, rounding=ROUND_DOWN)
