# The two Quickstart commands: `make demo` and `make test`. Each creates .venv and installs the
# project when missing, and re-installs when pyproject.toml changes.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1

.PHONY: demo test test-all install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,ray]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/singaudit run audits/demo.yaml --out reports/demo

test: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

test-all: $(STAMP)
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) reports/*/
