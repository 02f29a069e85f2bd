"""One registry of the cockpit's actions: it feeds the bindings, the help screen and the
command palette. Every binding has an id, so keys can be remapped from the config file.

Keys are single printable characters or F-keys: they arrive intact through SSH, tmux and
PuTTY. Nothing essential sits on Esc alone, alt or ctrl+shift. Plain data, no textual:
the settings check a config's `[keys]` table against it without loading the UI.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CockpitAction:
    id: str
    keys: str
    action: str
    description: str
    help: str
    driver_only: bool = True
    show: bool = True
    replay_only: bool = False
    approver_only: bool = False

    def in_mode(self, mode: str) -> bool:
        """driver: everything but replay's and the approver's keys; watch: what changes
        nothing; approver (`watch --approver`): that, and approving; replay: what changes
        nothing, and moving through the window."""
        if self.replay_only:
            return mode == "replay"
        if self.approver_only:
            return mode == "approver"
        return mode == "driver" or not self.driver_only


# Footer order: the essential keys first, so an 80-column footer still shows them.
ACTIONS: tuple[CockpitAction, ...] = (
    CockpitAction("run_step", "r,f5", "run_selected", "Run",
                  "Run the selected step (type-to-confirm where the plan asks)"),
    CockpitAction("run_next", "g,f6", "run_next", "Next",
                  "Run the next ready step"),
    CockpitAction("help", "question_mark,f1", "help", "Help", "List every key",
                  driver_only=False),
    CockpitAction("quit", "q,f10", "quit_cockpit", "Quit", "Leave the cockpit",
                  driver_only=False),
    CockpitAction("undo_step", "u", "undo_selected", "Undo", "Undo the selected step"),
    CockpitAction("roll_back", "b", "roll_back", "Rollback",
                  "Roll the window's phase back along its rollback path (type-to-confirm); "
                  "refused once its point of no return has passed"),
    CockpitAction("skip_step", "s", "skip_selected", "Skip",
                  "Skip the selected step, with a reason"),
    CockpitAction("override_gate", "o", "override_selected", "Override",
                  "Run the selected step overriding its failed gates, with a reason"),
    CockpitAction("recheck_step", "c", "recheck_selected", "Re-check",
                  "Re-check an interrupted step's condition without acting again"),
    CockpitAction("cancel_step", "x", "cancel_selected", "Cancel",
                  "Stop waiting on the selected running step (the others go on)",
                  show=False),
    CockpitAction("mark_done", "m", "mark_done_selected", "Mark done",
                  "Mark the selected step done, with a reason", show=False),
    CockpitAction("add_note", "n", "add_note", "Note", "Add a note to the audit log"),
    CockpitAction("pause_polling", "p", "toggle_pause", "Pause",
                  "Pause or resume polling the estate"),
    CockpitAction("export_log", "e", "export_log", "Export",
                  "Export the audit log as an html report", driver_only=False),
    CockpitAction("zoom_pane", "z", "toggle_zoom", "Zoom",
                  "Show one pane alone with every row, scrolled with the arrows, PgUp, PgDn, "
                  "Home and End; [ and ] change the pane, z again goes back",
                  driver_only=False, show=False),
    CockpitAction("next_pane", "]", "cycle_pane(1)", "Pane",
                  "Show the next pane (small terminals, or zoomed)", driver_only=False,
                  show=False),
    CockpitAction("previous_pane", "[", "cycle_pane(-1)", "Pane",
                  "Show the previous pane (small terminals, or zoomed)", driver_only=False,
                  show=False),
    CockpitAction("replay_pause", "space", "toggle_playing", "Pause",
                  "Pause or resume the replay", driver_only=False, replay_only=True),
    CockpitAction("replay_step", "full_stop", "step_change", "Step",
                  "To the next recorded change of any pane", driver_only=False,
                  replay_only=True),
    CockpitAction("replay_next_event", "n", "next_event", "Next event",
                  "To the next entry of the audit log", driver_only=False, replay_only=True),
    CockpitAction("approve", "a", "approve_waiting", "Approve",
                  "Approve, as the second person, what the driver waits on (with a reason)",
                  driver_only=False, approver_only=True),
    CockpitAction("palette", "colon,ctrl+p", "app.command_palette", "Steps",
                  "Command palette: every step and action", driver_only=False),
)
