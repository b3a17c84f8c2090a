# make demo: set up .venv and run the demo.  make test: linters and the whole test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
DEV_INSTALLED := $(VENV)/.dev-installed

.PHONY: demo test lint docs browser bench clean

demo: $(INSTALLED)
	$(BIN)/tokenprovider demo

test: lint docs browser
	$(BIN)/python -m pytest -q

# The login tests drive a real browser: Debian's chromium and its chromedriver (as root,
# installed with apt-get when missing; elsewhere those tests say how to get them).
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
			export DEBIAN_FRONTEND=noninteractive; \
			apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; \
		else \
			echo "make: no chromium here; the browser tests need: apt-get install chromium chromium-driver"; \
		fi; \
	fi

lint: $(DEV_INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict src

# The documentation site (mkdocs-material, API reference by mkdocstrings) in site/; --strict
# makes a broken link or anchor, a page missing from the navigation or a bad reference fail.
docs: $(DEV_INSTALLED)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

bench: $(DEV_INSTALLED)
	$(BIN)/python benchmarks/peers.py
	$(BIN)/python benchmarks/hot_path.py
	$(BIN)/python benchmarks/httpx_hot_path.py
	$(BIN)/python benchmarks/cli_startup.py
	$(BIN)/python benchmarks/fleet.py

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
		|| { echo "tokenprovider needs Python >= 3.10 (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	$(BIN)/python -m compileall -q src >/dev/null
	touch $@

# The dev tools are a PEP 735 dependency group (not a public extra): pip >= 25.1 installs it.
$(DEV_INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check 'pip>=25.1'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		-e '.[aws,crypto,jwt,testing,httpx,keyring]' --group dev
	$(BIN)/python -m compileall -q src >/dev/null
	touch $@ $(INSTALLED)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache site
