"""cutover-cockpit: the terminal an engineer drives a migration outage window from."""

__version__ = "0.1.0"
