"""What the tests share besides fixtures: paths and small plans, the simulated estate, the
audit log, the screen, and the one bounded wait. Importable from every test folder
(`pythonpath = ["tests"]` in pyproject.toml): `from support.estate import running_sim`.

Fixtures and hooks live in `tests/conftest.py`; nothing here is a fixture.
"""
