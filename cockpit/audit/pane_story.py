"""What the panes showed around each step, as the export draws it: per step, each figure
of the panes that step is seen on (a server's latency, a replica's queues, a restore's
percent) from a little before it started to a little after it ended, as a sparkline with
its lowest and highest value. The session layer reads it from the panes' recording; here
it is only drawn."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple


class StoryLine(NamedTuple):
    pane: str
    figure: str  # `oms-sql-2 redo KB`
    picture: str
    low: str
    high: str


PaneStory = Mapping[str, list[StoryLine]]  # step id -> its lines, in plan order

MARGIN_S = 60.0


def story_html(story: PaneStory, esc: Callable[[str], str]) -> str:
    if not story:
        return ""
    parts = ["<section><h2>What the panes showed around each step</h2>",
             '<p class="empty">Each figure from a little before its step started to a '
             f"little after it ended (a quarter of the step, at most {MARGIN_S:.0f} s), "
             "from the panes' recording.</p>"]
    for step, lines in story.items():
        parts.append(f"<h3>{esc(step)}</h3><table><tr><th>pane</th><th>figure</th>"
                     "<th>around the step</th><th>low</th><th>high</th></tr>")
        parts += [f"<tr><td>{esc(line.pane)}</td><td>{esc(line.figure)}</td>"
                  f'<td class="spark">{esc(line.picture)}</td><td>{esc(line.low)}</td>'
                  f"<td>{esc(line.high)}</td></tr>" for line in lines]
        parts.append("</table>")
    parts.append("</section>")
    return "\n".join(parts)
