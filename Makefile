# Every target builds .venv itself. It is rebuilt, never reused, when pyproject.toml changes,
# when it was made by another interpreter than $(PYTHON) (`make test PYTHON=python3.12` after
# python3), or when its last install failed: the stamp, which records the interpreter, is
# written only after a complete install, and a failed install removes .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTHON_ID := $(shell $(PYTHON) -c 'import os, sys; print(os.path.realpath(sys.executable), *sys.version_info[:3])' 2>/dev/null)

.PHONY: demo test test-fast lint bench clean

ifneq ($(PYTHON_ID),$(shell cat $(STAMP) 2>/dev/null))
.PHONY: $(STAMP)
endif

$(STAMP): pyproject.toml
	@test -n '$(PYTHON_ID)' || { echo "make: cannot run $(PYTHON); set PYTHON to a Python 3.11 or later" >&2; exit 1; }
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }
	$(BIN)/pip install --quiet --upgrade pip && $(BIN)/pip install --quiet -e '.[dev]' \
		|| { rm -rf $(VENV); echo "make: installing into $(VENV) failed; $(VENV) was removed" >&2; exit 1; }
	echo '$(PYTHON_ID)' > $(STAMP)

demo: $(STAMP)
	$(BIN)/ovh-license-audit demo

test: $(STAMP)
	$(BIN)/pytest -q

test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check audit tests
	$(BIN)/ruff format --check audit tests
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m audit.bench

clean:
	rm -rf $(VENV) reports/demo
