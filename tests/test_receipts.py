"""Receipt files (domain.md, "Reports and expenses"): judged by their bytes, size-limited, kept
with their SHA-256, downloaded exactly as uploaded by those who may see the grant."""

from __future__ import annotations

import hashlib
import struct
import zipfile
import zlib
from io import BytesIO
from typing import Any

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from grants.extensions import db
from grants.reports.models import Attachment
from tests.factories import Caller, Factory
from tests.money_helpers import (
    Pilot,
    disbursed_grant,
    expense,
    new_report,
    refused,
    report_event,
)


def minimal_pdf(text: str = "Invoice 2025-001") -> bytes:
    """A small but complete PDF 1.4 (catalog, pages, one page with text, xref, trailer)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def minimal_png() -> bytes:
    """A valid 1×1 white PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\xff\xff")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64


def asic_container(mimetype: str = "application/vnd.etsi.asic-e+zip") -> bytes:
    """An ASiC-E container: a ZIP whose first entry, stored uncompressed, is ``mimetype``."""
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), mimetype, compress_type=zipfile.ZIP_STORED)
        archive.writestr("invoice.pdf", minimal_pdf(), compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr(
            "META-INF/signatures0.xml",
            "<asic:XAdESSignatures xmlns:asic='http://uri.etsi.org/02918/v1.2.1#'/>",
            compress_type=zipfile.ZIP_DEFLATED,
        )
    return buffer.getvalue()


def plain_zip() -> bytes:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("invoice.pdf", minimal_pdf())
    return buffer.getvalue()


def upload(caller: Caller, rid: int, content: bytes, name: str = "receipt.pdf", **form: Any) -> Any:
    """POST ``content`` as the multipart ``file`` field (and ``form`` fields) as a browser would."""
    data: dict[str, Any] = {"file": (BytesIO(content), name)}
    data.update({k: str(v) for k, v in form.items()})
    path = f"/api/v1/reports/{rid}/attachments"
    if len(content) > 256 * 1024:
        # Werkzeug's test client spools a large body to a temporary file that it never closes
        # (a ResourceWarning, an error under filterwarnings=error): encode it in memory instead.
        data["file"] = FileStorage(BytesIO(content), filename=name)
        boundary, body = encode_multipart(data)
        return caller.client.post(
            path,
            data=body,
            content_type=f"multipart/form-data; boundary={boundary}",
            headers=caller.headers,
        )
    return caller.client.post(
        path, data=data, content_type="multipart/form-data", headers=caller.headers
    )


def stored_attachments() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Attachment))


@pytest.fixture
def pilot(make: Factory) -> Pilot:
    return disbursed_grant(make)


@pytest.fixture
def report(pilot: Pilot) -> dict[str, Any]:
    """A draft interim report with two expense lines."""
    return new_report(
        pilot.member,
        pilot.id,
        "interim",
        [expense("R-1", "EUR", "120.00"), expense("R-2", "EUR", "80.00")],
    )


# ---------------------------------------------------------------------------------------------
# Accepted kinds


def test_a_pdf_is_kept_with_its_checksum_size_and_type(pilot: Pilot, report: dict[str, Any]):
    content = minimal_pdf()
    line = report["expenses"][0]["id"]
    r = upload(pilot.member, report["id"], content, "invoice R-1.pdf", expense_id=line)
    assert r.status_code == 201, r.get_json()
    got = r.get_json()
    assert got["sha256"] == hashlib.sha256(content).hexdigest()
    assert got["size"] == len(content)
    assert got["content_type"] == "application/pdf"
    assert got["file_name"] == "invoice R-1.pdf"
    assert got["expense_id"] == line
    again = pilot.member.get(f"/reports/{report['id']}").get_json()
    assert [a["id"] for a in again["expenses"][0]["attachments"]] == [got["id"]]
    assert again["expenses"][1]["attachments"] == []
    assert again["attachments"] == []
    uploaded = [e for e in pilot.history() if e["action"] == "receipt_uploaded"]
    assert [(e["actor"]["id"], e["data"]["sha256"]) for e in uploaded] == [
        (pilot.member.user.id, got["sha256"])
    ]


@pytest.mark.parametrize(
    ("content", "name", "content_type"),
    [
        (minimal_png(), "receipt.png", "image/png"),
        (JPEG, "receipt.jpg", "image/jpeg"),
        (asic_container(), "signed.asice", "application/vnd.etsi.asic-e+zip"),
        (asic_container(), "signed.bdoc", "application/vnd.etsi.asic-e+zip"),
        (
            asic_container("application/vnd.etsi.asic-s+zip"),
            "s.asics",
            "application/vnd.etsi.asic-s+zip",
        ),
        (minimal_pdf(), "no-extension", "application/pdf"),
    ],
    ids=["png", "jpeg", "asice", "bdoc", "asics", "pdf-without-extension"],
)
def test_images_and_signature_containers_are_accepted(
    pilot: Pilot, report: dict[str, Any], content: bytes, name: str, content_type: str
):
    r = upload(pilot.member, report["id"], content, name)
    assert r.status_code == 201, r.get_json()
    got = r.get_json()
    assert got["content_type"] == content_type
    assert got["sha256"] == hashlib.sha256(content).hexdigest()
    assert got["size"] == len(content)
    assert got["expense_id"] is None
    listed = pilot.member.get(f"/reports/{report['id']}").get_json()["attachments"]
    assert [a["id"] for a in listed] == [got["id"]]


# ---------------------------------------------------------------------------------------------
# Refused files


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200, "receipt.pdf"),
        (b"#!/bin/sh\nrm -rf /\n", "receipt.pdf"),
        (b"<html><script>alert(1)</script></html>", "receipt.png"),
        (plain_zip(), "receipt.asice"),
        (asic_container("application/zip"), "receipt.asice"),
        (b"PK\x03\x04 not really a zip", "receipt.asice"),
        (b"%PDX-1.4 almost", "receipt.pdf"),
    ],
    ids=[
        "windows-exe",
        "shell",
        "html",
        "plain-zip",
        "zip-other-mimetype",
        "broken-zip",
        "almost-pdf",
    ],
)
def test_a_file_whose_bytes_are_not_a_receipt_is_415(
    pilot: Pilot, report: dict[str, Any], content: bytes, name: str
):
    refused(upload(pilot.member, report["id"], content, name), 415)
    assert stored_attachments() == 0


def test_a_30_mb_file_is_413(pilot: Pilot, report: dict[str, Any]):
    content = minimal_pdf() + b"\x00" * (30 * 1024 * 1024)
    refused(upload(pilot.member, report["id"], content), 413)
    assert stored_attachments() == 0


def test_a_file_just_over_the_limit_is_413(app: Any, pilot: Pilot, report: dict[str, Any]):
    limit = app.config["MAX_UPLOAD_MB"] * 1024 * 1024
    pdf = minimal_pdf()
    refused(upload(pilot.member, report["id"], pdf + b"\x00" * (limit + 1 - len(pdf))), 413)
    assert stored_attachments() == 0


def test_an_empty_file_is_422(pilot: Pilot, report: dict[str, Any]):
    body = refused(upload(pilot.member, report["id"], b"", "receipt.pdf"), 422)
    assert "file" in body["errors"]["files"]
    assert stored_attachments() == 0


def test_no_file_at_all_is_422(pilot: Pilot, report: dict[str, Any]):
    r = pilot.member.client.post(
        f"/api/v1/reports/{report['id']}/attachments",
        data={"expense_id": "1"},
        content_type="multipart/form-data",
        headers=pilot.member.headers,
    )
    refused(r, 422)
    assert stored_attachments() == 0


def test_an_expense_line_of_another_report_is_422(
    make: Factory, pilot: Pilot, report: dict[str, Any]
):
    other_grant = make.grant(pilot.city, state="disbursed")
    other = new_report(pilot.member, other_grant.id, "interim", [expense("O-1", "EUR", "10.00")])
    foreign_line = other["expenses"][0]["id"]
    r = upload(pilot.member, report["id"], minimal_pdf(), expense_id=foreign_line)
    body = refused(r, 422)
    assert "expense_id" in body["errors"]["form"]
    assert stored_attachments() == 0
    # The same line on its own report is fine.
    r = upload(pilot.member, other["id"], minimal_pdf(), expense_id=foreign_line)
    assert r.status_code == 201, r.get_json()


@pytest.mark.parametrize("expense_id", ["0", "-1", "abc", "1.5", "99999999999"])
def test_a_malformed_expense_id_is_422(pilot: Pilot, report: dict[str, Any], expense_id: str):
    body = refused(upload(pilot.member, report["id"], minimal_pdf(), expense_id=expense_id), 422)
    assert "expense_id" in body["errors"]["form"]
    assert stored_attachments() == 0


@pytest.mark.parametrize("role", ["finance_officer", "mentor", "auditor", "admin"])
def test_only_the_city_uploads(make: Factory, pilot: Pilot, report: dict[str, Any], role: str):
    refused(upload(make.in_scope(role, pilot.city), report["id"], minimal_pdf()), 403)
    assert stored_attachments() == 0


def test_a_member_of_another_city_cannot_upload(make: Factory, report: dict[str, Any]):
    stranger = make.as_role("city_member", city=make.city())
    refused(upload(stranger, report["id"], minimal_pdf()), 404)
    assert stored_attachments() == 0


@pytest.mark.parametrize("state", ["submitted", "accepted"])
def test_no_upload_once_the_report_is_submitted(pilot: Pilot, report: dict[str, Any], state: str):
    assert report_event(pilot.member, report["id"], "submit").status_code == 200
    if state == "accepted":
        assert report_event(pilot.a, report["id"], "accept").status_code == 200
    refused(upload(pilot.member, report["id"], minimal_pdf()), 409, "invalid_transition")
    assert stored_attachments() == 0


def test_a_returned_report_takes_the_missing_receipt(pilot: Pilot, report: dict[str, Any]):
    assert report_event(pilot.member, report["id"], "submit").status_code == 200
    r = report_event(pilot.a, report["id"], "return", comment="Receipt R-2 is missing.")
    assert r.status_code == 200
    r = upload(pilot.member, report["id"], minimal_pdf(), expense_id=report["expenses"][1]["id"])
    assert r.status_code == 201, r.get_json()


# ---------------------------------------------------------------------------------------------
# Download


def download(caller: Caller, attachment_id: int) -> Any:
    return caller.client.get(f"/api/v1/attachments/{attachment_id}", headers=caller.headers)


def test_the_city_downloads_exactly_what_it_uploaded(pilot: Pilot, report: dict[str, Any]):
    content = minimal_pdf("Exactly these bytes")
    got = upload(pilot.member, report["id"], content, "Faktura 17.pdf").get_json()
    r = download(pilot.member, got["id"])
    assert r.status_code == 200
    assert r.data == content
    assert hashlib.sha256(r.data).hexdigest() == got["sha256"]
    assert r.mimetype == "application/pdf"
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''Faktura%2017.pdf" in disposition


def test_a_path_in_the_uploaded_name_is_dropped(pilot: Pilot, report: dict[str, Any]):
    got = upload(pilot.member, report["id"], minimal_pdf(), "..\\..\\etc/passwd.pdf").get_json()
    assert got["file_name"] == "passwd.pdf"
    assert "/" not in download(pilot.member, got["id"]).headers["Content-Disposition"]


@pytest.mark.parametrize("role", ["auditor", "finance_officer", "admin", "mentor"])
def test_staff_and_the_citys_mentor_download(
    make: Factory, pilot: Pilot, report: dict[str, Any], role: str
):
    content = minimal_png()
    got = upload(pilot.member, report["id"], content, "photo.png").get_json()
    r = download(make.in_scope(role, pilot.city), got["id"])
    assert r.status_code == 200
    assert r.data == content
    assert r.mimetype == "image/png"


@pytest.mark.parametrize("role", ["city_member", "mentor"])
def test_outside_the_city_a_receipt_does_not_exist(
    make: Factory, pilot: Pilot, report: dict[str, Any], role: str
):
    got = upload(pilot.member, report["id"], minimal_pdf(), "secret.pdf").get_json()
    stranger = make.in_scope(role, make.city())
    r = download(stranger, got["id"])
    body = refused(r, 404)
    assert "secret" not in r.get_data(as_text=True)
    assert body["message"] == refused(download(stranger, got["id"] + 1000), 404)["message"]


def test_without_a_token_a_download_is_401(pilot: Pilot, report: dict[str, Any]):
    got = upload(pilot.member, report["id"], minimal_pdf()).get_json()
    refused(pilot.member.client.get(f"/api/v1/attachments/{got['id']}"), 401)
