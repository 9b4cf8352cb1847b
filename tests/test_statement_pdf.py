"""A one-grant statement printed through LibreOffice: few landscape pages, no column split.

``soffice --headless --convert-to pdf`` prints every sheet with the workbook's own page setup
(landscape A4, fitted to the page's width, the header row repeated). The pages are counted in
the PDF itself (``pdfinfo`` when poppler-utils is installed, else the page objects). Skipped,
saying why, where LibreOffice is missing (``.ci/run`` installs Debian's
``libreoffice-calc-nogui``).
"""

from __future__ import annotations

import re
import shutil
import subprocess  # nosec B404 - runs LibreOffice on a file this test wrote
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests import test_exports

pilot = test_exports.pilot  # the fixture: a grant with a payout and an accepted report

MAX_PAGES = 6
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        SOFFICE is None,
        reason="LibreOffice (soffice) is not installed: apt-get install libreoffice-calc-nogui",
    ),
]

_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")
_MEDIA_BOX = re.compile(rb"/MediaBox\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*\]")


def pages(pdf: Path) -> tuple[int, list[tuple[float, float]]]:
    """The page count and each page's (width, height) in points."""
    data = pdf.read_bytes()
    boxes = [
        (float(x1) - float(x0), float(y1) - float(y0))
        for x0, y0, x1, y1 in _MEDIA_BOX.findall(data)
    ]
    pdfinfo = shutil.which("pdfinfo")
    if pdfinfo:
        info = subprocess.run(  # nosec B603 - a fixed program on our own file
            [pdfinfo, str(pdf)], capture_output=True, text=True, timeout=60, check=True
        ).stdout
        count = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    else:
        count = len(_PAGE.findall(data))
    return count, boxes


def test_a_one_grant_statement_prints_on_few_landscape_pages(pilot, tmp_path):
    _city, gid, auditor = pilot
    status, wb = test_exports.export(auditor, {"kind": "grant_statement", "grant_id": gid})
    # Every sheet fits the page's width: LibreOffice never splits a column across pages.
    for ws in wb.worksheets:
        assert ws.page_setup.fitToWidth == 1 and ws.sheet_properties.pageSetUpPr.fitToPage
    xlsx = tmp_path / "statement.xlsx"
    xlsx.write_bytes(auditor.get(f"/exports/{status['id']}/file").data)
    profile = tmp_path / "profile"  # a private LibreOffice profile: runs beside any other
    result = subprocess.run(  # nosec B603 - a fixed program on our own file
        [
            SOFFICE,
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(xlsx),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    pdf = tmp_path / "statement.pdf"
    assert pdf.exists(), f"LibreOffice made no PDF: {result.stdout} {result.stderr}"
    count, boxes = pages(pdf)
    print(f"one-grant statement: {count} pages ({len(wb.sheetnames)} sheets)")
    assert count <= MAX_PAGES, f"{count} pages"
    # Each sheet starts a page of its own: as many pages as sheets means one page each, so no
    # sheet's columns (or rows) were spread over a second page.
    assert count >= len(wb.sheetnames), f"{count} pages for {len(wb.sheetnames)} sheets"
    assert boxes and all(width > height for width, height in boxes), boxes
    # Still the same workbook (converting reads it, never changes it).
    assert load_workbook(xlsx).sheetnames == wb.sheetnames
