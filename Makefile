# Two commands for a newcomer: `make run` (API + UI, embedded log store) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA ?= ../shared/data/survey_lung_cancer.csv

.PHONY: install run api test lint bench train reference simulate space clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

API_PORT ?= 8000
UI_PORT ?= 7860

run: install  ## start the API and the UI side by side (Procfile, through honcho); Ctrl-C stops both
	@echo "API (JSON):  http://127.0.0.1:$(API_PORT)/health"
	@echo "UI (Gradio): http://127.0.0.1:$(UI_PORT)"
	@echo "Ctrl-C stops both."
	API_URL=http://127.0.0.1:$(API_PORT) UI_PORT=$(UI_PORT) GUNICORN_BIND=127.0.0.1:$(API_PORT) \
		$(BIN)/honcho start --port $(API_PORT)

api: install  ## the JSON API alone, under Gunicorn
	$(BIN)/gunicorn --config gunicorn.conf.py wsgi:app

test: install
	$(BIN)/python -m pytest

lint: install  ## ruff (rules in ruff.toml) and the import contracts in .importlinter
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports

bench: install  ## throughput and latency figures; not a pass/fail test
	$(BIN)/python bench/bench_predict.py

train: install  ## retrain model/model.joblib and model/model_card.json from the survey data
	$(BIN)/python -m model.train --data $(DATA) --out model

reference: install  ## rebuild model/reference.json, the drift report's training reference
	$(BIN)/python -m model.reference --data $(DATA)

simulate: install  ## send 500 simulated patients to the running API (make run first)
	$(BIN)/python -m webapp.tools.simulate --api-url http://127.0.0.1:$(API_PORT) --count 500 --concurrency 4

space:  ## assemble the Hugging Face Space (Dockerfile, card, code, model) into DIR, ready to push
	$(PYTHON) -m deploy.assemble_space $(or $(DIR),build/space)

clean:
	rm -rf $(VENV) instance .pytest_cache test-output
