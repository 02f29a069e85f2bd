"""`python -m cockpit`: what the driver runs to serve a session's simulated estate."""

from cockpit.cli import main

main()
