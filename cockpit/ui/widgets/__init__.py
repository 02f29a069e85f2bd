"""Widgets of the cockpit: the header, the runbook, the panes, the audit tail."""
