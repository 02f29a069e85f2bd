"""ui: the cockpit's Textual screens and widgets.

A key's repaint waits for the screen's next frame once its widget has changed: at
Textual's default of 60 frames a second that wait is up to 16.7 ms, most of a key's time
to repaint when the panes' polls keep the loop busy. At 120 it is at most 8.3 ms; frames
are drawn only when something changed, so a quiet cockpit draws no more of them. Set
before Textual is imported (it reads `TEXTUAL_FPS` once); a value already set wins, as
textual-serve's 60 for the browsers it serves.
"""

import os

os.environ.setdefault("TEXTUAL_FPS", "120")
