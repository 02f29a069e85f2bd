"""Pictures drawn with characters: a progress bar and a sparkline.

The same few characters on the driver's screen, a watcher's, a browser's and in the html
export; each picture carries its figure too, so it reads in 16 colours, with NO_COLOR
and in a screen reader.
"""

from __future__ import annotations

from collections.abc import Sequence

_LEVELS = "▁▂▃▄▅▆▇█"
_EIGHTHS = " ▏▎▍▌▋▊▉"


def progress_bar(percent: float, width: int = 10) -> str:
    """`█████▌░░░░` for 55: whole cells, then the eighth the next one is filled to."""
    done = max(0.0, min(100.0, percent)) / 100 * width
    whole = int(done)
    if whole >= width:
        return "█" * width
    part = _EIGHTHS[int((done - whole) * 8)].strip()
    return "█" * whole + part + "░" * (width - whole - len(part))


def sparkline(values: Sequence[float | None], top: float | None = None) -> str:
    """One character per value, from 0 to `top` (the series' highest when not given); a
    missing value is a space, so a gap in the data shows as one."""
    highest = top if top is not None else max((v for v in values if v is not None), default=0)
    return "".join(" " if v is None else _level(v, highest) for v in values)


def _level(value: float, top: float) -> str:
    if top <= 0 or value <= 0:
        return _LEVELS[0]
    index = round(min(value, top) / top * (len(_LEVELS) - 1))
    return _LEVELS[index]
