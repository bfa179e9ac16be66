# Refund assistant. `make help` lists the targets; `make run` and `make test` are all a new
# user needs. Everything runs from the project's own virtual environment in .venv.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
# Rasa 3.6 needs Python 3.10: take python3.10 from PATH, else from pyenv.
PYTHON310 ?= $(shell scripts/find-python310.sh)
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1

MODEL := models/refundbot.tar.gz
RASA_DATA := domain.yml $(shell find data -name '*.yml' 2>/dev/null)
CUSTOMER ?= c-1001

# Quality thresholds checked by `make test` (and `make eval`).
NLU_MIN_MACRO_F1 ?= 0.95
# … and of every other language's held-out set (tests/nlu_heldout_<code>.yml).
NLU_MIN_MACRO_F1_OTHERS ?= 0.93
# Processes running the tests that need no model (pytest-xdist): most of them wait on sockets,
# browsers and child processes, so two share two cores with the training well.
TEST_WORKERS ?= 2
# Line coverage of bot/ and actions/ in the pytest process, in percent (87.1 when it was set).
COVERAGE_MIN ?= 86

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON310)" || { echo "Python 3.10 is needed (Rasa 3.6 runs on < 3.11): install it, or set PYTHON310=/path/to/python3.10" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON310) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip<25" setuptools wheel
	# One resolution for everything: a later lone install would upgrade Rasa's pins.
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m pip check
	@touch $@

.PHONY: venv
venv: $(VENV)/.installed ## Create .venv and install every dependency (one pip resolution)

$(MODEL): $(VENV)/.installed config.yml $(RASA_DATA) $(wildcard bot/nlu/*.py)
	$(BIN)/rasa train --config config.yml --fixed-model-name refundbot --out models

.PHONY: train
train: $(MODEL) ## Train the model when data/, domain.yml or config.yml changed

.PHONY: db
db: $(VENV)/.installed ## Migrate the database and seed the demo orders
	$(BIN)/refundbot db upgrade
	$(BIN)/refundbot demo seed

.PHONY: run
run: $(VENV)/.installed train db ## Build what is needed and start the assistant with the demo shop (Ctrl-C stops it)
	@echo "Demo mode: the demo shop page signs anyone in as any demo customer (REFUNDBOT_DEMO_SHOP=true)."
	@echo "Demo mode: webhooks may point to this machine and private networks (REFUNDBOT_WEBHOOK_ALLOW_PRIVATE=true)."
	REFUNDBOT_DEMO_SHOP=true REFUNDBOT_WEBHOOK_ALLOW_PRIVATE=true $(BIN)/refundbot run --model $(MODEL)

.PHONY: cluster
cluster: $(VENV)/.installed train ## Start 2 gateways, 2 Rasa and 2 action servers behind nginx, on PostgreSQL and Redis (demo shop on)
	@echo "Demo mode: the demo shop page signs anyone in as any demo customer (REFUNDBOT_DEMO_SHOP=true)."
	@echo "Demo mode: webhooks may point to this machine and private networks (REFUNDBOT_WEBHOOK_ALLOW_PRIVATE=true)."
	REFUNDBOT_DEMO_SHOP=true REFUNDBOT_WEBHOOK_ALLOW_PRIVATE=true $(BIN)/refundbot cluster start --model $(MODEL)

.PHONY: cluster-stop
cluster-stop: ## Stop every process `make cluster` started, and nothing else
	$(BIN)/refundbot cluster stop

.PHONY: nginx
nginx: ## Install Debian's nginx for `make cluster` and its test (needs root)
	bash scripts/install-nginx.sh

.PHONY: shell
shell: $(VENV)/.installed ## Chat in the terminal with the running assistant (CUSTOMER=c-1002; empty = anonymous)
	$(BIN)/refundbot shell --customer "$(CUSTOMER)"

.PHONY: browser
browser: ## Install Debian's Chromium for the browser tests (needs root)
	bash scripts/install-chromium.sh

.PHONY: lint
lint: $(VENV)/.installed ## Ruff lint and format check
	$(BIN)/ruff check bot actions bench tests migrations
	$(BIN)/ruff format --check bot actions bench tests migrations

.PHONY: format
format: $(VENV)/.installed ## Format the code with ruff
	$(BIN)/ruff format bot actions bench tests migrations
	$(BIN)/ruff check --fix bot actions bench tests migrations

.PHONY: typecheck
typecheck: $(VENV)/.installed ## Mypy (strict) on bot/, actions/ and bench/
	$(BIN)/mypy

.PHONY: validate
validate: $(VENV)/.installed ## Check the Rasa domain, NLU data, rules and stories
	$(BIN)/rasa data validate --fail-on-warnings

.PHONY: test-stories
test-stories: $(MODEL) ## Run the test stories against the trained model
	$(BIN)/rasa test core --model $(MODEL) --stories tests/test_stories.yml \
		--fail-on-prediction-errors --out results/stories

# Coverage is of the pytest process only. Rasa, the action server and the `refundbot` command
# also run as child processes in some tests (conversations, browser, CLI, supervisor) and are not
# measured: the actions and form validators run in-process with rasa-sdk's real dispatcher
# (tests/actions) and the gateway in the tests' own event loop, whereas coverage in every child
# (COVERAGE_PROCESS_START) would trace Rasa's own processes too and slow down the tests that
# time them. So bot/cli.py, bot/run.py and bot/shell.py count lower than they are tested.
#
# `make test` runs in two steps. Training keeps about one core busy and the tests that need no
# model mostly wait on sockets, browsers and child processes, so those run while the model
# trains (its log goes to results/train.log); then the test stories and the tests marked `rasa`
# run against the model, and coverage is of both steps together.
PYTEST := REFUNDBOT_TEST_MODEL=$(MODEL) NLU_MIN_MACRO_F1=$(NLU_MIN_MACRO_F1) \
	NLU_MIN_MACRO_F1_OTHERS=$(NLU_MIN_MACRO_F1_OTHERS) $(BIN)/pytest

.PHONY: test
test: $(VENV)/.installed ## Run every check and the whole test suite
	@$(MAKE) --no-print-directory -j2 train-beside-tests test-without-model
	@$(MAKE) --no-print-directory test-with-model

.PHONY: train-beside-tests
train-beside-tests: $(VENV)/.installed
	@if ! $(MAKE) --no-print-directory -q $(MODEL); then \
		mkdir -p results; \
		echo "Training the model beside the tests that need none (log: results/train.log)"; \
		$(MAKE) --no-print-directory $(MODEL) > results/train.log 2>&1 \
			|| { tail -n 40 results/train.log; echo "Training failed: results/train.log" >&2; exit 1; }; \
		echo "The model is trained: $(MODEL)"; \
	fi

.PHONY: test-without-model
test-without-model: $(VENV)/.installed lint typecheck validate ## Run the checks and the tests that need no trained model
	$(PYTEST) -m "not rasa" -n $(TEST_WORKERS) --cov --cov-report=

.PHONY: test-with-model
test-with-model: $(VENV)/.installed $(MODEL) test-stories ## Run the test stories and the tests marked `rasa` (after test-without-model)
	$(PYTEST) -m rasa --cov --cov-append --cov-report=term --cov-fail-under=$(COVERAGE_MIN)

.PHONY: clean
clean: ## Remove models, results and local state (keeps .venv)
	rm -rf models results var .rasa .pytest_cache .mypy_cache .ruff_cache .coverage

# --- Measurement: `make eval` (understanding) and `make bench` (speed), reports in results/ ------
# Thresholds of `make eval`: held-out intent macro-F1 >= NLU_MIN_MACRO_F1 (above), every test
# story, every corpus conversation not in tests/scripted/known_failing.txt (the corpus's pass
# rate itself is reported, not a threshold). Cross-validation trains DIET EVAL_FOLDS times, with
# EVAL_CV_EPOCHS epochs (0 = config.yml's); EVAL_SKIP leaves stages out (heldout stories scripted cv).
EVAL_FOLDS ?= 5
EVAL_CV_EPOCHS ?= 0
EVAL_SKIP ?=
# `make bench`: concurrent buyers per level, seconds per level, and the targets.
BENCH_LEVELS ?= 1,3,5,10,20,40
BENCH_SECONDS ?= 30
BENCH_MAX_P95_RATIO ?= 1.15
BENCH_MIN_CONVERSATIONS_PER_MIN ?= 60
BENCH_MAX_P95_MS ?= 300
# Counts of Rasa servers compared in one run: the first side by side and through the gateway,
# the others through the gateway only (results/bench.md: conversations/min per count).
BENCH_RASA_WORKERS ?= 1,2
# More options of python -m bench.load, e.g. BENCH_FLAGS=--sample with BENCH_RASA_WORKERS=1
# (py-spy: results/profile.md).
BENCH_FLAGS ?=
# `make bench-report`: conversations generated for timing `refundbot report`, and its target.
BENCH_REPORT_CONVERSATIONS ?= 10000
BENCH_REPORT_MAX_SECONDS ?= 2

.PHONY: eval
eval: $(VENV)/.installed $(MODEL) ## Measure understanding: NLU held-out + CV, stories, the conversation corpus (results/eval.md)
	$(BIN)/python -m bench.eval --model $(MODEL) --out results \
		--min-macro-f1 $(NLU_MIN_MACRO_F1) --min-macro-f1-others $(NLU_MIN_MACRO_F1_OTHERS) \
		--folds $(EVAL_FOLDS) --cv-epochs $(EVAL_CV_EPOCHS) \
		$(foreach stage,$(EVAL_SKIP),--skip $(stage))

.PHONY: bench
bench: $(VENV)/.installed $(MODEL) ## Measure speed: gateway vs bare Rasa, 1-40 buyers (results/bench.md, .png)
	$(BIN)/python -m bench.load --model $(MODEL) --out results \
		--levels $(BENCH_LEVELS) --seconds $(BENCH_SECONDS) \
		--max-p95-ratio $(BENCH_MAX_P95_RATIO) --max-p95-ms $(BENCH_MAX_P95_MS) \
		--min-conversations-per-minute $(BENCH_MIN_CONVERSATIONS_PER_MIN) \
		--rasa-workers $(BENCH_RASA_WORKERS) $(BENCH_FLAGS)

# `make bench-cluster`: the same load against one process of each and against `make cluster`'s
# processes (PostgreSQL, Redis and nginx needed), one after the other, in one run.
BENCH_CLUSTER_LEVELS ?= 5,10,20,40

.PHONY: bench-cluster
bench-cluster: $(VENV)/.installed $(MODEL) ## Measure conversations/min at p95 <= 300 ms: one process of each vs the cluster (results/bench_cluster.md)
	$(BIN)/python -m bench.cluster --model $(MODEL) --out results \
		--levels $(BENCH_CLUSTER_LEVELS) --seconds $(BENCH_SECONDS) --max-p95-ms $(BENCH_MAX_P95_MS)

.PHONY: bench-report
bench-report: $(VENV)/.installed ## Time `refundbot report` on 10,000 generated conversations (target < 2 s; results/report_bench.json)
	$(BIN)/python -m bench.insights --out results \
		--conversations $(BENCH_REPORT_CONVERSATIONS) --max-seconds $(BENCH_REPORT_MAX_SECONDS)
