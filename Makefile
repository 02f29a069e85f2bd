# The two commands a newcomer needs: `make demo` and `make test`. Each creates .venv and
# installs what it needs first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench crash-matrix clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	# An editable install leaves the cockpit's own bytecode to its first import, which
	# cannot write it where PYTHONDONTWRITEBYTECODE is set: then every cockpit process
	# (the driver, its poller, the demo's estate) compiles its 30,000 lines again, up to
	# half a second each. Compiled here, as pip compiles a wheel it installs.
	$(BIN)/python -m compileall -q cockpit bench
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/cockpit demo

test: $(STAMP)
	$(BIN)/ruff check cockpit tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -q -n auto

# Figures, never assertions: see bench/__main__.py. Not the crash matrix (~20 min).
bench: $(STAMP)
	$(BIN)/python -m bench

crash-matrix: $(STAMP)
	$(BIN)/python -m bench.crash_matrix

clean:
	rm -rf $(VENV)
