"""A payout as the API shows it."""

from __future__ import annotations

from typing import Any

from grants.payouts.models import Payout


def payout_out(payout: Payout) -> dict[str, Any]:
    return {
        "id": payout.id,
        "grant_id": payout.grant_id,
        "kind": payout.kind,
        "amount": payout.amount_cents,
        "state": payout.state,
        "authorised_by": payout.authorised_by_id,
        "authorised_by_email": payout.authorised_by.email,
        "authorised_at": payout.authorised_at,
        "confirmed_by": payout.confirmed_by_id,
        "confirmed_by_email": payout.confirmed_by.email if payout.confirmed_by else None,
        "confirmed_at": payout.confirmed_at,
        "paid_on": payout.paid_on,
        "payment_reference": payout.payment_reference,
        "cancel_comment": payout.cancel_comment,
        "account": (
            {
                "id": payout.account_id,
                "holder": payout.account_holder,
                "iban": payout.account_iban,
                "bic": payout.account_bic,
            }
            if payout.account_id is not None
            else None
        ),
    }
