# Two commands for a fresh machine: `make demo` and `make test`. Both create .venv and install first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test bench bench-service bench-neural serve eval-dev lint docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0  # CPU build, first: a bare torch requirement pulls CUDA
	$(BIN)/pip install --quiet -e '.[labels,postgres,workers,s3,test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/promptcut replace samples --titles samples/titles.csv --out demo-out/white --overwrite
	$(BIN)/promptcut replace samples --titles samples/titles.csv --out demo-out/winter --theme winter-holidays --overwrite
	$(BIN)/promptcut replace samples --titles samples/titles.csv --out demo-out/cutout --format png --background transparent --overwrite
	@echo "needs review = look before use. The rocket's automatic cut keeps the launch towers and sky:"
	@echo "a box round the rocket and one keep click on its nose cut the rocket alone, from the same segmentation"
	@echo "(a thin strip of sky stays beside it, so it is still flagged: look before use)."
	$(BIN)/promptcut replace samples/rocket.jpg --title "Falcon Rocket Scale Model Kit 1:144" --box 292,120,350,427 --keep 321,150 --out demo-out/fixed --overwrite
	@echo "demo outputs in demo-out/ (fixed/ holds the corrected rocket)"

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/promptcut bench samples --baseline grabcut-rect --megapixels 24

bench-service: $(STAMP)
	$(BIN)/promptcut bench-service

bench-neural: $(STAMP)
	$(BIN)/promptcut bench-neural --random-init

serve: $(STAMP)
	$(BIN)/promptcut serve

eval-dev: $(STAMP)
	$(BIN)/promptcut eval ../shared/data/eval-dev --baseline grabcut-rect --studio --workers 2 --json eval-dev.json

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/hadolint Dockerfile

docs: $(STAMP)  # the mkdocs site into site/ (the test suite builds it too, with --strict)
	$(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) demo-out site
