"""Receipts against a hostile city (issue 9, "Files"): e-signature containers are judged without
inflating anything, receipts are capped per report and per grant, uploaded names are cleaned,
and every download is named ``receipt-<id>.<ext>`` with the original name only as ``filename*``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import struct
import tracemalloc
import urllib.error
import urllib.request
import zipfile
from io import BytesIO
from typing import Any
from urllib.parse import quote, unquote

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from grants.extensions import db
from grants.reports.models import Attachment
from grants.reports.receipts import clean_file_name, sniff
from tests.factories import Caller, Factory
from tests.money_helpers import (
    Pilot,
    disbursed_grant,
    expense,
    new_report,
    refused,
    report_event,
)
from tests.pages_helpers import Pages
from tests.test_receipts import (
    JPEG,
    asic_container,
    download,
    minimal_pdf,
    minimal_png,
    stored_attachments,
    upload,
)

ASIC_E = "application/vnd.etsi.asic-e+zip"
MB = 1024 * 1024


@pytest.fixture
def pilot(make: Factory) -> Pilot:
    return disbursed_grant(make)


@pytest.fixture
def report(pilot: Pilot) -> dict[str, Any]:
    return new_report(pilot.member, pilot.id, "interim", [expense("H-1", "EUR", "50.00")])


def upload_named(caller: Caller, rid: int, content: bytes, name: str) -> Any:
    """Upload with the name sent as RFC 2231 ``filename*``: the way a client delivers a name
    holding CR, LF or NUL (Werkzeug decodes it to exactly those characters)."""
    body = (
        b"--BOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; filename*=UTF-8''"
        + quote(name, safe="").encode()
        + b"\r\nContent-Type: application/octet-stream\r\n\r\n"
        + content
        + b"\r\n--BOUNDARY--\r\n"
    )
    return caller.client.post(
        f"/api/v1/reports/{rid}/attachments",
        data=body,
        content_type="multipart/form-data; boundary=BOUNDARY",
        headers=caller.headers,
    )


def uploaded_actions(pilot: Pilot) -> list[dict[str, Any]]:
    return [e for e in pilot.history() if e["action"] == "receipt_uploaded"]


# ---------------------------------------------------------------------------------------------
# E-signature containers, judged without inflating


@functools.cache
def zip_bomb() -> bytes:
    """An .asice whose first entry ``mimetype`` is deflated: ~300 KB that inflate to 300 MB."""
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("mimetype")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w") as entry:
            entry.write(ASIC_E.encode())
            zeros = bytes(MB)
            for _ in range(300):
                entry.write(zeros)
        archive.writestr("META-INF/manifest.xml", "<manifest/>", zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def test_the_zip_bomb_is_what_it_claims_to_be():
    bomb = zip_bomb()
    first = zipfile.ZipFile(BytesIO(bomb)).infolist()[0]
    assert first.filename == "mimetype"
    assert first.compress_type == zipfile.ZIP_DEFLATED
    assert first.file_size >= 300 * MB
    assert len(bomb) < MB


def test_a_deflated_300_mb_mimetype_is_refused_with_bounded_memory(
    pilot: Pilot, report: dict[str, Any]
):
    bomb = zip_bomb()
    tracemalloc.start()
    try:
        response = upload(pilot.member, report["id"], bomb, "signed.asice")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    refused(response, 415)
    assert peak < 20 * MB, f"uploading the bomb took {peak // MB} MB"
    assert stored_attachments() == 0
    assert uploaded_actions(pilot) == []


def stored_zip(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()


def deflated_small_mimetype() -> bytes:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", ASIC_E, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("invoice.pdf", minimal_pdf())
    return buffer.getvalue()


def central_directory_says_deflated() -> bytes:
    """A valid container whose central directory (only) calls ``mimetype`` deflated."""
    content = bytearray(asic_container())
    central = content.find(b"PK\x01\x02")
    struct.pack_into("<H", content, central + 10, zipfile.ZIP_DEFLATED)
    return bytes(content)


def wrong_crc() -> bytes:
    """A valid container whose headers (local and central alike) give ``mimetype`` a wrong
    checksum: its bytes are not what the archive says they are."""
    content = bytearray(asic_container())
    (crc,) = struct.unpack_from("<I", content, 14)
    struct.pack_into("<I", content, 14, crc ^ 1)
    central = content.find(b"PK\x01\x02")
    assert struct.unpack_from("<I", content, central + 16) == (crc,)
    struct.pack_into("<I", content, central + 16, crc ^ 1)
    return bytes(content)


@pytest.mark.parametrize(
    "content",
    [
        stored_zip([("mimetype", ASIC_E.encode() + b" " * 200), ("invoice.pdf", minimal_pdf())]),
        stored_zip([("invoice.pdf", minimal_pdf()), ("mimetype", ASIC_E.encode())]),
        deflated_small_mimetype(),
        central_directory_says_deflated(),
        wrong_crc(),
        stored_zip([("mimetype", ASIC_E.encode())])[:-22],  # no end of central directory
        stored_zip([("mimetypes", ASIC_E.encode())]),
    ],
    ids=[
        "stored-but-oversize-mimetype",
        "mimetype-not-first",
        "small-but-deflated-mimetype",
        "central-directory-disagrees",
        "crc-mismatch",
        "truncated",
        "other-first-name",
    ],
)
def test_a_container_not_shaped_as_asic_is_refused(
    pilot: Pilot, report: dict[str, Any], content: bytes
):
    refused(upload(pilot.member, report["id"], content, "signed.asice"), 415)
    assert stored_attachments() == 0


def test_a_valid_asic_with_a_stored_mimetype_is_accepted_and_downloads_as_asice(
    pilot: Pilot, report: dict[str, Any]
):
    content = asic_container()
    got = upload(pilot.member, report["id"], content, "leping.bdoc").get_json()
    assert got["content_type"] == ASIC_E
    r = download(pilot.member, got["id"])
    assert r.status_code == 200
    assert r.data == content
    assert r.headers["Content-Disposition"] == (
        f"attachment; filename=\"receipt-{got['id']}.asice\"; filename*=UTF-8''leping.bdoc"
    )


def test_the_sniffed_types_straight_from_the_bytes():
    # The same verdicts as through the API, straight from the bytes.
    assert sniff(asic_container()) == ASIC_E
    assert sniff(asic_container("application/vnd.etsi.asic-s+zip")) == (
        "application/vnd.etsi.asic-s+zip"
    )
    assert sniff(zip_bomb()) is None
    assert sniff(b"PK\x03\x04") is None
    assert sniff(minimal_pdf()) == "application/pdf"


# ---------------------------------------------------------------------------------------------
# Names cleaned at upload; downloads named by id and type


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("a\r\nSet-Cookie: x=1.pdf", "a Set-Cookie: x=1.pdf"),
        ("inv\u202eoice.pdf", "invoice.pdf"),
        ("nul\x00byte.pdf", "nulbyte.pdf"),
        ("\u2066gpj\u2069\u200f.pdf", "gpj.pdf"),
        ("bell\x07 and\x9b csi \x7f.pdf", "bell and csi .pdf"),
        (
            "  many \t\t spaces\u2028and a line separator.pdf  ",
            "many spaces and a line separator.pdf",
        ),
        ("Rēķins №5 — Tallinn.pdf", "Rēķins №5 — Tallinn.pdf"),
        ("C:\\Users\\me\\scan.pdf", "scan.pdf"),
        ("\r\n\x00\u202e", "receipt"),
        ("..", "receipt"),
    ],
    ids=[
        "crlf-header-injection",
        "rtl-override",
        "nul",
        "isolates-and-marks",
        "c0-del-c1",
        "whitespace",
        "unicode-kept",
        "windows-path",
        "nothing-left",
        "dots",
    ],
)
def test_an_uploaded_name_is_kept_cleaned_and_the_download_header_is_safe(
    pilot: Pilot, report: dict[str, Any], sent: str, kept: str
):
    content = minimal_pdf()
    r = upload_named(pilot.member, report["id"], content, sent)
    assert r.status_code == 201, r.get_json()
    got = r.get_json()
    assert got["file_name"] == kept
    assert uploaded_actions(pilot)[-1]["data"]["file_name"] == kept

    d = download(pilot.member, got["id"])
    assert d.status_code == 200
    assert d.data == content
    disposition = d.headers["Content-Disposition"]
    assert not set(disposition) & {"\r", "\n", "\x00"}
    assert disposition.isascii()
    prefix = f"attachment; filename=\"receipt-{got['id']}.pdf\"; filename*=UTF-8''"
    assert disposition.startswith(prefix)
    assert unquote(disposition[len(prefix) :], errors="strict") == kept
    assert "Set-Cookie" not in d.headers


def test_the_header_percent_encodes_the_original_name(pilot: Pilot, report: dict[str, Any]):
    got = upload_named(pilot.member, report["id"], minimal_pdf(), "a\r\nSet-Cookie: x=1.pdf")
    d = download(pilot.member, got.get_json()["id"])
    assert d.headers["Content-Disposition"].endswith(
        "; filename*=UTF-8''a%20Set-Cookie%3A%20x%3D1.pdf"
    )


def test_a_long_name_is_bounded_and_keeps_its_extension(pilot: Pilot, report: dict[str, Any]):
    got = upload(pilot.member, report["id"], minimal_pdf(), "x" * 400 + ".pdf").get_json()
    assert len(got["file_name"]) == 200
    assert got["file_name"].endswith("x.pdf")


def test_an_unpaired_surrogate_is_dropped_from_a_name():
    assert clean_file_name("scan\ud800.pdf") == "scan.pdf"
    assert clean_file_name(None) == "receipt"


@pytest.mark.parametrize(
    ("content", "extension"),
    [(minimal_png(), "png"), (JPEG, "jpg"), (minimal_pdf(), "pdf")],
)
def test_the_download_extension_follows_the_bytes_not_the_name(
    pilot: Pilot, report: dict[str, Any], content: bytes, extension: str
):
    got = upload(pilot.member, report["id"], content, "invoice.exe").get_json()
    disposition = download(pilot.member, got["id"]).headers["Content-Disposition"]
    assert disposition.startswith(f'attachment; filename="receipt-{got["id"]}.{extension}";')
    assert disposition.endswith("filename*=UTF-8''invoice.exe")


@pytest.fixture
def old_row(pilot: Pilot, report: dict[str, Any]) -> Attachment:
    """A receipt stored before names were cleaned: CR/LF and a bidi override in its name."""
    content = minimal_pdf("Stored in 2025")
    row = Attachment(
        report_id=report["id"],
        expense_id=None,
        file_name="old\r\nX-Injected: 1\u202e.pdf",
        content_type="application/pdf",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        uploaded_by_id=pilot.member.user.id,
        content=content,
    )
    db.session.add(row)
    db.session.commit()
    return row


def test_a_stored_name_with_crlf_still_downloads_through_the_api(pilot: Pilot, old_row: Any):
    r = download(pilot.member, old_row.id)
    assert r.status_code == 200
    assert r.data == minimal_pdf("Stored in 2025")
    assert r.headers["Content-Disposition"] == (
        f'attachment; filename="receipt-{old_row.id}.pdf"; '
        "filename*=UTF-8''old%20X-Injected%3A%201.pdf"
    )
    assert "X-Injected" not in r.headers


def test_a_stored_name_with_crlf_still_downloads_from_the_page(
    app: Any, pilot: Pilot, old_row: Any
):
    browser = Pages(app.test_client())
    assert browser.sign_in(pilot.member.user.email).status_code == 302
    r = browser.get(f"/receipts/{old_row.id}")
    assert r.status_code == 200
    assert r.data == minimal_pdf("Stored in 2025")
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith(f'attachment; filename="receipt-{old_row.id}.pdf"; ')
    assert not set(disposition) & {"\r", "\n"}
    assert "X-Injected" not in r.headers
    # And the report page that links to it still renders.
    page = browser.get(f"/reports/{old_row.report_id}")
    assert page.status_code == 200
    assert f"/receipts/{old_row.id}" in page.text


# ---------------------------------------------------------------------------------------------
# Caps: receipts per report, bytes per grant; uploads are not held to the JSON limit


def test_the_receipt_over_the_reports_count_is_refused_and_nothing_of_it_kept(
    app: Any, monkeypatch: pytest.MonkeyPatch, pilot: Pilot, report: dict[str, Any]
):
    monkeypatch.setitem(app.config, "MAX_RECEIPTS_PER_REPORT", 2)
    for n in (1, 2):
        assert upload(pilot.member, report["id"], minimal_pdf(f"R {n}")).status_code == 201
    body = refused(
        upload(pilot.member, report["id"], minimal_pdf("R 3"), "third.pdf"),
        409,
        "invalid_transition",
    )
    assert "2" in body["message"]
    assert stored_attachments() == 2
    assert len(uploaded_actions(pilot)) == 2
    names = db.session.scalars(select(Attachment.file_name)).all()
    assert "third.pdf" not in names


def test_the_receipt_over_the_grants_bytes_is_413_and_counts_every_report(
    app: Any, monkeypatch: pytest.MonkeyPatch, pilot: Pilot, report: dict[str, Any]
):
    monkeypatch.setitem(app.config, "MAX_RECEIPT_MB_PER_GRANT", 1)
    big = minimal_pdf() + bytes(600 * 1024)
    assert upload(pilot.member, report["id"], big, "interim.pdf").status_code == 201
    # The interim report is accepted; the final report shares the grant's budget.
    assert report_event(pilot.member, report["id"], "submit").status_code == 200
    assert report_event(pilot.a, report["id"], "accept").status_code == 200
    final = new_report(pilot.member, pilot.id, "final", [expense("F-1", "EUR", "20.00")])
    body = refused(upload(pilot.member, final["id"], big, "final.pdf"), 413)
    assert "1 MB" in body["message"]
    assert stored_attachments() == 1
    # What still fits is taken: the cap is the sum, not a per-file limit.
    small = minimal_pdf("small")
    r = upload(pilot.member, final["id"], small, "small.pdf")
    assert r.status_code == 201, r.get_json()
    assert stored_attachments() == 2
    assert [a["data"]["file_name"] for a in uploaded_actions(pilot)] == [
        "interim.pdf",
        "small.pdf",
    ]


def test_an_upload_is_not_held_to_the_json_body_limit(
    app: Any, pilot: Pilot, report: dict[str, Any]
):
    content = minimal_pdf() + bytes(4 * app.config["MAX_JSON_KB"] * 1024)
    assert len(content) < app.config["MAX_UPLOAD_MB"] * MB
    r = upload(pilot.member, report["id"], content, "scan.pdf")
    assert r.status_code == 201, r.get_json()
    assert download(pilot.member, r.get_json()["id"]).data == content


def post_file(base_url: str, token: str, rid: int, content: bytes, name: str) -> tuple[int, Any]:
    boundary, body = encode_multipart({"file": FileStorage(BytesIO(content), filename=name)})
    request = urllib.request.Request(
        f"{base_url}/api/v1/reports/{rid}/attachments",
        data=body,
        method="POST",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_concurrent_uploads_never_pass_the_reports_count(
    app: Any, monkeypatch: pytest.MonkeyPatch, live: Any, pilot: Pilot, report: dict[str, Any]
):
    import threading

    monkeypatch.setitem(app.config, "MAX_RECEIPTS_PER_REPORT", 3)
    replies: list[tuple[int, Any]] = []
    barrier = threading.Barrier(8)

    def send(n: int) -> None:
        barrier.wait()
        replies.append(
            post_file(
                live.base_url, pilot.member.token, report["id"], minimal_pdf(f"C {n}"), "c.pdf"
            )
        )

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    statuses = sorted(status for status, _ in replies)
    assert len(statuses) == 8
    assert statuses.count(201) == 3, replies
    assert all(s in (201, 409) for s in statuses), replies
    assert all(
        body.get("reason") in ("invalid_transition", "stale") for s, body in replies if s == 409
    )
    assert stored_attachments() == 3
