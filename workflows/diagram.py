"""A state diagram drawn as SVG from a workflow's transition table (no picture drawn by hand).

The layout is computed from the table alone: each state sits in the row of its distance from
the initial state (breadth first, in the order of the table); the longest run of states from
the initial one forms the centre column and the other states go to the side of the neighbours
they are drawn next to. Arrows are labelled with their events; the current state is marked.
Only the standard library is used (``workflows`` imports nothing else).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr  # nosec B406

from workflows.table import Workflow

BOX_W, BOX_H = 184, 40
COL_GAP, ROW_GAP = 264, 84
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 24, 56, 24


@dataclass(frozen=True)
class Node:
    state: str
    row: int
    col: int
    x: float  # centre
    y: float  # centre
    final: bool


def _ranks(wf: Workflow) -> dict[str, int]:
    """Breadth-first distance of each state from the initial one (unreached states last)."""
    rank = {wf.initial: 0}
    queue = deque([wf.initial])
    while queue:
        state = queue.popleft()
        for t in wf.transitions:
            if state in t.sources and t.dest not in rank:
                rank[t.dest] = rank[state] + 1
                queue.append(t.dest)
    last = max(rank.values(), default=0)
    for state in wf.states:
        rank.setdefault(state, last + 1)
    return rank


def _neighbours(wf: Workflow, state: str) -> list[str]:
    out = []
    for t in wf.transitions:
        if state in t.sources:
            out.append(t.dest)
        if t.dest == state:
            out.extend(t.sources)
    return [s for s in out if s != state]


def _main_path(wf: Workflow, rank: dict[str, int]) -> set[str]:
    """The states of one longest forward run from the initial state (the centre column)."""
    order = {s: i for i, s in enumerate(wf.states)}
    end = max(wf.states, key=lambda s: (rank[s], -order[s]))
    path = {end}
    while rank[end] > 0:
        preds = sorted(
            {
                s
                for t in wf.transitions
                if t.dest == end
                for s in t.sources
                if rank[s] == rank[end] - 1
            },
            key=order.__getitem__,
        )
        if not preds:
            break
        end = preds[0]
        path.add(end)
    return path


def layout(wf: Workflow) -> list[Node]:
    rank = _ranks(wf)
    main = _main_path(wf, rank)
    finals = {s for s in wf.states if not any(s in t.sources for t in wf.transitions)}
    col: dict[str, int] = {}
    side_count = {-1: 0, 1: 0}
    for r in range(max(rank.values()) + 1):
        in_row = [s for s in wf.states if rank[s] == r]
        taken: set[int] = set()
        for s in in_row:
            if s in main or (len(in_row) == 1 and not main):
                col[s] = 0
                taken.add(0)
        for s in in_row:
            if s in col:
                continue
            placed = [col[n] for n in _neighbours(wf, s) if n in col]
            pull = sum(placed) / len(placed) if placed else 0
            if pull < 0:
                side = -1
            elif pull > 0:
                side = 1
            else:
                side = -1 if side_count[-1] <= side_count[1] else 1
            step = 1
            while side * step in taken and -side * step in taken:
                step += 1
            c = side * step if side * step not in taken else -side * step
            col[s] = c
            taken.add(c)
            side_count[1 if c > 0 else -1] += 1
    lo = min(col.values())
    return [
        Node(
            state=s,
            row=rank[s],
            col=col[s] - lo,
            x=MARGIN_X + BOX_W / 2 + (col[s] - lo) * COL_GAP,
            y=MARGIN_TOP + BOX_H / 2 + rank[s] * ROW_GAP,
            final=s in finals,
        )
        for s in wf.states
    ]


def _clip(cx: float, cy: float, dx: float, dy: float) -> tuple[float, float]:
    """Where the ray from a box's centre along (dx, dy) leaves the box."""
    if dx == 0 and dy == 0:
        return cx, cy
    tx = (BOX_W / 2) / abs(dx) if dx else math.inf
    ty = (BOX_H / 2) / abs(dy) if dy else math.inf
    t = min(tx, ty)
    return cx + dx * t, cy + dy * t


def _crosses(a: Node, b: Node, other: Node) -> bool:
    """Does the straight segment between ``a`` and ``b`` pass through ``other``'s box?"""
    for i in range(1, 20):
        t = i / 20
        x, y = a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t
        if abs(x - other.x) < BOX_W / 2 + 4 and abs(y - other.y) < BOX_H / 2 + 4:
            return True
    return False


def _marker(marker_id: str, cls: str) -> str:
    # Arrowheads in user units: the same size whatever the width of the line.
    return (
        f'<marker id="{marker_id}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="10" '
        f'markerHeight="10" markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
        f'<path d="M0,0 L10,5 L0,10 z" class="{cls}"/></marker>'
    )


def _label(event: str) -> str:
    return event.replace("_", " ")


def state_diagram_svg(
    wf: Workflow,
    current: str | None = None,
    *,
    title: str | None = None,
    state_labels: Mapping[str, str] | None = None,
) -> str:
    """The workflow as an inline SVG; ``current`` is highlighted (class ``current``).

    The boxes are named with the workflow's own state labels unless ``state_labels`` is given.

    Styling comes from the page's stylesheet through classes: the SVG has no style attributes.
    """
    nodes = {n.state: n for n in layout(wf)}
    names = wf.state_labels if state_labels is None else state_labels
    width = MARGIN_X * 2 + BOX_W + max(n.col for n in nodes.values()) * COL_GAP
    height = MARGIN_TOP + MARGIN_BOTTOM + BOX_H + max(n.row for n in nodes.values()) * ROW_GAP
    heading = title or f"States of a {wf.name}"
    desc = _description(wf, current, names)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="state-diagram" role="img" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" aria-labelledby="sd-title sd-desc">',
        f'<title id="sd-title">{escape(heading)}</title>',
        f'<desc id="sd-desc">{escape(desc)}</desc>',
        f"<defs>{_marker('sd-arrow', 'sd-arrowhead')}"
        f"{_marker('sd-arrow-next', 'sd-arrowhead sd-next')}</defs>",
    ]
    # The start marker above the initial state.
    first = nodes[wf.initial]
    out.append(
        f'<circle class="sd-start" cx="{first.x:.1f}" cy="{first.y - BOX_H / 2 - 30:.1f}" r="7"/>'
        f'<line class="sd-edge" x1="{first.x:.1f}" y1="{first.y - BOX_H / 2 - 23:.1f}" '
        f'x2="{first.x:.1f}" y2="{first.y - BOX_H / 2 - 2:.1f}" marker-end="url(#sd-arrow)"/>'
    )
    pairs = {(s, t.dest) for t in wf.transitions for s in t.sources}
    edges, labels = [], []
    for t in wf.transitions:
        for source in t.sources:
            edges_out, label_out = _edge(nodes, source, t.dest, t.event, pairs, current)
            edges.append(edges_out)
            labels.append(label_out)
    out.extend(edges)
    for node in nodes.values():
        out.append(_node(node, current, names.get(node.state, _label(node.state))))
    out.extend(labels)  # last, so that no box or arrow covers a label
    out.append("</svg>")
    return "".join(out)


def _edge(
    nodes: dict[str, Node],
    source: str,
    dest: str,
    event: str,
    pairs: set[tuple[str, str]],
    current: str | None,
) -> tuple[str, str]:
    a, b = nodes[source], nodes[dest]
    dx, dy = b.x - a.x, b.y - a.y
    length = math.hypot(dx, dy) or 1.0
    nx, ny = -dy / length, dx / length  # unit normal
    offset = 0.0
    if (dest, source) in pairs:
        offset = 9.0  # two arrows between the same states: one on each side
    blocked = any(_crosses(a, b, n) for n in nodes.values() if n.state not in (source, dest))
    bend = 46.0 if blocked else 0.0
    sx, sy = _clip(a.x, a.y, dx, dy)
    ex, ey = _clip(b.x, b.y, -dx, -dy)
    sx, sy, ex, ey = sx + nx * offset, sy + ny * offset, ex + nx * offset, ey + ny * offset
    cx, cy = (sx + ex) / 2 + nx * bend, (sy + ey) / 2 + ny * bend
    cls = "sd-edge"
    marker = "sd-arrow"
    if current is not None and source == current:
        cls += " sd-next"
        marker = "sd-arrow-next"
    path = f"M{sx:.1f},{sy:.1f} Q{cx:.1f},{cy:.1f} {ex:.1f},{ey:.1f}"
    edge = (
        f'<path class="{cls}" d="{path}" marker-end="url(#{marker})">'
        f"<title>{escape(_label(event))}: {escape(_label(source))} to {escape(_label(dest))}"
        f"</title></path>"
    )
    # The label at the middle; when two arrows share a pair of states, each on its own side.
    t = 0.5
    lx = (1 - t) ** 2 * sx + 2 * (1 - t) * t * cx + t**2 * ex
    ly = (1 - t) ** 2 * sy + 2 * (1 - t) * t * cy + t**2 * ey
    if offset:
        lx, ly = lx + nx * 11, ly + ny * 11
    anchor = "middle"
    if abs(dx) < 1:  # a vertical arrow: the label beside it, away from the other arrows
        side = _free_side(nodes, pairs, source, dest)
        width = 6.5 * len(_label(event))
        if side < 0 and lx - 7 - width < 0:
            side = 1
        lx += 7 * side
        anchor = "start" if side > 0 else "end"
    label = (
        f'<text class="sd-label{" sd-next" if "sd-next" in cls else ""}" x="{lx:.1f}" '
        f'y="{ly + 4:.1f}" text-anchor="{anchor}">{escape(_label(event))}</text>'
    )
    return edge, label


def _free_side(nodes: dict[str, Node], pairs: set[tuple[str, str]], source: str, dest: str) -> int:
    """The side (-1 left, 1 right) of a vertical arrow with fewer other arrows leaving beside it."""
    a, b = nodes[source], nodes[dest]
    left = right = 0
    for s, d in pairs:
        if (s, d) == (source, dest):
            continue
        if s == source or d == dest:
            other = nodes[d] if s == source else nodes[s]
            if other.x < a.x - 1:
                left += 1
            elif other.x > a.x + 1:
                right += 1
    _ = b
    return -1 if left < right else 1


def _node(node: Node, current: str | None, name: str) -> str:
    x, y = node.x - BOX_W / 2, node.y - BOX_H / 2
    classes = ["sd-state"]
    if node.final:
        classes.append("sd-final")
    if node.state == current:
        classes.append("current")
    parts = [
        f"<g class={quoteattr(' '.join(classes))} data-state={quoteattr(node.state)}>",
        f"<title>{escape(name)}{' (current state)' if node.state == current else ''}</title>",
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{BOX_W}" height="{BOX_H}" rx="8"/>',
    ]
    if node.final:
        parts.append(
            f'<rect class="sd-inner" x="{x + 4:.1f}" y="{y + 4:.1f}" width="{BOX_W - 8}" '
            f'height="{BOX_H - 8}" rx="5"/>'
        )
    label_y = node.y + 5 if node.state != current else node.y + 1
    parts.append(
        f'<text class="sd-name" x="{node.x:.1f}" y="{label_y:.1f}" text-anchor="middle">'
        f"{escape(name)}</text>"
    )
    if node.state == current:
        parts.append(
            f'<text class="sd-now" x="{node.x:.1f}" y="{node.y + 14:.1f}" '
            f'text-anchor="middle">current state</text>'
        )
    parts.append("</g>")
    return "".join(parts)


def _description(wf: Workflow, current: str | None, names: Mapping[str, str]) -> str:
    def name(s: str) -> str:
        return names.get(s, _label(s))

    parts = []
    if current:
        parts.append(f"Current state: {name(current)}.")
    for t in wf.transitions:
        sources = ", ".join(name(s) for s in t.sources)
        parts.append(f"{_label(t.event)}: from {sources} to {name(t.dest)}.")
    return " ".join(parts)
