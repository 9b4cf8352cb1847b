"""Receipt files: what the bytes are, what the uploaded name may keep, how a download is named.

Nothing here inflates, decodes or trusts what a city sends: a content type is judged from the
first bytes (and, for an e-signature container, from the ZIP headers of its first entry, read
with a bound); a file name is only ever shown, never used as a path or put raw into a header.
"""

from __future__ import annotations

import re
import struct
import unicodedata
import zlib
from urllib.parse import quote

from flask import Response

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
ASIC_E = "application/vnd.etsi.asic-e+zip"
ASIC_S = "application/vnd.etsi.asic-s+zip"

#: The extension a download gets, by the content type found in its bytes.
EXTENSIONS = {PDF: "pdf", PNG: "png", JPEG: "jpg", ASIC_E: "asice", ASIC_S: "asics"}

#: The longest ``mimetype`` entry of an e-signature container that is read (both its
#: compressed and uncompressed size must be at most this); the media types are 31 bytes.
MAX_MIMETYPE_BYTES = 100
#: The most entries an e-signature container's central directory may list.
MAX_CONTAINER_ENTRIES = 10_000

_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")  # 30 bytes, APPNOTE 4.3.7
_CENTRAL_HEADER = struct.Struct("<4sHHHHHHIIIHHHHHII")  # 46 bytes, APPNOTE 4.3.12
_END_RECORD = struct.Struct("<4sHHHHIIH")  # 22 bytes, APPNOTE 4.3.16
_MIMETYPE = b"mimetype"
_STORED = 0
# General purpose flags that make the header's sizes or bytes untrustworthy: encrypted (bit 0),
# sizes only in a trailing data descriptor (bit 3), strong encryption (bit 6).
_UNTRUSTED_FLAGS = 0x0001 | 0x0008 | 0x0040


def sniff(content: bytes) -> str | None:
    """The content type judged from the bytes themselves, never from the name; None if refused."""
    if content.startswith(b"%PDF-"):
        return PDF
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if content.startswith(b"\xff\xd8\xff"):
        return JPEG
    if content.startswith(b"PK\x03\x04"):
        return _container_type(content)
    return None


def _container_type(content: bytes) -> str | None:
    """The media type of an ASiC container (.asice/.bdoc/.edoc/.asics), or None.

    ETSI EN 319 162: the first entry of the ZIP is ``mimetype``, stored (not compressed),
    holding the media type. Only the headers and those few stored bytes are read; nothing is
    ever inflated, so a deflated or huge ``mimetype`` (a zip bomb) costs nothing but a refusal.
    The central directory must agree with the local header, so that a reader of either sees
    the same first entry.
    """
    if len(content) < _LOCAL_HEADER.size:
        return None
    (_sig, _version, flags, method, _time, _date, crc, compressed, size, name_len, extra_len) = (
        _LOCAL_HEADER.unpack_from(content, 0)
    )
    if flags & _UNTRUSTED_FLAGS or method != _STORED:
        return None
    if not 0 < size <= MAX_MIMETYPE_BYTES or compressed != size:
        return None
    start = _LOCAL_HEADER.size
    if content[start : start + name_len] != _MIMETYPE:
        return None
    data_at = start + name_len + extra_len
    data = content[data_at : data_at + size]
    if len(data) != size or zlib.crc32(data) != crc:
        return None
    if not _central_directory_agrees(content, flags, crc, size):
        return None
    kind = data.strip()
    if kind == ASIC_E.encode():
        return ASIC_E
    if kind == ASIC_S.encode():
        return ASIC_S
    return None


def _central_directory_agrees(content: bytes, flags: int, crc: int, size: int) -> bool:
    """Whether the ZIP ends in a sane central directory whose first entry is the local one."""
    # The end record is in the last 22 bytes plus at most a 65,535-byte comment.
    at = content.rfind(b"PK\x05\x06", max(0, len(content) - _END_RECORD.size - 0xFFFF))
    if at < 0 or len(content) - at < _END_RECORD.size:
        return False
    (_sig, disk, cd_disk, _here, entries, cd_size, cd_offset, _comment) = _END_RECORD.unpack_from(
        content, at
    )
    # One disk, no ZIP64 (never needed below 4 GB), a bounded number of entries.
    if disk or cd_disk or not 0 < entries <= MAX_CONTAINER_ENTRIES:
        return False
    if cd_offset + cd_size > at or cd_size < _CENTRAL_HEADER.size:
        return False
    fields = _CENTRAL_HEADER.unpack_from(content, cd_offset)
    (sig, _made, _need, c_flags, c_method, _t, _d, c_crc, c_compressed, c_size, name_len) = fields[
        :11
    ]
    local_offset = fields[16]
    name_at = cd_offset + _CENTRAL_HEADER.size
    return (
        sig == b"PK\x01\x02"
        and local_offset == 0
        and c_method == _STORED
        and c_flags & _UNTRUSTED_FLAGS == flags & _UNTRUSTED_FLAGS
        and (c_crc, c_compressed, c_size) == (crc, size, size)
        and content[name_at : name_at + name_len] == _MIMETYPE
    )


# ---------------------------------------------------------------------------------------------
# File names

MAX_NAME_CHARS = 200
_MAX_EXTENSION_CHARS = 16
#: Bidirectional embedding, override, isolate and mark characters (they make "gpj.exe" look
#: like "exe.jpg"), and the byte order mark.
_INVISIBLE = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
)
_WHITESPACE = re.compile(r"\s+")


def clean_file_name(name: str | None) -> str:
    """The uploaded name as it may be kept and shown: its last path segment, with no control
    character (C0, DEL, C1), unpaired surrogate or bidi control, whitespace collapsed to single
    spaces, at most 200 characters (the extension kept); "receipt" when nothing is left."""
    text = unicodedata.normalize("NFC", _drop_surrogates(name or ""))
    kept = []
    for char in text:
        if char in _INVISIBLE:
            continue
        if char.isspace() or unicodedata.category(char) in ("Zl", "Zp"):
            kept.append(" ")
        elif unicodedata.category(char) == "Cc":  # C0, DEL and C1
            continue
        else:
            kept.append(char)
    text = "".join(kept).replace("\\", "/").rsplit("/", 1)[-1]
    text = _WHITESPACE.sub(" ", text).strip()
    if not text.strip("."):
        return "receipt"
    return _bounded(text)


def _drop_surrogates(text: str) -> str:
    return "".join(c for c in text if not 0xD800 <= ord(c) <= 0xDFFF)


def _bounded(text: str) -> str:
    if len(text) <= MAX_NAME_CHARS:
        return text
    stem, dot, extension = text.rpartition(".")
    if dot and stem and 0 < len(extension) <= _MAX_EXTENSION_CHARS:
        return stem[: MAX_NAME_CHARS - len(extension) - 1].rstrip() + "." + extension
    return text[:MAX_NAME_CHARS].rstrip()


# ---------------------------------------------------------------------------------------------
# Downloads


def download_name(attachment_id: int, content_type: str) -> str:
    """``receipt-<id>.<ext>``: the name a download is saved under, by the type of its bytes."""
    return f"receipt-{attachment_id}.{EXTENSIONS.get(content_type, 'bin')}"


def content_disposition(attachment_id: int, content_type: str, original: str | None) -> str:
    """An RFC 6266 ``attachment`` header: the safe ASCII name, and the original name (cleaned
    again, for rows stored before names were cleaned) only as a percent-encoded ``filename*``."""
    safe = download_name(attachment_id, content_type)
    encoded = quote(clean_file_name(original), safe="!#$&+-.^_`|~", errors="replace")
    return f"attachment; filename=\"{safe}\"; filename*=UTF-8''{encoded}"


def receipt_response(
    attachment_id: int, content_type: str, file_name: str | None, content: bytes
) -> Response:
    """The receipt as a download; the header is built here, never from the raw stored name."""
    return Response(
        content,
        mimetype=content_type,
        headers={
            "Content-Disposition": content_disposition(attachment_id, content_type, file_name),
            "Cache-Control": "private, no-store",
        },
    )
