# Two commands on a fresh machine: `make lab` (tutorials) and `make test` (every test,
# the docs build and browser tests included: as root it installs Debian's Chromium
# when it is missing).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install lab test docs app app-screenshot lint format bench bench-tree bench-corpus bench-exports demo-data readme-chart notebooks clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[all,test,docs]"
	touch $(STAMP)

install: $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root,)

test: $(STAMP)
	sh scripts/ensure_chromium.sh
	$(BIN)/ruff check rpkit tests benchmarks
	$(BIN)/pytest tests notebooks --nbval-lax --nbval-current-env \
		--nbval-sanitize-with notebooks/sanitize.cfg -p no:cacheprovider

# The documentation site in docs/_build/html (warnings are errors; the notebooks' stored
# outputs are shown, never re-run). `make test` builds it too (tests/contracts/test_docs.py).
docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

# The web page: `make app` serves a copy of the demo history, `make app DB=path` that file.
app: $(STAMP)
	$(BIN)/python scripts/serve_app.py $(DB) $(if $(PORT),--port $(PORT),)

app-screenshot: $(STAMP)
	sh scripts/ensure_chromium.sh
	$(BIN)/python scripts/app_screenshot.py

lint: $(STAMP)
	$(BIN)/ruff check rpkit tests benchmarks
	$(BIN)/ruff format --check rpkit tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format rpkit tests benchmarks

bench: $(STAMP)
	$(BIN)/python -m benchmarks --events 100000 --events 1000000

bench-tree: $(STAMP)
	$(BIN)/python -m benchmarks --events 1000000 --chats 100 --only snapshot --only project \
		--only rewind_1pct --only chat_rewind_1pct --only undo_rewind_1pct --only fork_1000_turns

bench-corpus: $(STAMP)
	$(BIN)/python -m benchmarks.corpus --conversations 20000 --turns 10 --histories 100 --events 1000

bench-exports: $(STAMP)
	$(BIN)/python -m benchmarks.exports --events 1000000 --histories 1000 --corpus-events 300

demo-data: $(STAMP)
	$(BIN)/rpkit demo data/demo.db --force --dump data/demo-events.jsonl

readme-chart: $(STAMP)
	$(BIN)/python scripts/readme_chart.py

notebooks: $(STAMP)
	$(BIN)/python scripts/run_notebooks.py

clean:
	rm -rf $(VENV)
