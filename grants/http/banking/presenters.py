"""A bank account as the API shows it (staff and the city's members read the full IBAN)."""

from __future__ import annotations

from typing import Any

from grants.banking.models import BankAccount


def account_out(account: BankAccount) -> dict[str, Any]:
    return {
        "id": account.id,
        "city_id": account.city_id,
        "holder": account.holder,
        "iban": account.iban,
        "bic": account.bic,
        "state": account.state,
        "proposed_by": account.proposed_by_id,
        "proposed_by_email": account.proposed_by.email,
        "proposed_at": account.proposed_at,
        "verified_by": account.verified_by_id,
        "verified_by_email": account.verified_by.email if account.verified_by else None,
        "verified_at": account.verified_at,
        "rejected_by": account.rejected_by_id,
        "rejected_at": account.rejected_at,
        "reject_comment": account.reject_comment,
        "superseded_at": account.superseded_at,
    }
