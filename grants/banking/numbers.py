"""IBAN and BIC: validated by schwifty (ISO 13616 and ISO 9362), shown grouped or masked.

Nothing here is checked by hand: the checksum, each country's length and format and the BIC's
structure are the library's; this module only words its refusals for the person typing.
"""

from __future__ import annotations

from schwifty import BIC, IBAN
from schwifty import exceptions as bank_errors

MASK = "•"

_IBAN_WORDS: dict[type[Exception], str] = {
    bank_errors.InvalidChecksumDigits: (
        "The IBAN's check digits do not match the rest of it: look for a typing error."
    ),
    bank_errors.InvalidLength: "The IBAN has the wrong number of characters for its country.",
    bank_errors.InvalidCountryCode: "The IBAN does not start with a known country code.",
    bank_errors.InvalidStructure: "The IBAN does not have its country's format.",
    bank_errors.InvalidBBANChecksum: (
        "The account number inside the IBAN fails its national check: look for a typing error."
    ),
    bank_errors.InvalidBankCode: "The IBAN's bank code is not valid for its country.",
    bank_errors.InvalidBranchCode: "The IBAN's branch code is not valid for its country.",
    bank_errors.InvalidAccountCode: "The IBAN's account code is not valid for its country.",
}

_BIC_WORDS: dict[type[Exception], str] = {
    bank_errors.InvalidLength: "The BIC has 8 or 11 characters.",
    bank_errors.InvalidStructure: (
        "The BIC is 4 letters (bank), 2 letters (country), 2 letters or digits (place) and "
        "optionally 3 letters or digits (branch)."
    ),
    bank_errors.InvalidCountryCode: "The BIC's country code (its 5th and 6th letters) is unknown.",
}


def _words(exc: Exception, table: dict[type[Exception], str], fallback: str) -> str:
    for kind, text in table.items():
        if isinstance(exc, kind):
            return text
    return fallback


def parse_iban(value: str) -> tuple[str | None, str | None]:
    """``(electronic form, None)`` of a valid IBAN, or ``(None, the refusal in words)``."""
    try:
        iban = IBAN(value)
    except (bank_errors.SchwiftyException, ValueError) as exc:
        return None, _words(exc, _IBAN_WORDS, "This is not a valid IBAN.")
    return iban.compact, None


def parse_bic(value: str, iban_country: str | None) -> tuple[str | None, str | None]:
    """``(BIC, None)`` of a valid BIC of the IBAN's country, or ``(None, why)``."""
    try:
        bic = BIC(value)
    except (bank_errors.SchwiftyException, ValueError) as exc:
        return None, _words(exc, _BIC_WORDS, "This is not a valid BIC.")
    if iban_country and bic.country_code != iban_country:
        return None, (
            f"The BIC is of a bank in {bic.country_code}, the IBAN of an account in "
            f"{iban_country}: they must be of the same country."
        )
    return bic.compact, None


def bank_bic(iban: str) -> str | None:
    """The BIC of the IBAN's bank where the library knows it (many countries), else None."""
    found = IBAN(iban).bic
    return found.compact if found is not None else None


def grouped(iban: str) -> str:
    """The IBAN in groups of four, as it is printed: ``LV80 BANK 0000 4351 9500 1``."""
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def masked(iban: str | None) -> str:
    """The IBAN with all but its country and last four characters hidden, grouped."""
    if not iban:
        return ""
    shown = iban[:2] + MASK * (len(iban) - 6) + iban[-4:]
    return grouped(shown)
