# The two quick-start commands are `make demo` and `make test`; both set up .venv first.
# The interpreter .venv is made with: the distribution's Python 3.11 when it can make a venv, else
# python3. Distributions build theirs with profile-guided and link-time optimisation, which pyenv and
# a plain source build do not: the batch job took about 11% less CPU time on Debian's here
# (docs/benchmarks.md). `make PYTHON=...` chooses another; `make clean` first to remake .venv.
SYSTEM_PYTHON := $(shell /usr/bin/python3.11 -c "import ensurepip, venv" >/dev/null 2>&1 && echo /usr/bin/python3.11)
PYTHON ?= $(or $(SYSTEM_PYTHON),python3)
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
# The public datasets stay outside the repository, in a data home holding data/real/ and eval/real/.
# When a ../shared folder sits beside the checkout (the team's machines, CI), it is the data home;
# an OUTREACH_DATA_HOME already set wins. Without one, `make test` skips the tests that need it.
ifeq ($(origin OUTREACH_DATA_HOME), undefined)
ifneq ($(wildcard ../shared/data/real),)
export OUTREACH_DATA_HOME := $(abspath ../shared)
endif
endif

.PHONY: setup demo test corpus train evaluate bench clean

setup: $(VENV)/.installed

# Reinstall when the dependencies or their pins change. constraints.txt pins every package.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev,dask]"
	touch $@

# The main job on the bundled sample inbox: every inbound message scored against the history the
# export holds (Maya's sent replies) plus the events she noted down; the summary goes to the terminal.
demo: setup
	mkdir -p out
	$(BIN)/triage score data/sample/inbox.mbox --history data/sample/history.jsonl -o out/sample-scored.jsonl
	@echo "every row: out/sample-scored.jsonl"

test: setup
	$(BIN)/python -m pytest -q

corpus: setup
	$(BIN)/triage corpus build

train: setup
	$(BIN)/triage train

evaluate: setup
	$(BIN)/triage evaluate

# Speed and memory, numbers in docs/benchmarks.md (about 12 minutes; `bench/run.py --quick` for a few minutes).
# bogofilter, from Debian, is the comparison; without it that part is skipped.
bench: setup corpus
	@command -v bogofilter >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] \
		&& apt-get install -y -qq bogofilter >/dev/null; } || echo "bogofilter is not installed: its comparison is skipped"
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .cache .pytest_cache .hypothesis
