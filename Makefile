# Two commands for a newcomer: `make run` (API + UI, embedded log store) and `make test`.
# Nothing needs to be activated or installed globally: every target uses the project's own
# virtualenv by its path, and the Procfile's commands are found through $(BIN) first on PATH.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
WITH_VENV := PATH="$(abspath $(BIN)):$$PATH" VIRTUAL_ENV="$(abspath $(VENV))"
DATA ?= ../shared/data/survey_lung_cancer.csv

.PHONY: install run api test lint bench train reference simulate lock space clean

install: $(VENV)/.installed

# The project itself (editable) with its test and tool extras, all declared in setup.cfg.
$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[tools,tests]'
	touch $@

API_PORT ?= 8000
UI_PORT ?= 7860

run: install  ## start the API and the UI side by side (Procfile, through honcho); Ctrl-C stops both
	@echo "API (JSON):  http://127.0.0.1:$(API_PORT)/health"
	@echo "UI (Gradio): http://127.0.0.1:$(UI_PORT)"
	@echo "Ctrl-C stops both."
	$(WITH_VENV) API_URL=http://127.0.0.1:$(API_PORT) UI_PORT=$(UI_PORT) GUNICORN_BIND=127.0.0.1:$(API_PORT) \
		$(BIN)/honcho start --port $(API_PORT)

api: install  ## the JSON API alone, under Gunicorn
	$(WITH_VENV) GUNICORN_BIND=127.0.0.1:$(API_PORT) $(BIN)/gunicorn --config gunicorn.conf.py wsgi:app

test: install
	$(BIN)/python -m pytest

lint: install  ## ruff (rules in ruff.toml) and the import contracts in .importlinter
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports

bench: install  ## throughput and latency figures; not a pass/fail test
	$(WITH_VENV) $(BIN)/python bench/bench_predict.py

train: install  ## retrain model/model.joblib and model/model_card.json from the survey data
	$(BIN)/python -m model.train --data $(DATA) --out model

reference: install  ## rebuild model/reference.json, the drift report's training reference
	$(BIN)/python -m model.reference --data $(DATA)

simulate: install  ## send 500 simulated patients to the running API (make run first)
	$(BIN)/python -m webapp.tools.simulate --api-url http://127.0.0.1:$(API_PORT) --count 500 --concurrency 4

lock: install  ## pin the runtime dependencies of setup.cfg, with hashes, for the Space image
	$(BIN)/uv pip compile setup.cfg --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
		--no-header --quiet --output-file requirements.lock

space:  ## assemble the Hugging Face Space (Dockerfile, card, code, model) into DIR, ready to push
	$(PYTHON) -m deploy.assemble_space $(or $(DIR),build/space)

clean:
	rm -rf $(VENV) instance .pytest_cache test-output
