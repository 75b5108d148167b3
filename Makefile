# Two commands do all the set-up themselves: `make test` and `make leaderboard`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# One thread per model run: the small networks and trees here run faster single-threaded, and
# the leaderboard runs one model per core instead (--jobs).
export OMP_NUM_THREADS ?= 1
JOBS ?= $(shell nproc 2>/dev/null || echo 1)

.PHONY: test leaderboard leaderboard-quick lint venv figures perf clean mutation tune vm-image

venv: $(STAMP)

# torch first, pinned to the local CPU build, so that installing the project fetches nothing more.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check benchmark models tests

test: $(STAMP)
	$(BIN)/ruff check benchmark models tests
	$(BIN)/python -m pytest -q tests

leaderboard: $(STAMP)
	$(BIN)/kernel-oracle leaderboard --jobs $(JOBS)
	$(BIN)/kernel-oracle figures

leaderboard-quick: $(STAMP)
	$(BIN)/kernel-oracle leaderboard --quick --jobs $(JOBS)

figures: $(STAMP)
	$(BIN)/kernel-oracle figures

perf: $(STAMP)
	$(BIN)/kernel-oracle perf

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Mutation testing (mutmut) of the scoring, data and reference code, per group of
# [tool.kernel-oracle.mutation] in pyproject.toml; not part of `make test` (minutes per group).
# `make mutation MUTATE="splits submissions"` runs some groups; prints survival rate and survivors.
MUTATION_JOBS ?= $(JOBS)
mutation: $(STAMP)
	$(BIN)/python tests/mutation.py --jobs $(MUTATION_JOBS) $(MUTATE)

# Every tunable (model, target) study with the equal budget (README §6); resumable: the studies
# are journal files in leaderboard/studies/, re-running continues them.
tune: $(STAMP)
	$(BIN)/kernel-oracle tune --all --jobs $(JOBS)

# The CFS track's guest image (README "CFS track"): Debian bookworm with its 6.1 kernel, into
# build/vm/ (needs root, mmdebstrap and qemu-system-x86; a VM capture builds it when missing).
vm-image: $(STAMP)
	$(BIN)/kernel-oracle vm-image
