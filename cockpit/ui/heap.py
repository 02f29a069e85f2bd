"""The app's heap, settled once the cockpit is drawn and live.

By then every module, service model, client and widget the window will use is loaded, and
they live as long as the app. Python's full collections walk every object the collector
tracks: at 10x they took 130-190 ms of the screen's thread, several times a minute, and a
key press that landed on one waited that long. Frozen, those objects are left out of
every later collection; what is made afterwards (views, entries) is collected as usual.
"""

from __future__ import annotations

import gc

_settled = False


def settle() -> None:
    """Collect what is garbage now, then freeze the rest (once a process: the first app
    to go live settles it; a later one would only freeze that app's garbage-to-be)."""
    global _settled
    if _settled:
        return
    _settled = True
    gc.collect()
    gc.freeze()
