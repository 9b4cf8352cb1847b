"""Tables that fit a phone and a diagram that scales, checked in the sources.

The browser tests (tests/test_pages_browser.py) measure the pages they reach at 1366x900 and
390x844; these checks cover every template, reached or not: on a phone a table is read as
stacked rows, so each data cell must name its column (``data-label``), and the state diagram
must scale to the width it is given (a ``viewBox``, no fixed size).
"""

from __future__ import annotations

import re
from pathlib import Path

from workflows.diagram import state_diagram_svg
from workflows.grant import GRANT

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def test_every_data_cell_of_every_template_names_its_column():
    unlabelled = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        for match in re.finditer(r"<td\b[^>]*>", path.read_text(encoding="utf-8")):
            tag = match.group(0)
            if "data-label=" not in tag and "colspan=" not in tag:
                unlabelled.append(f"{path.relative_to(TEMPLATES)}: {tag}")
    assert not unlabelled, "cells a phone would show without their column's name:\n" + "\n".join(
        unlabelled
    )


def test_every_table_of_every_template_sits_in_its_wrapper():
    """The stacked rows of a phone and the scroll region of a narrow window come from the
    ``table-wrap`` around a table."""
    bare = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"<table\b", text):
            before = text[: match.start()].rstrip()
            if not re.search(r'<div class="table-wrap"[^>]*>$', before):
                bare.append(f"{path.relative_to(TEMPLATES)} at {match.start()}")
    assert not bare, "tables outside a table-wrap:\n" + "\n".join(bare)


def test_the_state_diagram_scales_to_its_width():
    svg = state_diagram_svg(GRANT, "approved")
    root = re.match(r"<svg\b[^>]*>", svg).group(0)
    assert re.search(r'viewBox="0 0 \d+ \d+"', root)
    assert not re.search(r'\s(width|height)="', root), root  # no fixed size: the page decides
