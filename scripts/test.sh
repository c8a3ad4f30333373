#!/usr/bin/env bash
# Runs every check: ruff (lint + format), mypy --strict on src/, and the whole pytest suite.
# Does its own set-up on a fresh machine (creates .venv, installs mlmeter[dev,official,workloads]).
source "$(dirname "$0")/_venv.sh" "dev,official,workloads"
ruff check src tests benchmarks examples
ruff format --check src tests benchmarks examples
mypy
pytest "$@"
