"""The grant agreement as a PDF: terms in, bytes out (fpdf2, the bundled DejaVu Sans).

Pure: no database, no request. The document cannot contain the hash of its own bytes, so it
states the SHA-256 of its **terms**: the canonical JSON of :class:`Terms`
(:meth:`Terms.canonical`), which the PDF carries as the attached file ``terms.json``. Anyone can
extract that attachment, hash it and compare it with the hash printed on every page; the hash of
the PDF's bytes is what the service records (``GrantAgreement.sha256``) and what the city signs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from grants.money import cents_to_decimal

FONTS = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVu"
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
#: The eligible countries' names (the programme's language is English).
COUNTRIES = {
    "DK": "Denmark",
    "EE": "Estonia",
    "FI": "Finland",
    "DE": "Germany",
    "LV": "Latvia",
    "LT": "Lithuania",
    "PL": "Poland",
    "SE": "Sweden",
    "NO": "Norway",
    "IS": "Iceland",
}
INK = (33, 37, 41)
MUTED = (90, 96, 105)
RULE = (170, 176, 184)
SHADE = (236, 240, 244)


def eur(cents: int) -> str:
    """``123450`` → ``"1,234.50 EUR"``: two decimals from the integer cents, never a float."""
    return f"{cents_to_decimal(cents):,.2f} EUR"


def long_date(day: dt.date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


@dataclass(frozen=True)
class BudgetRow:
    category: str
    description: str
    amount_cents: int


@dataclass(frozen=True)
class Terms:
    """Everything the agreement states, read from the grant's records when it is issued."""

    reference: str
    version: int
    issued_on: dt.date
    programme: str
    city: str
    country: str
    title_year: int
    grant_id: int
    pilot_title: str
    summary: str
    start_date: dt.date
    end_date: dt.date
    approved_cents: int
    budget: tuple[BudgetRow, ...]
    advance_share: Decimal
    advance_cents: int
    interim_due_on: dt.date
    final_due_on: dt.date
    final_report_due_days: int

    @property
    def budget_total_cents(self) -> int:
        return sum(row.amount_cents for row in self.budget)

    @property
    def balance_ceiling_cents(self) -> int:
        return self.approved_cents - self.advance_cents

    @property
    def country_name(self) -> str:
        return COUNTRIES.get(self.country, self.country)

    def canonical(self) -> bytes:
        """The terms as canonical JSON (sorted keys, money in cents, dates ISO): hashed."""

        def plain(value: Any) -> Any:
            if isinstance(value, dt.date):
                return value.isoformat()
            if isinstance(value, Decimal):
                return str(value)
            raise TypeError(type(value).__name__)

        return json.dumps(
            asdict(self), default=plain, sort_keys=True, ensure_ascii=False, indent=1
        ).encode()

    def sha256(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()


class _Document(FPDF):
    def __init__(self, terms: Terms, terms_hash: str) -> None:
        super().__init__(format="A4", unit="mm")
        self.terms = terms
        self.terms_hash = terms_hash
        self.add_font(FONT, "", str(FONTS / "DejaVuSans.ttf"))
        self.add_font(FONT, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
        self.set_margins(20, 18, 20)
        self.set_auto_page_break(True, margin=22)
        self.alias_nb_pages()

    def header(self) -> None:
        self.set_font(FONT, "", 8)
        self.set_text_color(*MUTED)
        self.cell(
            0,
            5,
            f"{self.terms.programme} · Grant agreement {self.terms.reference}",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        self.set_draw_color(*RULE)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(4)
        self.set_text_color(*INK)

    def footer(self) -> None:
        self.set_y(-16)
        self.set_font(FONT, "", 7)
        self.set_text_color(*MUTED)
        self.cell(
            0,
            4,
            f"SHA-256 of the terms (terms.json, attached): {self.terms_hash}",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        self.cell(
            0,
            4,
            f"Agreement {self.terms.reference}, version {self.terms.version}, issued "
            f"{long_date(self.terms.issued_on)}",
            new_x=XPos.LMARGIN,
        )
        self.cell(0, 4, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(*INK)

    # -- building blocks ---------------------------------------------------------------------

    def heading(self, number: int, text: str) -> None:
        if self.will_page_break(38):
            self.add_page()
        self.ln(3)
        self.set_font(FONT, "B", 11.5)
        self.cell(0, 7, f"{number}. {text}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(FONT, "", 10)

    def para(self, text: str, *, size: float = 10, bold: bool = False) -> None:
        self.set_font(FONT, "B" if bold else "", size)
        self.multi_cell(0, 5.2, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)
        self.set_font(FONT, "", 10)

    def fields(self, rows: list[tuple[str, str]], label_width: float = 45) -> None:
        """Label–value rows, the value wrapping in its column."""
        for label, value in rows:
            self.set_font(FONT, "B", 9.5)
            y = self.get_y()
            self.multi_cell(label_width, 5.2, label, align="L", new_x=XPos.RIGHT, new_y=YPos.TOP)
            self.set_font(FONT, "", 10)
            self.set_xy(self.l_margin + label_width, y)
            self.multi_cell(0, 5.2, value, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.ln(0.8)


def build_agreement_pdf(terms: Terms) -> bytes:
    """The agreement's PDF for ``terms``; its creation date is the issue date (reproducible)."""
    # fontTools reports every table it prunes while subsetting the font at INFO: not news.
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    terms_hash = terms.sha256()
    pdf = _Document(terms, terms_hash)
    issued = dt.datetime.combine(terms.issued_on, dt.time(12, 0), tzinfo=dt.UTC)
    pdf.set_creation_date(issued)
    pdf.set_title(f"Grant agreement {terms.reference}")
    pdf.set_subject(f"{terms.pilot_title} ({terms.city})")
    pdf.set_author(terms.programme)
    pdf.set_creator("Pearl Grants")
    pdf.set_lang("en")
    pdf.add_page()

    pdf.set_font(FONT, "B", 18)
    pdf.cell(0, 10, "Grant agreement", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 10.5)
    pdf.set_text_color(*MUTED)
    pdf.multi_cell(
        0,
        5.5,
        f"Seed money of the {terms.programme} title {terms.title_year} for a pilot activity of "
        "the city's Culture and Resilience Action Plan (CuReAP)",
        align="L",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_text_color(*INK)
    pdf.ln(2)
    pdf.fields(
        [
            ("Agreement", f"{terms.reference}, version {terms.version}"),
            ("Issued on", long_date(terms.issued_on)),
            ("Grant", f"No. {terms.grant_id}"),
        ]
    )

    pdf.heading(1, "The parties")
    pdf.fields(
        [
            (
                "The programme",
                f"{terms.programme}, acting through its secretariat and its finance officers "
                "(hereafter “the programme”)",
            ),
            (
                "The beneficiary",
                f"The city of {terms.city}, {terms.country_name} ({terms.country}), holder of "
                f"the {terms.programme} title {terms.title_year} (hereafter “the city”)",
            ),
        ]
    )

    pdf.heading(2, "The pilot")
    days = (terms.end_date - terms.start_date).days + 1
    pdf.fields(
        [
            ("Title", terms.pilot_title),
            ("Summary", terms.summary or "—"),
            (
                "Period",
                f"{long_date(terms.start_date)} to {long_date(terms.end_date)} "
                f"({days} days). Expenses count when they belong to this period.",
            ),
        ]
    )

    pdf.heading(3, "The grant and the budget")
    pdf.para(
        f"The programme grants the city {eur(terms.approved_cents)} (the approved amount) for the "
        "pilot, on the budget below. The approved amount is a ceiling: the programme pays what the "
        "city spends on eligible costs, up to it.",
    )
    _budget_table(pdf, terms)
    if terms.approved_cents < terms.budget_total_cents:
        pdf.para(
            f"The approved amount is below the budget's total of {eur(terms.budget_total_cents)}: "
            "costs above the approved amount are borne by the city.",
            size=9,
        )

    pdf.heading(4, "Payment schedule")
    share = (terms.advance_share * 100).normalize()
    _schedule_table(
        pdf,
        [
            (
                "Advance",
                f"{share:f} % of the approved amount, paid once both parties have signed "
                "this agreement",
                eur(terms.advance_cents),
            ),
            (
                "Balance",
                "After the final report is accepted: the accepted eligible costs (at most the "
                "approved amount) less what was paid",
                f"up to {eur(terms.balance_ceiling_cents)}",
            ),
        ],
    )
    pdf.para(
        "If the accepted eligible costs are less than what was paid, the city pays the "
        "difference back to the programme; so it does if the programme terminates the grant "
        "before its end (what was paid less the accepted eligible costs). Each payment is "
        "authorised by one finance officer and confirmed by another, to the city's verified "
        "bank account.",
        size=9.5,
    )

    pdf.heading(5, "Reporting duties and due dates")
    _schedule_table(
        pdf,
        [
            (
                "Interim report",
                "Activities so far and the expenses paid, with receipts",
                long_date(terms.interim_due_on),
            ),
            (
                "Final report",
                f"The whole pilot and all its expenses, with receipts; due "
                f"{terms.final_report_due_days} days after the pilot ends",
                long_date(terms.final_due_on),
            ),
        ],
        headers=("Report", "What it contains", "Due on"),
    )
    pdf.para(
        "Each report tells what was done, who took part and what changed for the community's "
        "connections, cooperation and trust, and lists every expense: invoice number and date, "
        "payment date, supplier, description, category, currency, gross amount and VAT, with its "
        "receipt. Amounts in another currency than the euro are converted at the monthly "
        "InforEuro rate of the month the report is submitted. A report may be filed before the "
        "pilot ends.",
        size=9.5,
    )

    pdf.heading(6, "Retention of records")
    pdf.para(
        "The city keeps the originals of its invoices, receipts and proofs of payment, and the "
        "programme keeps the records of this grant, for at least 5 years from 31 December of "
        "the year of the programme's last payment (Interreg rule). Nothing financial is deleted; "
        "after that date personal data are anonymised while every amount stays.",
        size=9.5,
    )

    if pdf.will_page_break(88):  # the heading, its words and both boxes on one page
        pdf.add_page()
    pdf.heading(7, "Signatures")
    pdf.para(
        "The city signs first, then a finance officer or an administrator of the programme "
        "countersigns. Both sign in Pearl Grants: each signature records the signatory's typed "
        "full name, the time, the network address and the SHA-256 of this file, in the "
        "programme's tamper-evident audit trail. The signatures are not written into this "
        "file, whose SHA-256 would change: the service shows them with the agreement.",
        size=9.5,
    )
    _signature_block(pdf, terms)

    pdf.heading(8, "Integrity of this document")
    pdf.para(
        "The terms of this agreement are attached to this PDF as terms.json. Their SHA-256 is:",
        size=9.5,
    )
    pdf.set_font(FONT, "B", 9)
    pdf.cell(0, 6, terms_hash, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 10)

    pdf.embed_file(
        bytes=terms.canonical(),
        basename="terms.json",
        modification_date=issued,
        mime_type="application/json",
        desc="The terms of this agreement; their SHA-256 is printed on every page.",
    )
    return bytes(pdf.output())


def _budget_table(pdf: _Document, terms: Terms) -> None:
    pdf.set_font(FONT, "", 9.5)
    pdf.set_draw_color(*RULE)
    with pdf.table(
        col_widths=(8, 30, 92, 40),
        text_align=("RIGHT", "LEFT", "LEFT", "RIGHT"),
        headings_style=_headings(pdf),
        line_height=5.2,
        padding=1.2,
        first_row_as_headings=True,
    ) as table:
        table.row(("#", "Category", "Description", "Amount"))
        for number, line in enumerate(terms.budget, 1):
            table.row(
                (str(number), line.category.capitalize(), line.description, eur(line.amount_cents))
            )
        pdf.set_font(FONT, "B", 9.5)
        table.row(("", "", "Total of the budget", eur(terms.budget_total_cents)))
        table.row(("", "", "Approved amount", eur(terms.approved_cents)))
    pdf.set_font(FONT, "", 10)
    pdf.ln(2)


def _schedule_table(
    pdf: _Document,
    rows: list[tuple[str, str, str]],
    headers: tuple[str, str, str] = ("Payment", "When and how much", "Amount"),
) -> None:
    pdf.set_font(FONT, "", 9.5)
    pdf.set_draw_color(*RULE)
    with pdf.table(
        col_widths=(32, 98, 40),
        text_align=("LEFT", "LEFT", "RIGHT"),
        headings_style=_headings(pdf),
        line_height=5.2,
        padding=1.2,
    ) as table:
        table.row(headers)
        for row in rows:
            table.row(row)
    pdf.set_font(FONT, "", 10)
    pdf.ln(2)


def _headings(pdf: _Document) -> FontFace:
    return FontFace(family=FONT, emphasis="BOLD", fill_color=SHADE)


def _signature_block(pdf: _Document, terms: Terms) -> None:
    if pdf.will_page_break(52):
        pdf.add_page()
    width = (pdf.w - pdf.l_margin - pdf.r_margin - 8) / 2
    top = pdf.get_y() + 2
    boxes = (
        (f"For the city of {terms.city}", "Member of the city's team"),
        (f"For the programme {terms.programme}", "Finance officer or administrator"),
    )
    for index, (party, role) in enumerate(boxes):
        x = pdf.l_margin + index * (width + 8)
        pdf.set_draw_color(*RULE)
        pdf.rect(x, top, width, 46)
        # Fixed rows, so that both boxes line up whatever the length of the party's name.
        pdf.set_xy(x + 3, top + 2.5)
        pdf.set_font(FONT, "B", 9.5)
        pdf.multi_cell(width - 6, 4.6, party, align="L", max_line_height=4.6)
        pdf.set_xy(x + 3, top + 12.5)
        pdf.set_font(FONT, "", 8.5)
        pdf.set_text_color(*MUTED)
        pdf.cell(width - 6, 4.5, role)
        pdf.set_text_color(*INK)
        for label, y in (("Full name", top + 28), ("Date and time", top + 39)):
            pdf.line(x + 3, y, x + width - 3, y)
            pdf.set_xy(x + 3, y + 0.5)
            pdf.set_font(FONT, "", 7.5)
            pdf.cell(width - 6, 4, label)
    pdf.set_xy(pdf.l_margin, top + 50)
    pdf.set_font(FONT, "", 10)
