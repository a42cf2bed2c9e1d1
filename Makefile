# stacklab: `make demo` runs the main job, `make test` runs the tests.
# Both install what they need first (apt packages only when missing, .venv).
SHELL := /bin/bash
VENV := .venv
TOPOLOGY ?= topologies/embedded.yaml

.PHONY: install demo test lint bench golden docs clean

install:
	@bash scripts/install-deps.sh

demo: install
	@bash scripts/demo.sh $(TOPOLOGY)

test: install
	@bash scripts/test.sh

# rewrite tests/plan/golden/*.json and tests/ansible/golden/*.yml from topologies/*.yaml; review the diff
golden: install
	STACKLAB_REGEN_GOLDEN=1 $(VENV)/bin/python -m pytest -q tests/plan/test_golden.py tests/ansible/test_inventory_golden.py

lint: install
	$(VENV)/bin/ruff check lab collectors tests

# lab bench cli last: it exits 1 when a command starts slower than 0.5 s
bench: install
	$(VENV)/bin/lab bench fabric --servers 32
	$(VENV)/bin/lab bench fabric --servers 64
	$(VENV)/bin/lab bench cli

docs: install
	$(VENV)/bin/lab schema --markdown > docs/topology.md
	$(VENV)/bin/lab schema > docs/topology.schema.json

clean:
	-$(VENV)/bin/lab down $(TOPOLOGY)
	rm -rf build .pytest_cache
