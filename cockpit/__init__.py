"""cutover-cockpit: the terminal an engineer drives a migration outage window from."""

import sys

__version__ = "0.1.0"

# httpx imports its own command-line client as it imports, whenever rich, pygments and
# click are installed (they are: Textual and the CLI need them), and goes without it when
# that import fails. The cockpit never runs httpx's client; importing it cost every
# cockpit process that polls or serves (the driver, the panes' poller, the simulated
# estate) some 80 ms of its start and the memory of rich's and pygments' modules.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
