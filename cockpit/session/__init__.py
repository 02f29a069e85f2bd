"""The one layer between the entry points (CLI, TUI, benchmarks, tests) and the runner.

`folder` owns the session folder's files, `estate` opens the estate (the only importer of
the simulator), `driver` assembles a driver's session, `watch` reads one, `rehearsal`
runs one headless.
"""
